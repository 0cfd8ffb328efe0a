package posts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ageFiles sets every file's modification time an hour back, out of the cache's racy window.
func ageFiles(t *testing.T, dir string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
}

// summary is what a test compares of a loaded site.
func summary(t *testing.T, s *Site) []string {
	t.Helper()
	var out []string
	for _, p := range s.Posts {
		out = append(out, p.ID+" "+p.URL+" "+p.Title+" "+p.Date.Format(time.RFC3339)+" "+p.Hash[:8])
	}
	return out
}

func TestPostCache(t *testing.T) {
	dir := makeSite(t, map[string]string{
		"_config.yml":            "url: https://ex.org\ntimezone: America/Chicago\n",
		"_posts/2020-01-01-a.md": "---\ntitle: A\nslug: s-a\ntags: [x]\n---\nHello {{ page.title }} {{ page.slug }}.\n",
		"_posts/2020-01-02-b.md": "---\ntitle: B\npublished: false\n---\nno\n",
		"_posts/2020-01-03-c.md": "---\ntitle: C\ndate: 2030-01-01\n---\nlater\n",
		"_posts/2020-01-04-d.md": "---\ntitle: D\n---\nd\n",
	})
	ageFiles(t, dir)
	cache := filepath.Join(t.TempDir(), "posts.cache")
	load := func(now time.Time, withCache bool) *Site {
		t.Helper()
		o := Options{Dir: dir, Now: now}
		if withCache {
			o.Cache = cache
		}
		s, err := Load(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fresh := summary(t, load(now, false))
	first := load(now, true)
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("no cache written: %v", err)
	}
	second := load(now, true)
	if got := summary(t, second); !reflect.DeepEqual(got, fresh) {
		t.Errorf("from the cache:\n%v\nwant\n%v", got, fresh)
	}
	// Rendering a cached post still sees its front matter (Liquid's page.title, tags).
	if _, err := second.Render(t.Context(), second.Posts); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Render(t.Context(), first.Posts); err != nil {
		t.Fatal(err)
	}
	for i := range second.Posts {
		if p := second.Posts[i]; p.Path == "_posts/2020-01-01-a.md" && !strings.Contains(p.ContentHTML, "Hello A s-a.") {
			t.Errorf("%s: rendered from the cache %q, want its page.title and page.slug", p.Path, p.ContentHTML)
		}
		if second.Posts[i].ContentHTML != first.Posts[i].ContentHTML {
			t.Errorf("%s: rendered from the cache %q, want %q", second.Posts[i].Path, second.Posts[i].ContentHTML, first.Posts[i].ContentHTML)
		}
	}
	// A scheduled post appears once its date has passed, cached or not.
	if got, want := len(load(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), true).Posts), 3; got != want {
		t.Errorf("after the scheduled date: got %d posts, want %d", got, want)
	}
	// An edit is seen.
	os.WriteFile(filepath.Join(dir, "_posts", "2020-01-04-d.md"), []byte("---\ntitle: D edited\n---\nd\n"), 0o644)
	ageFiles(t, dir)
	got := load(now, true)
	if got.Posts[0].Title != "D edited" {
		t.Errorf("after an edit: got title %q, want D edited", got.Posts[0].Title)
	}
	// A change to the site's config is seen.
	os.WriteFile(filepath.Join(dir, "_config.yml"), []byte("url: https://other.example\n"), 0o644)
	if got := load(now, true); got.Posts[0].URL != "https://other.example/2020/01/04/d.html" {
		t.Errorf("after a config change: got %s", got.Posts[0].URL)
	}
	// A broken cache file is ignored.
	os.WriteFile(cache, []byte("not a cache"), 0o644)
	if got := summary(t, load(now, true)); len(got) != 2 {
		t.Errorf("with a broken cache: got %v", got)
	}
}
