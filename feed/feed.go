// Package feed turns rendered posts into RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents, through
// gorilla/feeds' exported structs extended where they fall short, and writes them atomically.
package feed

import (
	"time"

	"github.com/heraldhq/herald/posts"
)

// Options describe the feed as a whole.
type Options struct {
	Title       string
	Description string
	SiteURL     string // the site's home page
	Lang        string
	Author      posts.Author // the site's author, the feed-level author of Atom and JSON Feed

	// The public URLs of the three files, for self links. An empty one is left out.
	RSSURL, AtomURL, JSONURL string

	Stylesheet string   // URL of an XSLT stylesheet for the XML feeds; "" for none
	Hubs       []string // WebSub hub URLs
	Generator  string   // "Herald 0.1.0"
}

// updated is the feed's last-change time: the newest item's date, never the clock, so the same posts give
// the same bytes. A feed without items takes the Unix epoch.
func updated(items []*posts.Post) time.Time {
	var t time.Time
	for _, p := range items {
		for _, d := range []time.Time{p.Date, p.Updated} {
			if d.After(t) {
				t = d
			}
		}
	}
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}

// terms are an item's categories and then its tags, each once.
func terms(p *posts.Post) []string {
	out := make([]string, 0, len(p.Categories)+len(p.Tags))
	seen := map[string]bool{}
	for _, t := range append(append([]string{}, p.Categories...), p.Tags...) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// content is what an item carries as its body: the full post, or only its excerpt.
func content(p *posts.Post) string {
	return p.ContentHTML
}
