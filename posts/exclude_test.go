package posts

import (
	"testing"
	"time"
)

// TestJekyllExcludeNeverTheSite: _config.yml's exclude list names paths inside the site; a glob such as
// ".*" matches the "." that the site's own folder is relative to itself, which excluded the whole site
// (no posts) when its folder was given without a trailing slash. The site is never excluded; what the
// glob names inside it still is.
func TestJekyllExcludeNeverTheSite(t *testing.T) {
	dir := writeSite(t, map[string]string{
		"_config.yml":                       "title: T\nurl: https://example.com\nexclude: [\".*\", \"drafts-old\"]\n",
		"_posts/2024-01-02-kept.md":         "---\ntitle: Kept\n---\nText.\n",
		"drafts-old/_posts/2024-01-03-x.md": "---\ntitle: Excluded\n---\nText.\n",
	})
	for _, d := range []string{dir, dir + "/"} {
		s, err := Load(t.Context(), Options{Dir: d, Kind: "jekyll", Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, p := range s.Posts {
			titles = append(titles, p.Title)
		}
		if len(titles) != 1 || titles[0] != "Kept" {
			t.Errorf("site %q: posts %q, want only Kept", d, titles)
		}
	}
}
