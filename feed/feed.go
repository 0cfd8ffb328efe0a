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
	Generator  string   // "Herald v1.2.3", or "Herald"

	checked bool // set by Safe: these options and the items given with them are safe already
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

// safe returns copies of o and items with every string stripped of what XML 1.0 forbids (control
// characters, U+FFFE, invalid UTF-8): such a byte would make the whole feed unreadable, and encoding/xml
// writes it as it is inside CDATA. The JSON feed gets the same text, so the formats agree.
func safe(o Options, items []*posts.Post) (Options, []*posts.Post) {
	if o.checked {
		return o, items
	}
	c := posts.XMLSafe
	o.Title, o.Description, o.SiteURL, o.Lang = c(o.Title), c(o.Description), c(o.SiteURL), c(o.Lang)
	o.RSSURL, o.AtomURL, o.JSONURL, o.Stylesheet = c(o.RSSURL), c(o.AtomURL), c(o.JSONURL), c(o.Stylesheet)
	o.Author = safeAuthor(o.Author)
	o.Hubs = safeList(o.Hubs)
	out := make([]*posts.Post, len(items))
	for i, p := range items {
		q := *p
		q.ID, q.URL, q.Title, q.Image, q.Lang = c(q.ID), c(q.URL), c(q.Title), c(q.Image), c(q.Lang)
		q.Summary, q.SummaryHTML, q.ContentHTML = c(q.Summary), c(q.SummaryHTML), c(q.ContentHTML)
		q.Categories, q.Tags = safeList(q.Categories), safeList(q.Tags)
		q.Authors = make([]posts.Author, len(p.Authors))
		for j, a := range p.Authors {
			q.Authors[j] = safeAuthor(a)
		}
		if p.Enclosure != nil {
			e := *p.Enclosure
			e.URL, e.Type = c(e.URL), c(e.Type)
			q.Enclosure = &e
		}
		out[i] = &q
	}
	return o, out
}

// Safe does once, for the feeds of a set of posts, what each writer does first to its options and items
// (safe): a writer given what Safe returns, or fewer of the same items, does not read the posts again. A
// full archive's posts are a hundred megabytes of HTML, which each of the three feeds read.
func Safe(o Options, items []*posts.Post) (Options, []*posts.Post) {
	o, items = safe(o, items)
	o.checked = true
	return o, items
}

func safeAuthor(a posts.Author) posts.Author {
	return posts.Author{Name: posts.XMLSafe(a.Name), Email: posts.XMLSafe(a.Email), URL: posts.XMLSafe(a.URL)}
}

func safeList(l []string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = posts.XMLSafe(s)
	}
	return out
}

// sizeHint guesses a document's size, so that its buffer is allocated once rather than grown by doubling
// (a full-archive feed can be a hundred megabytes).
func sizeHint(items []*posts.Post) int {
	n := 4096
	for _, p := range items {
		n += 1024 + len(p.ContentHTML) + len(p.SummaryHTML)*11/10 + len(p.Summary)
	}
	return n
}
