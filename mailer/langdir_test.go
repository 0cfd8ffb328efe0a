package mailer

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/heraldhq/herald/posts"
)

func TestTextDir(t *testing.T) {
	for _, tt := range []struct{ tag, want string }{
		{"fa-IR", "rtl"}, {"fa", "rtl"}, {"ar", "rtl"}, {"he", "rtl"}, {"iw", "rtl"}, {"yi", "rtl"}, {"ur", "rtl"},
		{"ps", "rtl"}, {"dv", "rtl"}, {"ckb", "rtl"}, {"syr", "rtl"}, {"nqo", "rtl"}, {"ff-Adlm", "rtl"}, {"az-Arab", "rtl"},
		{"pa-Arab", "rtl"}, {"pa", "ltr"}, {"az", "ltr"}, {"en-US", "ltr"}, {"fr", "ltr"}, {"sr-Latn", "ltr"},
		{"", "ltr"}, {"und", "ltr"}, {"not a tag", "ltr"},
	} {
		if got := textDir(tt.tag); got != tt.want {
			t.Errorf("textDir(%q): got %s, want %s", tt.tag, got, tt.want)
		}
	}
}

// TestLangDir: the HTML part's lang and dir come from the post's language: a Persian post's email is
// lang="fa-IR" dir="rtl", whatever the site's language, and shows the Persian site's title and home page;
// a digest takes its posts' language when they share one, and otherwise keeps the site's and marks each
// post of another language on its own element.
func TestLangDir(t *testing.T) {
	o := testOptions()
	o.Lang = "en-US"
	o.Languages = []posts.Language{
		{Key: "en", Lang: "en-US", Title: o.SiteTitle, URL: o.SiteURL, Default: true},
		{Key: "fa", Lang: "fa-IR", Title: "وبلاگ نمونه", URL: o.SiteURL + "/fa", Path: "fa"},
	}
	masthead := func(name string, m *Message, title, url string) {
		t.Helper()
		if want := `<a href="` + url + `"`; !strings.Contains(m.HTML, want) || !strings.Contains(m.HTML, ">"+title+"</a>") {
			t.Errorf("%s: no link to %s named %s in\n%s", name, url, title, m.HTML)
		}
		if want := "subscribed to " + title + "\n(" + url + ")"; !strings.Contains(m.Text, want) {
			t.Errorf("%s: text part without %q:\n%s", name, want, m.Text)
		}
	}
	c := newTestComposer(t, o)
	ps := testPosts()
	ps[0].Lang, ps[1].Lang, ps[2].Lang = "fa-IR", "fa-IR", "en-US"
	attrs := func(m *Message) (root map[string]string, items []map[string]string) {
		t.Helper()
		doc, err := html.Parse(strings.NewReader(m.HTML))
		if err != nil {
			t.Fatal(err)
		}
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				a := map[string]string{}
				for _, at := range n.Attr {
					a[at.Key] = at.Val
				}
				if n.Data == "html" {
					root = a
				}
				if strings.Contains(" "+a["class"]+" ", " digest-item ") {
					items = append(items, a)
				}
			}
			for k := n.FirstChild; k != nil; k = k.NextSibling {
				walk(k)
			}
		}
		walk(doc)
		return root, items
	}
	check := func(name string, got map[string]string, lang, dir string) {
		t.Helper()
		if got["lang"] != lang || got["dir"] != dir {
			t.Errorf("%s: lang %q, dir %q; want %q, %q", name, got["lang"], got["dir"], lang, dir)
		}
	}

	m, err := c.Post(testRecipient(), ps[0], "post/a/1", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := attrs(m)
	check("Persian post", root, "fa-IR", "rtl")
	masthead("Persian post", m, "وبلاگ نمونه", "https://blog.example.com/fa")

	m, err = c.Post(testRecipient(), ps[2], "post/c/1", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = attrs(m)
	check("English post", root, "en-US", "") // ltr is HTML's default, and is left out
	masthead("English post", m, "Example Weblog", "https://blog.example.com")

	m, err = c.Digest(testRecipient(), ps[:2], "digest/1", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	root, items := attrs(m)
	check("Persian digest", root, "fa-IR", "rtl")
	for i, it := range items {
		check("Persian digest's item "+string(rune('0'+i)), it, "", "")
	}

	m, err = c.Digest(testRecipient(), []*posts.Post{ps[2], ps[0]}, "digest/2", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	root, items = attrs(m)
	check("mixed digest", root, "en-US", "")
	masthead("mixed digest", m, "Example Weblog", "https://blog.example.com")
	if len(items) != 2 {
		t.Fatalf("mixed digest: %d items, want 2", len(items))
	}
	check("mixed digest's English item", items[0], "", "")
	check("mixed digest's Persian item", items[1], "fa-IR", "rtl")
}

// TestLangDirFromSite: the direction a site's language sets (Hugo's languageDirection) wins over its
// script's, both ways: Kurdish written right to left, Uyghur in a Latin alphabet left to right.
func TestLangDirFromSite(t *testing.T) {
	o := testOptions()
	o.Lang = "en-US"
	o.Languages = []posts.Language{
		{Key: "en", Lang: "en-US", Title: o.SiteTitle, URL: o.SiteURL, Default: true},
		{Key: "ku", Lang: "ku", Dir: "rtl", Path: "ku"},
		{Key: "ug", Lang: "ug", Dir: "ltr", Path: "ug"},
		{Key: "fa", Lang: "fa", Path: "fa"},
	}
	c := newTestComposer(t, o)
	for _, tt := range []struct{ lang, want string }{{"ku", ` dir="rtl"`}, {"ug", ""}, {"fa", ` dir="rtl"`}, {"en-US", ""}} {
		p := testPosts()[0]
		p.Lang = tt.lang
		m, err := c.Post(testRecipient(), p, "post/a/1", sendDate)
		if err != nil {
			t.Fatal(err)
		}
		if want := `<html lang="` + tt.lang + `"` + tt.want + `>`; !strings.Contains(m.HTML, want) {
			t.Errorf("%s: no %s in\n%.300s", tt.lang, want, m.HTML)
		}
	}
}
