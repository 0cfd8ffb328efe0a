package posts

import (
	"encoding/json"
	"maps"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestHugoLanguages: the URL, language and id of each post of a multilingual site, in each form Hugo
// reads: translation by file name and by content folder, translated bundles, the default language at the
// root or in its folder, a language's own host, disabled languages, front matter url and slug. The URLs
// are those Hugo 0.111 gives (checked against hugo in cmd/herald's TestHugoLanguagesAgainstHugo for the
// testdata site; the forms here follow the same rules).
func TestHugoLanguages(t *testing.T) {
	post := func(title string, extra ...string) string {
		return "---\ntitle: " + title + "\ndate: 2024-03-04\n" + strings.Join(extra, "\n") + "\n---\nBody.\n"
	}
	type want struct{ path, url, lang, id string }
	tests := []struct {
		name   string
		config string
		files  map[string]string
		want   []want
		langs  string // Key:Lang:Path:URL of each language, space-separated
	}{{
		name: "file names and content folders",
		config: `baseURL: https://m.example/
title: Root title
languageCode: en-GB
languages:
  fr: {weight: 2, languageCode: fr-FR, title: Titre}
  en: {weight: 1}
  fa: {weight: 3, contentDir: content/fa}
`,
		files: map[string]string{
			"content/posts/a.md":            post("A"),
			"content/posts/a.fr.md":         post("A fr", "slug: a-fr"),
			"content/posts/b.fr.md":         post("B fr", "url: /b-partout/"),
			"content/posts/c.xx.md":         post("C"),
			"content/posts/bun/index.md":    post("Bundle"),
			"content/posts/bun/index.fr.md": post("Bundle fr"),
			"content/fa/posts/a.md":         post("A fa"),
		},
		want: []want{
			{"content/posts/a.md", "https://m.example/posts/a/", "en-GB", "posts/a"},
			{"content/posts/a.fr.md", "https://m.example/fr/posts/a-fr/", "fr-FR", "posts/a.fr"},
			{"content/posts/b.fr.md", "https://m.example/b-partout/", "fr-FR", "posts/b.fr"},
			{"content/posts/c.xx.md", "https://m.example/posts/c.xx/", "en-GB", "posts/c.xx"},
			{"content/posts/bun/index.md", "https://m.example/posts/bun/", "en-GB", "posts/bun"},
			{"content/posts/bun/index.fr.md", "https://m.example/fr/posts/bun/", "fr-FR", "posts/bun.fr"},
			{"content/fa/posts/a.md", "https://m.example/fa/posts/a/", "fa", "posts/a.fa"},
		},
		langs: "en:en-GB::https://m.example fr:fr-FR:fr:https://m.example/fr fa:fa:fa:https://m.example/fa",
	}, {
		name: "default language in its folder, a language of its own host, one disabled",
		config: `baseURL = "https://m.example/"
defaultContentLanguage = "de"
defaultContentLanguageInSubdir = true
disableLanguages = ["it"]
[permalinks]
posts = "/:year/:slug/"
[languages.de]
weight = 1
[languages.nl]
weight = 2
baseURL = "https://nl.m.example/"
[languages.es]
weight = 3
disabled = true
[languages.it]
weight = 4
`,
		files: map[string]string{
			"content/posts/a.md":    post("A"),
			"content/posts/a.nl.md": post("A nl"),
			"content/posts/a.es.md": post("A es"),
			"content/posts/a.it.md": post("A it"),
		},
		want: []want{
			{"content/posts/a.md", "https://m.example/de/2024/a/", "de", "posts/a"},
			{"content/posts/a.nl.md", "https://nl.m.example/2024/a-nl/", "nl", "posts/a.nl"},
		},
		langs: "de:de:de:https://m.example/de nl:nl:nl:https://nl.m.example",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"hugo.yaml": tt.config}
			if strings.Contains(tt.config, "[languages") {
				files = map[string]string{"hugo.toml": tt.config}
			}
			for k, v := range tt.files {
				files[k] = v
			}
			s := loadHugoSite(t, writeSite(t, files), Options{})
			if len(s.Posts) != len(tt.want) {
				var got []string
				for _, p := range s.Posts {
					got = append(got, p.Path)
				}
				t.Fatalf("got posts %v, want %d", got, len(tt.want))
			}
			for _, w := range tt.want {
				p := postByPath(s, w.path)
				if p == nil {
					t.Errorf("%s: no post", w.path)
					continue
				}
				if p.URL != w.url || p.Lang != w.lang || !strings.HasSuffix(p.ID, ":"+w.id) {
					t.Errorf("%s: got URL %s, lang %q, id %s; want %s, %q, …:%s", w.path, p.URL, p.Lang, p.ID, w.url, w.lang, w.id)
				}
			}
			var langs []string
			for _, l := range s.Languages {
				langs = append(langs, l.Key+":"+l.Lang+":"+l.Path+":"+l.URL)
			}
			if got := strings.Join(langs, " "); got != tt.langs {
				t.Errorf("languages: got %s, want %s", got, tt.langs)
			}
		})
	}
}

// TestHugoLanguageSettings: a language's title and description come from its own settings, else the
// site's; the site's are the default language's; herald.yaml's lang and title are the default language's.
func TestHugoLanguageSettings(t *testing.T) {
	dir := writeSite(t, map[string]string{
		"config.yml": `baseURL: https://m.example/
title: Site
params: {description: Site description}
defaultContentLanguage: fr
languages:
  en: {weight: 2, languageName: English}
  fr: {weight: 1, title: Titre, languageName: Français, params: {description: Description}}
`,
		"content/posts/a.md":    hugoConfigPost,
		"content/posts/a.en.md": hugoConfigPost,
	})
	s := loadHugoSite(t, dir, Options{})
	if s.Title != "Titre" || s.Description != "Description" || s.Lang != "fr" {
		t.Errorf("site: got %q, %q, %q; want the default language's Titre, Description, fr", s.Title, s.Description, s.Lang)
	}
	if len(s.Languages) != 2 || s.Languages[0].Name != "Français" || !s.Languages[0].Default ||
		s.Languages[1].Title != "Site" || s.Languages[1].Description != "Site description" || s.Languages[1].Name != "English" {
		t.Errorf("languages: got %+v", s.Languages)
	}
	s = loadHugoSite(t, dir, Options{Lang: "fr-CA", Title: "Mon titre"})
	if s.Languages[0].Lang != "fr-CA" || s.Languages[0].Title != "Mon titre" || postByPath(s, "content/posts/a.md").Lang != "fr-CA" {
		t.Errorf("with herald.yaml's lang and title: got %+v, post lang %q", s.Languages[0], postByPath(s, "content/posts/a.md").Lang)
	}

	// A site of one language: every post has the site's language, and there is no list of languages.
	s = loadHugoSite(t, writeSite(t, map[string]string{"hugo.toml": "baseURL = \"https://o.example/\"\nlanguageCode = \"de-AT\"\n", "content/posts/a.md": hugoConfigPost}), Options{})
	if p := s.Posts[0]; p.Lang != "de-AT" || s.Languages != nil {
		t.Errorf("one language: got post lang %q, languages %v; want de-AT and none", p.Lang, s.Languages)
	}

	// A default language the site does not enable is an error naming the file.
	dir = writeSite(t, map[string]string{"hugo.toml": "baseURL = \"https://o.example/\"\ndefaultContentLanguage = \"de\"\n[languages.en]\n", "content/posts/a.md": hugoConfigPost})
	if _, err := Load(t.Context(), Options{Dir: dir, Now: hugoNow}); err == nil || !strings.Contains(err.Error(), `hugo.toml: defaultContentLanguage is "de"`) {
		t.Errorf("got %v, want the file and the setting", err)
	}
}

// TestHugoLanguageRefs: a ref to a page that has translations in content folders of their own gives the
// default language's page, never a translation's (which come after it here, in the order pages are read).
func TestHugoLanguageRefs(t *testing.T) {
	dir := writeSite(t, map[string]string{
		"hugo.yaml":                  "baseURL: https://m.example/\nlanguages:\n  en: {weight: 1}\n  fa: {weight: 2, contentDir: translations/fa}\n  de: {weight: 3, contentDir: translations/de}\n",
		"content/posts/a.md":         hugoConfigPost,
		"content/posts/b.md":         "---\ntitle: B\ndate: 2024-03-03\n---\nSee [a]({{< relref \"posts/a\" >}}).\n",
		"translations/fa/posts/a.md": hugoConfigPost,
		"translations/de/posts/a.md": hugoConfigPost,
	})
	s := loadHugoSite(t, dir, Options{})
	b := postByPath(s, "content/posts/b.md")
	if _, err := s.Render(t.Context(), []*Post{b}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.ContentHTML, `href="https://m.example/posts/a/"`) {
		t.Errorf("got %s, want a link to https://m.example/posts/a/", b.ContentHTML)
	}
}

// TestHugoTranslationRefs: a ref on a translation names the page of its own language, as in Hugo; its
// lang argument names another language's; a page its language lacks is the default language's.
func TestHugoTranslationRefs(t *testing.T) {
	dir := writeSite(t, map[string]string{
		"hugo.yaml":                  "baseURL: https://m.example/\nlanguages:\n  en: {weight: 1}\n  fa: {weight: 2, contentDir: translations/fa}\n  de: {weight: 3, contentDir: translations/de}\n",
		"content/posts/a.md":         hugoConfigPost,
		"content/posts/only-en.md":   hugoConfigPost,
		"translations/fa/posts/a.md": hugoConfigPost,
		"translations/de/posts/a.md": hugoConfigPost,
		"translations/fa/posts/b.md": "---\ntitle: B\ndate: 2024-03-03\n---\n[own]({{< relref \"posts/a\" >}}) " +
			"[de]({{< relref path=\"posts/a\" lang=\"de\" >}}) [en]({{< relref path=\"posts/a\" lang=\"en\" >}}) " +
			"[missing]({{< ref \"posts/only-en\" >}})\n",
	})
	s := loadHugoSite(t, dir, Options{})
	b := postByPath(s, "translations/fa/posts/b.md")
	if _, err := s.Render(t.Context(), []*Post{b}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<a href="https://m.example/fa/posts/a/">own</a>`,
		`<a href="https://m.example/de/posts/a/">de</a>`,
		`<a href="https://m.example/posts/a/">en</a>`,
		`<a href="https://m.example/posts/only-en/">missing</a>`,
	} {
		if !strings.Contains(b.ContentHTML, want) {
			t.Errorf("got %s, want %s in it", b.ContentHTML, want)
		}
	}
}

// FuzzHugoLanguages: whatever a site's languages table says, every language's feeds stay in one plain
// folder of the output, every post is in one of the languages, at an absolute http(s) URL, with a unique id.
func FuzzHugoLanguages(f *testing.F) {
	f.Add("fr", "fr-FR", "", "", "Titre", false)
	f.Add("../x", "", "", "", "", false)
	f.Add("fa", "fa-IR", "content-fa", "", "", true)
	f.Add("nl", "", "../outside", "https://nl.example/", "", false)
	f.Add("en", "", "", "javascript:alert(1)", "", true)
	f.Fuzz(func(t *testing.T, key, code, contentDir, baseURL, title string, inSubdir bool) {
		q := func(s string) string { return jsonString(s) }
		config := `{"baseURL": "https://m.example/", "defaultContentLanguageInSubdir": ` + map[bool]string{true: "true", false: "false"}[inSubdir] +
			`, "languages": {"en": {"weight": 1}, ` + q(key) + `: {"weight": 2, "languageCode": ` + q(code) + `, "contentDir": ` + q(contentDir) +
			`, "baseURL": ` + q(baseURL) + `, "title": ` + q(title) + `}}}`
		dir := writeSite(t, map[string]string{"hugo.json": config, "content/posts/a.md": hugoConfigPost,
			"content/posts/a." + strings.ToLower(strings.NewReplacer("/", "", "\\", "", "\x00", "").Replace(key)) + ".md": hugoConfigPost})
		s, err := Load(t.Context(), Options{Dir: dir, Now: hugoNow})
		if err != nil {
			return
		}
		langs := map[string]bool{}
		for _, l := range s.Languages {
			if l.Path != "" && (strings.ContainsAny(l.Path, `/\`) || !filepath.IsLocal(l.Path)) {
				t.Fatalf("language %q: feeds in %q, want one plain folder", l.Key, l.Path)
			}
			langs[l.Lang] = true
		}
		ids := map[string]bool{}
		for _, p := range s.Posts {
			u, err := url.Parse(p.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Fatalf("%s: URL %q, want an absolute http(s) URL", p.Path, p.URL)
			}
			if !langs[p.Lang] || ids[p.ID] {
				t.Fatalf("%s: lang %q (languages %v), id %s (a second time: %v)", p.Path, p.Lang, langs, p.ID, ids[p.ID])
			}
			ids[p.ID] = true
		}
	})
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestHugoTranslationMoved: a translation moved from a file name suffix (post.fr.md) to its language's
// content folder keeps its id and its URL.
func TestHugoTranslationMoved(t *testing.T) {
	config := "baseURL: https://m.example/\nlanguages:\n  en: {weight: 1}\n  fr: {weight: 2, contentDir: content-fr}\n"
	var got []string
	for _, file := range []string{"content/posts/a.fr.md", "content-fr/posts/a.md"} {
		s := loadHugoSite(t, writeSite(t, map[string]string{"hugo.yaml": config, "content/posts/a.md": hugoConfigPost, file: hugoConfigPost}), Options{})
		p := postByPath(s, file)
		if p == nil {
			t.Fatalf("%s: no post", file)
		}
		got = append(got, p.ID+" "+p.URL)
	}
	if want := "tag:m.example,2024-03-04:posts/a.fr https://m.example/fr/posts/a/"; got[0] != want || got[1] != want {
		t.Errorf("got %q, want both %q", got, want)
	}
}

// TestHugoSuffixTranslationRefs: a translation named by its file's suffix (posts/a.fr.md) is the page
// posts/a of its language, as in Hugo: a ref to posts/a (or to a) on a page of that language, or with
// its lang, names it, and a default-language page named c.en.md is posts/c.
func TestHugoSuffixTranslationRefs(t *testing.T) {
	dir := writeSite(t, map[string]string{
		"hugo.yaml":             "baseURL: https://m.example/\nlanguages:\n  en: {weight: 1}\n  fr: {weight: 2}\n",
		"content/posts/a.md":    hugoConfigPost,
		"content/posts/a.fr.md": hugoConfigPost,
		"content/posts/c.en.md": "---\ntitle: C\nslug: see\ndate: 2024-03-04\n---\nC.\n",
		"content/posts/b.fr.md": "---\ntitle: B\ndate: 2024-03-03\n---\n[own]({{< relref \"posts/a\" >}}) " +
			"[name]({{< relref \"a\" >}}) [en]({{< relref path=\"posts/a\" lang=\"en\" >}})\n",
		"content/posts/d.md": "---\ntitle: D\ndate: 2024-03-03\n---\n[fr]({{< relref path=\"posts/a\" lang=\"fr\" >}}) " +
			"[c]({{< relref \"posts/c\" >}})\n",
	})
	s := loadHugoSite(t, dir, Options{})
	b, d := postByPath(s, "content/posts/b.fr.md"), postByPath(s, "content/posts/d.md")
	if _, err := s.Render(t.Context(), []*Post{b, d}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    *Post
		want string
	}{
		{b, `<a href="https://m.example/fr/posts/a/">own</a>`},
		{b, `<a href="https://m.example/fr/posts/a/">name</a>`},
		{b, `<a href="https://m.example/posts/a/">en</a>`},
		{d, `<a href="https://m.example/fr/posts/a/">fr</a>`},
		{d, `<a href="https://m.example/posts/see/">c</a>`},
	} {
		if !strings.Contains(c.p.ContentHTML, c.want) {
			t.Errorf("%s: got %s, want %s in it", c.p.Path, c.p.ContentHTML, c.want)
		}
	}
}

// TestHugoLanguageDirection: a language's languageDirection (rtl or ltr, in any case) is its Dir; a
// language without one has none (its script decides, in the mailer), and any other value is a warning
// that names the setting.
func TestHugoLanguageDirection(t *testing.T) {
	s := loadHugoSite(t, writeSite(t, map[string]string{
		"hugo.yaml": "baseURL: https://m.example/\nlanguages:\n  en: {weight: 1}\n  ku: {weight: 2, languageDirection: RTL}\n" +
			"  ug: {weight: 3, languageDirection: ltr}\n  fr: {weight: 4, languageDirection: Sideways}\n",
		"content/posts/a.md": hugoConfigPost,
	}), Options{})
	got := map[string]string{}
	for _, l := range s.Languages {
		got[l.Key] = l.Dir
	}
	if want := map[string]string{"en": "", "ku": "rtl", "ug": "ltr", "fr": ""}; !maps.Equal(got, want) {
		t.Errorf("got directions %v, want %v", got, want)
	}
	var warned []string
	for _, w := range s.Warnings {
		warned = append(warned, w.String())
	}
	if want := `hugo.yaml: languages.fr.languageDirection: "Sideways" is neither rtl nor ltr`; len(warned) != 1 || !strings.Contains(warned[0], want) {
		t.Errorf("got warnings %q, want one with %q", warned, want)
	}
}

// TestHugoRefCrossLanguageSuffix: a ref that names another language's translation by its file
// (posts/a.fr.md from an English page), which Hugo stops at with REF_NOT_FOUND, links to that
// translation; a suffix of no language of the site is part of the name, as before.
func TestHugoRefCrossLanguageSuffix(t *testing.T) {
	dir := writeSite(t, map[string]string{
		"hugo.yaml":             "baseURL: https://m.example/\nlanguages:\n  en: {weight: 1}\n  fr: {weight: 2}\n",
		"content/posts/a.md":    hugoConfigPost,
		"content/posts/a.fr.md": "---\ntitle: A fr\nslug: a-fr\ndate: 2024-03-04\n---\nA.\n",
		"content/posts/b.md": "---\ntitle: B\ndate: 2024-03-03\n---\n[fr]({{< ref \"posts/a.fr.md\" >}}) " +
			"[other]({{< ref \"posts/a.xx.md\" >}})\n",
	})
	s := loadHugoSite(t, dir, Options{})
	b := postByPath(s, "content/posts/b.md")
	if _, err := s.Render(t.Context(), []*Post{b}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<a href="https://m.example/fr/posts/a-fr/">fr</a>`, `<a href="https://m.example/posts/a.xx/">other</a>`} {
		if !strings.Contains(b.ContentHTML, want) {
			t.Errorf("got %s, want %s in it", b.ContentHTML, want)
		}
	}
}

// TestHugoRefOtherPagesOfALanguage: a ref to a page Herald did not read (a section, a page that is no
// post) or to the home page ("/") links under the home of the language it names, as in Hugo 0.111:
// /fr/posts/ from a French page, /en/about/ with the default language in its folder too.
func TestHugoRefOtherPagesOfALanguage(t *testing.T) {
	refs := "[section]({{< ref \"posts\" >}}) [index]({{< ref \"posts/_index.fr.md\" >}}) " +
		"[about]({{< ref \"about\" >}}) [home]({{< ref \"/\" >}}) [anchor]({{< ref \"#x\" >}})\n"
	for _, tt := range []struct {
		name, config, page string
		want               []string
	}{
		{"French page", "", "content/posts/b.fr.md", []string{`<a href="https://m.example/fr/posts/">section</a>`,
			`<a href="https://m.example/fr/posts/">index</a>`, `<a href="https://m.example/fr/about/">about</a>`,
			`<a href="https://m.example/fr/">home</a>`, `<a href="https://m.example/fr/posts/b/#x">anchor</a>`}},
		{"default language in its folder", "defaultContentLanguageInSubdir: true\n", "content/posts/b.md",
			[]string{`<a href="https://m.example/en/posts/">section</a>`, `<a href="https://m.example/en/about/">about</a>`,
				`<a href="https://m.example/en/">home</a>`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := loadHugoSite(t, writeSite(t, map[string]string{
				"hugo.yaml":          "baseURL: https://m.example/\n" + tt.config + "languages:\n  en: {weight: 1}\n  fr: {weight: 2}\n",
				"content/posts/a.md": hugoConfigPost,
				tt.page:              "---\ntitle: B\ndate: 2024-03-03\n---\n" + refs,
			}), Options{})
			b := postByPath(s, tt.page)
			if _, err := s.Render(t.Context(), []*Post{b}); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(b.ContentHTML, want) {
					t.Errorf("got %s, want %s in it", b.ContentHTML, want)
				}
			}
		})
	}
}
