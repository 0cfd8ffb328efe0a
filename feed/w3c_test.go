package feed

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/feedcheck"
	"github.com/heraldhq/herald/posts"
)

// TestW3CChecks runs the W3C feed validator's checks (internal/feedcheck) on the RSS and Atom feeds of
// posts with and without a summary, and of an empty post, at the site's URL and at a tag's whose URL is not
// ASCII: no problem, at level AA. cmd/herald runs the
// same checks on every feed of every test site (TestFeedsPassW3CChecks).
func TestW3CChecks(t *testing.T) {
	d := time.Date(2024, 3, 9, 18, 30, 0, 0, time.UTC)
	items := []*posts.Post{
		{ID: "tag:blog.example.com,2024-03-09:a", URL: "https://blog.example.com/a/", Title: "Tom & Jerry", Date: d, Updated: d,
			SummaryHTML: "<p>Short.</p>", ContentHTML: `<p>Short.</p><p><a href="https://blog.example.com/b/">More</a></p>`,
			Authors: []posts.Author{{Name: "Ann", Email: "ann@example.com"}}, Categories: []string{"R&D"}},
		{ID: "https://blog.example.com/b/", URL: "https://blog.example.com/b/", Title: "No summary", Date: d.Add(-time.Hour),
			Updated: d.Add(-time.Hour), ContentHTML: `<p><img src="https://blog.example.com/i.png" alt="An image"></p>`},
		{ID: "tag:blog.example.com,2024-03-08:empty", URL: "https://blog.example.com/empty/", Title: "Empty", Date: d.Add(-24 * time.Hour),
			Updated: d.Add(-24 * time.Hour)},
	}
	o := Options{Title: "Blog & co", SiteURL: "https://blog.example.com/", Lang: "en", Author: posts.Author{Name: "Ann"},
		RSSURL: "https://blog.example.com/feed.xml", AtomURL: "https://blog.example.com/atom.xml"}
	// A tag feed's URL is an IRI: its self link may be one, its id must be a URI.
	tag := o
	tag.RSSURL, tag.AtomURL = "https://blog.example.com/tags/café/feed.xml", "https://blog.example.com/tags/café/atom.xml"
	for _, tt := range []struct {
		name     string
		render   func(Options, []*posts.Post) ([]byte, error)
		o        Options
		location string
	}{
		{"rss", RSS, o, o.RSSURL}, {"atom", Atom, o, o.AtomURL},
		{"rss of a tag", RSS, tag, tag.RSSURL}, {"atom of a tag", Atom, tag, tag.AtomURL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.render(tt.o, items)
			if err != nil {
				t.Fatal(err)
			}
			problems, err := feedcheck.Check(b, feedcheck.Options{Location: tt.location, Now: d})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%s\n%s", p, b)
			}
			if tt.name == "atom of a tag" && !strings.Contains(string(b), "<id>https://blog.example.com/tags/caf%C3%A9/atom.xml</id>") {
				t.Errorf("the feed's id is not its URL percent-encoded:\n%s", b)
			}
		})
	}
}
