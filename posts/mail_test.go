package posts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFrontMatterMail: email: false, email_after and hold say what becomes of a post's mail, on a Jekyll
// and a Hugo site, and through the cache; an email_after that is no duration holds the mail, with a
// warning that names the file and line.
func TestFrontMatterMail(t *testing.T) {
	posts := map[string]string{
		"quiet":   "email: false\n",
		"later":   "email_after: 2h30m\n",
		"held":    "hold: true\n",
		"typo":    "title: Typo\nemail_after: two hours\n",
		"default": "email: true\n",
	}
	type want struct {
		noEmail, hold bool
		after         time.Duration
	}
	wants := map[string]want{"quiet": {noEmail: true}, "later": {after: 150 * time.Minute}, "held": {hold: true},
		"typo": {hold: true}, "default": {}}
	for _, kind := range []string{"jekyll", "hugo"} {
		t.Run(kind, func(t *testing.T) {
			files := map[string]string{}
			path := func(slug string) string { return "_posts/2021-01-02-" + slug + ".md" }
			if kind == "hugo" {
				files["hugo.toml"] = "baseURL = 'https://ex.org/'\n"
				path = func(slug string) string { return "content/posts/" + slug + ".md" }
			} else {
				files["_config.yml"] = "url: https://ex.org\n"
			}
			for slug, fm := range posts {
				files[path(slug)] = "---\ndate: 2021-01-02\n" + fm + "---\nText.\n"
			}
			dir := makeSite(t, files)
			ageFiles(t, dir) // so that the second load takes them from the cache
			cache := filepath.Join(t.TempDir(), "posts.cache")
			for _, run := range []string{"read", "cached"} {
				s, err := Load(t.Context(), Options{Dir: dir, Kind: kind, Cache: cache, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(cache); run == "cached" && err != nil {
					t.Fatalf("no cache after the first load: %v", err)
				}
				for slug, w := range wants {
					var p *Post
					for _, q := range s.Posts {
						if q.Path == path(slug) {
							p = q
						}
					}
					if p == nil {
						t.Fatalf("%s: no post %s", run, path(slug))
					}
					if p.NoEmail != w.noEmail || p.Hold != w.hold || p.EmailAfter != w.after {
						t.Errorf("%s: %s: got email off %v, hold %v, after %v; want %v, %v, %v", run, slug, p.NoEmail, p.Hold, p.EmailAfter, w.noEmail, w.hold, w.after)
					}
				}
				var warned bool
				for _, w := range s.Warnings {
					if w.File == path("typo") && w.Line == 4 && strings.Contains(w.Msg, `email_after "two hours" is not a duration`) {
						warned = true
					}
				}
				if !warned {
					t.Errorf("%s: no warning at %s:4 about email_after; got %v", run, path("typo"), s.Warnings)
				}
			}
		})
	}
}
