package main

import (
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// jekyllBuild builds the Jekyll site in dir with Jekyll itself (Debian's jekyll, with its jekyll-feed and
// jekyll-gist packages), into a temp folder it returns. The site's plugins are Debian's gems: no Gemfile,
// no bundler, no network.
func jekyllBuild(t *testing.T, dir string) string {
	t.Helper()
	jekyll := needTool(t, "jekyll", "apt-get install jekyll ruby-jekyll-feed ruby-jekyll-gist")
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), jekyll, "build", "--quiet", "--source", dir, "--destination", out)
	cmd.Env = generatorEnv(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("jekyll build: %v\n%s", err, b)
	}
	return out
}

// kramdownGaps are the differences from kramdown that Herald still has on testdata/sites/jekyll-feed, each
// a "tag.class" that kramdown writes and Herald does not. The test fails when one of them is gone, so that
// the list only shrinks.
var kramdownGaps = map[string]string{}

// TestJekyllSiteAgainstJekyll builds testdata/sites/jekyll-feed (jekyll-feed configured, gist tags,
// kramdown attribute lists, an HTML table with blank lines, authors in _data/writers.yml) with Jekyll and
// with Herald: Herald's three feeds link to exactly the posts Jekyll wrote, which are the entries of
// jekyll-feed's feed.xml; each post's content has the tables, classes and gists Jekyll's page has, and
// its author is the name Jekyll's layout printed.
func TestJekyllSiteAgainstJekyll(t *testing.T) {
	dir := copyTestSite(t, "jekyll-feed")
	out := jekyllBuild(t, dir)
	if _, errOut, err := runHerald(t, testEnv(), "build", "-C", dir, "--limit", "0"); err != nil {
		t.Fatalf("herald build: %v\n%s", err, errOut)
	}

	pages := builtPages(t, out, "https://notes.example.org/")
	want := sortedKeys(pages)
	if len(want) != 8 {
		t.Fatalf("Jekyll wrote %d posts, want the site's 8: %v", len(want), want)
	}
	if got := feedLinks(t, filepath.Join(out, "feed.xml")); !slices.Equal(got, want) {
		t.Fatalf("jekyll-feed's entries %v, Jekyll's posts %v", got, want)
	}
	for _, f := range []string{"feed.xml", "atom.xml", "feed.json"} {
		if got := feedLinks(t, filepath.Join(dir, "_site", f)); !slices.Equal(got, want) {
			t.Errorf("%s: Herald's links %v, Jekyll's %v", f, got, want)
		}
	}

	summaries := map[string]string{} // jekyll-feed's summary of each post: its excerpt, as text
	for _, it := range parseFeed(t, filepath.Join(out, "feed.xml")).Items {
		summaries[it.Link] = textOf(it.Description)
	}
	gaps := map[string]bool{}
	for _, it := range parseFeed(t, filepath.Join(dir, "_site", "atom.xml")).Items {
		page, content := pages[it.Link], it.Content
		if got := textOf(it.Description); got != summaries[it.Link] {
			t.Errorf("%s: summary %q, jekyll-feed's %q", it.Link, got, summaries[it.Link])
		}
		for _, bad := range []string{"{%", "{:", "<script", "&lt;script"} {
			if strings.Contains(content, bad) {
				t.Errorf("%s: content holds %q:\n%s", it.Link, bad, content)
			}
		}
		if m := bylineRE.FindStringSubmatch(page); m != nil && m[1] != "" {
			if len(it.Authors) == 0 || it.Authors[0].Name != m[1] {
				t.Errorf("%s: got authors %v, Jekyll's layout printed %q", it.Link, it.Authors, m[1])
			}
		}
		for _, table := range tableRE.FindAllString(page, -1) {
			if !strings.Contains(content, table) {
				t.Errorf("%s: content lacks the table Jekyll wrote:\n%s\ncontent:\n%s", it.Link, table, content)
			}
		}
		have := classes(content)
		for _, c := range classes(page) {
			switch {
			case c == "p.byline", strings.Contains(c, ".language-"), strings.HasSuffix(c, ".highlighter-rouge"), strings.HasSuffix(c, ".highlight"):
				// the layout's, and Rouge's: Herald leaves code unhighlighted
			case slices.Contains(have, c):
			case kramdownGaps[c] != "":
				gaps[c] = true
			default:
				t.Errorf("%s: kramdown wrote an element %s, Herald's content has none:\n%s", it.Link, c, content)
			}
		}
		for _, m := range gistRE.FindAllStringSubmatch(page, -1) {
			if !strings.Contains(content, `href="https://gist.github.com/`+m[1]) || !strings.Contains(content, m[2]) {
				t.Errorf("%s: content lacks a link to the gist %s %s:\n%s", it.Link, m[1], m[2], content)
			}
		}
	}
	for c, why := range kramdownGaps {
		if !gaps[c] {
			t.Errorf("Herald now writes %s (%s) as kramdown does: take it out of kramdownGaps", c, why)
		}
	}
}

var (
	bylineRE = regexp.MustCompile(`<p class="byline">([^<]*)</p>`)
	tableRE  = regexp.MustCompile(`(?s)<table>.*?</table>`)
	classRE  = regexp.MustCompile(`<([a-z0-9]+)\b[^>]*?\sclass="([^"]*)"`)
	gistRE   = regexp.MustCompile(`<script src="https://gist\.github\.com/([^"?]+)\.js(?:\?file=([^"]*))?"`)
)

// textOf is the text of HTML h, its spaces collapsed.
func textOf(h string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(h, ""))), " ")
}

// classes are the "tag.class" of each element with a class in h, in order.
func classes(h string) []string {
	var out []string
	for _, m := range classRE.FindAllStringSubmatch(h, -1) {
		for _, c := range strings.Fields(m[2]) {
			out = append(out, m[1]+"."+c)
		}
	}
	return out
}

// TestJekyllFeedIDs: with ids: jekyll, the id of each entry of Herald's Atom feed (and each guid of its
// RSS feed) is the <id> jekyll-feed wrote for the same post, read from Jekyll's own build of
// testdata/sites/jekyll-feed: posts with the default permalink, a post with categories, a post from a
// category folder, a post whose file name is not ASCII (its id percent-encoded), and a post whose
// permalink ends in .html (/37c3.html), whose id is the URL's folder and the file's slug (/chaos-congress),
// not its URL. A reader switched from jekyll-feed to Herald sees no
// post twice.
func TestJekyllFeedIDs(t *testing.T) {
	dir := copyTestSite(t, "jekyll-feed")
	out := jekyllBuild(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte("ids: jekyll\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := runHerald(t, testEnv(), "build", "-C", dir, "--limit", "0"); err != nil {
		t.Fatalf("herald build: %v\n%s", err, errOut)
	}
	want := map[string]string{} // link -> jekyll-feed's id
	for _, it := range parseFeed(t, filepath.Join(out, "feed.xml")).Items {
		want[it.Link] = it.GUID
	}
	if len(want) != 8 || want["https://notes.example.org/37c3.html"] != "https://notes.example.org/chaos-congress" {
		t.Fatalf("jekyll-feed's ids: got %v, want 8 with the .html post's id its slug", want)
	}
	for _, f := range []string{"atom.xml", "feed.xml", "feed.json"} {
		got := map[string]string{}
		for _, it := range parseFeed(t, filepath.Join(dir, "_site", f)).Items {
			got[it.Link] = it.GUID
		}
		for _, link := range sortedKeys(want) {
			if got[link] != want[link] {
				t.Errorf("%s: %s: got id %q, jekyll-feed's is %q", f, link, got[link], want[link])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: got %d items, jekyll-feed has %d", f, len(got), len(want))
		}
	}
}
