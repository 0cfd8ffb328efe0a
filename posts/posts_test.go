package posts

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	tests := []struct {
		in      string
		want    string // RFC 3339
		guessed bool
		wantErr bool
	}{
		{"2010-01-10", "2010-01-10T00:00:00-08:00", false, false},
		{"2010-01-10 13:07:09", "2010-01-10T13:07:09-08:00", false, false},
		{"2010-01-10 13:07:09 +00:00", "2010-01-10T13:07:09Z", false, false},
		{"2013-05-06 02:12:52 +0200", "2013-05-06T02:12:52+02:00", false, false},
		{"2013-05-06T02:12:52+02:00", "2013-05-06T02:12:52+02:00", false, false},
		{"2013-05-06 02:12", "2013-05-06T02:12:00-07:00", false, false},
		{"Mon, 02 Jan 2006 15:04:05 -0700", "2006-01-02T15:04:05-07:00", false, false},
		{"2023-01-29 18:30:22 2023 -0800", "2023-01-29T18:30:22-08:00", true, false},
		{"2017-2-5", "2017-02-05T00:00:00-08:00", true, false},
		{"2020/01/05", "2020-01-05T00:00:00-08:00", false, false},
		{"Jan 5, 2020", "2020-01-05T00:00:00-08:00", false, false},
		{"5 January 2020", "2020-01-05T00:00:00-08:00", false, false},
		{"20200105", "2020-01-05T00:00:00-08:00", false, false},
		{"2020-01-05 10:00 PM", "2020-01-05T22:00:00-08:00", true, false},
		{"2020-01-05 12:30 am", "2020-01-05T00:30:00-08:00", true, false},
		{"2020-01-05 10:00:00 PST", "2020-01-05T10:00:00-08:00", true, false},
		{"2020-01-05 10:00:00 CEST", "2020-01-05T10:00:00+02:00", true, false},
		{"2020-01-05 13:00 PM", "", false, true},
		{"next tuesday", "", false, true},
		{"2023-02-30", "", false, true},
		{"2023-13-01 10:00", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, guessed, err := parseDate(tt.in, la)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !got.Equal(mustTime(t, tt.want)) {
				t.Errorf("got %s, want %s", got.Format(time.RFC3339), tt.want)
			}
			if guessed != tt.guessed {
				t.Errorf("got guessed=%v, want %v", guessed, tt.guessed)
			}
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestExpandPermalink(t *testing.T) {
	d := time.Date(2009, 3, 1, 14, 5, 9, 0, time.UTC)
	v := permalinkVars{date: d, slug: "Hello World!", name: "2009-03-01-Hello World!", categories: []string{"Foo", "bar", "foo"}, outputExt: ".html", collection: "posts"}
	tests := []struct {
		tmpl, want string
		wantErr    bool
	}{
		{"date", "/foo/bar/2009/03/01/Hello-World!.html", false},
		{"pretty", "/foo/bar/2009/03/01/Hello-World!/", false},
		{"ordinal", "/foo/bar/2009/060/Hello-World!.html", false},
		{"weekdate", "/foo/bar/2009/W09/Sun/Hello-World!.html", false},
		{"none", "/foo/bar/Hello-World!.html", false},
		{"/:year/:i_month/:i_day/:slug", "/2009/3/1/hello-world", false},
		{"/:short_year/:hour:minute:second/:title/", "/09/140509/Hello-World!/", false},
		{"/news/:title", "/news/Hello-World!", false},
		{"/%2e%2e/%2e%2e/x.html", "/x.html", false},
		{"/a/../../b/", "/a/b/", false}, // as Jekyll: ".." never climbs
		{"no-leading-slash", "/no-leading-slash", false},
		{"/:nope/", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			got, err := expandPermalink(tt.tmpl, v)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTitleFromSlug(t *testing.T) {
	for _, tt := range []struct{ in, want string }{{"no-yaml", "No Yaml"}, {"étude-ölçü", "Étude Ölçü"}, {"a--b", "A  B"}} {
		if got := titleFromSlug(tt.in); got != tt.want {
			t.Errorf("titleFromSlug(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSlugify(t *testing.T) {
	tests := []struct {
		in            string
		pretty, cased bool
		want          string
	}{
		{"escape-+ %20[]", true, true, "escape-+-20"},
		{"hash-#1", true, true, "hash-1"},
		{"special-chars-(+)", true, true, "special-chars-(+)"},
		{"Café au Lait", false, false, "café-au-lait"},
		{"  --a--  ", false, false, "a"},
	}
	for _, tt := range tests {
		if got := slugify(tt.in, tt.pretty, tt.cased); got != tt.want {
			t.Errorf("slugify(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPlainTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Plain", "Plain"},
		{"A *new* post", "A new post"},
		{"Foo --- Bar", "Foo — Bar"},
		{"Tom &amp; Jerry", "Tom & Jerry"},
		{"AT&T", "AT&T"},
		{"<b>bold</b>   and\n\tspaced", "bold and spaced"},
		{"&amp;lt; once", "&lt; once"},
		{"`code` and [link](https://x.y)", "code and link"},
		{"bell\x07", "bell"},
		{"1. Introduction", "1. Introduction"},
		{"# Not a heading", "# Not a heading"},
		{"- dash leading", "- dash leading"},
		{"***", "***"},
		{"Tom's \"x\"...", "Tom’s “x”…"},
	}
	for _, tt := range tests {
		if got := plainTitle(tt.in); got != tt.want {
			t.Errorf("plainTitle(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAbsolutize(t *testing.T) {
	base, _ := url.Parse("https://blog.example.com/2020/05/10/post.html")
	tests := []struct{ in, want string }{
		{`<a href="/about/">x</a>`, `<a href="https://blog.example.com/about/">x</a>`},
		{`<img src="pic.png" alt="a">`, `<img src="https://blog.example.com/2020/05/10/pic.png" alt="a">`},
		{`<img srcset="a.png 1x, /b.png 2x">`, `<img srcset="https://blog.example.com/2020/05/10/a.png 1x, https://blog.example.com/b.png 2x">`},
		{`<a href="#fn1">1</a>`, `<a href="https://blog.example.com/2020/05/10/post.html#fn1">1</a>`},
		{`<sup id="fnref:1"><a href="#fn:1" class="footnote">1</a></sup>`, `<sup id="fnref:1"><a href="https://blog.example.com/2020/05/10/post.html#fn:1" class="footnote">1</a></sup>`},
		{`<a href="#">top</a>`, `<a href="https://blog.example.com/2020/05/10/post.html">top</a>`},
		{`<a href="https://other.org/x">x</a>`, `<a href="https://other.org/x">x</a>`},
		{`<a href="mailto:a@b.c">m</a>`, `<a href="mailto:a@b.c">m</a>`},
		{`<p>no = urls</p>`, `<p>no = urls</p>`},
	}
	for _, tt := range tests {
		if got := absolutize(tt.in, base); got != tt.want {
			t.Errorf("absolutize(%q):\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestSplitFrontMatter(t *testing.T) {
	tests := []struct {
		name, in, block, body string
		ok                    bool
		bodyLine              int
	}{
		{"yaml", "---\na: 1\n---\nbody\n", "a: 1\n", "body\n", true, 4},
		{"dots", "---\na: 1\n...\nbody", "a: 1\n", "body", true, 4},
		{"crlf", "---\r\na: 1\r\n---\r\nbody", "a: 1\r\n", "body", true, 4},
		{"empty", "---\n---\nbody", "", "body", true, 3},
		{"toml", "+++\na = 1\n+++\nbody", "a = 1\n", "body", true, 4},
		{"none", "body\n---\n", "", "body\n---\n", false, 1},
		{"unclosed", "---\na: 1\n", "", "---\na: 1\n", false, 1},
		{"bom", "\xef\xbb\xbf---\na: 1\n---\nbody", "a: 1\n", "body", true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block, _, body, line, ok := splitFrontMatter([]byte(tt.in))
			if string(block) != tt.block || string(body) != tt.body || ok != tt.ok || line != tt.bodyLine {
				t.Errorf("got (%q, %q, line %d, %v), want (%q, %q, line %d, %v)", block, body, line, ok, tt.block, tt.body, tt.bodyLine, tt.ok)
			}
		})
	}
}

func TestFrontMatterErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
	}{
		{"bad yaml", "---\ntitle: ok\ntags: [a, b\n---\n", 3},
		{"a list", "---\n- a\n- b\n---\n", 2},
		{"tab indent", "---\na:\n\t- b\n---\n", 3},
		{"bad toml", "+++\ntitle = \n+++\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseFrontMatter("_posts/x.md", []byte(tt.in), DefaultMaxFrontMatterBytes)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *posts.Error", err)
			}
			if e.File != "_posts/x.md" || e.Line != tt.line {
				t.Errorf("got %s:%d, want _posts/x.md:%d (%v)", e.File, e.Line, tt.line, err)
			}
		})
	}
}

// FuzzFrontMatter: any file gives a clean error naming the file, or front matter and a body that is a
// suffix of the input.
func FuzzFrontMatter(f *testing.F) {
	for _, s := range []string{"---\ntitle: x\n---\nbody", "+++\ntitle = 'x'\n+++\n", "---\n: :\n---", "---\n&a [*a]\n---\n", "---\r\n---\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		fm, body, err := parseFrontMatter("f.md", src, DefaultMaxFrontMatterBytes)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != "f.md" || e.Line < 0 {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		if fm.data == nil {
			t.Fatal("nil data")
		}
		if !strings.HasSuffix(string(src), string(body)) {
			t.Fatalf("body %q is not the end of the input", body)
		}
		if fm.bodyLine < 1 {
			t.Fatalf("body line %d", fm.bodyLine)
		}
	})
}

// makeSite makes a Jekyll site from a map of file names to contents.
func makeSite(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loadIDs(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	files["_config.yml"] = "url: https://ex.org\ntimezone: Europe/Berlin\n"
	s, err := Load(t.Context(), Options{Dir: makeSite(t, files), Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, p := range s.Posts {
		ids[p.Path] = p.ID
	}
	return ids
}

// TestIDsStable: editing a post's title, permalink, date or last_modified_at keeps its id; the same slug on
// another day, or in another category folder, is another post.
func TestIDsStable(t *testing.T) {
	before := loadIDs(t, map[string]string{
		"_posts/2020-01-02-a.md":      "---\ntitle: One\n---\nx",
		"_posts/2021-01-02-a.md":      "---\ntitle: One again\n---\nx",
		"news/_posts/2020-01-02-a.md": "---\ntitle: One in news\n---\nx",
		"_posts/2020-01-03-b.md":      "---\ntitle: B\nid: my-own-id\n---\nx",
	})
	after := loadIDs(t, map[string]string{
		"_posts/2020-01-02-a.md":      "---\ntitle: Renamed\npermalink: /elsewhere/\ndate: 2020-01-05 10:00\nlast_modified_at: 2024-01-01\n---\ny",
		"_posts/2021-01-02-a.md":      "---\ntitle: One again\n---\nx",
		"news/_posts/2020-01-02-a.md": "---\ntitle: One in news\ncategories: [x]\n---\nx",
		"_posts/2020-01-03-b.md":      "---\ntitle: B2\nid: my-own-id\n---\nx",
	})
	want := map[string]string{
		"_posts/2020-01-02-a.md":      "tag:ex.org,2020-01-02:a",
		"_posts/2021-01-02-a.md":      "tag:ex.org,2021-01-02:a",
		"news/_posts/2020-01-02-a.md": "tag:ex.org,2020-01-02:news/a",
		"_posts/2020-01-03-b.md":      "my-own-id",
	}
	for path, id := range want {
		if before[path] != id || after[path] != id {
			t.Errorf("%s: got ids %q before and %q after the edit, want %q", path, before[path], after[path], id)
		}
	}
}

func TestJekyllPostSet(t *testing.T) {
	dir := makeSite(t, map[string]string{
		"_config.yml":                    "url: https://ex.org\nbaseurl: /blog\npermalink: pretty\n",
		"_posts/2020-01-02-a.md":         "---\ntitle: A\n---\nx",
		"_posts/2020-01-03-off.md":       "---\npublished: false\n---\nx",
		"_posts/2020-01-04-data.yml":     "title: not a post\n",
		"_posts/notes.md":                "no date, not a post",
		"_posts/2020-1-5-nopad.markdown": "no front matter",
		"_posts/sub/2020-01-06-deep.md":  "---\n---\ndeep",
		"_drafts/draft.md":               "---\ntitle: D\n---\nx",
		"_site/_posts/2020-01-07-out.md": "generated output is not a source",
		"_layouts/2020-01-08-x.md":       "not a post",
		"_posts/2099-01-01-future.md":    "---\n---\nlater",
	})
	s, err := Load(t.Context(), Options{Dir: dir, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range s.Posts {
		got = append(got, p.URL)
	}
	want := "https://ex.org/blog/2020/01/06/deep/ https://ex.org/blog/2020/01/05/nopad/ https://ex.org/blog/2020/01/02/a/"
	if strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}
	if s.Posts[1].Title != "Nopad" {
		t.Errorf("a post without front matter: got title %q, want Nopad", s.Posts[1].Title)
	}
}

func TestRenderSummaryAndExcerpt(t *testing.T) {
	dir := makeSite(t, map[string]string{
		"_config.yml":                "url: https://ex.org\n",
		"_posts/2020-01-01-first.md": "First *para*.\n\nSecond.\n",
		"_posts/2020-01-02-more.md":  "Intro.\n\nStill intro.\n<!--more-->\nRest.\n",
		"_posts/2020-01-03-desc.md":  "---\ndescription: From front matter.\n---\nBody.\n",
		"_posts/2020-01-04-sep.md":   "---\nexcerpt_separator: <!--cut-->\nexcerpt_only: true\n---\nTop [ref][r].\n<!--cut-->\nHidden.\n\n[r]: /x/\n",
		"_posts/2020-01-05-none.md":  "# Only a heading\n",
	})
	s, err := Load(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Render(t.Context(), s.Posts); err != nil {
		t.Fatal(err)
	}
	got := map[string]*Post{}
	for _, p := range s.Posts {
		got[filepath.Base(p.Path)] = p
	}
	tests := []struct{ file, summary string }{
		{"2020-01-01-first.md", "First para."},
		{"2020-01-02-more.md", "Intro. Still intro."},
		{"2020-01-03-desc.md", "From front matter."},
		{"2020-01-04-sep.md", "Top ref."},
		{"2020-01-05-none.md", ""},
	}
	for _, tt := range tests {
		p := got[tt.file]
		if p.Summary != tt.summary {
			t.Errorf("%s: got summary %q, want %q", tt.file, p.Summary, tt.summary)
		}
		if tt.summary == "" && p.SummaryHTML != "" {
			t.Errorf("%s: empty summary has HTML %q", tt.file, p.SummaryHTML)
		}
	}
	sep := got["2020-01-04-sep.md"]
	if strings.Contains(sep.ContentHTML, "Hidden") || !strings.Contains(sep.ContentHTML, `href="https://ex.org/x/"`) {
		t.Errorf("excerpt_only content: %s", sep.ContentHTML)
	}
}

// TestLoadSite: LoadSite reads the site's settings without its posts, so a broken post, which stops
// Load, does not stop it.
func TestLoadSite(t *testing.T) {
	for _, kind := range []string{"jekyll", "hugo", "plain"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, data string) {
				t.Helper()
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			opts := Options{Dir: dir}
			broken := "---\ntitle: [unclosed\n---\nBody\n"
			switch kind {
			case "jekyll":
				write("_config.yml", "title: My Blog\nurl: https://blog.example.com\nlang: fr\n")
				write("_posts/2020-01-01-broken.md", broken)
			case "hugo":
				write("hugo.toml", "title = 'My Blog'\nbaseURL = 'https://blog.example.com/'\nlanguageCode = 'fr'\n")
				write("content/posts/broken.md", broken)
			case "plain":
				opts = Options{Dir: dir, PostsDir: "posts", Title: "My Blog", URL: "https://blog.example.com", Lang: "fr"}
				write("posts/broken.md", broken)
			}
			if _, err := Load(t.Context(), opts); err == nil {
				t.Fatalf("Load took the broken post")
			}
			s, err := LoadSite(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if s.Title != "My Blog" || s.URL != "https://blog.example.com" || s.Lang != "fr" || s.Dir != dir || len(s.Posts) != 0 {
				t.Errorf("got %q %q %q %q, %d posts", s.Title, s.URL, s.Lang, s.Dir, len(s.Posts))
			}
		})
	}
}

// TestJekyllCollections: _config.yml's collections may be a map of settings or a list of names; only the
// map's posts.permalink sets the posts' permalinks.
func TestJekyllCollections(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"list", "collections:\n  - recipes\n", "https://ex.org/2024/01/02/a.html"},
		{"flow list", "collections: [recipes, posts]\n", "https://ex.org/2024/01/02/a.html"},
		{"map without posts", "collections:\n  recipes:\n    output: true\n", "https://ex.org/2024/01/02/a.html"},
		{"empty posts", "collections:\n  posts:\n", "https://ex.org/2024/01/02/a.html"},
		{"posts permalink", "collections:\n  posts:\n    permalink: /p/:title/\n", "https://ex.org/p/a/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeSite(t, map[string]string{
				"_config.yml":            "url: https://ex.org\n" + tt.config,
				"_posts/2024-01-02-a.md": "---\ntitle: A\n---\nx\n",
			})
			s, err := Load(t.Context(), Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Render(t.Context(), s.Posts); err != nil {
				t.Fatal(err)
			}
			if got := s.Posts[0].URL; got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEnclosureLength(t *testing.T) {
	tests := []struct {
		name, length string
		want         int64
		warn         string // the length as the warning shows it; "" for no warning
	}{
		{"bytes", "12345", 12345, ""},
		{"zero", "0", 0, ""},
		{"negative", "-5", 0, "-5"},
		{"too big for int64", `"99999999999999999999"`, 0, "99999999999999999999"},
		{"too big, read by YAML as a float", "99999999999999999999", 0, "1e+20"},
		{"not a number", "12 MB", 0, "12 MB"},
		{"fraction", "1.5", 0, "1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeSite(t, map[string]string{
				"_config.yml":            "url: https://ex.org\n",
				"_posts/2024-01-01-a.md": "---\ntitle: A\nenclosure: {url: /a.mp3, type: audio/mpeg, length: " + tt.length + "}\n---\nx\n",
			})
			s, err := Load(t.Context(), Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Posts[0].Enclosure.Length; got != tt.want {
				t.Errorf("got length %d, want %d", got, tt.want)
			}
			var want []string
			if tt.warn != "" {
				want = []string{"_posts/2024-01-01-a.md:3: enclosure length \"" + tt.warn + "\" is not a number of bytes; written as 0"}
			}
			var got []string
			for _, w := range s.Warnings {
				got = append(got, w.String())
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got warnings %q, want %q", got, want)
			}
		})
	}
}

// TestNotUTF8: a post file that is not UTF-8 stops the build with its file, the line of the first bad byte
// and what to do, whatever the kind of site; a UTF-8 byte order mark is fine.
func TestNotUTF8(t *testing.T) {
	utf16le := "\xff\xfe" + strings.Join(strings.Split("---\ntitle: Wide\n---\nHello\n", ""), "\x00") + "\x00"
	utf16be := "\xfe\xff\x00" + strings.Join(strings.Split("---\ntitle: Wide\n---\nHello\n", ""), "\x00")
	const save = "; save it as UTF-8"
	const latin1 = " is not UTF-8 (the file is perhaps Latin-1 or Windows-1252)" + save
	tests := []struct {
		name, kind, file, content string
		want                      string // the error; "" for none
	}{
		{"UTF-16 little endian", "jekyll", "_posts/2024-01-01-a.md", utf16le, "_posts/2024-01-01-a.md:1: the file is UTF-16 (it starts with a UTF-16 byte order mark)" + save},
		{"UTF-16 big endian", "jekyll", "_posts/2024-01-01-a.md", utf16be, "_posts/2024-01-01-a.md:1: the file is UTF-16 (it starts with a UTF-16 byte order mark)" + save},
		{"Latin-1 in the body", "jekyll", "_posts/2024-01-01-a.md", "---\ntitle: Cafe\n---\nCaf\xe9 cr\xe8me\n", "_posts/2024-01-01-a.md:4: byte 0xE9" + latin1},
		{"Latin-1 after a UTF-8 BOM", "jekyll", "_posts/2024-01-01-a.md", "\xef\xbb\xbf---\ntitle: Caf\xe9\n---\nx\n", "_posts/2024-01-01-a.md:2: byte 0xE9" + latin1},
		{"cut short at the end", "jekyll", "_posts/2024-01-01-a.md", "---\ntitle: A\n---\nx\n\xc3", "_posts/2024-01-01-a.md:5: byte 0xC3" + latin1},
		{"UTF-8 with a BOM", "jekyll", "_posts/2024-01-01-a.md", "\xef\xbb\xbf---\ntitle: Café\n---\nx\n", ""},
		{"plain folder", "plain", "notes/2024-01-01-a.md", "---\ntitle: A\n---\n\x93quoted\x94\n", "notes/2024-01-01-a.md:4: byte 0x93" + latin1},
		{"hugo", "hugo", "content/posts/a.md", "---\ntitle: A\ndate: 2024-01-01\n---\n\xa9 me\n", "content/posts/a.md:5: byte 0xA9" + latin1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeSite(t, map[string]string{tt.file: tt.content})
			opts := Options{Dir: dir, Kind: tt.kind, URL: "https://ex.org"}
			if tt.kind == "plain" {
				opts.PostsDir = "notes"
			}
			s, err := Load(t.Context(), opts)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(s.Posts) != 1 || s.Posts[0].Title != "Café" {
					t.Errorf("got %d posts, want one titled Café", len(s.Posts))
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("got error %v, want %s", err, tt.want)
			}
		})
	}
}

// TestPlainPostsDirSpelling: however posts_dir spells the folder, a post keeps its id and its URL (a
// changed id would make every post look new).
func TestPlainPostsDirSpelling(t *testing.T) {
	dir := makeSite(t, map[string]string{
		"site/content/posts/2024-01-02-a.md":       "---\ntitle: A\n---\nx\n",
		"site/content/posts/notes/2024-02-03-b.md": "---\ntitle: B\npermalink: /n/:path/\n---\ny\n",
		"site/2024-03-04-c.md":                     "---\ntitle: C\n---\nz\n",
	})
	site := filepath.Join(dir, "site")
	inPosts := []string{
		"tag:ex.org,2024-02-03:notes/2024-02-03-b https://ex.org/n/notes/2024-02-03-b/",
		"tag:ex.org,2024-01-02:2024-01-02-a https://ex.org/a/",
	}
	inSite := []string{
		"tag:ex.org,2024-03-04:2024-03-04-c https://ex.org/c/",
		"tag:ex.org,2024-02-03:content/posts/notes/2024-02-03-b https://ex.org/n/content/posts/notes/2024-02-03-b/",
		"tag:ex.org,2024-01-02:content/posts/2024-01-02-a https://ex.org/a/",
	}
	tests := []struct {
		postsDir string
		want     []string
	}{
		{"content/posts", inPosts},
		{"./content/posts", inPosts},
		{"content/posts/", inPosts},
		{"content//posts", inPosts},
		{"content/posts/.", inPosts},
		{"./content/../content/posts/", inPosts},
		{".", inSite},
		{"./", inSite},
		{"../site", inSite},
	}
	for _, tt := range tests {
		t.Run(tt.postsDir, func(t *testing.T) {
			s, err := Load(t.Context(), Options{Dir: site, Kind: "plain", PostsDir: tt.postsDir, URL: "https://ex.org"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range s.Posts {
				got = append(got, p.ID+" "+p.URL)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
	// A folder around the site's: the posts inside the site are in it too, under the site's name.
	s, err := Load(t.Context(), Options{Dir: site, Kind: "plain", PostsDir: "..", URL: "https://ex.org"})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, p := range s.Posts {
		ids[p.ID] = true
	}
	if !ids["tag:ex.org,2024-03-04:site/2024-03-04-c"] || len(ids) != 3 {
		t.Errorf("posts_dir ..: got ids %v", ids)
	}
}
