package templates

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/tooltest"
)

func TestFeedXSLEmbedded(t *testing.T) {
	b, err := FS.ReadFile("feed.xsl")
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML whose root is an XSLT 1.0 stylesheet, with nothing that browsers ignore
	// (disable-output-escaping: Firefox) or that would load something from elsewhere.
	d := xml.NewDecoder(bytes.NewReader(b))
	var root *xml.StartElement
	inStyle := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("feed.xsl is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == nil {
				se := tok.Copy()
				root = &se
			}
			if attr(tok, "disable-output-escaping") != "" {
				t.Errorf("<%s> uses disable-output-escaping", tok.Name.Local)
			}
			switch strings.ToLower(tok.Name.Local) {
			case "script", "link", "img", "iframe", "object", "embed":
				if tok.Name.Space == "" {
					t.Errorf("the page has a <%s> element", tok.Name.Local)
				}
			case "style":
				inStyle = true
			}
		case xml.EndElement:
			inStyle = inStyle && tok.Name.Local != "style"
		case xml.CharData:
			for _, bad := range []string{"@import", "url(", "@font-face"} {
				if inStyle && bytes.Contains(tok, []byte(bad)) {
					t.Errorf("the inline style has %q", bad)
				}
			}
		}
	}
	if root == nil || root.Name.Space != "http://www.w3.org/1999/XSL/Transform" || root.Name.Local != "stylesheet" {
		t.Fatalf("root element = %v, want xsl:stylesheet", root)
	}
	if v := attr(*root, "version"); v != "1.0" {
		t.Errorf("stylesheet version = %q, want 1.0 (browsers run XSLT 1.0 only)", v)
	}
}

// TestFeedXSLTransforms applies the embedded stylesheet with xsltproc (libxslt, an XSLT 1.0 processor like
// the browsers') to an RSS and an Atom sample in Herald's shape and checks the page it makes.
func TestFeedXSLTransforms(t *testing.T) {
	xsltproc, err := exec.LookPath("xsltproc")
	if err != nil {
		tooltest.Missing(t, "xsltproc is missing (apt-get install xsltproc)")
	}
	b, err := FS.ReadFile("feed.xsl")
	if err != nil {
		t.Fatal(err)
	}
	xsl := filepath.Join(t.TempDir(), "feed.xsl")
	if err := os.WriteFile(xsl, b, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		file, lang, title, self, site string
		summaries                     []string // plain text each summary must read as
	}{
		{"rss.xml", "en-GB", "Field Notes & Sketches", "https://example.org/feed.xml", "https://example.org/",
			[]string{"We are hosting a meet & greet on 5 February. Bring a sketchbook <and> a friend.", "It's about white-space, mostly…"}},
		{"atom.xml", "fr", "Carnets & croquis", "https://example.org/atom.xml", "https://example.org/",
			[]string{"Une rencontre & un goûter le 5 février. Apportez un carnet <et> un ami.", "C'est une question de white-space…"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src := filepath.Join("testdata", tc.file)
			want := sampleItems(t, src)
			if len(want) == 0 {
				t.Fatalf("%s has no items", src)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(xsltproc, "--nonet", xsl, src)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("xsltproc: %v\n%s", err, stderr.String())
			}
			page := parsePage(t, out)

			if page.lang != tc.lang {
				t.Errorf("html lang = %q, want %q", page.lang, tc.lang)
			}
			if !page.viewport {
				t.Error("no viewport meta")
			}
			if len(page.h1) != 1 || page.h1[0] != tc.title {
				t.Errorf("h1 = %q, want [%q]", page.h1, tc.title)
			}
			if !strings.Contains(page.text, tc.self) {
				t.Errorf("the feed's own address %s is not shown", tc.self)
			}
			if !strings.Contains(page.text, "feed reader") {
				t.Error("no word on how to subscribe")
			}
			if page.links[tc.site] == "" {
				t.Errorf("no link to the site %s; links: %q", tc.site, page.links)
			}
			if len(page.h3) != len(want) {
				t.Errorf("%d item headings, want %d: %q", len(page.h3), len(want), page.h3)
			}
			for _, it := range want {
				if got, ok := page.links[it.link]; !ok {
					t.Errorf("no link to item %s", it.link)
				} else if got != it.title {
					t.Errorf("link %s reads %q, want the item's title %q", it.link, got, it.title)
				}
			}
			for i, s := range tc.summaries {
				if i >= len(page.summaries) || page.summaries[i] != s {
					t.Errorf("summaries = %q, want %q first", page.summaries, tc.summaries)
					break
				}
			}
			if !strings.Contains(page.text, "29 Jan 2025") {
				t.Error(`the first item's date is not shown as "29 Jan 2025"`)
			}
		})
	}
}

type item struct{ title, link string }

// sampleItems reads the titles and links of an RSS or Atom file.
func sampleItems(t *testing.T, path string) []item {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name
		Items   []struct {
			Title string `xml:"title"`
			Link  string `xml:"link"`
		} `xml:"channel>item"`
		Entries []struct {
			Title string `xml:"title"`
			Links []struct {
				Href string `xml:"href,attr"`
				Rel  string `xml:"rel,attr"`
			} `xml:"link"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []item
	for _, it := range doc.Items {
		out = append(out, item{it.Title, it.Link})
	}
	for _, e := range doc.Entries {
		for _, l := range e.Links {
			if l.Rel == "alternate" || l.Rel == "" {
				out = append(out, item{e.Title, l.Href})
				break
			}
		}
	}
	return out
}

// page is what the test looks at in the HTML that xsltproc wrote.
type page struct {
	lang      string
	viewport  bool
	h1, h3    []string
	summaries []string
	links     map[string]string // href: text
	text      string            // all the body's text
}

// parsePage reads HTML with encoding/xml in its lenient mode, which is enough for this stylesheet's output.
func parsePage(t *testing.T, b []byte) page {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	p := page{links: map[string]string{}}
	var (
		href            string
		inStyle, inSumm bool
		buf, all        strings.Builder // buf: the text of the h1, h3, a or p being read
	)
	words := func() string { return strings.Join(strings.Fields(buf.String()), " ") }
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the output is not readable HTML: %v\n%s", err, b)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "html":
				p.lang = attr(tok, "lang")
			case "meta":
				p.viewport = p.viewport || attr(tok, "name") == "viewport"
			case "style":
				inStyle = true
			case "a":
				href = attr(tok, "href")
				buf.Reset()
			case "p":
				inSumm = attr(tok, "class") == "summary"
				buf.Reset()
			case "h1", "h3":
				buf.Reset()
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "style":
				inStyle = false
			case "a":
				p.links[href] = words()
			case "h1":
				p.h1 = append(p.h1, words())
			case "h3":
				p.h3 = append(p.h3, words())
			case "p":
				if inSumm {
					p.summaries = append(p.summaries, words())
				}
				inSumm = false
			}
		case xml.CharData:
			if !inStyle {
				buf.Write(tok)
				all.Write(tok)
			}
		}
	}
	p.text = strings.Join(strings.Fields(all.String()), " ")
	return p
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
