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
