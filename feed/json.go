package feed

import (
	"bytes"
	"encoding/json"
	"fmt"

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
	return encodeJSON(jsonHead{f, jsonMark{About: jsonAbout, Generator: generatorName(o)}}, items, sizeHint(ps)*11/10)
}

// jsonHead is the feed's top-level object with Herald's mark after gorilla's fields, before the items.
type jsonHead struct {
	*feeds.JSONFeed
	Herald jsonMark `json:"_herald"`
}

// encodeJSON writes f indented, without escaping <, > and & (HTML content reads better, and JSON does not
// need it). encoding/json would build the whole document in a buffer of its own and then indent it into a
// second one; for a full-archive feed that is hundreds of megabytes, so the items are encoded one by one.
func encodeJSON(f jsonHead, items []jsonItem, size int) ([]byte, error) {
	feed := *f.JSONFeed
	feed.Items = nil
	head := jsonHead{&feed, f.Herald}
	var b bytes.Buffer
	b.Grow(size)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&head); err != nil {
		return nil, fmt.Errorf("feed: encode JSON: %w", err)
	}
	b.Truncate(b.Len() - len("\n}\n"))
	b.WriteString(",\n  \"items\": [")
	var item bytes.Buffer
	ienc := json.NewEncoder(&item)
	ienc.SetEscapeHTML(false)
	ienc.SetIndent("    ", "  ")
	for i, it := range items {
		item.Reset()
		if err := ienc.Encode(it); err != nil {
			return nil, fmt.Errorf("feed: encode JSON item %q: %w", it.Id, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		b.Write(bytes.TrimSuffix(item.Bytes(), []byte("\n")))
	}
	if len(items) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("]\n}\n")
	return b.Bytes(), nil
}
