package posts

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJekyllDocID: the path of Jekyll's Document#id, as jekyll-feed's absolute_url writes it.
func TestJekyllDocID(t *testing.T) {
	tests := []struct{ name, url, slug, want string }{
		{"an .html page", "/37c3.html", "37c3", "/37c3"},
		{"date style", "/2023/12/30/37c3.html", "37c3", "/2023/12/30/37c3"},
		{"pretty, with a category", "/news/2020/01/02/hello/", "hello", "/news/2020/01/02/hello"},
		{"a front matter permalink, the slug apart", "/about/", "2019-summary", "/2019-summary"},
		{"a permalink to a folder's index", "/a/b/index.html", "b", "/a/b/b"},
		{"non-ASCII, encoded as Addressable does", "/caf%C3%A9/x.html", "café au lait", "/caf%C3%A9/caf%C3%A9%20au%20lait"},
		{"decomposed é composed (NFC)", "/x.html", "cafe\u0301", "/caf%C3%A9"},
		{"sub-delimiters stay", "/x.html", "c++(1)", "/c++(1)"},
		{"a slash in the slug's segment is encoded", "/x.html", "a%2Fb", "/a%2Fb"},
		{"a # starts a fragment, as jekyll-feed writes it", "/2009/03/12/hash-1.html", "hash-#1", "/2009/03/12/hash-#1"},
		{"a ? starts a query", "/x.html", "what? now", "/what?%20now"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := jekyllDocID(tc.url, tc.slug); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestUseIDs: each scheme on a Jekyll site, front matter ids kept, and ids jekyll refused on a Hugo site.
func TestUseIDs(t *testing.T) {
	dir := writeSite(t, map[string]string{
		"_config.yml": "url: https://gosein.de\nbaseurl: /blog\npermalink: /:categories/:title:output_ext\n" +
			"defaults:\n  - scope: {path: notes}\n    values: {slug: note}\n",
		"_posts/2023-12-30-37c3.md":        "---\ntitle: 37C3\n---\nHi\n",
		"_posts/2023-11-01-trailing...md":  "---\ntitle: Dots\n---\nHi\n",
		"news/_posts/2023-10-01-launch.md": "---\ntitle: Launch\nslug: lift-off\n---\nHi\n",
		"notes/_posts/2023-09-01-first.md": "---\ntitle: Note\n---\nHi\n",
		"_posts/2023-08-01-own.md":         "---\ntitle: Own\nid: urn:uuid:1\n---\nHi\n",
		"_posts/2023-07-01-pretty.md":      "---\ntitle: Pretty\npermalink: /pretty/\n---\nHi\n",
	})
	cache := filepath.Join(t.TempDir(), "cache")
	load := func(scheme string) map[string]string {
		t.Helper()
		s, err := Load(t.Context(), Options{Dir: dir, Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Cache: cache})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.UseIDs(scheme); err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		for _, p := range s.Posts {
			ids[filepath.Base(p.Path)] = p.ID + " " + p.URL
		}
		return ids
	}
	want := map[string]map[string]string{
		"jekyll": {
			"2023-12-30-37c3.md":       "https://gosein.de/blog/37c3 https://gosein.de/blog/37c3.html",
			"2023-11-01-trailing...md": "https://gosein.de/blog/trailing https://gosein.de/blog/trailing.html",
			"2023-10-01-launch.md":     "https://gosein.de/blog/news/lift-off https://gosein.de/blog/news/lift-off.html",
			"2023-09-01-first.md":      "https://gosein.de/blog/notes/note https://gosein.de/blog/notes/note.html",
			"2023-08-01-own.md":        "urn:uuid:1 https://gosein.de/blog/own.html",
			"2023-07-01-pretty.md":     "https://gosein.de/blog/pretty https://gosein.de/blog/pretty/",
		},
		"url": {
			"2023-12-30-37c3.md": "https://gosein.de/blog/37c3.html https://gosein.de/blog/37c3.html",
			"2023-08-01-own.md":  "urn:uuid:1 https://gosein.de/blog/own.html",
		},
		"tag": {
			"2023-12-30-37c3.md":   "tag:gosein.de,2023-12-30:37c3 https://gosein.de/blog/37c3.html",
			"2023-10-01-launch.md": "tag:gosein.de,2023-10-01:news/launch https://gosein.de/blog/news/lift-off.html",
		},
	}
	for _, scheme := range []string{"tag", "jekyll", "url", "jekyll"} { // the second jekyll from the cache
		w := want[scheme]
		got := load(scheme)
		for file, v := range w {
			if got[file] != v {
				t.Errorf("ids %s: %s: got %q, want %q", scheme, file, got[file], v)
			}
		}
	}

	hugo := writeSite(t, map[string]string{"hugo.toml": "baseURL = 'https://h.example/'\n", "content/posts/a.md": "---\ntitle: A\ndate: 2020-01-01\n---\nA\n"})
	s, err := Load(t.Context(), Options{Dir: hugo, Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UseIDs(IDsJekyll); err == nil || !strings.Contains(err.Error(), "for Jekyll sites") {
		t.Errorf("ids jekyll on a Hugo site: got %v, want an error", err)
	}
	if err := s.UseIDs(IDsURL); err != nil || s.Posts[0].ID != "https://h.example/posts/a/" {
		t.Errorf("ids url on a Hugo site: got %v, id %q", err, s.Posts[0].ID)
	}
}
