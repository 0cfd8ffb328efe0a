package feed

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/feeds"
	"github.com/heraldhq/herald/posts"
)

// Atom 1.0 (RFC 4287). gorilla/feeds' AtomFeed and AtomEntry carry the standard elements; these structs
// add what they lack: the feed's own id (AtomFeed takes it from its one link), rel="self" beside
// rel="alternate", xml:lang, several authors and categories per entry, a generator and media:thumbnail.

type atomFeed struct {
	*feeds.AtomFeed
	NSMedia   string           `xml:"xmlns:media,attr"`
	Lang      string           `xml:"xml:lang,attr,omitempty"`
	Links     []feeds.AtomLink `xml:"link"`
	Generator *atomGenerator   `xml:"generator"`
	Authors   []atomAuthor     `xml:"author"`
	Entries   []*atomEntry     `xml:"entry"`
}

type atomGenerator struct {
	Name string `xml:",chardata"`
	URI  string `xml:"uri,attr,omitempty"`
}

type atomAuthor struct {
	feeds.AtomPerson
}

type atomEntry struct {
	*feeds.AtomEntry
	Lang       string          `xml:"xml:lang,attr,omitempty"`
	Summary    *atomText       `xml:"summary"`
	Content    *atomText       `xml:"content"`
	Authors    []atomAuthor    `xml:"author"`
	Categories []atomCategory  `xml:"category"`
	Thumbnail  *mediaThumbnail `xml:"media:thumbnail"`
}

// atomText is HTML in a CDATA section: the same bytes as AtomContent's escaped text, a third smaller.
type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",cdata"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

// Atom renders items as an Atom 1.0 document.
func Atom(o Options, items []*posts.Post) ([]byte, error) {
	return inMemory(WriteAtom, o, items)
}

// WriteAtom writes what Atom returns to w, without holding the document in memory.
func WriteAtom(w io.Writer, o Options, items []*posts.Post) error {
	o, items = safe(o, items)
	f := atomDocument(o, items)
	return writeXMLItems(w, o.Stylesheet, f, &f.Entries, xmlItems{name: "entry", indent: "  ", end: "\n</feed>"},
		func(e *atomEntry) []*string {
			var html []*string
			if e.Summary != nil {
				html = append(html, &e.Summary.Body)
			}
			if e.Content != nil {
				html = append(html, &e.Content.Body)
			}
			return html
		})
}

// atomDocument is the Atom document of items, made safe.
func atomDocument(o Options, items []*posts.Post) *atomFeed {
	id := asURI(firstNonEmpty(o.AtomURL, o.SiteURL))
	f := &atomFeed{
		AtomFeed: &feeds.AtomFeed{
			Xmlns:    "http://www.w3.org/2005/Atom",
			Title:    o.Title,
			Id:       id,
			Updated:  updated(items).Format(time.RFC3339),
			Subtitle: o.Description,
		},
		NSMedia: "http://search.yahoo.com/mrss/",
		Lang:    o.Lang,
	}
	f.Generator = &atomGenerator{Name: generatorName(o)}
	if o.AtomURL != "" {
		f.Links = append(f.Links, feeds.AtomLink{Href: o.AtomURL, Rel: "self", Type: "application/atom+xml"})
	}
	f.Links = append(f.Links, feeds.AtomLink{Href: o.SiteURL, Rel: "alternate", Type: "text/html"})
	for _, h := range o.Hubs {
		f.Links = append(f.Links, feeds.AtomLink{Href: h, Rel: "hub"})
	}
	// RFC 4287 wants an author on the feed or on every entry: the site's author when there is one, else
	// each entry's own, else the feed's title as a last resort.
	if o.Author.Name != "" || o.Author.Email != "" {
		f.Authors = []atomAuthor{person(o.Author)}
	}
	for _, p := range items {
		e := &atomEntry{AtomEntry: &feeds.AtomEntry{
			Title:     p.Title,
			Id:        p.ID,
			Updated:   p.Updated.Format(time.RFC3339),
			Published: p.Date.Format(time.RFC3339),
			Links:     []feeds.AtomLink{{Href: p.URL, Rel: "alternate", Type: "text/html"}},
		}}
		if p.Lang != o.Lang {
			e.Lang = p.Lang
		}
		if p.SummaryHTML != "" {
			e.Summary = &atomText{Type: "html", Body: p.SummaryHTML}
		}
		if c := p.ContentHTML; c != "" {
			e.Content = &atomText{Type: "html", Body: c}
		}
		if e.Summary == nil && e.Content == nil {
			// An empty post: the W3C validator wants textual content in every entry, and JSON Feed's
			// content_text takes the title in the same case.
			e.Summary = &atomText{Type: "text", Body: firstNonEmpty(p.Title, p.URL)}
		}
		for _, a := range p.Authors {
			if a != o.Author {
				e.Authors = append(e.Authors, person(a))
			}
		}
		if len(f.Authors) == 0 && len(e.Authors) == 0 {
			e.Authors = []atomAuthor{{feeds.AtomPerson{Name: o.Title}}}
		}
		for _, t := range terms(p) {
			e.Categories = append(e.Categories, atomCategory{Term: t})
		}
		if p.Enclosure != nil {
			e.Links = append(e.Links, feeds.AtomLink{Href: p.Enclosure.URL, Rel: "enclosure", Type: p.Enclosure.Type,
				Length: strconv.FormatInt(p.Enclosure.Length, 10)})
		}
		if p.Image != "" {
			e.Thumbnail = &mediaThumbnail{URL: p.Image}
		}
		f.Entries = append(f.Entries, e)
	}
	return f
}

// person is an Atom person construct, which must have a name: the email stands in for a missing one.
func person(a posts.Author) atomAuthor {
	name := a.Name
	if name == "" {
		name = a.Email
	}
	return atomAuthor{feeds.AtomPerson{Name: name, Email: a.Email, Uri: a.URL}}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// asURI percent-encodes what a URI cannot hold as it is (non-ASCII bytes, spaces, quotes): a tag feed's
// https://blog.example.com/tags/café/atom.xml is a fine link (an IRI), but the W3C validator wants a feed's
// id to be a URI in its canonical form (NonCanonicalURI: .../tags/caf%C3%A9/atom.xml).
func asURI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
