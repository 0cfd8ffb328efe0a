package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmbedsAndWarnings: a Hugo site whose posts embed videos, gists and social posts builds feeds with a
// link for each embed and no iframe or script; a post's warning is said once by a command that renders
// the post, and not by a preview of another post.
func TestEmbedsAndWarnings(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "posts", "testdata", "hugo-embeds"))
	if out, _, err := runHerald(t, testEnv(), "init", "-C", dir, "--from", "Ann <ann@example.com>"); err != nil {
		t.Fatalf("herald init: %v\n%s", err, out)
	}
	const warning = "content/posts/custom.md:5: Hugo shortcodes ({{< notice >}})"
	_, errOut, err := runHerald(t, testEnv(), "build", "-C", dir)
	if err != nil {
		t.Fatalf("herald build: %v", err)
	}
	if n := strings.Count(errOut, warning); n != 1 {
		t.Errorf("herald build: got the warning %d times, want once:\n%s", n, errOut)
	}
	// init gave Herald's RSS the path of Hugo's own, index.xml, as it does for every Hugo site that has it.
	for _, f := range []string{"index.xml", "atom.xml", "feed.json"} {
		b, err := os.ReadFile(filepath.Join(dir, "public", f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, bad := range []string{"iframe", "<script", "&lt;script", "{{"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s holds %q", f, bad)
			}
		}
		if !strings.Contains(s, "https://img.youtube.com/vi/0RKpf3rK57I/hqdefault.jpg") || !strings.Contains(s, "https://gist.github.com/spf13/7896402") {
			t.Errorf("%s lacks the video's thumbnail or the gist's link", f)
		}
	}
	f := parseFeed(t, filepath.Join(dir, "public", "index.xml"))
	if len(f.Items) != 2 {
		t.Fatalf("got %d items, want 2", len(f.Items))
	}

	env := testEnv("HERALD_POSTAL_ADDRESS", "1 Example Street, Springfield")
	_, errOut, err = runHerald(t, env, "preview", "-C", dir, "embeds")
	if err != nil {
		t.Fatalf("herald preview embeds: %v", err)
	}
	if strings.Contains(errOut, "custom.md") {
		t.Errorf("herald preview of another post: got a warning about custom.md:\n%s", errOut)
	}
	_, errOut, err = runHerald(t, env, "preview", "-C", dir, "custom")
	if err != nil {
		t.Fatalf("herald preview custom: %v", err)
	}
	if n := strings.Count(errOut, warning); n != 1 {
		t.Errorf("herald preview custom: got the warning %d times, want once:\n%s", n, errOut)
	}
}

// TestJekyllKramdownBuild: gist and twitter tags, attribute lists and an HTML table with blank lines reach
// the feed as kramdown renders them: links, classes, one table.
func TestJekyllKramdownBuild(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "posts", "testdata", "jekyll-kramdown"))
	if _, errOut, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil {
		t.Fatalf("herald build: %v\n%s", err, errOut)
	}
	f := parseFeed(t, filepath.Join(dir, "_site", "atom.xml"))
	var content string
	for _, it := range f.Items {
		if it.Title == "Attribute lists & tables" {
			content = it.Content
			if len(it.Authors) == 0 || it.Authors[0].Name != "Jill Doe" {
				t.Errorf("authors: got %v, want Jill Doe", it.Authors)
			}
		}
	}
	for _, want := range []string{`<p class="notice">A notice.</p>`, "</tr>\n\n  <tr>", `href="https://gist.github.com/parkr/931c1c8d465a04042403"`,
		`href="https://twitter.com/jekyllrb/status/944509881826930688"`} {
		if !strings.Contains(content, want) {
			t.Errorf("content lacks %s:\n%s", want, content)
		}
	}
	for _, bad := range []string{"{%", "{:", "<pre>", "<script"} {
		if strings.Contains(content, bad) {
			t.Errorf("content holds %q:\n%s", bad, content)
		}
	}
}
