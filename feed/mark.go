package feed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// Herald's mark in the files it writes, by which it knows them again and replaces only its own: RSS and
// Atom name it in <generator>; JSON Feed, which has no such field, carries the extension object below (JSON
// Feed 1.1's extension rules: a key that starts with "_", an object with an "about" URL); the stylesheet
// carries markXSL in a comment.
const (
	jsonExtension = "_herald"
	jsonAbout     = "https://github.com/heraldhq/herald#what-the-feeds-hold"
	markXSL       = "Herald's default feed stylesheet"
	markHead      = 256 << 10 // the mark sits in a feed's head: this much of a file is read for it
)

// jsonMark is the JSON Feed extension object that marks Herald's JSON feeds.
type jsonMark struct {
	About     string `json:"about"`
	Generator string `json:"generator"`
}

// generatorName is the generator every feed names, Herald's mark.
func generatorName(o Options) string {
	if strings.HasPrefix(o.Generator, "Herald") {
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
	if bytes.Contains(b, []byte(markXSL)) && bytes.Contains(b, []byte("XSL/Transform")) {
		return true, ""
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

// xmlMarked reads an RSS or Atom document up to its first item for its generator.
func xmlMarked(b []byte) (bool, string) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	for {
		t, err := d.Token()
		if err != nil {
			return false, ""
		}
		se, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "item", "entry":
			return false, ""
		case "generator":
			var g string
			if d.DecodeElement(&g, &se) != nil {
				return false, ""
			}
			g = strings.TrimSpace(g)
			if g == "Herald" || strings.HasPrefix(g, "Herald ") {
				return true, ""
			}
			return false, g
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

// checkOwned returns a *ForeignError for a regular file at path that does not carry Herald's mark.
func checkOwned(path string) error {
	// Only after sameBytes found a regular file here; O_NONBLOCK should a FIFO take its place since.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	head, err := io.ReadAll(io.LimitReader(bufio.NewReader(f), markHead))
	if err != nil {
		return err
	}
	if ok, gen := Marked(head); !ok {
		return &ForeignError{Path: path, Generator: gen}
	}
	return nil
}
