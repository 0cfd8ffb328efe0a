package feed

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/posts"
)

// A jekyll-feed feed's head, as its feed.xml template writes it (jekyll-feed 0.17).
const jekyllFeedHead = `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" ><generator uri="https://jekyllrb.com/" version="4.3.3">Jekyll</generator><link href="https://gosein.de/feed.xml" rel="self" type="application/atom+xml" /><id>https://gosein.de/feed.xml</id><entry><id>https://gosein.de/37c3</id></entry></feed>`

// Hugo's built-in RSS template's head.
const hugoRSSHead = `<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Blog</title>
    <link>https://h.example/</link>
    <description>Recent content on Blog</description>
    <generator>Hugo -- gohugo.io</generator>
    <item><guid>https://h.example/posts/a/</guid></item>
  </channel>
</rss>`

// TestMarked: Herald knows its own feeds of every format and its stylesheet, and names the generator of
// another's.
func TestMarked(t *testing.T) {
	items := testItems()
	var docs []struct {
		name string
		data []byte
	}
	for _, f := range []struct {
		name   string
		render func(Options, []*posts.Post) ([]byte, error)
	}{{"rss", RSS}, {"atom", Atom}, {"json", JSON}} {
		for _, gen := range []string{"", "Herald v1.2.3", "Herald 2.0.0-rc.1+linux", "Herald CMS"} {
			b, err := f.render(Options{Title: "T", SiteURL: "https://x.example/", Generator: gen}, items)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, struct {
				name string
				data []byte
			}{f.name + " " + gen, b})
		}
	}
	xsl, err := os.ReadFile(filepath.Join("..", "templates", "feed.xsl"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, struct {
		name string
		data []byte
	}{"feed.xsl", xsl})
	for _, d := range docs {
		if ok, gen := Marked(d.data); !ok {
			t.Errorf("%s: Herald's own file not recognised (generator %q):\n%.300s", d.name, gen, d.data)
		}
	}
	for _, tc := range []struct{ name, doc, gen string }{
		{"jekyll-feed", jekyllFeedHead, "Jekyll"},
		{"Hugo's RSS", hugoRSSHead, "Hugo -- gohugo.io"},
		{"an Atom template without a generator", `<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><entry><generator>Herald</generator></entry></feed>`, ""},
		{"a JSON feed without the mark", `{"version": "https://jsonfeed.org/version/1.1", "title": "x", "items": [{"_herald": {"about": "` + jsonAbout + `"}}]}`, ""},
		{"a JSON feed with another extension's about", `{"version": "https://jsonfeed.org/version/1.1", "_herald": {"about": "https://other.example/"}}`, ""},
		{"a generator that only starts with the name", `<rss><channel><generator>Heraldry 2</generator></channel></rss>`, "Heraldry 2"},
		{"another program called Herald", `<rss><channel><generator>Herald Sun CMS 4.1</generator></channel></rss>`, "Herald Sun CMS 4.1"},
		{"another program called Herald, in Atom", `<feed xmlns="http://www.w3.org/2005/Atom"><generator uri="https://cms.example/">Herald CMS</generator></feed>`, "Herald CMS"},
		{"not a feed", "hello", ""},
		{"a feed that quotes Herald's stylesheet", `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><description>Herald's default feed stylesheet, an XSLT (xmlns:xsl="http://www.w3.org/1999/XSL/Transform")</description><generator>WordPress</generator><item><title>x</title></item></channel></rss>`, "WordPress"},
		{"a feed with the stylesheet's comment", `<?xml version="1.0"?><!-- Herald's default feed stylesheet --><rss version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><channel><title>x</title></channel></rss>`, ""},
		{"a stylesheet without the comment", `<?xml version="1.0"?><xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><!-- Herald's default feed stylesheet --></xsl:stylesheet>`, ""},
		{"Herald named in an element of the channel", `<rss version="2.0"><channel><title>x</title><image><generator>Herald</generator></image><generator>Ghost 5.0</generator></channel></rss>`, "Ghost 5.0"},
		{"Herald named in another extension", `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:x="urn:x"><x:meta><x:generator>Herald</x:generator></x:meta><title>x</title></feed>`, ""},
	} {
		if ok, gen := Marked([]byte(tc.doc)); ok || gen != tc.gen {
			t.Errorf("%s: got %v, %q; want false, %q", tc.name, ok, gen, tc.gen)
		}
	}
}

// TestWriteFilesGuard: a guarded write replaces Herald's own files and writes new ones, but leaves every
// file as it was when one of them is another's, and says whose; unguarded, it replaces that one too.
func TestWriteFilesGuard(t *testing.T) {
	dir := t.TempDir()
	ours, theirs, fresh := filepath.Join(dir, "atom.xml"), filepath.Join(dir, "feed.xml"), filepath.Join(dir, "feed.json")
	herald, err := RSS(Options{Title: "old"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ours, herald, 0o644)
	os.WriteFile(theirs, []byte(jekyllFeedHead), 0o644)
	files := []File{{Path: ours, Data: []byte("<new/>"), Guard: true}, {Path: theirs, Data: []byte("<new/>"), Guard: true}, {Path: fresh, Data: []byte("{}"), Guard: true}}

	for _, check := range []func() error{func() error { return CheckGuards(files) }, func() error { _, err := WriteFiles(files); return err }} {
		err := check()
		var fe *ForeignError
		if !errors.As(err, &fe) || fe.Path != theirs || fe.Generator != "Jekyll" || !strings.Contains(err.Error(), "jekyll-feed") {
			t.Fatalf("got %v, want a *ForeignError for %s naming jekyll-feed", err, theirs)
		}
		if b, _ := os.ReadFile(ours); string(b) != string(herald) {
			t.Errorf("%s changed: %q", ours, b)
		}
		if b, _ := os.ReadFile(theirs); string(b) != jekyllFeedHead {
			t.Errorf("%s changed: %q", theirs, b)
		}
		if _, err := os.Stat(fresh); err == nil {
			t.Errorf("%s was written", fresh)
		}
	}

	files[1].Data = []byte(jekyllFeedHead) // the same bytes: nothing to replace, no error
	if changed, err := WriteFiles(files); err != nil || !changed[0] || changed[1] || !changed[2] {
		t.Fatalf("got %v, %v; want atom.xml and feed.json written", changed, err)
	}
	files[1].Data, files[1].Guard = []byte("<new/>"), false
	if changed, err := WriteFiles(files); err != nil || !changed[1] {
		t.Fatalf("unguarded: got %v, %v; want feed.xml replaced", changed, err)
	}
}

// FuzzMarked: whatever a site's title, description and posts hold, Herald's own feeds carry its mark, and
// no document makes Marked panic.
func FuzzMarked(f *testing.F) {
	f.Add("Blog", "<generator>Jekyll</generator>", `{"_herald": 1}`)
	f.Add("]]>\x00", "<item>", "\"items\": [")
	f.Fuzz(func(t *testing.T, title, desc, content string) {
		Marked([]byte(title + desc + content))
		var esc strings.Builder
		for _, s := range []string{title, desc, content} {
			xml.EscapeText(&esc, []byte(s))
			esc.WriteString(" ")
		}
		foreign := "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>" + esc.String() + "</title><description>" + esc.String() + "</description><generator>Jekyll</generator><item><description>" + esc.String() + "</description></item></channel></rss>"
		if ok, _ := Marked([]byte(foreign)); ok {
			t.Fatalf("a foreign feed whose text says what Herald's marks say is taken for Herald's:\n%.400s", foreign)
		}
		items := testItems()
		items[0].Title, items[0].ContentHTML, items[0].Summary = title, content, desc
		o := Options{Title: title, Description: desc, SiteURL: "https://x.example/"}
		for _, render := range []func(Options, []*posts.Post) ([]byte, error){RSS, Atom, JSON} {
			b, err := render(o, items)
			if err != nil {
				continue
			}
			if ok, gen := Marked(b); !ok {
				t.Fatalf("Herald's own feed not recognised (generator %q):\n%.400s", gen, b)
			}
		}
	})
}

// TestLegacyJSON: a JSON feed as the release before the mark wrote it (feed/testdata/legacy, the golden
// feed.json of jekyll-edge at 354739d) is Herald's for a write of that site's JSON feed, so the first
// publish after an upgrade is not refused; a JSON feed that only looks like it is not.
func TestLegacyJSON(t *testing.T) {
	legacy, err := os.ReadFile(filepath.Join("testdata", "legacy", "jekyll-edge-feed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := Marked(legacy); ok {
		t.Fatal("the legacy feed carries the mark: it is not what the old release wrote")
	}
	site := func(u string) []byte {
		b, err := JSON(Options{Title: "Edge", SiteURL: u}, testItems())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	edge := site("https://edge.example.org/")
	replace := func(old, new string, n int) []byte {
		return []byte(strings.Replace(string(legacy), old, new, n))
	}
	for _, tc := range []struct {
		name     string
		old, now []byte
		herald   bool
	}{
		{"the old release's feed", legacy, edge, true},
		{"the old release's feed, in a language folder", legacy, site("https://edge.example.org/fr/"), true},
		{"another site's", legacy, site("https://blog.example.com/"), false},
		{"a new file that is no Herald feed", legacy, []byte(`{"home_page_url": "https://edge.example.org/"}`), false},
		{"an item with the page URL for id", replace(`"id": "tag:edge.example.org,2018-11-15:excerpt-liquid-block"`, `"id": "https://edge.example.org/2018/11/15/excerpt-liquid-block.html"`, 1), edge, false},
		{"a tag id of another form", replace(`tag:edge.example.org,2018-11-15:`, `tag:edge.example.org,2018:`, 1), edge, false},
		{"a tag id of another host", replace(`tag:edge.example.org,2018-11-15:`, `tag:edge.example.org.evil,2018-11-15:`, 1), edge, false},
		{"no version", replace(`"version": "https://jsonfeed.org/version/1.1",`, ``, 1), edge, false},
		{"no items", []byte(`{"version": "https://jsonfeed.org/version/1.1", "title": "x", "home_page_url": "https://edge.example.org/", "items": []}`), edge, false},
		{"an id that is a number", []byte(`{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "tag:edge.example.org,2018-01-01:a"}, {"id": 7}]}`), edge, false},
		{"cut short", legacy[:len(legacy)/2], edge, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "feed.json")
			for _, spill := range []bool{false, true} {
				if err := os.WriteFile(path, tc.old, 0o644); err != nil {
					t.Fatal(err)
				}
				f := File{Path: path, Data: tc.now, Guard: true}
				if spill { // a large feed: its bytes in a temp file beside it (Spill), not in Data
					tmp, _, err := Spill(path, func(w io.Writer) error { _, err := w.Write(tc.now); return err })
					if err != nil {
						t.Fatal(err)
					}
					f.Data, f.Temp = nil, tmp
				}
				files := []File{f}
				check := CheckGuards(files)
				_, err := WriteFiles(files)
				got, _ := os.ReadFile(path)
				var fe *ForeignError
				switch {
				case tc.herald && (check != nil || err != nil || string(got) != string(tc.now)):
					t.Errorf("spilled %v: got %v, %v and the file unchanged=%v; want it replaced", spill, check, err, string(got) == string(tc.old))
				case !tc.herald && (!errors.As(check, &fe) || !errors.As(err, &fe) || string(got) != string(tc.old)):
					t.Errorf("spilled %v: got %v, %v and the file replaced=%v; want a *ForeignError and the file left", spill, check, err, string(got) != string(tc.old))
				}
			}
		})
	}
}
