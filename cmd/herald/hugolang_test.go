package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/heraldhq/herald/internal/feedcheck"
)

// TestHugoLanguagesAgainstHugo: Hugo builds the three-language site of posts/testdata/hugo-multilingual
// (English at the root, French translations by file name with a translated slug and a front matter url,
// Persian from its own content folder), as it is and with the default language in its folder and a
// permalink pattern; Herald's feeds of each language are where Hugo puts that language's index.xml, and
// carry the same links, home page, the language's title and its language, and pass the W3C validator's
// checks (internal/feedcheck) at the URL Hugo serves that language from.
func TestHugoLanguagesAgainstHugo(t *testing.T) {
	needTool(t, "hugo", "apt-get install hugo")
	type lang struct{ dir, title, code string }
	for _, tt := range []struct {
		name  string
		extra string            // appended to config.yml
		files map[string]string // more files of the site
		langs []lang
	}{
		{"as it is", "", nil, []lang{{"", "Polyglot", "en-US"}, {"fr", "Polyglotte", "fr-FR"}, {"fa", "چندزبانه", "fa-IR"}}},
		{"default language in its folder", "defaultContentLanguageInSubdir: true\npermalinks:\n  posts: /:year/:slug/\n", nil,
			[]lang{{"en", "Polyglot", "en-US"}, {"fr", "Polyglotte", "fr-FR"}, {"fa", "چندزبانه", "fa-IR"}}},
		// Each language at a host of its own, set in a file of the config folder merged over config.yml.
		{"a host for each language", "", map[string]string{"config/_default/languages.yaml": `en: {baseURL: "https://en.polyglot.example.org/"}
fr: {baseURL: "https://fr.polyglot.example.org/"}
fa: {baseURL: "https://fa.polyglot.example.org/blog/"}
`}, []lang{{"en", "Polyglot", "en-US"}, {"fr", "Polyglotte", "fr-FR"}, {"fa", "چندزبانه", "fa-IR"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, filepath.Join("..", "..", "posts", "testdata", "hugo-multilingual"))
			if tt.extra != "" {
				f, err := os.OpenFile(filepath.Join(dir, "config.yml"), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteString(tt.extra); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			}
			for name, body := range tt.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := hugoBuild(t, dir)
			if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--limit", "0"); err != nil {
				t.Fatalf("herald build: %v", err)
			}
			for _, l := range tt.langs {
				want := feedLinks(t, filepath.Join(out, l.dir, "index.xml"))
				if len(want) == 0 {
					t.Fatalf("Hugo's %s has no items", filepath.Join(l.dir, "index.xml"))
				}
				home := parseFeed(t, filepath.Join(out, l.dir, "index.xml")).Link
				for _, name := range []string{"feed.xml", "atom.xml", "feed.json"} {
					path := filepath.Join(dir, "public", l.dir, name)
					if got := feedLinks(t, path); !slices.Equal(got, want) {
						t.Errorf("%s: links %v, Hugo's %v", filepath.Join(l.dir, name), got, want)
					}
					if f := parseFeed(t, path); f.Title != l.title || f.Language != l.code || f.Link != home {
						t.Errorf("%s: title %q, language %q, home %s; want %q, %q, %s", filepath.Join(l.dir, name), f.Title, f.Language, f.Link, l.title, l.code, home)
					}
					if name == "feed.json" {
						continue
					}
					b, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					problems, err := feedcheck.Check(b, feedcheck.Options{Location: home + name})
					if err != nil || len(problems) > 0 {
						t.Errorf("%s at %s: %v %v", filepath.Join(l.dir, name), home+name, err, problems)
					}
				}
				// Each item carries its post's language (JSON Feed's per-item language).
				var jf struct{ Items []struct{ Language string } }
				b, err := os.ReadFile(filepath.Join(dir, "public", l.dir, "feed.json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &jf); err != nil {
					t.Fatal(err)
				}
				for _, it := range jf.Items {
					if it.Language != l.code {
						t.Errorf("%s: an item's language is %q, want %q", filepath.Join(l.dir, "feed.json"), it.Language, l.code)
					}
				}
			}
			if tt.langs[0].dir != "" {
				if _, err := os.Stat(filepath.Join(dir, "public", "feed.xml")); err == nil {
					t.Errorf("public/feed.xml written, but Hugo puts the default language in %s/", tt.langs[0].dir)
				}
			}
		})
	}
}

// TestHugoLanguagesEmail: the email of a post of the three-language site is in the post's language, with
// dir="rtl" for Persian, and shows that language's title and home page, through the whole command (the
// site loaded, the post rendered and composed).
func TestHugoLanguagesEmail(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "posts", "testdata", "hugo-multilingual"))
	if out, _, err := runHerald(t, testEnv(), "init", "-C", dir, "--from", "Ann <ann@example.com>", "--postal-address", "Ann, 1 Main Street, Springfield"); err != nil {
		t.Fatalf("herald init: %v\n%s", err, out)
	}
	for _, tt := range []struct{ post, lang, dir, home string }{ // home: the masthead's link, a pattern
		{"content-fa/posts/rich-content.md", "fa-IR", "rtl", `<a href="https://polyglot.example.org/fa"[^>]*>چندزبانه</a>`},
		{"content/posts/markdown-syntax.fr.md", "fr-FR", "", `<a href="https://polyglot.example.org/fr"[^>]*>Polyglotte</a>`},
		{"content/posts/markdown-syntax.md", "en-US", "", `<a href="https://polyglot.example.org"[^>]*>Polyglot</a>`},
	} {
		out := t.TempDir()
		if _, stderr, err := runHerald(t, testEnv(), "preview", tt.post, "-C", dir, "--out", out); err != nil {
			t.Fatalf("herald preview %s: %v\n%s", tt.post, err, stderr)
		}
		b, err := os.ReadFile(filepath.Join(out, "herald-preview.html"))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := html.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		root := map[string]string{}
		for n := doc.FirstChild; n != nil; n = n.NextSibling {
			if n.Type == html.ElementNode && n.Data == "html" {
				for _, a := range n.Attr {
					root[a.Key] = a.Val
				}
			}
		}
		if root["lang"] != tt.lang || root["dir"] != tt.dir {
			t.Errorf("%s: <html lang=%q dir=%q>, want lang=%q dir=%q", tt.post, root["lang"], root["dir"], tt.lang, tt.dir)
		}
		if !regexp.MustCompile(tt.home).Match(b) {
			t.Errorf("%s: no %s in\n%s", tt.post, tt.home, b)
		}
	}
}

// TestHugoRefLanguageSuffixAgainstHugo: a ref that names a translation by its language's suffix
// (posts/a.fr.md, a.fr.md, posts/a.fr, a.en.md) links where Hugo links it, from a page of either language.
// Hugo finds a suffixed file name only from a page of that language (REF_NOT_FOUND from another, which
// posts' TestHugoRefCrossLanguageSuffix covers), and takes a suffix without a content extension for an
// extension: posts/a.fr on an English page is the English posts/a.
func TestHugoRefLanguageSuffixAgainstHugo(t *testing.T) {
	refs := func(targets ...string) string {
		var b strings.Builder
		for _, target := range targets {
			b.WriteString("[" + target + `]({{< ref "` + target + `" >}}) `)
		}
		return b.String()
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"hugo.yaml":                    "baseURL: https://m.example/\nlanguages:\n  en: {weight: 1}\n  fr: {weight: 2}\n",
		"layouts/_default/single.html": "<article>{{ .Content }}</article>\n",
		"layouts/_default/list.html":   "list\n",
		"content/posts/a.md":           "---\ntitle: A\ndate: 2024-03-04\n---\nA.\n",
		"content/posts/a.fr.md":        "---\ntitle: A fr\nslug: a-fr\ndate: 2024-03-04\n---\nA fr.\n",
		"content/posts/b.md":           "---\ntitle: B\ndate: 2024-03-03\n---\n" + refs("posts/a.fr", "posts/a.md", "a.en.md") + "\n",
		"content/posts/b.fr.md": "---\ntitle: B fr\ndate: 2024-03-03\n---\n" +
			refs("posts/a.fr.md", "a.fr.md", "/posts/a.fr.md", "posts/a.fr", "posts/a.md") + "\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pages := builtPages(t, hugoBuild(t, dir), "https://m.example/")
	if _, errOut, err := runHerald(t, testEnv(), "build", "-C", dir, "--limit", "0"); err != nil {
		t.Fatalf("herald build: %v\n%s", err, errOut)
	}
	for _, feed := range []string{"atom.xml", filepath.Join("fr", "atom.xml")} {
		for _, it := range parseFeed(t, filepath.Join(dir, "public", feed)).Items {
			if !strings.Contains(it.Link, "/posts/b/") {
				continue
			}
			want := urlsIn(pages[it.Link])
			if len(want) == 0 {
				t.Fatalf("%s: Hugo's page has no links", it.Link)
			}
			if got := urlsIn(it.Content); !slices.Equal(got, want) {
				t.Errorf("%s: Herald's links %q, Hugo's %q", it.Link, got, want)
			}
		}
	}
}
