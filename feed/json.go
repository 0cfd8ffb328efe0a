package feed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gorilla/feeds"
	"github.com/heraldhq/herald/posts"
)

// JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) through gorilla/feeds' JSONFeed and JSONItem. They
// cover the specification; Herald fills them directly to set feed_url and language, write authors only in
// the 1.1 form, and keep dates in the site's zone.

// jsonItem adds what JSONItem lacks of JSON Feed 1.1: an item's own language.
type jsonItem struct {
	*feeds.JSONItem
	Language string `json:"language,omitempty"`
}

// JSON renders items as a JSON Feed 1.1 document.
func JSON(o Options, ps []*posts.Post) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(sizeHint(ps) * 11 / 10)
	if err := WriteJSON(&b, o, ps); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteJSON writes what JSON returns to w, without holding the document in memory.
func WriteJSON(w io.Writer, o Options, ps []*posts.Post) error {
	o, ps = safe(o, ps)
	f := &feeds.JSONFeed{
		Version:     "https://jsonfeed.org/version/1.1",
		Title:       o.Title,
		Language:    o.Lang,
		HomePageUrl: o.SiteURL,
		FeedUrl:     o.JSONURL,
		Description: o.Description,
	}
	if o.Author.Name != "" {
		f.Authors = []*feeds.JSONAuthor{{Name: o.Author.Name, Url: o.Author.URL}}
	}
	for _, h := range o.Hubs {
		f.Hubs = append(f.Hubs, &feeds.JSONHub{Type: "WebSub", Url: h})
	}
	var items []jsonItem
	for _, p := range ps {
		published, modified := p.Date, p.Updated
		it := &feeds.JSONItem{
			Id:            p.ID,
			Url:           p.URL,
			Title:         p.Title,
			ContentHTML:   p.ContentHTML,
			Summary:       p.Summary,
			Image:         p.Image,
			PublishedDate: &published,
			Tags:          terms(p),
		}
		if !modified.Equal(published) {
			it.ModifiedDate = &modified
		}
		for _, a := range p.Authors {
			if a.Name != "" {
				it.Authors = append(it.Authors, &feeds.JSONAuthor{Name: a.Name, Url: a.URL})
			}
		}
		if p.Enclosure != nil {
			it.Attachments = []feeds.JSONAttachment{{Url: p.Enclosure.URL, MIMEType: p.Enclosure.Type, Size: int32(min(p.Enclosure.Length, 1<<31-1))}}
		}
		if it.ContentHTML == "" {
			it.ContentText = p.Title // the specification requires one of the two
		}
		items = append(items, jsonItem{JSONItem: it, Language: p.Lang})
	}
	return encodeJSON(w, jsonHead{f, jsonMark{About: jsonAbout, Generator: generatorName(o)}}, items)
}

// jsonHead is the feed's top-level object with Herald's mark after gorilla's fields, before the items.
type jsonHead struct {
	*feeds.JSONFeed
	Herald jsonMark `json:"_herald"`
}

// encodeJSON writes f indented, without escaping <, > and & (HTML content reads better, and JSON does not
// need it). encoding/json would build the whole document in a buffer of its own and then indent it into a
// second one; for a full-archive feed that is hundreds of megabytes, so the items are encoded one by one.
func encodeJSON(w io.Writer, f jsonHead, items []jsonItem) error {
	feed := *f.JSONFeed
	feed.Items = nil
	head := jsonHead{&feed, f.Herald}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&head); err != nil {
		return fmt.Errorf("feed: encode JSON: %w", err)
	}
	b := bufio.NewWriterSize(w, 64<<10)
	b.Write(hb.Bytes()[:hb.Len()-len("\n}\n")])
	b.WriteString(",\n  \"items\": [")
	var item bytes.Buffer
	var content []byte
	ienc := json.NewEncoder(&item)
	ienc.SetEscapeHTML(false)
	ienc.SetIndent("    ", "  ")
	for i, it := range items {
		item.Reset()
		// The content, most of an item, is encoded on its own (appendJSONString, as encoding/json would) and
		// put in the place of a NUL (which safe removed from every string), so that the indenting pass of
		// the item's encoder does not copy it again: a string's bytes are the same indented or not.
		html := it.ContentHTML
		if len(html) > 1024 {
			it.ContentHTML = "\x00"
		}
		err := ienc.Encode(it)
		it.ContentHTML = html
		if err != nil {
			return fmt.Errorf("feed: encode JSON item %q: %w", it.Id, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		out := bytes.TrimSuffix(item.Bytes(), []byte("\n"))
		if len(html) > 1024 {
			content = appendJSONString(content[:0], html)
			before, after, ok := bytes.Cut(out, []byte(`"\u0000"`))
			if !ok {
				return fmt.Errorf("feed: encode JSON item %q: its content went missing", it.Id)
			}
			b.Write(before)
			b.Write(content)
			out = after
		}
		b.Write(out)
	}
	if len(items) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("]\n}\n")
	return b.Flush()
}
