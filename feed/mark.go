package feed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/heraldhq/herald/internal/sitefs"
)

// Herald's mark in the files it writes, by which it knows them again and replaces only its own: RSS and
// Atom name it in <generator>; JSON Feed, which has no such field, carries the extension object below (JSON
// Feed 1.1's extension rules: a key that starts with "_", an object with an "about" URL); the stylesheet
// carries markXSL in a comment.
const (
	jsonExtension = "_herald"
	jsonAbout     = "https://github.com/heraldhq/herald#what-the-feeds-hold"
	markXSL       = "Herald's default feed stylesheet"
	xslNamespace  = "http://www.w3.org/1999/XSL/Transform"
	markHead      = 256 << 10 // the mark sits in a feed's head: this much of a file is read for it
)

// jsonMark is the JSON Feed extension object that marks Herald's JSON feeds.
type jsonMark struct {
	About     string `json:"about"`
	Generator string `json:"generator"`
}

// heraldGenerator is the generator Herald names: Herald, or Herald and its version ("Herald v1.2.3"). Not
// every name that starts with Herald: another program may be called "Herald CMS".
var heraldGenerator = regexp.MustCompile(`^Herald( v?[0-9][0-9A-Za-z.+-]*)?$`)

// generatorName is the generator every feed names, Herald's mark: o.Generator when it is Herald's, else
// Herald.
func generatorName(o Options) string {
	if heraldGenerator.MatchString(o.Generator) {
		return o.Generator
	}
	return "Herald"
}

// Marked tells whether the document b carries Herald's mark, and else which generator it names ("" for
// none): Jekyll's for jekyll-feed, "Hugo -- gohugo.io" for Hugo's RSS.
func Marked(b []byte) (herald bool, generator string) {
	b = bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(b) > 0 && b[0] == '{' {
		return jsonMarked(b)
	}
	return xmlMarked(b)
}

// jsonMarked reads the top-level keys up to the items for Herald's extension object.
func jsonMarked(b []byte) (bool, string) {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return false, ""
	}
	for d.More() {
		t, err := d.Token()
		key, ok := t.(string)
		if err != nil || !ok || key == "items" {
			return false, ""
		}
		var v json.RawMessage
		if d.Decode(&v) != nil {
			return false, ""
		}
		if key == jsonExtension {
			var m jsonMark
			if json.Unmarshal(v, &m) == nil && m.About == jsonAbout {
				return true, ""
			}
		}
	}
	return false, ""
}

// xmlMarked reads an RSS or Atom document up to its first item for its generator: the element <generator>
// of the channel or the feed, not one elsewhere, nor text that names Herald. A stylesheet is Herald's when
// it is an XSLT document (its root element) with markXSL in a comment before that root.
func xmlMarked(b []byte) (bool, string) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var parents []string // the local names of the open elements
	xslComment := false
	for {
		t, err := d.Token()
		if err != nil {
			return false, ""
		}
		switch t := t.(type) {
		case xml.Comment:
			if len(parents) == 0 && bytes.Contains(t, []byte(markXSL)) {
				xslComment = true
			}
		case xml.EndElement:
			if len(parents) > 0 {
				parents = parents[:len(parents)-1]
			}
		case xml.StartElement:
			if len(parents) == 0 && t.Name.Space == xslNamespace && (t.Name.Local == "stylesheet" || t.Name.Local == "transform") {
				return xslComment, ""
			}
			parent := ""
			if len(parents) > 0 {
				parent = parents[len(parents)-1]
			}
			switch {
			case t.Name.Local == "item" || t.Name.Local == "entry":
				return false, ""
			case t.Name.Local == "generator" && (parent == "channel" || parent == "feed"):
				var g string
				if d.DecodeElement(&g, &t) != nil {
					return false, ""
				}
				g = strings.TrimSpace(g)
				if heraldGenerator.MatchString(g) {
					return true, ""
				}
				return false, g
			}
			parents = append(parents, t.Name.Local)
		}
	}
}

// ForeignError is a file at a feed's path that Herald did not write: it is left as it was.
type ForeignError struct {
	Path      string
	Generator string // the generator it names, "" for none
}

func (e *ForeignError) Error() string {
	by := "it names no generator"
	if e.Generator != "" {
		by = fmt.Sprintf("its generator is %q", e.Generator)
		if strings.HasPrefix(e.Generator, "Jekyll") {
			by += ": jekyll-feed, most likely"
		}
	}
	return fmt.Sprintf("feed: %s was not written by Herald (%s), and Herald replaces only its own files", e.Path, by)
}

// checkOwned returns a *ForeignError for a regular file at f.Path that does not carry Herald's mark and is
// not a JSON feed that a Herald older than the mark wrote for the site of f.Data (legacyJSON).
func checkOwned(f File) error {
	file, _, err := sitefs.OpenRegular(f.Path) // should a FIFO or a link take its place since sameBytes
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	defer file.Close()
	r := bufio.NewReaderSize(file, markHead)
	head, err := r.Peek(markHead)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return err
	}
	ok, gen := Marked(head)
	if !ok && gen == "" && legacyJSON(r, newHead(f)) {
		ok = true
	}
	if !ok {
		return &ForeignError{Path: f.Path, Generator: gen}
	}
	return nil
}

// newHead is the head of the bytes f writes, where a feed's mark and home page are: f.Data, or the start
// of the temp file that holds them (Spill).
func newHead(f File) []byte {
	if f.Temp == "" {
		return f.Data
	}
	t, err := os.Open(f.Temp)
	if err != nil {
		return nil
	}
	defer t.Close()
	head, _ := io.ReadAll(io.LimitReader(t, markHead))
	return head
}

// legacyJSON tells whether old is a JSON feed that a Herald older than its mark wrote for the site whose
// JSON feed (Herald's, marked) is now: it names a JSON Feed version and has items, and every item's id is
// a tag: id of that site's host as Herald's loaders make them (tag:HOST,DATE:PATH; drafts' DATE is 1970).
// Another generator's JSON feed has the page URLs for ids (Hugo's and Jekyll's templates), or tag ids of
// another form; a post whose front matter set an id of its own makes the feed count as another's, and
// --overwrite is the way out then. The items are read one at a time: an old full-archive feed is large.
func legacyJSON(old io.Reader, now []byte) bool {
	host := markedJSONHost(now)
	if host == "" {
		return false
	}
	tagID := regexp.MustCompile(`^tag:` + regexp.QuoteMeta(host) + `,(1970|[0-9]{4}-[0-9]{2}-[0-9]{2}):[^\s]+$`)
	d := json.NewDecoder(old)
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	version, items := false, 0
	for d.More() {
		t, err := d.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return false
		}
		switch key {
		case "version":
			var v string
			if d.Decode(&v) != nil || !strings.HasPrefix(v, "https://jsonfeed.org/version/") {
				return false
			}
			version = true
		case "items":
			if t, err := d.Token(); err != nil || t != json.Delim('[') {
				return false
			}
			for d.More() {
				var it struct {
					ID string `json:"id"`
				}
				if d.Decode(&it) != nil || !tagID.MatchString(it.ID) {
					return false
				}
				items++
			}
			if t, err := d.Token(); err != nil || t != json.Delim(']') {
				return false
			}
		default:
			var v json.RawMessage
			if d.Decode(&v) != nil {
				return false
			}
		}
	}
	return version && items > 0
}

// markedJSONHost is the host of the home page of b, a JSON feed with Herald's mark; "" for anything else.
func markedJSONHost(b []byte) string {
	if ok, _ := Marked(b); !ok {
		return ""
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for d.More() {
		t, err := d.Token()
		key, ok := t.(string)
		if err != nil || !ok || key == "items" {
			return ""
		}
		var v json.RawMessage
		if d.Decode(&v) != nil {
			return ""
		}
		if key == "home_page_url" {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return ""
			}
			u, err := url.Parse(s)
			if err != nil {
				return ""
			}
			return u.Hostname()
		}
	}
	return ""
}
