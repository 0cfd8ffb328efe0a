package feed

import (
	"bytes"
	"strings"
	"testing"

	"github.com/heraldhq/herald/posts"
)

// TestXMLItemsAsWhole: WriteRSS and WriteAtom, which encode their items one at a time and write long HTML
// themselves, give the bytes encoding/xml gives for the whole document.
func TestXMLItemsAsWhole(t *testing.T) {
	long := "<p>" + strings.Repeat("Long ]]> text & more, ", 80) + "</p>"
	items := testItems()
	items = append(items,
		&posts.Post{ID: "a", URL: "https://blog.example.com/a/", Title: "Long both", Date: items[0].Date,
			Updated: items[0].Date, SummaryHTML: long, Summary: "s", ContentHTML: long + long, Tags: []string{"x"}},
		&posts.Post{ID: "b", URL: "https://blog.example.com/b/", Title: "Long content, short summary", Date: items[0].Date,
			Updated: items[0].Date, SummaryHTML: "<p>s</p>", ContentHTML: long},
		&posts.Post{ID: "c", URL: "https://blog.example.com/c/", Title: "Long content only", Date: items[0].Date,
			Updated: items[0].Date, ContentHTML: long + "]]"},
		&posts.Post{ID: "d", URL: "https://blog.example.com/d/", Title: "", Date: items[0].Date, Updated: items[0].Date})
	styled := testOptions()
	styled.Stylesheet = "https://blog.example.com/feed.xsl?a=1&b=2"
	for _, tt := range []struct {
		name  string
		o     Options
		items []*posts.Post
	}{
		{"items", testOptions(), items},
		{"stylesheet", styled, items},
		{"none", testOptions(), nil},
		{"one", styled, items[2:3]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, safeItems := safe(tt.o, tt.items)
			var want bytes.Buffer
			if err := writeXML(&want, o.Stylesheet, rssDocument(o, safeItems)); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := WriteRSS(&got, tt.o, tt.items); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("RSS:\n got %s\nwant %s", got.Bytes(), want.Bytes())
			}
			want.Reset()
			if err := writeXML(&want, o.Stylesheet, atomDocument(o, safeItems)); err != nil {
				t.Fatal(err)
			}
			got.Reset()
			if err := WriteAtom(&got, tt.o, tt.items); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("Atom:\n got %s\nwant %s", got.Bytes(), want.Bytes())
			}
			if len(tt.items) > 2 && !bytes.Contains(got.Bytes(), []byte("]]]]><![CDATA[>")) {
				t.Error("no split CDATA section: the test's long HTML went another way")
			}
		})
	}
}

// TestSafeOnce: each writer gives the same bytes for what Safe returned as for the options and items as
// they were, control characters and invalid UTF-8 included; and Safe changes no post it was given.
func TestSafeOnce(t *testing.T) {
	items := append(testItems(), &posts.Post{ID: "x\x01", URL: "https://blog.example.com/x/\x02", Title: "Bad \x00 title \xff",
		Date: testItems()[0].Date, Updated: testItems()[0].Date, SummaryHTML: "<p>s\x0b</p>", Summary: "s\x0b",
		ContentHTML: "<p>" + strings.Repeat("long \x1f text \ufffe ", 100) + "</p>", Tags: []string{"t\x03"}})
	o := testOptions()
	o.Title = "Site \x07"
	before := *items[len(items)-1]
	so, sitems := Safe(o, items)
	for _, w := range []struct {
		name  string
		write func(Options, []*posts.Post) ([]byte, error)
	}{{"rss", RSS}, {"atom", Atom}, {"json", JSON}} {
		want, err := w.write(o, items)
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.write(so, sitems)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s of Safe's items differs:\n%s\nwant\n%s", w.name, got, want)
		}
		if bytes.ContainsAny(got, "\x00\x01\x07\x1f") {
			t.Errorf("%s holds a control character", w.name)
		}
	}
	if after := *items[len(items)-1]; after.Title != before.Title || after.ContentHTML != before.ContentHTML {
		t.Errorf("Safe changed the post it was given")
	}
}
