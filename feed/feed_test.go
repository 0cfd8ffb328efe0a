package feed

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/posts"
	"github.com/mmcdole/gofeed"
)

var chicago, _ = time.LoadLocation("America/Chicago")

func testOptions() Options {
	return Options{
		Title: "Example & Co", Description: "Notes", SiteURL: "https://blog.example.com/", Lang: "en",
		Author: posts.Author{Name: "Jane Doe"},
		RSSURL: "https://blog.example.com/feed.xml", AtomURL: "https://blog.example.com/atom.xml", JSONURL: "https://blog.example.com/feed.json",
		Generator: "Herald test",
	}
}

func testItems() []*posts.Post {
	d := time.Date(2024, 3, 9, 18, 30, 0, 0, chicago)
	return []*posts.Post{
		{
			ID: "tag:blog.example.com,2024-03-09:tricky", URL: "https://blog.example.com/2024/03/09/tricky.html",
			Title: "Tom & Jerry <b>\x00\x0bbold</b> \uFFFE", Date: d, Updated: d.Add(time.Hour),
			Summary: "Short.", SummaryHTML: "<p>Short.</p>",
			ContentHTML: "<p>A CDATA end ]]> inside, and a control \x01 character.</p>",
			Authors:     []posts.Author{{Name: "Ann", Email: "ann@example.com"}, {Name: "Bob"}},
			Categories:  []string{"news"}, Tags: []string{"go", "news", "café"},
			Image: "https://blog.example.com/img/a.png", Lang: "fr",
			Enclosure: &posts.Enclosure{URL: "https://blog.example.com/ep1.mp3", Length: 1234, Type: "audio/mpeg"},
		},
		{
			ID: "https://blog.example.com/plain/", URL: "https://blog.example.com/plain/",
			Title: "No summary", Date: d.Add(-24 * time.Hour), Updated: d.Add(-24 * time.Hour),
			ContentHTML: "<p>Body only.</p>", Authors: []posts.Author{{Name: "Jane Doe"}},
		},
	}
}

func render(t *testing.T, f func(Options, []*posts.Post) ([]byte, error)) []byte {
	t.Helper()
	b, err := f(testOptions(), testItems())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wellFormed decodes the whole document with encoding/xml, which rejects malformed XML and forbidden
// characters.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("malformed XML: %v\n%s", err, b)
		}
	}
}

func TestFormatsReadBack(t *testing.T) {
	for _, tt := range []struct {
		name   string
		render func(Options, []*posts.Post) ([]byte, error)
		xml    bool
	}{
		{"rss", RSS, true}, {"atom", Atom, true}, {"json", JSON, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := render(t, tt.render)
			if tt.xml {
				wellFormed(t, b)
			}
			f, err := gofeed.NewParser().ParseString(string(b))
			if err != nil {
				t.Fatalf("gofeed: %v", err)
			}
			if len(f.Items) != 2 {
				t.Fatalf("got %d items, want 2", len(f.Items))
			}
			it := f.Items[0]
			checks := []struct{ what, got, want string }{
				{"feed title", f.Title, "Example & Co"},
				{"item title", it.Title, "Tom & Jerry <b>bold</b> "},
				{"id", it.GUID, "tag:blog.example.com,2024-03-09:tricky"},
				{"link", it.Link, "https://blog.example.com/2024/03/09/tricky.html"},
				{"content", it.Content, "<p>A CDATA end ]]> inside, and a control  character.</p>"},
				{"published", it.PublishedParsed.UTC().Format(time.RFC3339), "2024-03-10T00:30:00Z"},
				{"categories", strings.Join(it.Categories, ","), "news,go,café"},
			}
			if tt.name != "json" {
				checks = append(checks, struct{ what, got, want string }{"feed updated", f.UpdatedParsed.UTC().Format(time.RFC3339), "2024-03-10T01:30:00Z"})
			}
			for _, c := range checks {
				if strings.TrimSpace(c.got) != strings.TrimSpace(c.want) {
					t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
				}
			}
			if len(it.Enclosures) != 1 || it.Enclosures[0].URL != "https://blog.example.com/ep1.mp3" {
				t.Errorf("enclosures: got %+v", it.Enclosures)
			}
		})
	}
}

func TestRSSDetails(t *testing.T) {
	s := string(render(t, RSS))
	for _, want := range []string{
		`<atom:link href="https://blog.example.com/feed.xml" rel="self" type="application/rss+xml">`,
		`<lastBuildDate>Sat, 09 Mar 2024 19:30:00 -0600</lastBuildDate>`,
		`<pubDate>Sat, 09 Mar 2024 18:30:00 -0600</pubDate>`,
		`<guid isPermaLink="false">tag:blog.example.com,2024-03-09:tricky</guid>`,
		`<guid isPermaLink="true">https://blog.example.com/plain/</guid>`,
		`<author>ann@example.com (Ann)</author>`,
		`<dc:creator>Bob</dc:creator>`,
		`<dc:creator>Jane Doe</dc:creator>`,
		`<media:thumbnail url="https://blog.example.com/img/a.png">`,
		`<enclosure url="https://blog.example.com/ep1.mp3" length="1234" type="audio/mpeg">`,
		`<language>en</language>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("RSS lacks %s", want)
		}
	}
	// The second item has no summary: its content is its description, and it has no content:encoded,
	// which the W3C validator wants after a description.
	second := s[strings.LastIndex(s, "<item>"):]
	if !strings.Contains(second, "<description><![CDATA[<p>Body only.</p>]]></description>") || strings.Contains(second, "<content:encoded>") {
		t.Errorf("an item without a summary: want its content as its description alone:\n%s", second)
	}
}

func TestAtomDetails(t *testing.T) {
	s := string(render(t, Atom))
	for _, want := range []string{
		`<id>https://blog.example.com/atom.xml</id>`,
		`xml:lang="en"`,
		`<link href="https://blog.example.com/atom.xml" rel="self" type="application/atom+xml">`,
		`<link href="https://blog.example.com/" rel="alternate" type="text/html">`,
		`<updated>2024-03-09T19:30:00-06:00</updated>`,
		`<published>2024-03-09T18:30:00-06:00</published>`,
		`<category term="café">`,
		`<entry xml:lang="fr">`,
		`<name>Jane Doe</name>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Atom lacks %s", want)
		}
	}
	if n := strings.Count(s, "<summary"); n != 1 {
		t.Errorf("got %d summaries, want 1 (the second item has none)", n)
	}
}

func TestJSONDetails(t *testing.T) {
	var f struct {
		Version, Title, FeedURL, HomePageURL, Language string
		Items                                          []map[string]any
	}
	b := render(t, JSON)
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	for k, want := range map[string]string{"version": "https://jsonfeed.org/version/1.1", "feed_url": "https://blog.example.com/feed.json",
		"home_page_url": "https://blog.example.com/", "language": "en"} {
		if raw[k] != want {
			t.Errorf("%s: got %v, want %q", k, raw[k], want)
		}
	}
	if _, ok := raw["author"]; ok {
		t.Errorf("JSON Feed 1.1 has authors, not the deprecated author")
	}
	items := raw["items"].([]any)
	first, second := items[0].(map[string]any), items[1].(map[string]any)
	if first["language"] != "fr" || second["language"] != nil {
		t.Errorf("item languages: got %v and %v, want fr and none", first["language"], second["language"])
	}
	if first["summary"] != "Short." || first["image"] != "https://blog.example.com/img/a.png" || first["date_published"] != "2024-03-09T18:30:00-06:00" {
		t.Errorf("first item: %v", first)
	}
	if _, ok := second["summary"]; ok {
		t.Errorf("an empty summary was written: %v", second)
	}
}

func TestDeterministic(t *testing.T) {
	for _, f := range []func(Options, []*posts.Post) ([]byte, error){RSS, Atom, JSON} {
		a, b := render(t, f), render(t, f)
		if !bytes.Equal(a, b) {
			t.Errorf("two renders of the same items differ")
		}
	}
}

func TestFit(t *testing.T) {
	items := testItems()
	full, _ := RSS(testOptions(), items)
	one, _ := RSS(testOptions(), items[:1])
	tests := []struct {
		name    string
		budget  int
		want    int
		wantErr bool
	}{
		{"no budget", 0, 2, false},
		{"roomy", len(full), 2, false},
		{"one fits", len(one), 1, false},
		{"none fit", len(one) - 1, 0, false},
		{"too small for anything", 100, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, n, err := Fit(tt.budget, items, func(ps []*posts.Post) ([]byte, error) { return RSS(testOptions(), ps) })
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if n != tt.want {
				t.Errorf("got %d items, want %d", n, tt.want)
			}
			if tt.budget > 0 && len(b) > tt.budget {
				t.Errorf("got %d bytes, budget %d", len(b), tt.budget)
			}
		})
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "sub", "a.xml"), filepath.Join(dir, "b.json")
	for i, tt := range []struct {
		a, b string
		want string // which were written
	}{{"one", "x", "ab"}, {"one", "x", ""}, {"two", "x", "a"}} {
		changed, err := WriteFiles([]File{{Path: a, Data: []byte(tt.a)}, {Path: b, Data: []byte(tt.b)}})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if changed[0] {
			got += "a"
		}
		if changed[1] {
			got += "b"
		}
		if got != tt.want {
			t.Errorf("write %d: got %q written, want %q", i, got, tt.want)
		}
		if ga, _ := os.ReadFile(a); string(ga) != tt.a {
			t.Errorf("write %d: a holds %q, want %q", i, ga, tt.a)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(a))
	if len(entries) != 1 {
		t.Errorf("got %d files in the folder, want 1 (no temp files left)", len(entries))
	}
}

// TestWriteFilesAllOrNothing: when one file cannot be written, none is changed.
func TestWriteFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.xml"), filepath.Join(dir, "b.xml"), filepath.Join(dir, "c.json")
	if _, err := WriteFiles([]File{{Path: a, Data: []byte("old a")}, {Path: b, Data: []byte("old b")}, {Path: c, Data: []byte("old c")}}); err != nil {
		t.Fatal(err)
	}
	os.Remove(b)
	os.Mkdir(b, 0o755) // b cannot be read or replaced now
	_, err := WriteFiles([]File{{Path: a, Data: []byte("new a")}, {Path: b, Data: []byte("new b")}, {Path: c, Data: []byte("new c")}})
	if err == nil {
		t.Fatal("got no error writing over a folder")
	}
	for _, p := range []string{a, c} {
		if got, _ := os.ReadFile(p); !strings.HasPrefix(string(got), "old") {
			t.Errorf("%s: got %q after a failed write, want the old bytes", filepath.Base(p), got)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("got %d entries, want 3 (no temp files left)", len(entries))
	}
}

// FuzzFeeds: any title, content, author and tag give three documents that parse: well-formed XML that a
// feed parser reads, and JSON whose title is the one given, less what XML forbids.
func FuzzFeeds(f *testing.F) {
	f.Add("Title", "<p>body</p>", "Ann", "go")
	f.Add("]]>", "]]>]]><![CDATA[", "&amp;", "<tag>")
	f.Add("\x00\x1f\ufffe", "\xff\xfe", "a\nb", "")
	f.Fuzz(func(t *testing.T, title, content, author, tag string) {
		p := &posts.Post{ID: "id:" + title, URL: "https://example.com/p", Title: title, ContentHTML: content,
			SummaryHTML: content, Summary: content, Date: time.Unix(1e9, 0).UTC(), Updated: time.Unix(1e9, 0).UTC(),
			Authors: []posts.Author{{Name: author}}, Tags: []string{tag}}
		for name, r := range map[string]func(Options, []*posts.Post) ([]byte, error){"rss": RSS, "atom": Atom, "json": JSON} {
			b, err := r(testOptions(), []*posts.Post{p})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if name == "json" {
				var v struct{ Items []struct{ Title string } }
				if err := json.Unmarshal(b, &v); err != nil || len(v.Items) != 1 {
					t.Fatalf("json: %v", err)
				}
				if v.Items[0].Title != posts.XMLSafe(title) {
					t.Errorf("json title: got %q, want %q", v.Items[0].Title, posts.XMLSafe(title))
				}
				continue
			}
			wellFormed(t, b)
			fd, err := gofeed.NewParser().ParseString(string(b))
			if err != nil || len(fd.Items) != 1 {
				t.Fatalf("%s: gofeed: %v\n%s", name, err, b)
			}
		}
	})
}

// TestEmptyFeeds: a site without posts still gets three valid documents; JSON Feed requires items.
func TestEmptyFeeds(t *testing.T) {
	for name, r := range map[string]func(Options, []*posts.Post) ([]byte, error){"rss": RSS, "atom": Atom, "json": JSON} {
		b, err := r(testOptions(), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name != "json" {
			wellFormed(t, b)
			continue
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("json: %v\n%s", err, b)
		}
		if items, ok := v["items"].([]any); !ok || len(items) != 0 {
			t.Errorf("json: got items %v, want []", v["items"])
		}
	}
}

// TestRSSDescriptionBeforeContent: the W3C feed validator warns about an item whose content:encoded comes
// before its description.
func TestRSSDescriptionBeforeContent(t *testing.T) {
	s := string(render(t, RSS))
	first := s[strings.Index(s, "<item>"):strings.Index(s, "</item>")]
	d, c := strings.Index(first, "<description>"), strings.Index(first, "<content:encoded>")
	if d < 0 || c < 0 || d > c {
		t.Errorf("want <description> before <content:encoded> in the item:\n%s", first)
	}
}

// TestAtomEmptyPost: an entry with neither content nor summary draws the validator's "Missing textual
// content"; an empty post gets its title as a text summary, as JSON Feed's content_text.
func TestAtomEmptyPost(t *testing.T) {
	items := testItems()
	items[1].ContentHTML = ""
	b, err := Atom(testOptions(), items)
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b)
	var f struct {
		Entries []struct {
			Summary *struct {
				Type string `xml:"type,attr"`
				Body string `xml:",chardata"`
			} `xml:"summary"`
			Content *struct{} `xml:"content"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for i, e := range f.Entries {
		if e.Summary == nil && e.Content == nil {
			t.Errorf("entry %d has neither summary nor content", i)
		}
	}
	if e := f.Entries[1]; e.Summary == nil || e.Summary.Type != "text" || e.Summary.Body != "No summary" || e.Content != nil {
		t.Errorf("empty post: got summary %+v, content %v; want a text summary \"No summary\" and no content", e.Summary, e.Content)
	}
}

// RSS plain text (titles, the channel's description, categories, dc:creator) writes "&", "<" and ">" as
// hexadecimal character references, which the W3C validator asks for, and reads back as written.
func TestRSSPlainTextReferences(t *testing.T) {
	o := testOptions()
	o.Description = "Cats & <dogs>"
	items := testItems()
	items[0].Categories = []string{"R&D"}
	items[0].Authors = []posts.Author{{Name: "Ann & Bob"}}
	b, err := RSS(o, items)
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b)
	s := string(b)
	for _, want := range []string{
		"<title>Example &#x26; Co</title>",
		"<description>Cats &#x26; &#x3C;dogs&#x3E;</description>",
		"<title>Tom &#x26; Jerry &#x3C;b&#x3E;bold&#x3C;/b&#x3E; </title>",
		"<category>R&#x26;D</category>",
		"<dc:creator>Ann &#x26; Bob</dc:creator>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("RSS lacks %s\n%s", want, s)
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "<title>") && (strings.Contains(line, "&amp;") || strings.Contains(line, "&lt;")) {
			t.Errorf("named entity in plain text: %s", line)
		}
	}
	again, err := RSS(o, items)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("a second rendering differs (err %v)", err)
	}
	f, err := gofeed.NewParser().ParseString(s)
	if err != nil {
		t.Fatal(err)
	}
	if f.Title != "Example & Co" || f.Description != "Cats & <dogs>" || f.Items[0].Categories[0] != "R&D" {
		t.Errorf("read back: got title %q, description %q, category %q", f.Title, f.Description, f.Items[0].Categories)
	}
}
