package posts

import (
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

var hugoNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// writeSite writes files (slash-separated path → content) into a new temp folder and returns it.
func writeSite(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loadHugoSite(t *testing.T, dir string, opts Options) *Site {
	t.Helper()
	opts.Dir, opts.Kind = dir, "hugo"
	if opts.Now.IsZero() {
		opts.Now = hugoNow
	}
	s, err := Load(t.Context(), opts)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	return s
}

func postByPath(s *Site, path string) *Post {
	for _, p := range s.Posts {
		if p.Path == path {
			return p
		}
	}
	return nil
}

func TestLoadHugoFixtures(t *testing.T) {
	type wantPost struct {
		path, id, url, title, date string
	}
	tests := []struct {
		name      string
		dir       string
		title     string
		desc      string
		url       string
		lang      string
		author    Author
		outputDir string
		zone      string
		posts     []wantPost // newest first
	}{
		{
			name:      "toml",
			dir:       "testdata/hugo-toml",
			title:     "TOML Site",
			desc:      "A Hugo site configured in TOML",
			url:       "https://example.org",
			lang:      "en-us",
			author:    Author{Name: "Ada Lovelace", Email: "ada@example.org"},
			outputDir: "public",
			zone:      "Europe/Berlin",
			posts: []wantPost{
				{"content/posts/shortcodes.md", "tag:example.org,2024-01-08:posts/shortcodes", "https://example.org/2024/01/shortcodes/", "Shortcodes", "2024-01-08T00:00:00+01:00"},
				{"content/posts/bundle-post/index.md", "tag:example.org,2024-01-05:posts/bundle-post", "https://example.org/2024/01/a-bundle/", "A Bundle", "2024-01-05T00:00:00+01:00"},
				{"content/posts/with-url.md", "tag:example.org,2024-01-04:posts/with-url", "https://example.org/special/place/", "A Post With A URL", "2024-01-04T00:00:00+01:00"},
				{"content/posts/with-slug.md", "tag:example.org,2024-01-03:posts/with-slug", "https://example.org/2024/01/custom-slug/", "A Post With A Slug", "2024-01-03T00:00:00+01:00"},
				{"content/posts/first-post.md", "tag:example.org,2024-01-02:posts/first-post", "https://example.org/2024/01/first-post/", "First Post", "2024-01-02T10:00:00+01:00"},
			},
		},
		{
			name:      "yaml",
			dir:       "testdata/hugo-yaml",
			title:     "YAML Site",
			desc:      "A Hugo site configured in YAML",
			url:       "https://example.com/blog",
			lang:      "de",
			author:    Author{Name: "Bob Builder", Email: "bob@example.com"},
			outputDir: "dist",
			zone:      "UTC",
			posts: []wantPost{
				{"content/articles/my-bundle/index.md", "tag:example.com,2024-05-04:articles/my-bundle", "https://example.com/blog/articles/my-bundle.html", "Bundled", "2024-05-04T00:00:00Z"},
				{"content/articles/with-url.md", "tag:example.com,2024-05-03:articles/with-url", "https://example.com/blog/elsewhere/", "Elsewhere", "2024-05-03T00:00:00Z"},
				{"content/articles/with-slug.md", "tag:example.com,2024-05-02:articles/with-slug", "https://example.com/blog/articles/my-slug.html", "Sluggish", "2024-05-02T00:00:00Z"},
				{"content/articles/hello-world.md", "tag:example.com,2024-05-01:articles/hello-world", "https://example.com/blog/articles/hello-world.html", "Hello, World", "2024-05-01T16:30:00Z"},
				{"content/articles/2024-03-05-dated-by-name.md", "tag:example.com,2024-03-05:articles/2024-03-05-dated-by-name", "https://example.com/blog/articles/2024-03-05-dated-by-name.html", "Dated By Its Name", "2024-03-05T00:00:00Z"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect(tt.dir); got != "hugo" {
				t.Errorf("Detect: got %q, want hugo", got)
			}
			s := loadHugoSite(t, tt.dir, Options{})
			if s.Kind != "hugo" {
				t.Errorf("Kind: got %q, want hugo", s.Kind)
			}
			if s.Title != tt.title {
				t.Errorf("Title: got %q, want %q", s.Title, tt.title)
			}
			if s.Description != tt.desc {
				t.Errorf("Description: got %q, want %q", s.Description, tt.desc)
			}
			if s.URL != tt.url {
				t.Errorf("URL: got %q, want %q", s.URL, tt.url)
			}
			if s.Lang != tt.lang {
				t.Errorf("Lang: got %q, want %q", s.Lang, tt.lang)
			}
			if s.Author != tt.author {
				t.Errorf("Author: got %+v, want %+v", s.Author, tt.author)
			}
			if want := filepath.Join(tt.dir, tt.outputDir); s.OutputDir != want {
				t.Errorf("OutputDir: got %q, want %q", s.OutputDir, want)
			}
			if s.Location.String() != tt.zone {
				t.Errorf("Location: got %s, want %s", s.Location, tt.zone)
			}
			var got []string
			for _, p := range s.Posts {
				got = append(got, p.Path)
			}
			var want []string
			for _, w := range tt.posts {
				want = append(want, w.path)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("posts:\ngot  %q\nwant %q", got, want)
			}
			for i, w := range tt.posts {
				p := s.Posts[i]
				if p.ID != w.id {
					t.Errorf("%s: ID: got %q, want %q", w.path, p.ID, w.id)
				}
				if p.URL != w.url {
					t.Errorf("%s: URL: got %q, want %q", w.path, p.URL, w.url)
				}
				if p.Title != w.title {
					t.Errorf("%s: Title: got %q, want %q", w.path, p.Title, w.title)
				}
				if d := p.Date.Format(time.RFC3339); d != w.date {
					t.Errorf("%s: Date: got %s, want %s", w.path, d, w.date)
				}
			}
		})
	}
}

func TestLoadHugoFrontMatter(t *testing.T) {
	s := loadHugoSite(t, "testdata/hugo-toml", Options{})
	p := postByPath(s, "content/posts/first-post.md")
	if p == nil {
		t.Fatal("first-post.md: not loaded")
	}
	if got, want := p.Updated.Format(time.RFC3339), "2024-02-03T08:00:00+01:00"; got != want {
		t.Errorf("Updated (lastmod): got %s, want %s", got, want)
	}
	if want := []string{"go", "hugo"}; !slices.Equal(p.Tags, want) {
		t.Errorf("Tags: got %q, want %q", p.Tags, want)
	}
	if want := []string{"notes"}; !slices.Equal(p.Categories, want) {
		t.Errorf("Categories: got %q, want %q", p.Categories, want)
	}
	if want := []Author{{Name: "Ada Lovelace", Email: "ada@example.org"}}; !slices.Equal(p.Authors, want) {
		t.Errorf("Authors: got %+v, want the site's author %+v", p.Authors, want)
	}
	b := postByPath(s, "content/posts/bundle-post/index.md")
	if b == nil {
		t.Fatal("bundle-post/index.md: not loaded")
	}
	if want := "https://example.org/2024/01/a-bundle/cover.png"; b.Image != want {
		t.Errorf("bundle image: got %q, want %q (relative to the page)", b.Image, want)
	}

	if _, err := s.Render(t.Context(), []*Post{p, b}); err != nil {
		t.Fatal(err)
	}
	if want := "The opening paragraph."; p.Summary != want {
		t.Errorf("Summary before <!--more-->: got %q, want %q", p.Summary, want)
	}
	if !strings.Contains(p.ContentHTML, "The rest of the post.") {
		t.Errorf("ContentHTML: got %q, want the text after <!--more--> too", p.ContentHTML)
	}
	if want := `<img src="https://example.org/2024/01/a-bundle/cover.png"`; !strings.Contains(b.ContentHTML, want) {
		t.Errorf("bundle ContentHTML: got %q, want it to contain %q", b.ContentHTML, want)
	}

	y := loadHugoSite(t, "testdata/hugo-yaml", Options{})
	h := postByPath(y, "content/articles/hello-world.md")
	if _, err := y.Render(t.Context(), []*Post{h}); err != nil {
		t.Fatal(err)
	}
	if want := "A summary from front matter."; h.Summary != want {
		t.Errorf("Summary from front matter summary: got %q, want %q", h.Summary, want)
	}
}

func TestLoadHugoPublishing(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string // which of the toml fixture's unpublished posts are loaded
	}{
		{name: "default", opts: Options{}, want: nil},
		{name: "drafts", opts: Options{Drafts: true}, want: []string{"draft.md"}},
		{name: "future", opts: Options{Future: true}, want: []string{"future.md", "scheduled.md"}},
		{name: "drafts and future", opts: Options{Drafts: true, Future: true}, want: []string{"draft.md", "future.md", "scheduled.md"}},
		{name: "expired before its expiry", opts: Options{Now: time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)}, want: []string{"expired.md"}},
	}
	unpublished := []string{"draft.md", "expired.md", "future.md", "scheduled.md"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loadHugoSite(t, "testdata/hugo-toml", tt.opts)
			var got []string
			for _, name := range unpublished {
				if p := postByPath(s, "content/posts/"+name); p != nil {
					got = append(got, name)
					if p.Draft != (name == "draft.md") {
						t.Errorf("%s: Draft: got %v, want %v", name, p.Draft, name == "draft.md")
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadHugoSkipsNonPosts(t *testing.T) {
	s := loadHugoSite(t, "testdata/hugo-toml", Options{Drafts: true, Future: true})
	for _, path := range []string{
		"content/_index.md", "content/posts/_index.md", // list pages
		"content/about.md",                      // no section
		"content/notes/one.md",                  // not the main section
		"content/posts/bundle-post/resource.md", // a bundle's resource
		"content/headless/index.md",             // headless bundle
		"content/headless/widget.md",            // its resource
	} {
		if postByPath(s, path) != nil {
			t.Errorf("%s: got a post, want none", path)
		}
	}
}

func TestLoadHugoConfigFormats(t *testing.T) {
	post := "+++\ntitle = \"P\"\ndate = 2024-03-04T05:06:07\n+++\nBody.\n"
	tests := []struct {
		name   string
		file   string
		config string
	}{
		{"hugo.toml", "hugo.toml", `baseURL = "https://a.example/"
title = "T"
languageCode = "fr"
timeZone = "Asia/Tokyo"
author = "Ann"
[params]
description = "D"
[permalinks]
posts = "/:year/:slug/"
`},
		{"hugo.yaml", "hugo.yaml", `baseURL: https://a.example/
title: T
languageCode: fr
timeZone: Asia/Tokyo
params: {description: D, author: Ann}
permalinks: {page: {posts: "/:year/:slug/"}}
`},
		{"hugo.json", "hugo.json", `{"baseURL": "https://a.example/", "title": "T", "languageCode": "fr", "timeZone": "Asia/Tokyo",
 "params": {"description": "D", "author": {"name": "Ann"}}, "permalinks": {"posts": "/:year/:slug/"}}`},
		{"config.toml", "config.toml", `BaseURL = "https://a.example/"
Title = "T"
DefaultContentLanguage = "fr"
TimeZone = "Asia/Tokyo"
Description = "D"
[Params.Author]
Name = "Ann"
[Permalinks.Page]
Posts = "/:year/:slug/"
`},
		{"config.yaml", "config.yaml", `baseurl: https://a.example/
title: T
languagecode: fr
timezone: Asia/Tokyo
description: D
author: {name: Ann}
permalinks: {posts: "/:year/:slug/"}
`},
		{"config.json", "config.json", `{"baseURL": "https://a.example/", "title": "T", "defaultContentLanguage": "fr", "timeZone": "Asia/Tokyo",
 "description": "D", "author": "Ann", "permalinks": {"page": {"posts": "/:year/:slug/"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeSite(t, map[string]string{tt.file: tt.config, "content/posts/p.md": post})
			s := loadHugoSite(t, dir, Options{})
			if s.URL != "https://a.example" || s.Title != "T" || s.Description != "D" || s.Lang != "fr" || s.Author.Name != "Ann" {
				t.Errorf("got URL %q, Title %q, Description %q, Lang %q, Author %q; want https://a.example, T, D, fr, Ann",
					s.URL, s.Title, s.Description, s.Lang, s.Author.Name)
			}
			if s.Location.String() != "Asia/Tokyo" {
				t.Errorf("Location: got %s, want Asia/Tokyo", s.Location)
			}
			if len(s.Posts) != 1 {
				t.Fatalf("got %d posts, want 1", len(s.Posts))
			}
			p := s.Posts[0]
			if want := "https://a.example/2024/p/"; p.URL != want {
				t.Errorf("URL: got %q, want %q", p.URL, want)
			}
			if got, want := p.Date.Format(time.RFC3339), "2024-03-04T05:06:07+09:00"; got != want {
				t.Errorf("Date in the site's time zone: got %s, want %s", got, want)
			}
		})
	}

	t.Run("hugo.toml before config.toml", func(t *testing.T) {
		dir := writeSite(t, map[string]string{
			"hugo.toml":          "baseURL = \"https://hugo.example/\"\n",
			"config.toml":        "baseURL = \"https://config.example/\"\n",
			"content/posts/p.md": post,
		})
		if s := loadHugoSite(t, dir, Options{}); s.URL != "https://hugo.example" {
			t.Errorf("URL: got %q, want https://hugo.example", s.URL)
		}
	})
	t.Run("herald.yaml overrides", func(t *testing.T) {
		dir := writeSite(t, map[string]string{"hugo.toml": "baseURL = \"https://hugo.example/\"\ntitle = \"T\"\n", "content/posts/p.md": post})
		s := loadHugoSite(t, dir, Options{URL: "https://other.example/x/", Title: "Other", Permalink: "/:section/:filename/"})
		if s.URL != "https://other.example/x" || s.Title != "Other" {
			t.Errorf("got URL %q, Title %q; want https://other.example/x, Other", s.URL, s.Title)
		}
		if want := "https://other.example/x/posts/p/"; s.Posts[0].URL != want {
			t.Errorf("post URL: got %q, want %q", s.Posts[0].URL, want)
		}
	})
}

func TestLoadHugoURLs(t *testing.T) {
	tests := []struct {
		name   string
		config string // after baseURL
		file   string // under content/
		front  string // TOML front matter, without date
		want   string // the URL path under the site URL
		extra  map[string]string
	}{
		{name: "default", file: "posts/my-post.md", want: "/posts/my-post/"},
		{name: "nested folder", file: "posts/2024/my-post.md", want: "/posts/2024/my-post/"},
		{name: "case and spaces", file: "Posts/My Great  Post.md", want: "/posts/my-great-post/"},
		{name: "keep case", config: "disablePathToLower = true", file: "Posts/My Post.md", want: "/Posts/My-Post/"},
		{name: "unicode", file: "posts/café & bar.md", want: "/posts/caf%C3%A9-bar/"},
		{name: "slug", file: "posts/my-post.md", front: `slug = "Other Name"`, want: "/posts/other-name/"},
		{name: "bundle", file: "posts/my-bundle/index.md", want: "/posts/my-bundle/"},
		{name: "bundle with slug", file: "posts/my-bundle/index.md", front: `slug = "s"`, want: "/posts/s/"},
		{name: "url", file: "posts/my-post.md", front: `url = "/somewhere/else/"`, want: "/somewhere/else/"},
		{name: "url without slashes", file: "posts/my-post.md", front: `url = "somewhere"`, want: "/somewhere/"},
		{name: "url beats slug and permalinks", config: "[permalinks]\nposts = \"/:slug/\"", file: "posts/my-post.md", front: "url = \"/u/\"\nslug = \"s\"", want: "/u/"},
		{name: "url cannot climb", file: "posts/my-post.md", front: `url = "/../../etc/"`, want: "/etc/"},
		{name: "ugly", config: "uglyURLs = true", file: "posts/my-post.md", want: "/posts/my-post.html"},
		{name: "ugly bundle", config: "uglyURLs = true", file: "posts/b/index.md", want: "/posts/b.html"},
		{name: "ugly per section", config: "[uglyURLs]\nposts = true", file: "posts/my-post.md", want: "/posts/my-post.html"},
		{name: "ugly other section", config: "[uglyURLs]\nnotes = true", file: "posts/my-post.md", want: "/posts/my-post/"},
		{name: "permalink date and slug", config: "[permalinks]\nposts = \"/:year/:month/:day/:slug/\"", file: "posts/my-post.md", front: `slug = "s"`, want: "/2024/03/04/s/"},
		{name: "permalink slug falls back to title", config: "[permalinks]\nposts = \"/:slug/\"", file: "posts/my-post.md", want: "/the-title/"},
		{name: "permalink title", config: "[permalinks]\nposts = \"/:title/\"", file: "posts/my-post.md", front: `slug = "s"`, want: "/the-title/"},
		{name: "permalink filename", config: "[permalinks]\nposts = \"/:section/:filename/\"", file: "posts/my-post.md", want: "/posts/my-post/"},
		{name: "permalink bundle filename", config: "[permalinks]\nposts = \"/:filename/\"", file: "posts/b/index.md", want: "/b/"},
		{name: "permalink slugorfilename", config: "[permalinks]\nposts = \"/:slugorfilename/\"", file: "posts/my-post.md", want: "/my-post/"},
		{name: "permalink contentbasename", config: "[permalinks.page]\nposts = \"/:contentbasename/\"", file: "posts/b/index.md", want: "/b/"},
		{name: "permalink names", config: "[permalinks]\nposts = \"/:monthname/:weekdayname/:weekday/:yearday/\"", file: "posts/p.md", want: "/March/Monday/1/64/"},
		{name: "permalink Go layout", config: "[permalinks]\nposts = \"/:06/:1/:2/:slug\"", file: "posts/p.md", want: "/24/3/4/the-title/"},
		{name: "permalink escaped colon", config: "[permalinks]\nposts = \"/a\\\\:b/:filename/\"", file: "posts/p.md", want: "/a:b/p/"},
		{name: "permalink sections", config: "[permalinks]\nposts = \"/:sections/:filename/\"", file: "posts/sub/p.md", want: "/posts/p/"},
		{name: "permalink nested section", config: "[permalinks]\nposts = \"/:sections/:filename/\"", file: "posts/sub/p.md", want: "/posts/sub/p/", extra: map[string]string{"posts/sub/_index.md": "+++\ntitle = \"Sub\"\n+++\n"}},
		{name: "permalink sections last", config: "[permalinks]\nposts = \"/:sections[last]/:filename/\"", file: "posts/sub/p.md", want: "/sub/p/", extra: map[string]string{"posts/sub/_index.md": "+++\ntitle = \"Sub\"\n+++\n"}},
		{name: "permalink for another section", config: "[permalinks]\nnotes = \"/:slug/\"", file: "posts/my-post.md", want: "/posts/my-post/"},
		{name: "permalink without trailing slash", config: "[permalinks]\nposts = \"/:filename\"", file: "posts/p.md", want: "/p/"},
		{name: "permalink ugly", config: "uglyURLs = true\n[permalinks]\nposts = \"/:year/:filename/\"", file: "posts/p.md", want: "/2024/p.html"},
		{name: "date from file name", config: "[frontmatter]\ndate = [\":filename\", \":default\"]", file: "posts/2020-01-02-hello.md", front: "date = \"\"", want: "/posts/hello/"},
		{name: "date prefix kept", file: "posts/2020-01-02-hello.md", want: "/posts/2020-01-02-hello/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front := tt.front
			if !strings.Contains(front, "date") {
				front += "\ndate = 2024-03-04"
			}
			files := map[string]string{
				"hugo.toml":          "baseURL = \"https://example.org/\"\n" + tt.config + "\n",
				"content/" + tt.file: "+++\ntitle = \"The Title\"\n" + front + "\n+++\nBody.\n",
			}
			// Make the section of the file the biggest, so that its pages are the posts.
			sec, _, _ := strings.Cut(tt.file, "/")
			for k, v := range tt.extra {
				files["content/"+k] = v
			}
			files["content/"+sec+"/_index.md"] = "+++\ntitle = \"S\"\n+++\n"
			s := loadHugoSite(t, writeSite(t, files), Options{})
			if len(s.Posts) != 1 {
				t.Fatalf("got %d posts, want 1", len(s.Posts))
			}
			if got := strings.TrimPrefix(s.Posts[0].URL, "https://example.org"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadHugoIDStable(t *testing.T) {
	const config = "baseURL = \"https://example.org/\"\n[permalinks]\nposts = \"/:year/:slug/\"\n"
	base := "+++\ntitle = \"Original\"\ndate = 2024-01-02T10:00:00Z\n+++\nBody.\n"
	tests := []struct {
		name string
		post string
	}{
		{"new title", "+++\ntitle = \"A Better Title\"\ndate = 2024-01-02T10:00:00Z\n+++\nBody.\n"},
		{"new url", "+++\ntitle = \"Original\"\ndate = 2024-01-02T10:00:00Z\nurl = \"/moved/\"\n+++\nBody.\n"},
		{"new slug", "+++\ntitle = \"Original\"\ndate = 2024-01-02T10:00:00Z\nslug = \"other\"\n+++\nBody.\n"},
		{"lastmod", "+++\ntitle = \"Original\"\ndate = 2024-01-02T10:00:00Z\nlastmod = 2024-06-01\n+++\nEdited body.\n"},
		{"new time of day", "+++\ntitle = \"Original\"\ndate = 2024-01-02T18:00:00Z\n+++\nBody.\n"},
		{"into a bundle", ""},
	}
	first := loadHugoSite(t, writeSite(t, map[string]string{"hugo.toml": config, "content/posts/my-post.md": base}), Options{})
	want := "tag:example.org,2024-01-02:posts/my-post"
	if got := first.Posts[0].ID; got != want {
		t.Fatalf("ID: got %q, want %q", got, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"hugo.toml": config, "content/posts/my-post.md": tt.post}
			if tt.post == "" {
				files = map[string]string{"hugo.toml": config, "content/posts/my-post/index.md": base}
			}
			s := loadHugoSite(t, writeSite(t, files), Options{})
			if got := s.Posts[0].ID; got != want {
				t.Errorf("ID: got %q, want %q", got, want)
			}
		})
	}
	t.Run("front matter id", func(t *testing.T) {
		s := loadHugoSite(t, writeSite(t, map[string]string{"hugo.toml": config,
			"content/posts/my-post.md": "+++\ntitle = \"T\"\ndate = 2024-01-02\nid = \"urn:uuid:1234\"\n+++\n"}), Options{})
		if got := s.Posts[0].ID; got != "urn:uuid:1234" {
			t.Errorf("ID: got %q, want urn:uuid:1234", got)
		}
	})
}

func TestLoadHugoMainSections(t *testing.T) {
	page := "---\ntitle: P\ndate: 2024-01-01\n---\n"
	files := map[string]string{
		"content/blog/a.md": page, "content/blog/b.md": page,
		"content/docs/a.md": page, "content/docs/b.md": page, "content/docs/c.md": page,
		"content/about.md": page,
	}
	tests := []struct {
		name   string
		config string
		want   []string
	}{
		{"most pages", "", []string{"content/docs/a.md", "content/docs/b.md", "content/docs/c.md"}},
		{"params.mainSections", "params:\n  mainSections: [blog]\n", []string{"content/blog/a.md", "content/blog/b.md"}},
		{"mainSections", "mainSections: [blog, docs]\n", []string{"content/blog/a.md", "content/blog/b.md", "content/docs/a.md", "content/docs/b.md", "content/docs/c.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := map[string]string{"hugo.yaml": "baseURL: https://example.org/\n" + tt.config}
			for k, v := range files {
				fs[k] = v
			}
			s := loadHugoSite(t, writeSite(t, fs), Options{})
			var got []string
			for _, p := range s.Posts {
				got = append(got, p.Path)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadHugoErrors(t *testing.T) {
	const config = "baseURL = \"https://example.org/\"\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string // in the error message
		is    error
	}{
		{
			name:  "broken TOML front matter",
			files: map[string]string{"hugo.toml": config, "content/posts/bad.md": "+++\ntitle = \"T\"\ndate = = 2024\n+++\n"},
			want:  "content/posts/bad.md:3: front matter is not valid TOML",
		},
		{
			name:  "broken YAML front matter",
			files: map[string]string{"hugo.toml": config, "content/posts/bad.md": "---\ntitle: T\ndate: a\n  b: c\n---\n"},
			want:  "content/posts/bad.md:4: front matter is not valid YAML",
		},
		{
			name:  "unclosed front matter",
			files: map[string]string{"hugo.toml": config, "content/posts/bad.md": "+++\ntitle = \"T\"\n"},
			want:  "content/posts/bad.md:1: front matter: opening +++ has no closing line",
		},
		{
			name:  "bad date",
			files: map[string]string{"hugo.toml": config, "content/posts/bad.md": "---\ntitle: T\ndate: soon\n---\n"},
			want:  "content/posts/bad.md:3: date: cannot read date",
		},
		{
			name:  "no date",
			files: map[string]string{"hugo.toml": config, "content/posts/bad.md": "---\ntitle: T\n---\n"},
			want:  "content/posts/bad.md:1: no date: add date:",
		},
		{
			name:  "JSON front matter",
			files: map[string]string{"hugo.toml": config, "content/posts/bad.md": "{\"title\": \"T\"}\n"},
			want:  "content/posts/bad.md:1: JSON front matter is not supported",
		},
		{
			name:  "shortcode first, no front matter",
			files: map[string]string{"hugo.toml": config, "content/posts/bad.md": "{{< youtube x >}}\n"},
			want:  "content/posts/bad.md:1: no date: add date:",
		},
		{
			name:  "no baseURL",
			files: map[string]string{"hugo.toml": "title = \"T\"\n", "content/posts/p.md": "---\ndate: 2024-01-01\n---\n"},
			want:  "set baseURL",
			is:    ErrNoURL,
		},
		{
			name:  "broken hugo.toml",
			files: map[string]string{"hugo.toml": "title = \"T\"\nbaseURL = \n"},
			want:  "hugo.toml:2: not valid TOML",
		},
		{
			name:  "broken hugo.yaml",
			files: map[string]string{"hugo.yaml": "title: T\nbaseURL: [x\n"},
			want:  "hugo.yaml:2: not valid YAML (did not find expected ',' or ']')",
		},
		{
			name:  "broken hugo.yaml mapping",
			files: map[string]string{"hugo.yaml": "title: T\nbaseURL: a\n  b: c\n"},
			want:  "hugo.yaml:3: not valid YAML (mapping values are not allowed in this context)",
		},
		{
			name:  "broken config.json",
			files: map[string]string{"config.json": "{\n  \"title\": \"T\",\n  \"baseURL\" \"x\"\n}\n"},
			want:  "config.json:3: not valid JSON",
		},
		{
			name:  "bad timeZone",
			files: map[string]string{"hugo.toml": config + "timeZone = \"Mars/Olympus\"\n"},
			want:  `hugo.toml: timeZone "Mars/Olympus"`,
		},
		{
			name:  "unknown permalink token",
			files: map[string]string{"hugo.toml": config + "[permalinks]\nposts = \"/:fred/\"\n", "content/posts/p.md": "---\ndate: 2024-01-01\n---\n"},
			want:  "content/posts/p.md: unknown permalink token :fred",
		},
		{
			name:  "no content folder",
			files: map[string]string{"hugo.toml": config},
			want:  "content: no such folder",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(t.Context(), Options{Dir: writeSite(t, tt.files), Kind: "hugo", Now: hugoNow})
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

func TestRenderHugoShortcodes(t *testing.T) {
	s := loadHugoSite(t, "testdata/hugo-toml", Options{})
	if len(s.Warnings) != 0 {
		t.Errorf("Load's warnings: got %v, want none: a post's shortcodes are warned about when it is rendered", s.Warnings)
	}
	p := postByPath(s, "content/posts/shortcodes.md")
	ws, err := s.Render(t.Context(), []*Post{p})
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	for _, w := range ws {
		warns = append(warns, w.String())
	}
	want := "content/posts/shortcodes.md:9: Hugo shortcodes ({{< note >}}) cannot run outside Hugo"
	if len(warns) != 1 || !strings.HasPrefix(warns[0], want) {
		t.Errorf("warnings: got %q, want one starting %q", warns, want)
	}
	if ws, err := s.Render(t.Context(), []*Post{p}); err != nil || len(ws) != 0 {
		t.Errorf("rendering the post again: got %v, %v, want no warnings (each is said once per run)", ws, err)
	}
	for _, want := range []string{
		`<img src="https://example.org/img/cat.png" alt="A cat">`,
		`<p>Inside a note.</p>`,
		`<a href="https://example.org/2024/01/first-post/">the first post</a>`,
		"<pre><code class=\"language-go\" data-lang=\"go\">fmt.Println(\"a &lt; b\")\n</code></pre>",
		`Written as text: {{&lt; youtube abc &gt;}}`,
	} {
		if !strings.Contains(p.ContentHTML, want) {
			t.Errorf("ContentHTML: got %q, want it to contain %q", p.ContentHTML, want)
		}
	}
	if strings.Contains(p.ContentHTML, "{{%") || strings.Contains(p.ContentHTML, "note %}}") {
		t.Errorf("ContentHTML: got %q, want no shortcode delimiters left", p.ContentHTML)
	}
}

func TestShortcodeArgs(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		named map[string]string
		pos   []string
	}{
		{"positional", `go "linenos=table"`, map[string]string{}, []string{"go", "linenos=table"}},
		{"named", `src="/a b.png" alt='x' title=plain`, map[string]string{"src": "/a b.png", "alt": "'x'", "title": "plain"}, nil},
		{"raw and escapes", "caption=`a \"b\"` x=\"c \\\"d\\\"\"", map[string]string{"caption": `a "b"`, "x": `c "d"`}, nil},
		{"unterminated", `src="/a.png`, map[string]string{"src": "/a.png"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			named, pos := shortcodeArgs(tt.in)
			if len(named) != len(tt.named) {
				t.Errorf("named: got %q, want %q", named, tt.named)
			}
			for k, v := range tt.named {
				if named[k] != v {
					t.Errorf("named[%s]: got %q, want %q", k, named[k], v)
				}
			}
			if !slices.Equal(pos, tt.pos) {
				t.Errorf("positional: got %q, want %q", pos, tt.pos)
			}
		})
	}
}

// TestHugoMatchesJekyll loads the synthetic corpus, which holds the same posts as a Jekyll and a Hugo site,
// and checks that both give the same posts.
func TestHugoMatchesJekyll(t *testing.T) {
	script, err := filepath.Abs("../bench/gen-corpus")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("the corpus generator is missing (bench/gen-corpus): %v", err)
	}
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "bash", script, "-n", "200", "-out", out)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-corpus: %v\n%s", err, b)
	}
	jekyll, err := Load(t.Context(), Options{Dir: filepath.Join(out, "jekyll"), Now: hugoNow})
	if err != nil {
		t.Fatal(err)
	}
	hugo, err := Load(t.Context(), Options{Dir: filepath.Join(out, "hugo"), Now: hugoNow})
	if err != nil {
		t.Fatal(err)
	}
	if hugo.Kind != "hugo" || jekyll.Kind != "jekyll" {
		t.Fatalf("kinds: got %s and %s, want jekyll and hugo", jekyll.Kind, hugo.Kind)
	}
	if len(hugo.Posts) != len(jekyll.Posts) || len(hugo.Posts) < 150 {
		t.Fatalf("got %d Hugo posts and %d Jekyll posts, want the same number (about 200)", len(hugo.Posts), len(jekyll.Posts))
	}
	for i, h := range hugo.Posts {
		j := jekyll.Posts[i]
		if h.Title != j.Title {
			t.Errorf("post %d: Hugo title %q, Jekyll title %q; want the same", i, h.Title, j.Title)
		}
		if !h.Date.Equal(j.Date) {
			t.Errorf("post %d (%s): Hugo date %s, Jekyll date %s; want the same", i, h.Title, h.Date, j.Date)
		}
		if !slices.Equal(h.Tags, j.Tags) {
			t.Errorf("post %d (%s): Hugo tags %q, Jekyll tags %q; want the same", i, h.Title, h.Tags, j.Tags)
		}
	}
	if len(hugo.Warnings) != 0 {
		t.Errorf("Hugo warnings: got %v, want none", hugo.Warnings)
	}
	if _, err := hugo.Render(t.Context(), hugo.Posts); err != nil {
		t.Fatalf("Render: %v", err)
	}
}

// FuzzHugoURLPath checks that no front matter or permalink pattern makes a post's URL leave the site.
func FuzzHugoURLPath(f *testing.F) {
	f.Add("/:year/:slug/", "a/../../b", "Title", "", false)
	f.Add("", "", "T", "/../x/", true)
	f.Add("/:sections[0:1]/:title/", "%2e%2e", "../..", "", false)
	f.Add(":title", "", "...", "", false)
	f.Add("", "", "", "A:", false)
	f.Fuzz(func(t *testing.T, pattern, slug, title, urlFM string, ugly bool) {
		cfg := &hugoConfig{permalinks: map[string]string{"posts": pattern}, ugly: ugly}
		s := &Site{URL: "https://example.org"}
		pg := hugoPage{dir: "posts", name: "p", section: "posts", current: []string{"posts"}}
		d := map[string]any{"slug": slug, "title": title, "url": urlFM}
		p, err := s.hugoURLPath(pg, d, cfg, "", hugoNow, "p", title)
		if err != nil || strings.Contains(p, "://") {
			return
		}
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("got %q, want a path starting with /", p)
		}
		for _, seg := range strings.Split(p, "/") {
			if dec, err := url.PathUnescape(seg); err == nil && (dec == ".." || dec == ".") {
				t.Fatalf("got %q, want no . or .. segments", p)
			}
		}
	})
}

// FuzzShortcodeArgs checks that a quoted argument reads back as the value that was quoted.
func FuzzShortcodeArgs(f *testing.F) {
	f.Add("src", `/a "b".png`, "go")
	f.Add("caption", "", `x="y"`)
	f.Fuzz(func(t *testing.T, key, val, rest string) {
		if key == "" || strings.IndexFunc(key, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 || !utf8.ValidString(val) {
			return
		}
		named, _ := shortcodeArgs(key + "=" + strconv.Quote(val) + " " + rest)
		if got := named[strings.ToLower(key)]; got != val && !strings.Contains(rest, "=") {
			t.Fatalf("shortcodeArgs(%s=%q): got %q, want %q", key, val, got, val)
		}
	})
}
