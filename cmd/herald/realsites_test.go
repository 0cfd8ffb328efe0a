package main

import (
	"html"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/feedcheck"
	"github.com/mmcdole/gofeed"
)

// sitesDir holds small sites written to reproduce what real blogs do (see its README.md); the generators'
// own builds of them are what Herald's feeds are compared with.
const sitesDir = "../../testdata/sites"

// copyTestSite copies a site of sitesDir into a temp folder the test may write to; under
// HERALD_TEST_STORE=postgres the site's store is a new PostgreSQL database, as copySite's are.
func copyTestSite(t *testing.T, name string) string {
	t.Helper()
	dir := copyDir(t, filepath.Join(sitesDir, name))
	if onPostgres() {
		testStore = pg.DB(t)
		t.Cleanup(func() { testStore = "" })
	}
	return dir
}

// generatorEnv is the environment a site generator runs in: none of the test's variables (Hugo reads
// HUGO_*, Jekyll JEKYLL_ENV), a home of its own, and UTF-8, which Ruby needs to read the posts.
func generatorEnv(t *testing.T) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
}

// hugoBuild builds the Hugo site in dir with Hugo itself, into a temp folder it returns.
func hugoBuild(t *testing.T, dir string) string {
	t.Helper()
	hugo := needTool(t, "hugo", "apt-get install hugo")
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), hugo, "--quiet", "--source", dir, "--destination", out)
	cmd.Env = generatorEnv(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hugo: %v\n%s", err, b)
	}
	return out
}

// feedLinks are the item links of a feed file, sorted.
func feedLinks(t *testing.T, path string) []string {
	t.Helper()
	var l []string
	for _, it := range parseFeed(t, path).Items {
		l = append(l, it.Link)
	}
	slices.Sort(l)
	return l
}

// builtPages are the pages a generator wrote into out that its layout marks as posts (an <article>), by
// URL under base: a folder's index.html is the folder's URL. Each maps to the article's HTML.
func builtPages(t *testing.T, out, base string) map[string]string {
	t.Helper()
	pages := map[string]string{}
	err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".html" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m := articleRE.FindSubmatch(b)
		if m == nil {
			return nil
		}
		rel, _ := filepath.Rel(out, p)
		rel = strings.TrimSuffix(filepath.ToSlash(rel), "index.html")
		// A page's URL is its path percent-encoded, as Jekyll and Hugo write links to it.
		pages[strings.TrimSuffix(base, "/")+(&url.URL{Path: "/" + rel}).EscapedPath()] = string(m[1])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

var articleRE = regexp.MustCompile(`(?s)<article>(.*)</article>`)

// sortedKeys are m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// hugoGaps are what Hugo writes on testdata/sites/hugo-shortcodes that Herald's content still lacks. The
// test fails when one of them is gone, so that the list only shrinks.
var hugoGaps = map[string]string{}

// TestHugoShortcodesAgainstHugo builds testdata/sites/hugo-shortcodes (Hugo's built-in shortcodes that
// embed media and code, in every spacing) with Hugo and with Herald: Herald's three feeds link to exactly
// the posts of Hugo's own posts feed, and each post's content links to every video, gist and post Hugo
// embedded, to every link and image Hugo wrote (made absolute), and has its code blocks, with no
// shortcode, iframe or script left.
func TestHugoShortcodesAgainstHugo(t *testing.T) {
	dir := copyTestSite(t, "hugo-shortcodes")
	out := hugoBuild(t, dir)
	if _, errOut, err := runHerald(t, testEnv(), "build", "-C", dir, "--limit", "0"); err != nil {
		t.Fatalf("herald build: %v\n%s", err, errOut)
	}
	want := feedLinks(t, filepath.Join(out, "posts", "index.xml"))
	if len(want) != 4 {
		t.Fatalf("Hugo's posts feed has %d items, want the site's 4: %v", len(want), want)
	}
	for _, f := range []string{"feed.xml", "atom.xml", "feed.json"} {
		if got := feedLinks(t, filepath.Join(dir, "public", f)); !slices.Equal(got, want) {
			t.Errorf("%s: Herald's links %v, Hugo's %v", f, got, want)
		}
	}

	pages := builtPages(t, out, "https://shortcodes.example.org/")
	gaps := map[string]bool{}
	for _, it := range parseFeed(t, filepath.Join(dir, "public", "atom.xml")).Items {
		page, content := pages[it.Link], it.Content
		if page == "" {
			t.Errorf("%s: Hugo wrote no page there", it.Link)
			continue
		}
		for _, bad := range []string{"{{", "<iframe", "<script", "&lt;script"} {
			if strings.Contains(content, bad) {
				t.Errorf("%s: content holds %q:\n%s", it.Link, bad, content)
			}
		}
		hrefs := strings.Join(urlsIn(content), "\n")
		for _, m := range embedRE.FindAllStringSubmatch(page, -1) {
			if !strings.Contains(hrefs, m[2]) {
				t.Errorf("%s: Hugo embedded %s, Herald's content does not link to it:\n%s", it.Link, m[1], content)
			}
		}
		for _, u := range urlsIn(page) {
			abs, err := url.Parse(it.Link)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := url.Parse(u)
			if err != nil || strings.HasPrefix(u, "#") || strings.Contains(u, "//www.youtube.com/embed/") ||
				strings.Contains(u, "//player.vimeo.com/") || strings.Contains(u, "//gist.github.com/") {
				continue // the embeds, checked above
			}
			if r := abs.ResolveReference(ref).String(); !strings.Contains(hrefs, r) {
				t.Errorf("%s: Hugo's page has %s, Herald's content does not:\n%s", it.Link, r, content)
			}
		}
		for _, m := range codeLangRE.FindAllString(page, -1) {
			if !strings.Contains(content, m) {
				t.Errorf("%s: Hugo wrote a code block %s, Herald's content has none:\n%s", it.Link, m, content)
			}
		}
		for _, m := range figcaptionRE.FindAllStringSubmatch(page, -1) {
			text := strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(m[1], "")))
			switch {
			case strings.Contains(html.UnescapeString(content), text):
			case hugoGaps["figcaption: "+text] != "":
				gaps["figcaption: "+text] = true
			default:
				t.Errorf("%s: Hugo's figure caption %q is not in Herald's content:\n%s", it.Link, text, content)
			}
		}
	}
	for g, why := range hugoGaps {
		if !gaps[g] {
			t.Errorf("Herald now writes %s (%s) as Hugo does: take it out of hugoGaps", g, why)
		}
	}
}

var (
	// embedRE finds what Hugo's youtube, vimeo and gist shortcodes embed; the second group is the id
	// Herald's link must hold.
	embedRE      = regexp.MustCompile(`<(?:iframe|script)[^>]*\ssrc="(https://(?:www\.youtube\.com/embed|player\.vimeo\.com/video|gist\.github\.com/[^/"]+)/([^/".?]+))[^"]*"`)
	codeLangRE   = regexp.MustCompile(`<code class="language-[a-z]+"`)
	figcaptionRE = regexp.MustCompile(`(?s)<figcaption>(.*?)</figcaption>`)
	tagRE        = regexp.MustCompile(`<[^>]*>`)
)

// TestFeedsPassW3CChecks builds every site in the repository's testdata (the fixtures, the sites written
// to reproduce real blogs, and the renderer's test sites) and runs the W3C feed validator's checks
// (internal/feedcheck, level AA: errors and warnings) on every RSS and Atom feed Herald wrote: none may
// fail one. The self link must be the feed's own URL under the site's.
func TestFeedsPassW3CChecks(t *testing.T) {
	type site struct{ name, dir, config string }
	// Every feed Herald can write: the term feeds, with a stylesheet and hubs, on the sites written for it.
	const all = "tag_feeds: true\ncategory_feeds: true\nstylesheet: default\nhubs: [\"https://hub.example.net/\"]\n"
	sites := []site{
		{"seed-jekyll", filepath.Join(fixtures, "seed-jekyll"), ""},
		{"jekyll-docs", filepath.Join(fixtures, "jekyll-docs"), ""},
		{"jekyll-edge", filepath.Join(fixtures, "jekyll-edge"), ""},
		{"jekyll-feed", filepath.Join(sitesDir, "jekyll-feed"), all},
		{"hugo-shortcodes", filepath.Join(sitesDir, "hugo-shortcodes"), all},
	}
	renderer, err := filepath.Glob(filepath.Join("..", "..", "posts", "testdata", "*-*"))
	if err != nil || len(renderer) == 0 {
		t.Fatalf("no test site in posts/testdata: %v", err)
	}
	for _, dir := range renderer {
		sites = append(sites, site{filepath.Base(dir), dir, ""})
	}
	known := map[*w3cFinding]bool{}
	for _, s := range sites {
		t.Run(s.name, func(t *testing.T) {
			dir := copyDir(t, s.dir)
			if s.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(s.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if onPostgres() {
				testStore = pg.DB(t)
				t.Cleanup(func() { testStore = "" })
			}
			out, errOut, err := runHerald(t, testEnv(), "build", "-C", dir, "--limit", "0")
			if err != nil {
				t.Fatalf("herald build: %v\n%s", err, errOut)
			}
			feeds := wroteRE.FindAllStringSubmatch(out, -1)
			if len(feeds) == 0 {
				t.Fatalf("herald build wrote no XML feed:\n%s", out)
			}
			for _, m := range feeds {
				data, err := os.ReadFile(filepath.Join(dir, m[1]))
				if err != nil {
					t.Fatal(err)
				}
				site := parseFeedLink(t, data)
				// The feed's URL: its path under the output folder, under the site's URL; a language's
				// feeds announce the language's home (https://site/fr/) as theirs.
				_, rel, _ := strings.Cut(m[1], "/")
				loc := site + rel
				if d := path.Dir(rel) + "/"; d != "./" && strings.HasSuffix(site, "/"+d) {
					loc = site + path.Base(rel)
				}
				problems, err := feedcheck.Check(data, feedcheck.Options{Location: loc, Now: time.Unix(1795000000, 0)})
				if err != nil {
					t.Errorf("%s: %v", m[1], err)
				}
				for _, p := range problems {
					if k := w3cKnownFor(s.name, p); k != nil {
						known[k] = true
						continue
					}
					t.Errorf("%s: %s", m[1], p)
				}
			}
		})
	}
	for _, k := range w3cKnown {
		if !known[k] {
			t.Errorf("%s: %s in %s is no longer found (%s): take it out of w3cKnown", k.site, k.message, k.post, k.why)
		}
	}
}

// w3cFinding is a problem the checks still find on a test site, in a post's own HTML, with why; none is
// feed's to fix (each is the renderer's, package posts, or the author's). The test fails when one is no
// longer found, so that the list only shrinks.
type w3cFinding struct{ site, post, message, why string }

var w3cKnown = []*w3cFinding{}

func w3cKnownFor(site string, p feedcheck.Problem) *w3cFinding {
	for _, k := range w3cKnown {
		if k.site == site && k.message == p.Message && strings.Contains(p.Where, k.post) {
			return k
		}
	}
	return nil
}

var wroteRE = regexp.MustCompile(`(?m)^wrote (\S+\.xml) `)

// parseFeedLink is the site's URL a feed announces (its channel link, or its alternate link), with a
// trailing slash.
func parseFeedLink(t *testing.T, data []byte) string {
	t.Helper()
	f, err := gofeed.NewParser().ParseString(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(f.Link, "/") + "/"
}

// TestHugoURLIDs: with ids: url, the ids of Herald's feeds are the guids of Hugo's own RSS feed of the
// posts (each post's permalink), read from Hugo's build of testdata/sites/hugo-shortcodes.
func TestHugoURLIDs(t *testing.T) {
	dir := copyTestSite(t, "hugo-shortcodes")
	out := hugoBuild(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte("ids: url\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := runHerald(t, testEnv(), "build", "-C", dir, "--limit", "0"); err != nil {
		t.Fatalf("herald build: %v\n%s", err, errOut)
	}
	ids := func(path string) []string {
		var l []string
		for _, it := range parseFeed(t, path).Items {
			l = append(l, it.GUID)
		}
		slices.Sort(l)
		return l
	}
	want := ids(filepath.Join(out, "posts", "index.xml"))
	if len(want) != 4 {
		t.Fatalf("Hugo's guids: got %v, want the site's 4 posts", want)
	}
	for _, f := range []string{"feed.xml", "atom.xml", "feed.json"} {
		if got := ids(filepath.Join(dir, "public", f)); !slices.Equal(got, want) {
			t.Errorf("%s: Herald's ids %v, Hugo's guids %v", f, got, want)
		}
	}
}
