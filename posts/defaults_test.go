package posts

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// defaultsConfig is a _config.yml with front matter defaults, in an order that puts more specific entries
// first, so that precedence cannot come from the order alone.
const defaultsConfig = `url: https://ex.org
defaults:
  - scope: {path: "private"}
    values: {published: false}
  - scope: {path: "news/_posts", type: posts}
    values: {author: News Desk}
  - scope: {path: "_posts/2020-*"}
    values: {tags: [old]}
  - scope: {path: "", type: pages}
    values: {author: Not For Posts}
  - scope: {path: "_posts"}
    values:
      permalink: /blog/:title/
      author: {name: Team, email: team@ex.org}
      last_modified_at: 2024-02-03
  - scope: {path: "_posts", type: post}
    values: {lang: de}
  - scope: {path: "/_posts/"}
    values: {lang: fr}
  - scope: {path: "", type: posts}
    values: {author: Everyone, excerpt_only: true}
  - values: {image: /default.png}
`

func TestJekyllFrontMatterDefaults(t *testing.T) {
	dir := makeSite(t, map[string]string{
		"_config.yml":                    defaultsConfig,
		"private/_posts/2021-01-01-s.md": "---\ntitle: Secret\n---\nnot for subscribers\n",
		"private/_posts/2021-01-02-p.md": "---\ntitle: Opted in\npublished: true\n---\nx\n",
		"news/_posts/2021-01-03-n.md":    "---\ntitle: News\n---\nx\n",
		"_posts/2020-05-01-old.md":       "---\ntitle: Old\n---\nx\n",
		"_posts/2021-01-04-own.md":       "---\ntitle: Own\npermalink: /own/\nauthor: {name: Me}\nexcerpt_only: false\nlast_modified_at: 2025-01-01\n---\nx\n",
		"other/_posts/2021-01-05-o.md":   "---\ntitle: Other\n---\nx\n",
	})
	s, err := Load(t.Context(), Options{Dir: dir, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path  string
		url         string // "" when the post is left out
		author      string
		tags        string
		lang        string
		updated     string
		excerptOnly bool
	}{
		{"published false under a path", "private/_posts/2021-01-01-s.md", "", "", "", "", "", false},
		{"the post's own published wins", "private/_posts/2021-01-02-p.md", "https://ex.org/private/2021/01/02/p.html", "Everyone <>", "", "", "2021-01-02", true},
		{"a longer path wins over an earlier entry", "news/_posts/2021-01-03-n.md", "https://ex.org/news/2021/01/03/n.html", "News Desk <>", "", "", "2021-01-03", true},
		{"glob path, maps and dates", "_posts/2020-05-01-old.md", "https://ex.org/blog/old/", "Team <team@ex.org>", "old", "de", "2024-02-03", true},
		{"the post's own keys win, maps merged", "_posts/2021-01-04-own.md", "https://ex.org/own/", "Me <team@ex.org>", "", "de", "2025-01-01", false},
		{"only the scopes that hold the path", "other/_posts/2021-01-05-o.md", "https://ex.org/other/2021/01/05/o.html", "Everyone <>", "", "", "2021-01-05", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := postByPath(s, tt.path)
			if tt.url == "" {
				if p != nil {
					t.Fatalf("got post %s, want it left out", p.URL)
				}
				return
			}
			if p == nil {
				t.Fatal("got no post")
			}
			var authors []string
			for _, a := range p.Authors {
				authors = append(authors, a.Name+" <"+a.Email+">")
			}
			got := []string{p.URL, strings.Join(authors, ", "), strings.Join(p.Tags, ","), p.Lang, p.Updated.Format("2006-01-02")}
			want := []string{tt.url, tt.author, tt.tags, tt.lang, tt.updated}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("got %q, want %q", got, want)
					break
				}
			}
			if p.ExcerptOnly != tt.excerptOnly {
				t.Errorf("got excerpt_only %v, want %v", p.ExcerptOnly, tt.excerptOnly)
			}
			if p.Image != "https://ex.org/default.png" {
				t.Errorf("got image %q, want the default of the entry without a scope", p.Image)
			}
		})
	}
}

// TestJekyllDefaultsInLiquid: page.* holds the defaults, also for a post read from the cache, whose front
// matter the renderer reads again.
func TestJekyllDefaultsInLiquid(t *testing.T) {
	dir := makeSite(t, map[string]string{
		"_config.yml":            "url: https://ex.org\ndefaults:\n  - scope: {path: _posts}\n    values: {layout: post, series: Go}\n",
		"_posts/2020-01-01-a.md": "---\ntitle: A\n---\n{{ page.layout }} {{ page.series }}\n",
	})
	ageFiles(t, dir)
	opts := Options{Dir: dir, Cache: filepath.Join(t.TempDir(), "posts.cache"), Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, run := range []string{"first run", "from the cache"} {
		s, err := Load(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Render(t.Context(), s.Posts); err != nil {
			t.Fatal(err)
		}
		if got, want := s.Posts[0].ContentHTML, "<p>post Go</p>\n"; got != want {
			t.Errorf("%s: got %q, want %q", run, got, want)
		}
	}
}

func TestJekyllDefaultsWarnings(t *testing.T) {
	tests := []struct {
		name, defaults string
		want           string
	}{
		{"not a list", "defaults: {scope: {path: x}}\n", "_config.yml:2: defaults is not a list"},
		{"no values", "defaults:\n  - scope: {path: x}\n", "_config.yml:3: this defaults entry has no values"},
		{"values not a map", "defaults:\n  - values: [a, b]\n", "_config.yml:3: this defaults entry has no values"},
		{"bad pattern", "defaults:\n  - scope: {path: \"_posts/[\"}\n    values: {a: 1}\n", "_config.yml:3: defaults scope path _posts/[ is not a valid pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeSite(t, map[string]string{
				"_config.yml":            "url: https://ex.org\n" + tt.defaults,
				"_posts/2020-01-01-a.md": "---\ntitle: A\n---\nx\n",
			})
			s, err := Load(t.Context(), Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Posts) != 1 {
				t.Errorf("got %d posts, want 1", len(s.Posts))
			}
			if len(s.Warnings) != 1 || !strings.HasPrefix(s.Warnings[0].String(), tt.want) {
				t.Errorf("got warnings %v, want one starting %q", s.Warnings, tt.want)
			}
		})
	}
}

// TestJekyllDefaultPermalinkError: a bad permalink from the defaults is blamed on _config.yml, not on a line
// of the post.
func TestJekyllDefaultPermalinkError(t *testing.T) {
	dir := makeSite(t, map[string]string{
		"_config.yml":            "url: https://ex.org\ndefaults:\n  - values: {permalink: \"/:nope/\"}\n",
		"_posts/2020-01-01-a.md": "---\ntitle: A\n---\nx\n",
	})
	_, err := Load(t.Context(), Options{Dir: dir})
	if err == nil || !strings.HasPrefix(err.Error(), "_posts/2020-01-01-a.md: ") || !strings.HasSuffix(err.Error(), "fix the permalink in _config.yml's defaults") {
		t.Errorf("got %v, want an error naming the post and the defaults", err)
	}
}
