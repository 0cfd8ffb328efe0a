package feed

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/feeds"
	"github.com/heraldhq/herald/posts"
)

// RSS 2.0 (https://www.rssboard.org/rss-specification) with the content, atom, dc and media namespaces.
// gorilla/feeds' RssFeed and RssItem carry the standard elements; the structs below add what they lack:
// atom:link rel="self", several categories, dc:creator, media:thumbnail, and a description that is left
// out when empty. The description and content:encoded are rssItem's own fields, in that order: encoding/xml
// writes an embedded struct's fields first, which put RssItem's content:encoded before the description,
// and the W3C feed validator warns about every item where content:encoded comes first.

type rssDoc struct {
	XMLName   xml.Name    `xml:"rss"`
	Version   string      `xml:"version,attr"`
	NSContent string      `xml:"xmlns:content,attr"`
	NSAtom    string      `xml:"xmlns:atom,attr"`
	NSDC      string      `xml:"xmlns:dc,attr"`
	NSMedia   string      `xml:"xmlns:media,attr"`
	Channel   *rssChannel `xml:"channel"`
}

type rssChannel struct {
	// Shadow RssFeed's, in the order the specification lists them: a channel's description is plain text.
	Title       rssText `xml:"title"`
	Link        string  `xml:"link"`
	Description rssText `xml:"description"`
	*feeds.RssFeed
	AtomLinks []atomLinkNS `xml:"atom:link"`
	Items     []*rssItem   `xml:"item"`
}

type atomLinkNS struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
}

type rssItem struct {
	Title *rssText `xml:"title"` // shadows RssItem's
	*feeds.RssItem
	Description *rssHTML          `xml:"description"`
	Content     *feeds.RssContent // shadows RssItem.Content, which stays nil
	Categories  []rssText         `xml:"category"`
	Creators    []rssText         `xml:"dc:creator"`
	Thumbnail   *mediaThumbnail   `xml:"media:thumbnail"`
}

// rssHTML is an item's description, HTML in a CDATA section as content:encoded is: a third smaller than
// escaped text.
type rssHTML struct {
	Body string `xml:",cdata"`
}

type mediaThumbnail struct {
	URL string `xml:"url,attr"`
}

// rssText is an element of plain text written with hexadecimal character references for "&", "<" and ">",
// rather than the named entities encoding/xml writes: the RSS Best Practices Profile asks for them
// (https://www.rssboard.org/rss-profile#data-types-characterdata), and the W3C validator warns about
// named ones ("Encode "&" and "<" in plain text using hexadecimal character references").
type rssText struct {
	Text string `xml:",innerxml"`
}

var rssTextEscaper = strings.NewReplacer("&", "&#x26;", "<", "&#x3C;", ">", "&#x3E;", "\r", "&#xD;")

func plainRSS(s string) rssText { return rssText{Text: rssTextEscaper.Replace(s)} }

func plainRSSList(ss []string) []rssText {
	out := make([]rssText, len(ss))
	for i, s := range ss {
		out[i] = plainRSS(s)
	}
	return out
}

// RSS renders items as an RSS 2.0 document.
func RSS(o Options, items []*posts.Post) ([]byte, error) {
	return inMemory(WriteRSS, o, items)
}

// WriteRSS writes what RSS returns to w, without holding the document in memory.
func WriteRSS(w io.Writer, o Options, items []*posts.Post) error {
	o, items = safe(o, items)
	doc := rssDocument(o, items)
	return writeXMLItems(w, o.Stylesheet, doc, &doc.Channel.Items, xmlItems{name: "item", indent: "    ", end: "\n  </channel>\n</rss>"},
		func(it *rssItem) []*string {
			var html []*string
			if it.Description != nil {
				html = append(html, &it.Description.Body)
			}
			if it.Content != nil {
				html = append(html, &it.Content.Content)
			}
			return html
		})
}

// rssDocument is the RSS document of items, made safe.
func rssDocument(o Options, items []*posts.Post) *rssDoc {
	// A channel's description is required by the specification: the title stands in for a missing one.
	ch := &rssChannel{Title: plainRSS(o.Title), Link: o.SiteURL, Description: plainRSS(cmp.Or(o.Description, o.Title)), RssFeed: &feeds.RssFeed{
		Language:      o.Lang,
		LastBuildDate: updated(items).Format(time.RFC1123Z),
		Generator:     generatorName(o),
		Docs:          "https://www.rssboard.org/rss-specification",
	}}
	if o.RSSURL != "" {
		ch.AtomLinks = append(ch.AtomLinks, atomLinkNS{Href: o.RSSURL, Rel: "self", Type: "application/rss+xml"})
	}
	for _, h := range o.Hubs {
		ch.AtomLinks = append(ch.AtomLinks, atomLinkNS{Href: h, Rel: "hub"})
	}
	for _, p := range items {
		title := plainRSS(p.Title)
		it := &rssItem{Title: &title, RssItem: &feeds.RssItem{
			Link:    p.URL,
			PubDate: p.Date.Format(time.RFC1123Z),
			Guid:    &feeds.RssGuid{Id: p.ID, IsPermaLink: "false"},
		}, Categories: plainRSSList(terms(p))}
		if p.ID == p.URL {
			it.Guid.IsPermaLink = "true"
		}
		// The W3C validator wants a description before content:encoded in every item (its
		// NeedDescriptionBeforeContent): a post without a summary has its content as its description alone.
		switch s, c := p.SummaryHTML, p.ContentHTML; {
		case s == "" && c != "":
			it.Description = &rssHTML{Body: c}
		case s != "":
			it.Description = &rssHTML{Body: s}
			if c != "" {
				it.Content = &feeds.RssContent{Content: c}
			}
		}
		for _, a := range p.Authors {
			// <author> is an email address by the specification; without one the name goes to dc:creator.
			if a.Email != "" && it.Author == "" {
				it.Author = a.Email
				if a.Name != "" {
					it.Author = fmt.Sprintf("%s (%s)", a.Email, a.Name)
				}
			} else if a.Name != "" {
				it.Creators = append(it.Creators, plainRSS(a.Name))
			}
		}
		if p.Enclosure != nil {
			it.Enclosure = &feeds.RssEnclosure{Url: p.Enclosure.URL, Length: strconv.FormatInt(p.Enclosure.Length, 10), Type: p.Enclosure.Type}
		}
		if p.Image != "" {
			it.Thumbnail = &mediaThumbnail{URL: p.Image}
		}
		ch.Items = append(ch.Items, it)
	}
	return &rssDoc{
		Version:   "2.0",
		NSContent: "http://purl.org/rss/1.0/modules/content/",
		NSAtom:    "http://www.w3.org/2005/Atom",
		NSDC:      "http://purl.org/dc/elements/1.1/",
		NSMedia:   "http://search.yahoo.com/mrss/",
		Channel:   ch,
	}
}

// xmlItems say where a document's items go: each is an element of this name, indented by indent (its depth
// in the document), and they come last before the closing tags end.
type xmlItems struct{ name, indent, end string }

// writeXMLItems is writeXML for doc with the items *items points to, which it encodes one at a time, without
// the long HTML html gives of each: encoding/xml copies a string before it writes it as CDATA, which for a
// full-archive feed is hundreds of megabytes of garbage. Each such HTML is encoded as a marker ("\x00",
// "\x01": safe removed both from every string) and written in the marker's place as encoding/xml writes
// CDATA. The bytes are writeXML's: the document without its items, split before its closing tags, and each
// item as the encoder writes it at its depth.
func writeXMLItems[T any](w io.Writer, stylesheet string, doc any, items *[]T, at xmlItems, html func(T) []*string) error {
	all := *items
	*items = nil
	var head bytes.Buffer
	err := writeXML(&head, stylesheet, doc)
	*items = all
	if err != nil {
		return err
	}
	end := at.end + "\n"
	if !bytes.HasSuffix(head.Bytes(), []byte(end)) {
		return fmt.Errorf("feed: encode XML: the document does not end in %q", at.end)
	}
	b := bufio.NewWriterSize(w, 64<<10)
	b.Write(head.Bytes()[:head.Len()-len(end)])
	var item bytes.Buffer
	enc := xml.NewEncoder(&item)
	enc.Indent(at.indent, "  ")
	start := xml.StartElement{Name: xml.Name{Local: at.name}}
	for i, it := range all {
		// Long HTML only: a marker in a short one would cost more than it saves.
		var swapped []*string
		var saved []string
		for _, f := range html(it) {
			if len(*f) > 1024 {
				swapped, saved = append(swapped, f), append(saved, *f)
				*f = string(rune(len(saved) - 1))
			}
		}
		item.Reset()
		err := enc.EncodeElement(it, start)
		for k, f := range swapped {
			*f = saved[k]
		}
		if err != nil {
			return fmt.Errorf("feed: encode XML: %w", err)
		}
		if i == 0 {
			b.WriteByte('\n') // the encoder puts a newline before every element but its first
		}
		out := item.Bytes()
		for k, h := range saved {
			marker := "<![CDATA[" + string(rune(k)) + "]]>"
			before, after, ok := bytes.Cut(out, []byte(marker))
			if !ok {
				return fmt.Errorf("feed: encode XML: an item's HTML went missing")
			}
			b.Write(before)
			writeCDATA(b, h)
			out = after
		}
		b.Write(out)
	}
	b.WriteString(end)
	return b.Flush()
}

// writeCDATA writes s as encoding/xml writes a ",cdata" field: nothing for "", and a "]]>" within split
// across two sections.
func writeCDATA(b *bufio.Writer, s string) {
	if s == "" {
		return
	}
	b.WriteString("<![CDATA[")
	for {
		before, after, ok := strings.Cut(s, "]]>")
		if !ok {
			break
		}
		b.WriteString(before)
		b.WriteString("]]]]><![CDATA[>")
		s = after
	}
	b.WriteString(s)
	b.WriteString("]]>")
}

// writeXML writes the XML declaration, an optional stylesheet instruction and v, indented.
func writeXML(w io.Writer, stylesheet string, v any) error {
	b := bufio.NewWriterSize(w, 64<<10)
	b.WriteString(xml.Header)
	if stylesheet != "" {
		b.WriteString(`<?xml-stylesheet type="text/xsl" href="`)
		if err := xml.EscapeText(b, []byte(stylesheet)); err != nil {
			return err
		}
		b.WriteString("\"?>\n")
	}
	enc := xml.NewEncoder(b)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("feed: encode XML: %w", err)
	}
	b.WriteByte('\n')
	return b.Flush()
}

// inMemory runs a feed's writer into a buffer sized for items.
func inMemory(write func(io.Writer, Options, []*posts.Post) error, o Options, items []*posts.Post) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(sizeHint(items))
	if err := write(&b, o, items); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
