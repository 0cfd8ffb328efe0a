package publish

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/posts"
)

// TestBuildLanguages: a multilingual site's feeds, one set per language in its folder (the default
// language's at the root), each with that language's posts, title and language, its own tag feeds below it,
// and self links at the language's URL.
func TestBuildLanguages(t *testing.T) {
	site, err := posts.Load(t.Context(), posts.Options{Dir: filepath.Join("..", "posts", "testdata", "hugo-multilingual"), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	f := Feeds{Dir: out, RSS: "feed.xml", Atom: "atom.xml", JSON: "feed.json", TagFeeds: true}
	outs, err := Build(t.Context(), site, f, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	feeds := map[string][]byte{}
	for _, o := range outs {
		rel, _ := filepath.Rel(out, o.Path)
		rel = filepath.ToSlash(rel)
		got = append(got, fmt.Sprintf("%s %d", rel, o.Items))
		feeds[rel] = o.Data
	}
	want := []string{"feed.xml 3", "atom.xml 3", "feed.json 3", "tags/markdown/feed.xml 1", "tags/markdown/atom.xml 1", "tags/markdown/feed.json 1",
		"fr/feed.xml 2", "fr/atom.xml 2", "fr/feed.json 2", "fr/tags/markdown/feed.xml 1", "fr/tags/markdown/atom.xml 1", "fr/tags/markdown/feed.json 1",
		"fa/feed.xml 2", "fa/atom.xml 2", "fa/feed.json 2"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("got %v,\nwant %v", got, want)
	}
	for _, tt := range []struct{ file, title, lang, home, self string }{
		{"feed.json", "Polyglot", "en-US", "https://polyglot.example.org/", "https://polyglot.example.org/feed.json"},
		{"fr/feed.json", "Polyglotte", "fr-FR", "https://polyglot.example.org/fr/", "https://polyglot.example.org/fr/feed.json"},
		{"fr/tags/markdown/feed.json", "Polyglotte: markdown", "fr-FR", "https://polyglot.example.org/fr/", "https://polyglot.example.org/fr/tags/markdown/feed.json"},
		{"fa/feed.json", "چندزبانه", "fa-IR", "https://polyglot.example.org/fa/", "https://polyglot.example.org/fa/feed.json"},
	} {
		var jf struct {
			Title, Language, Description string
			Home                         string `json:"home_page_url"`
			Self                         string `json:"feed_url"`
			Items                        []struct{ URL, Language string }
		}
		if err := json.Unmarshal(feeds[tt.file], &jf); err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if jf.Title != tt.title || jf.Language != tt.lang || jf.Home != tt.home || jf.Self != tt.self {
			t.Errorf("%s: got %q, %q, %s, %s; want %q, %q, %s, %s", tt.file, jf.Title, jf.Language, jf.Home, jf.Self, tt.title, tt.lang, tt.home, tt.self)
		}
		for _, it := range jf.Items {
			if it.Language != tt.lang || !strings.HasPrefix(it.URL, tt.home) {
				t.Errorf("%s: item %s in %q", tt.file, it.URL, it.Language)
			}
		}
	}
	if !strings.Contains(string(feeds["fa/feed.xml"]), "<description>یادداشت‌هایی به سه زبان</description>") {
		t.Errorf("fa/feed.xml lacks the Persian description:\n%s", feeds["fa/feed.xml"])
	}
}

// TestChangedFeedsLanguages: the topics WebSub hubs hear of are the feeds' URLs, each at its language's
// URL, also when a language has a host of its own.
func TestChangedFeedsLanguages(t *testing.T) {
	site := &posts.Site{URL: "https://en.example.org", Languages: []posts.Language{
		{Key: "en", Path: "en", URL: "https://en.example.org", Default: true},
		{Key: "fr", Path: "fr", URL: "https://fr.example.org"},
		{Key: "de", Path: "de", URL: "https://en.example.org/de"},
	}}
	dir := t.TempDir()
	f := Feeds{Dir: dir}
	var outs []Output
	for _, name := range []string{"en/feed.xml", "fr/atom.xml", "fr/tags/go/feed.json", "de/feed.xml", "french/feed.xml"} {
		outs = append(outs, Output{Path: filepath.Join(dir, filepath.FromSlash(name)), Data: []byte("x")})
	}
	got := strings.Join(ChangedFeeds(site, f, outs), " ")
	want := "https://en.example.org/feed.xml https://fr.example.org/atom.xml https://fr.example.org/tags/go/feed.json https://en.example.org/de/feed.xml https://en.example.org/french/feed.xml"
	if got != want {
		t.Errorf("got %s,\nwant %s", got, want)
	}
}

// TestLinksLanguages: herald build --print-links gives each language's feeds, with its hreflang and title.
func TestLinksLanguages(t *testing.T) {
	site, err := posts.Load(t.Context(), posts.Options{Dir: filepath.Join("..", "posts", "testdata", "hugo-multilingual"), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	got := Feeds{RSS: "feed.xml", Atom: "atom.xml", JSON: "feed.json", TagFeeds: true}.Links(site)
	want := `<link rel="alternate" type="application/rss+xml" hreflang="en-US" title="Polyglot" href="https://polyglot.example.org/feed.xml">
<link rel="alternate" type="application/atom+xml" hreflang="en-US" title="Polyglot" href="https://polyglot.example.org/atom.xml">
<link rel="alternate" type="application/feed+json" hreflang="en-US" title="Polyglot" href="https://polyglot.example.org/feed.json">
<link rel="alternate" type="application/rss+xml" hreflang="fr-FR" title="Polyglotte" href="https://polyglot.example.org/fr/feed.xml">
<link rel="alternate" type="application/atom+xml" hreflang="fr-FR" title="Polyglotte" href="https://polyglot.example.org/fr/atom.xml">
<link rel="alternate" type="application/feed+json" hreflang="fr-FR" title="Polyglotte" href="https://polyglot.example.org/fr/feed.json">
<link rel="alternate" type="application/rss+xml" hreflang="fa-IR" title="چندزبانه" href="https://polyglot.example.org/fa/feed.xml">
<link rel="alternate" type="application/atom+xml" hreflang="fa-IR" title="چندزبانه" href="https://polyglot.example.org/fa/atom.xml">
<link rel="alternate" type="application/feed+json" hreflang="fa-IR" title="چندزبانه" href="https://polyglot.example.org/fa/feed.json">
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestOneLanguage: a site whose config lists one language at the root has the feeds and links of a site of
// one language; in its folder (Hugo's defaultContentLanguageInSubdir), its feeds go there.
func TestOneLanguage(t *testing.T) {
	for _, tt := range []struct {
		config, files string
		hreflang      bool
	}{
		{"", "feed.xml atom.xml feed.json", false},
		{"defaultContentLanguageInSubdir = true\n", "en/feed.xml en/atom.xml en/feed.json", true},
	} {
		dir := t.TempDir()
		for name, body := range map[string]string{
			"hugo.toml":          "baseURL = \"https://o.example/\"\n" + tt.config + "[languages.en]\ntitle = \"O\"\n",
			"content/posts/a.md": "---\ntitle: A\ndate: 2024-01-02\n---\nA.\n",
		} {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		site, err := posts.Load(t.Context(), posts.Options{Dir: dir, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		f := Feeds{Dir: out, RSS: "feed.xml", Atom: "atom.xml", JSON: "feed.json"}
		outs, err := Build(t.Context(), site, f, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range outs {
			rel, _ := filepath.Rel(out, o.Path)
			got = append(got, filepath.ToSlash(rel))
		}
		if strings.Join(got, " ") != tt.files {
			t.Errorf("%q: got %v, want %s", tt.config, got, tt.files)
		}
		if l := f.Links(site); strings.Contains(l, "hreflang") != tt.hreflang {
			t.Errorf("%q: links %s", tt.config, l)
		}
	}
}
