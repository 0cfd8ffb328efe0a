package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/mmcdole/gofeed"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixtures holds the real sites the tests build (see its README.md), in the repository's top-level testdata.
const fixtures = "../../testdata/fixtures"

// testEnv is the environment of a test run: a fixed clock, so that "future" means the same every day.
// Under HERALD_TEST_STORE=postgres it also names the PostgreSQL store of the site the test made (see
// testStore), unless the test names a store itself.
func testEnv(extra ...string) func(string) string {
	env := map[string]string{"SOURCE_DATE_EPOCH": "1795000000"} // 2026-11-18
	if testStore != "" {
		env["HERALD_STORE"] = testStore
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return func(k string) string { return env[k] }
}

// testStore is, when HERALD_TEST_STORE=postgres, a new PostgreSQL database for the site the running test
// made last with copySite, which testEnv gives Herald as HERALD_STORE: so the command tests run against
// the PostgreSQL store as they do against the SQLite file (.ci/run runs them both ways). It relies on the
// tests running one at a time, as none of them is parallel. Tests about the SQLite file itself call
// sqliteOnly.
var testStore string

// onPostgres says whether the tests run against PostgreSQL stores (HERALD_TEST_STORE=postgres).
func onPostgres() bool { return os.Getenv("HERALD_TEST_STORE") == "postgres" }

// openTestStore opens the store of the site in dir as Herald finds it: testStore, or the default file.
func openTestStore(t *testing.T, dir string) (store.Store, error) {
	t.Helper()
	if testStore != "" {
		return store.Open(t.Context(), testStore)
	}
	return store.Open(t.Context(), filepath.Join(dir, ".herald", "state.db"))
}

// sqliteOnly skips a test about the SQLite store's files when the tests run against PostgreSQL: it runs
// in the SQLite pass of the same suite.
func sqliteOnly(t *testing.T) {
	t.Helper()
	if onPostgres() {
		t.Skip("about the SQLite store's file: runs in the suite's SQLite pass")
	}
}

// copySite copies a fixture site into a temp folder the test may write to.
func copySite(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(fixtures, name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if onPostgres() {
		testStore = pg.DB(t)
		t.Cleanup(func() { testStore = "" })
	}
	return dst
}

func runHerald(t *testing.T, env func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = run(t.Context(), args, env, &o, &e)
	return o.String(), e.String(), err
}

// TestBuildFixtures builds every fixture site, compares the feeds with golden files, reads them back with a
// real feed parser, and checks the item set, links, dates and titles against what Jekyll itself wrote for
// the same posts (fixtures/reference, from jekyll-feed with every post listed).
func TestBuildFixtures(t *testing.T) {
	for _, name := range []string{"seed-jekyll", "jekyll-docs", "jekyll-edge"} {
		t.Run(name, func(t *testing.T) {
			dir := copySite(t, name)
			out, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--limit", "0")
			if err != nil {
				t.Fatalf("herald build: %v", err)
			}
			for _, f := range []string{"feed.xml", "atom.xml", "feed.json"} {
				if !strings.Contains(out, "wrote _site/"+f) {
					t.Errorf("output does not say it wrote %s:\n%s", f, out)
				}
				golden(t, filepath.Join("testdata", "golden", name, f), filepath.Join(dir, "_site", f))
			}
			ref := readReference(t, filepath.Join(fixtures, "reference", name+".jekyll-feed.xml"))
			for _, f := range []string{"feed.xml", "atom.xml", "feed.json"} {
				got := parseFeed(t, filepath.Join(dir, "_site", f))
				compareWithJekyll(t, f, got, ref)
			}
		})
	}
}

func golden(t *testing.T, goldenPath, gotPath string) {
	t.Helper()
	got, err := os.ReadFile(gotPath)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/herald -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s; review the difference and run go test ./cmd/herald -update if it is right", gotPath, goldenPath)
	}
}

type refItem struct {
	link, title string
	published   time.Time
}

// readReference reads the entries of a jekyll-feed Atom file.
func readReference(t *testing.T, path string) map[string]refItem {
	t.Helper()
	f := parseFeed(t, path)
	out := map[string]refItem{}
	for _, it := range f.Items {
		out[it.Link] = refItem{it.Link, it.Title, *it.PublishedParsed}
	}
	return out
}

func parseFeed(t *testing.T, path string) *gofeed.Feed {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gofeed.NewParser().ParseString(string(b))
	if err != nil {
		t.Fatalf("gofeed cannot parse %s: %v", path, err)
	}
	return f
}

func compareWithJekyll(t *testing.T, file string, got *gofeed.Feed, ref map[string]refItem) {
	t.Helper()
	if len(got.Items) != len(ref) {
		t.Errorf("%s: got %d items, Jekyll has %d", file, len(got.Items), len(ref))
	}
	ids := map[string]bool{}
	var prev time.Time
	for i, it := range got.Items {
		if ids[it.GUID] {
			t.Errorf("%s: id %q appears twice", file, it.GUID)
		}
		ids[it.GUID] = true
		if it.GUID == "" || it.Content == "" && it.Description == "" {
			t.Errorf("%s: item %d (%s) has no id or no content", file, i, it.Link)
		}
		if it.PublishedParsed == nil {
			t.Errorf("%s: item %s has no date", file, it.Link)
			continue
		}
		if i > 0 && it.PublishedParsed.After(prev) {
			t.Errorf("%s: item %s is newer than the one before it", file, it.Link)
		}
		prev = *it.PublishedParsed
		r, ok := ref[it.Link]
		if !ok {
			t.Errorf("%s: link %s is not a page Jekyll generated", file, it.Link)
			continue
		}
		if !it.PublishedParsed.Equal(r.published) {
			t.Errorf("%s: %s: got date %s, Jekyll has %s", file, it.Link, it.PublishedParsed, r.published)
		}
		// jekyll-feed writes titles as HTML; Herald's are plain text with entities decoded once.
		if want := html.UnescapeString(r.title); it.Title != want && it.Title != html.UnescapeString(want) {
			t.Errorf("%s: %s: got title %q, Jekyll has %q", file, it.Link, it.Title, want)
		}
		for _, u := range urlsIn(it.Content) {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "mailto:") && !strings.HasPrefix(u, "#") {
				t.Errorf("%s: %s: content has a relative URL %q", file, it.Link, u)
			}
		}
	}
}

var attrURL = regexp.MustCompile(`(?i)\s(?:href|src)="([^"]*)"|\ssrcset="([^"]*)"`)

func urlsIn(h string) []string {
	var out []string
	for _, m := range attrURL.FindAllStringSubmatch(h, -1) {
		if m[1] != "" {
			out = append(out, html.UnescapeString(m[1]))
		}
		for _, c := range strings.Split(m[2], ",") {
			if f := strings.Fields(c); len(f) > 0 {
				out = append(out, html.UnescapeString(f[0]))
			}
		}
	}
	return out
}

// TestBuildTwiceRewritesNothing: the same input gives the same bytes, and unchanged files are not rewritten.
func TestBuildTwiceRewritesNothing(t *testing.T) {
	dir := copySite(t, "jekyll-docs")
	out, _, err := runHerald(t, testEnv(), "build", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("first build printed %d lines, want 3:\n%s", n, out)
	}
	stat := func() map[string]time.Time {
		m := map[string]time.Time{}
		for _, f := range []string{"feed.xml", "atom.xml", "feed.json"} {
			fi, err := os.Stat(filepath.Join(dir, "_site", f))
			if err != nil {
				t.Fatal(err)
			}
			m[f] = fi.ModTime()
		}
		return m
	}
	before := stat()
	time.Sleep(10 * time.Millisecond)
	out, _, err = runHerald(t, testEnv(), "build", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Errorf("second build printed %q, want nothing: no file changed", out)
	}
	after := stat()
	for f, m := range before {
		if !after[f].Equal(m) {
			t.Errorf("%s was rewritten by a build that changed nothing", f)
		}
	}
}

// TestBuildNewPost: adding a post puts it at the top of every feed and rewrites the files.
func TestBuildNewPost(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil {
		t.Fatal(err)
	}
	post := "---\ntitle: \"A *new* post & more\"\nimage: /img/a.png\n---\nSee [the archive](/archive/) and ![x](pic.png).\n"
	if err := os.WriteFile(filepath.Join(dir, "_posts", "2021-01-02-new.md"), []byte(post), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runHerald(t, testEnv(), "build", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "wrote "); n != 3 {
		t.Errorf("got %d files written, want 3:\n%s", n, out)
	}
	var jf struct {
		Items []struct {
			ID, URL, Title, Image string
			ContentHTML           string `json:"content_html"`
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "_site", "feed.json"))
	if err := json.Unmarshal(b, &jf); err != nil {
		t.Fatal(err)
	}
	if len(jf.Items) != 2 {
		t.Fatalf("got %d items, want 2", len(jf.Items))
	}
	it := jf.Items[0]
	for _, c := range []struct{ name, got, want string }{
		{"id", it.ID, "tag:blog.example.com,2021-01-02:new"},
		{"url", it.URL, "https://blog.example.com/2021/01/02/new.html"},
		{"title", it.Title, "A new post & more"},
		{"image", it.Image, "https://blog.example.com/img/a.png"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	for _, want := range []string{`href="https://blog.example.com/archive/"`, `src="https://blog.example.com/2021/01/02/pic.png"`} {
		if !strings.Contains(it.ContentHTML, want) {
			t.Errorf("content lacks %s: %s", want, it.ContentHTML)
		}
	}
}

// TestBuildErrors: bad input stops the build with a message naming the file and line, and writes nothing.
func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		want    string
	}{
		{"broken front matter", "_posts/2021-01-01-bad.md", "---\ntitle: [unclosed\n---\nbody\n", "_posts/2021-01-01-bad.md:2: front matter is not valid YAML"},
		{"unreadable date", "_posts/2021-01-01-bad.md", "---\ntitle: x\ndate: next tuesday\n---\nbody\n", "_posts/2021-01-01-bad.md:3: date: cannot read date"},
		{"unknown placeholder", "_posts/2021-01-01-bad.md", "---\npermalink: /:nope/\n---\nbody\n", "_posts/2021-01-01-bad.md:2: unknown permalink placeholder :nope"},
		{"duplicate id", "_posts/2021-01-01-bad.md", "---\nid: tag:blog.example.com,2020-05-10:failover-conf\n---\nbody\n", "_posts/2020-05-10-failover-conf.md and _posts/2021-01-01-bad.md have the same id"},
		{"unclosed front matter", "_posts/2021-01-01-bad.md", "---\ntitle: x\nbody\n", "_posts/2021-01-01-bad.md:1: front matter: opening --- has no closing line"},
		{"unknown herald.yaml key", "herald.yaml", "limit: 5\nlimmit: 3\n", "herald.yaml:2: unknown setting \"limmit\""},
		{"no url", "_config.yml", "title: x\n", "set url: https://your.site in _config.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copySite(t, "seed-jekyll")
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(tt.file)), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _, err := runHerald(t, testEnv(), "build", "-C", dir)
			if err == nil {
				t.Fatalf("build succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want it to contain %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("a failed build printed %q", out)
			}
			if _, err := os.Stat(filepath.Join(dir, "_site")); err == nil {
				t.Errorf("a failed build wrote _site")
			}
		})
	}
}

// TestBuildFutureAndDrafts: future posts and drafts are left out unless asked for.
func TestBuildFutureAndDrafts(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(dir, "_posts", "2099-01-01-later.md"), []byte("---\ntitle: Later\n---\nx\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "_drafts"), 0o755)
	os.WriteFile(filepath.Join(dir, "_drafts", "idea.md"), []byte("---\ntitle: Idea\n---\nx\n"), 0o644)
	titles := func(args ...string) []string {
		t.Helper()
		out := t.TempDir()
		if _, _, err := runHerald(t, testEnv(), append([]string{"build", "-C", dir, "--output", out}, args...)...); err != nil {
			t.Fatal(err)
		}
		var ts []string
		for _, it := range parseFeed(t, filepath.Join(out, "feed.json")).Items {
			ts = append(ts, it.Title)
		}
		sort.Strings(ts)
		return ts
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "Failover Conf"},
		{[]string{"--future"}, "Failover Conf|Later"},
		{[]string{"--drafts"}, "Failover Conf|Idea"},
	} {
		if got := strings.Join(titles(tt.args...), "|"); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestPrintLinks(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	out, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--print-links")
	if err != nil {
		t.Fatal(err)
	}
	want := `<link rel="alternate" type="application/rss+xml" title="Example Weblog" href="https://blog.example.com/feed.xml">`
	if !strings.Contains(out, want) {
		t.Errorf("got %q, want it to contain %q", out, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "_site")); err == nil {
		t.Errorf("--print-links wrote files")
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"build", "--nope"}, {"build", "extra"}} {
		_, _, err := runHerald(t, testEnv(), args...)
		var u errUsage
		if err == nil || !errorsAs(err, &u) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
}

func errorsAs(err error, target *errUsage) bool {
	u, ok := err.(errUsage)
	if ok {
		*target = u
	}
	return ok
}

// TestTermFeedsAndStylesheet: per-tag and per-category feeds land in safe folders, and the default
// stylesheet is written beside the feeds and referenced by them.
func TestTermFeedsAndStylesheet(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte("tag_feeds: true\ncategory_feeds: true\nstylesheet: default\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "_posts", "2021-01-02-x.md"),
		[]byte("---\ntitle: X\ntags: [\"../../etc\", \"Café Société\", \"SRE\"]\ncategories: news\n---\nx\n"), 0o644)
	out, _, err := runHerald(t, testEnv(), "build", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		file  string
		items int
	}{
		{"_site/tags/sre/feed.xml", 2},
		{"_site/tags/chaos-engineering/atom.xml", 1},
		{"_site/tags/etc/feed.json", 1},
		{"_site/tags/café-société/feed.xml", 1},
		{"_site/categories/news/feed.xml", 1},
	} {
		if !strings.Contains(out, "wrote "+want.file) {
			t.Errorf("output does not list %s:\n%s", want.file, out)
			continue
		}
		if n := len(parseFeed(t, filepath.Join(dir, want.file)).Items); n != want.items {
			t.Errorf("%s: got %d items, want %d", want.file, n, want.items)
		}
	}
	rss, _ := os.ReadFile(filepath.Join(dir, "_site", "tags", "sre", "feed.xml"))
	for _, want := range []string{`<?xml-stylesheet type="text/xsl" href="https://blog.example.com/feed.xsl"?>`,
		`<title>Example Weblog: SRE</title>`, `href="https://blog.example.com/tags/sre/feed.xml" rel="self"`} {
		if !strings.Contains(string(rss), want) {
			t.Errorf("tag feed lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "_site", "feed.xsl")); err != nil {
		t.Errorf("feed.xsl not written: %v", err)
	}
	// Nothing escaped the output folder.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if !d.IsDir() && strings.HasSuffix(p, ".xml") && !strings.HasPrefix(rel, "_site"+string(filepath.Separator)) {
			t.Errorf("a feed was written outside _site: %s", rel)
		}
		return nil
	})
}

// TestPlainFolder: a folder of Markdown files named in herald.yaml.
func TestPlainFolder(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"herald.yaml":           "kind: plain\nposts_dir: notes\nurl: https://notes.example.net/\ntitle: Notes\noutput: out\n",
		"notes/first.md":        "---\ntitle: First\ndate: 2024-05-01 09:00:00 +0200\n---\nHello.\n",
		"notes/2024-06-01-b.md": "---\ntitle: Second\npermalink: /b/\n---\nWorld.\n",
		"notes/drafty.md":       "---\ntitle: Draft\ndate: 2024-07-01\ndraft: true\n---\nNot yet.\n",
		"notes/sub/third.md":    "---\ntitle: Third\ndate: 2024-04-01\n---\nDeep.\n",
		"notes/README.txt":      "not markdown",
	}
	for name, c := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(c), 0o644)
	}
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil {
		t.Fatal(err)
	}
	f := parseFeed(t, filepath.Join(dir, "out", "feed.json"))
	var got []string
	for _, it := range f.Items {
		got = append(got, it.Title+" "+it.Link+" "+it.GUID)
	}
	want := []string{
		"Second https://notes.example.net/b/ tag:notes.example.net,2024-06-01:2024-06-01-b",
		"First https://notes.example.net/first/ tag:notes.example.net,2024-05-01:first",
		"Third https://notes.example.net/third/ tag:notes.example.net,2024-04-01:sub/third",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A post without a date is an error naming it.
	os.WriteFile(filepath.Join(dir, "notes", "undated.md"), []byte("---\ntitle: U\n---\nx\n"), 0o644)
	_, _, err := runHerald(t, testEnv(), "build", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "notes/undated.md:1: no date") {
		t.Errorf("got %v, want an error naming notes/undated.md", err)
	}
}

// TestConfigErrors: a broken site config names the file and line, and is not called front matter.
func TestConfigErrors(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(dir, "_config.yml"), []byte("title: x\nurl: https://a.b\nauthor: [x\n"), 0o644)
	_, _, err := runHerald(t, testEnv(), "build", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "_config.yml:3: not valid YAML") {
		t.Errorf("got %v, want _config.yml:3: not valid YAML", err)
	}
}
