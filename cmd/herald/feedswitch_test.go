package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestIDsJekyllAreJekyllFeeds: with ids: jekyll, every item of every feed Herald writes for the fixture
// sites has the id jekyll-feed gave the same post (fixtures/reference, Jekyll 4.3 and jekyll-feed 0.17):
// a reader switched from jekyll-feed sees no post twice. jekyll-edge has categories from folders, odd file
// names and unusual extensions.
func TestIDsJekyllAreJekyllFeeds(t *testing.T) {
	for _, name := range []string{"seed-jekyll", "jekyll-docs", "jekyll-edge"} {
		t.Run(name, func(t *testing.T) {
			dir := copySite(t, name)
			if _, _, err := runHerald(t, testEnv("HERALD_IDS", "jekyll"), "build", "-C", dir, "--limit", "0"); err != nil {
				t.Fatalf("herald build: %v", err)
			}
			want := map[string]string{} // link → id
			for _, it := range parseFeed(t, filepath.Join(fixtures, "reference", name+".jekyll-feed.xml")).Items {
				want[it.Link] = it.GUID
			}
			for _, f := range []string{"feed.xml", "atom.xml", "feed.json"} {
				got := parseFeed(t, filepath.Join(dir, "_site", f))
				if len(got.Items) != len(want) {
					t.Errorf("%s: %d items, jekyll-feed has %d", f, len(got.Items), len(want))
				}
				for _, it := range got.Items {
					if w, ok := want[it.Link]; !ok || it.GUID != w {
						t.Errorf("%s: %s: id %q, jekyll-feed's %q", f, it.Link, it.GUID, w)
					}
				}
			}
		})
	}
}

// TestIDsSwitch: a site with history switches its ids scheme, and back: herald diff shows each post
// continuing its old id, nothing is new or removed, and nobody is mailed; a post added afterwards is new.
func TestIDsSwitch(t *testing.T) {
	for _, tc := range []struct{ from, to, id string }{
		{"tag", "jekyll", "https://blog.example.com/2021/01/01/p1"},
		{"jekyll", "tag", "tag:blog.example.com,2021-01-01:p1"},
		{"tag", "url", "https://blog.example.com/2021/01/01/p1.html"},
		{"url", "jekyll", "https://blog.example.com/2021/01/01/p1"},
	} {
		t.Run(tc.from+" to "+tc.to, func(t *testing.T) {
			dir := mailSite(t, "")
			base, _ := os.ReadFile(filepath.Join(dir, configName))
			setIDs := func(scheme string) {
				os.WriteFile(filepath.Join(dir, configName), []byte(string(base)+"ids: "+scheme+"\n"), 0o644)
			}
			for i := 1; i <= 4; i++ {
				addPost(t, dir, fmt.Sprintf("2021-01-0%d-p%d.md", i, i), fmt.Sprintf("P%d", i))
			}
			setIDs(tc.from)
			publish := func() string {
				t.Helper()
				out, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
				if err != nil {
					t.Fatalf("publish: %v\n%s", err, out)
				}
				return out
			}
			publish()

			setIDs(tc.to)
			d := diffJSON(t, dir)
			if len(d.New) != 0 || len(d.Continues) != 5 || !allContinued(d) {
				t.Fatalf("after the switch: got %+v, want the 5 posts continuing their ids", d)
			}
			out, _, err := runHerald(t, testEnv(), "diff", "-C", dir)
			if err != nil || !strings.Contains(out, "id changed (updated, not new): 5") || !strings.Contains(out, "  "+tc.id+"  was  ") {
				t.Errorf("herald diff: %v\n%s", err, out)
			}
			if out := publish(); !strings.Contains(out, "new: 0\n") {
				t.Errorf("publish after the switch:\n%s", out)
			}
			for _, f := range []string{"feed.xml", "atom.xml", "feed.json"} {
				if b, _ := os.ReadFile(filepath.Join(dir, "_site", f)); !strings.Contains(string(b), tc.id) {
					t.Errorf("_site/%s does not carry the id %s", f, tc.id)
				}
			}

			setIDs(tc.from)
			if d := diffJSON(t, dir); len(d.New) != 0 || !allContinued(d) {
				t.Fatalf("switched back: got %+v, want nothing new or removed", d)
			}
			publish()
			if box, _ := os.ReadDir(filepath.Join(dir, ".herald", "outbox", "new")); len(box) != 0 {
				t.Fatalf("mailed %d messages, want none", len(box))
			}

			addPost(t, dir, "2021-02-01-fresh.md", "Fresh")
			if out := publish(); !strings.Contains(out, "new: 1\n") {
				t.Errorf("a new post after the switches:\n%s", out)
			}
			if box, _ := os.ReadDir(filepath.Join(dir, ".herald", "outbox", "new")); len(box) != 1 {
				t.Errorf("mailed %d messages for the new post, want 1 (to the one subscriber who gets each post)", len(box))
			}
		})
	}
}

// allContinued tells whether each post that left the site continues under a new id.
func allContinued(d jsonDiff) bool {
	old := map[string]bool{}
	for _, id := range d.Continues {
		old[id] = true
	}
	for _, r := range d.Removed {
		if !old[r.ID] {
			return false
		}
	}
	return true
}

// TestIDsRefused: an unknown scheme, and jekyll on a site that is not Jekyll's, are errors that say what
// to set.
func TestIDsRefused(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv("HERALD_IDS", "guid"), "build", "-C", dir); err == nil || !strings.Contains(err.Error(), `HERALD_IDS="guid": want tag`) {
		t.Errorf("ids guid: got %v", err)
	}
	plain := t.TempDir()
	os.MkdirAll(filepath.Join(plain, "posts"), 0o755)
	os.WriteFile(filepath.Join(plain, "posts", "a.md"), []byte("---\ntitle: A\ndate: 2020-01-01\n---\nA\n"), 0o644)
	os.WriteFile(filepath.Join(plain, configName), []byte("kind: plain\nposts_dir: posts\nurl: https://p.example\nids: jekyll\n"), 0o644)
	if _, _, err := runHerald(t, testEnv(), "build", "-C", plain); err == nil || !strings.Contains(err.Error(), "for Jekyll sites") || !strings.Contains(err.Error(), "ids in herald.yaml") {
		t.Errorf("ids jekyll on a plain site: got %v", err)
	}
}

// TestBuildKeepsForeignFeeds: build and publish leave a feed Herald did not write as it is, write nothing,
// and say who wrote it and what to do; --overwrite (or overwrite: true) replaces it, after which it is
// Herald's own.
func TestBuildKeepsForeignFeeds(t *testing.T) {
	jekyllFeed := `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><generator uri="https://jekyllrb.com/" version="4.3.1">Jekyll</generator><id>https://blog.example.com/feed.xml</id></feed>`
	for _, tc := range []struct {
		name, file, data string
		want             []string
	}{
		{"jekyll-feed", "feed.xml", jekyllFeed, []string{"_site/feed.xml was not written by Herald", `generator is "Jekyll": jekyll-feed`, "remove jekyll-feed from plugins", "--overwrite"}},
		{"a template of the site", "atom.xml", `<feed xmlns="http://www.w3.org/2005/Atom"><title>Mine</title></feed>`, []string{"_site/atom.xml", "names no generator", "remove the template"}},
		{"a JSON feed", "feed.json", `{"version": "https://jsonfeed.org/version/1.1", "title": "x", "items": []}`, []string{"_site/feed.json", "older than this one", "run once with --overwrite"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copySite(t, "seed-jekyll")
			foreign := filepath.Join(dir, "_site", tc.file)
			os.MkdirAll(filepath.Dir(foreign), 0o755)
			os.WriteFile(foreign, []byte(tc.data), 0o644)
			for _, cmd := range []string{"build", "publish", "publish --dry-run"} {
				out, _, err := runHerald(t, testEnv(), append(strings.Fields(cmd), "-C", dir)...)
				if err == nil {
					t.Fatalf("%s: no error\n%s", cmd, out)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: the error lacks %q: %v", cmd, w, err)
					}
				}
				if b, _ := os.ReadFile(foreign); string(b) != tc.data {
					t.Fatalf("%s replaced %s", cmd, tc.file)
				}
				if entries, _ := os.ReadDir(filepath.Join(dir, "_site")); len(entries) != 1 {
					t.Errorf("%s wrote files beside the refused one: %v", cmd, entries)
				}
			}
			if out, _, err := runHerald(t, testEnv(), "status", "-C", dir); err == nil && !strings.Contains(out, "runs: 0") && strings.Contains(out, "#1") {
				t.Errorf("a refused publish recorded a run:\n%s", out)
			}
			env := testEnv()
			args := []string{"build", "-C", dir, "--overwrite"}
			if tc.file == "atom.xml" {
				env, args = testEnv("HERALD_OVERWRITE", "true"), args[:3]
			}
			if out, _, err := runHerald(t, env, args...); err != nil || !strings.Contains(out, "wrote _site/"+tc.file) {
				t.Fatalf("with overwrite: %v\n%s", err, out)
			}
			os.WriteFile(filepath.Join(dir, "_posts", "2021-01-01-a.md"), []byte("---\ntitle: A\n---\nA\n"), 0o644)
			if out, _, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil || !strings.Contains(out, "wrote _site/"+tc.file) {
				t.Errorf("Herald's own file, next build: %v\n%s", err, out)
			}
		})
	}
}

// TestFeedsInSource: feeds_in: source writes the feeds where the site generator publishes them from:
// a Jekyll site's root, a Hugo site's static/ (or its staticDir). A plain folder has no generator, and output with it is
// one setting too many.
func TestFeedsInSource(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	out, _, err := runHerald(t, testEnv("HERALD_FEEDS_IN", "source"), "build", "-C", dir)
	if err != nil || !strings.Contains(out, "wrote feed.xml") || !strings.Contains(out, "wrote atom.xml") || !strings.Contains(out, "wrote feed.json") {
		t.Fatalf("jekyll: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "_site")); err == nil {
		t.Errorf("jekyll: wrote into _site too")
	}

	hugo := t.TempDir()
	os.WriteFile(filepath.Join(hugo, "hugo.toml"), []byte("baseURL = 'https://h.example/'\ntitle = 'H'\n"), 0o644)
	os.MkdirAll(filepath.Join(hugo, "content", "posts"), 0o755)
	os.WriteFile(filepath.Join(hugo, "content", "posts", "a.md"), []byte("---\ntitle: A\ndate: 2020-01-01\n---\nA\n"), 0o644)
	os.WriteFile(filepath.Join(hugo, configName), []byte("feeds_in: source\nids: url\nrss: index.xml\n"), 0o644)
	out, _, err = runHerald(t, testEnv(), "build", "-C", hugo)
	if err != nil || !strings.Contains(out, "wrote static/index.xml") {
		t.Fatalf("hugo: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(hugo, "hugo.toml"), []byte("baseURL = 'https://h.example/'\ntitle = 'H'\nstaticDir = ['assets/files', 'static']\n"), 0o644)
	if out, _, err := runHerald(t, testEnv(), "build", "-C", hugo); err != nil || !strings.Contains(out, "wrote assets/files/index.xml") {
		t.Errorf("hugo with staticDir: %v\n%s", err, out)
	}
	// An absolute staticDir is that folder, as Hugo reads it, not one of that name inside the site.
	os.WriteFile(filepath.Join(hugo, "hugo.toml"), []byte("baseURL = 'https://h.example/'\ntitle = 'H'\nstaticDir = '"+filepath.ToSlash(filepath.Join(hugo, "files"))+"'\n"), 0o644)
	if out, _, err := runHerald(t, testEnv(), "build", "-C", hugo); err != nil || !strings.Contains(out, "wrote files/index.xml") {
		t.Errorf("hugo with an absolute staticDir: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(hugo, "static", "index.xml")); !strings.Contains(string(b), `<guid isPermaLink="true">https://h.example/posts/a/</guid>`) && !strings.Contains(string(b), `<guid>https://h.example/posts/a/</guid>`) {
		t.Errorf("hugo: index.xml's guid is not the post's URL:\n%s", b)
	}

	plain := t.TempDir()
	os.MkdirAll(filepath.Join(plain, "posts"), 0o755)
	os.WriteFile(filepath.Join(plain, "posts", "a.md"), []byte("---\ntitle: A\ndate: 2020-01-01\n---\nA\n"), 0o644)
	os.WriteFile(filepath.Join(plain, configName), []byte("kind: plain\nposts_dir: posts\nurl: https://p.example\nfeeds_in: source\n"), 0o644)
	if _, _, err := runHerald(t, testEnv(), "build", "-C", plain); err == nil || !strings.Contains(err.Error(), "no site generator") {
		t.Errorf("plain: got %v", err)
	}
	if _, _, err := runHerald(t, testEnv("HERALD_FEEDS_IN", "source", "HERALD_OUTPUT", "public"), "build", "-C", dir); err == nil || !strings.Contains(err.Error(), "leave out one of the two") {
		t.Errorf("feeds_in with output: got %v", err)
	}
}

// TestInitSiteFeeds: herald init finds the feed a site publishes itself, says so, and writes the settings
// that keep its path, format and ids into herald.yaml, with Herald's other feeds at names that do not
// collide.
func TestInitSiteFeeds(t *testing.T) {
	const atomTemplate = "---\nlayout: null\n---\n<?xml version=\"1.0\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n{% for post in site.posts %}\n<entry><id>{{ site.url }}{{ post.id }}</id></entry>\n{% endfor %}\n</feed>\n"
	const rssTemplate = "---\n---\n<rss version=\"2.0\"><channel>{% for post in site.posts limit:10 %}<item><guid isPermaLink=\"true\">{{ post.url | absolute_url }}</guid></item>{% endfor %}</channel></rss>\n"
	tests := []struct {
		name            string
		kind            string            // jekyll (seed-jekyll) or hugo
		files           map[string]string // added to the site; _config.yml's are appended
		rss, atom, json string
		ids             string
		says            []string
	}{
		{name: "jekyll-feed in plugins", kind: "jekyll", files: map[string]string{"_config.yml": "plugins:\n  - jekyll-feed\n"},
			rss: "rss.xml", atom: "feed.xml", json: "feed.json", ids: "jekyll",
			says: []string{"jekyll-feed writes feed.xml (Atom)", "remove jekyll-feed from plugins"}},
		{name: "jekyll-feed in the Gemfile, at its own path", kind: "jekyll",
			files: map[string]string{"Gemfile": "source \"https://example.invalid\"\ngroup :jekyll_plugins do\n  gem \"jekyll-feed\", \"~> 0.12\"\nend\n", "_config.yml": "feed:\n  path: /atom.xml\n"},
			rss:   "feed.xml", atom: "atom.xml", json: "feed.json", ids: "jekyll", says: []string{"jekyll-feed writes atom.xml (Atom)"}},
		{name: "an Atom template", kind: "jekyll", files: map[string]string{"atom.xml": atomTemplate},
			rss: "feed.xml", atom: "atom.xml", json: "feed.json", ids: "jekyll", says: []string{"the template atom.xml writes atom.xml (Atom)", "delete atom.xml"}},
		{name: "an RSS template with URL guids", kind: "jekyll", files: map[string]string{"feed.xml": rssTemplate},
			rss: "feed.xml", atom: "atom.xml", json: "feed.json", ids: "url", says: []string{"the template feed.xml writes feed.xml (RSS)"}},
		{name: "a template whose ids Herald cannot tell", kind: "jekyll", files: map[string]string{"rss.xml": strings.Replace(rssTemplate, "post.url | absolute_url", "post.title", 1)},
			rss: "rss.xml", atom: "atom.xml", json: "feed.json", ids: "", says: []string{"cannot tell which ids the template rss.xml writes"}},
		{name: "a Jekyll site without a feed", kind: "jekyll", files: map[string]string{"feed.xml": "<rss>static, no front matter</rss>"},
			rss: "", atom: "", json: "", ids: ""},
		{name: "Hugo's RSS", kind: "hugo", rss: "index.xml", atom: "atom.xml", json: "feed.json", ids: "url",
			says: []string{"Hugo's RSS writes index.xml (RSS)", "outputs: home: [HTML]"}},
		{name: "Hugo's RSS off", kind: "hugo", files: map[string]string{"config/_default/outputs.toml": "home = ['HTML']\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var dir string
			if tc.kind == "jekyll" {
				dir = copySite(t, "seed-jekyll")
			} else {
				dir = t.TempDir()
				os.WriteFile(filepath.Join(dir, "hugo.toml"), []byte("baseURL = 'https://h.example/'\ntitle = 'H'\n"), 0o644)
				os.MkdirAll(filepath.Join(dir, "content", "posts"), 0o755)
				os.WriteFile(filepath.Join(dir, "content", "posts", "a.md"), []byte("---\ntitle: A\ndate: 2020-01-01\n---\nA\n"), 0o644)
			}
			for name, body := range tc.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if name == "_config.yml" {
					old, _ := os.ReadFile(p)
					body = string(old) + body
				}
				os.WriteFile(p, []byte(body), 0o644)
			}
			out, _, err := runHerald(t, testEnv(), "init", "-C", dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.says {
				if !strings.Contains(out, w) {
					t.Errorf("init does not say %q:\n%s", w, out)
				}
			}
			if len(tc.says) == 0 && strings.Contains(out, "the site's own feed") {
				t.Errorf("init reports a feed the site does not publish:\n%s", out)
			}
			cfg, err := loadConfig(dir, testEnv())
			if err != nil {
				t.Fatalf("the herald.yaml init wrote: %v", err)
			}
			if cfg.RSS != tc.rss || cfg.Atom != tc.atom || cfg.JSON != tc.json || cfg.IDs != tc.ids {
				yml, _ := os.ReadFile(filepath.Join(dir, configName))
				t.Errorf("got rss %q, atom %q, json %q, ids %q; want %q, %q, %q, %q\n%s", cfg.RSS, cfg.Atom, cfg.JSON, cfg.IDs, tc.rss, tc.atom, tc.json, tc.ids, yml)
			}
		})
	}
}

// TestSwitchFromJekyllFeed: the whole switch on a site that used jekyll-feed: init writes the settings;
// while jekyll-feed's feed.xml is in _site, publish refuses to replace it and says to remove the plugin;
// once the site is built without it, Herald's feed.xml is Atom with jekyll-feed's ids, for every post.
func TestSwitchFromJekyllFeed(t *testing.T) {
	dir := copySite(t, "jekyll-docs")
	cfgFile := filepath.Join(dir, "_config.yml")
	old, _ := os.ReadFile(cfgFile)
	os.WriteFile(cfgFile, append(old, "plugins: [jekyll-feed]\n"...), 0o644)
	if _, _, err := runHerald(t, testEnv(), "init", "-C", dir); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(fixtures, "reference", "jekyll-docs.jekyll-feed.xml")
	jekyllFeed, _ := os.ReadFile(ref)
	os.MkdirAll(filepath.Join(dir, "_site"), 0o755)
	os.WriteFile(filepath.Join(dir, "_site", "feed.xml"), jekyllFeed, 0o644)
	_, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--limit", "0")
	if err == nil || !strings.Contains(err.Error(), "_site/feed.xml was not written by Herald") || !strings.Contains(err.Error(), "remove jekyll-feed") {
		t.Fatalf("publish over jekyll-feed's feed: got %v", err)
	}
	os.Remove(filepath.Join(dir, "_site", "feed.xml")) // the site built again without jekyll-feed
	if out, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--limit", "0"); err != nil || !strings.Contains(out, "wrote _site/feed.xml") {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	got := parseFeed(t, filepath.Join(dir, "_site", "feed.xml"))
	if got.FeedType != "atom" {
		t.Errorf("feed.xml is %s, want Atom as jekyll-feed wrote it", got.FeedType)
	}
	want := map[string]string{}
	for _, it := range parseFeed(t, ref).Items {
		want[it.Link] = it.GUID
	}
	if len(got.Items) != len(want) {
		t.Errorf("%d items, jekyll-feed had %d", len(got.Items), len(want))
	}
	for _, it := range got.Items {
		if it.GUID != want[it.Link] {
			t.Errorf("%s: id %q, jekyll-feed's %q", it.Link, it.GUID, want[it.Link])
		}
	}
}

// TestUpgradeKeepsOldJSONFeed: the JSON feed a Herald older than the mark published (its golden at
// 354739d, unmarked) is Herald's own to the next publish after an upgrade, which replaces it without
// --overwrite; the same file on a site of another host is refused.
func TestUpgradeKeepsOldJSONFeed(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("..", "..", "feed", "testdata", "legacy", "seed-jekyll-feed.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := copySite(t, "seed-jekyll")
	if out, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatalf("first publish: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "_site", "feed.json")
	os.WriteFile(path, old, 0o644)
	out, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
	if err != nil || !strings.Contains(out, "wrote _site/feed.json") {
		t.Fatalf("publish over the old release's feed.json: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"_herald"`) {
		t.Errorf("feed.json is not Herald's new one:\n%.400s", b)
	}

	moved := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(moved, configName), []byte("url: https://moved.example\n"), 0o644)
	os.MkdirAll(filepath.Join(moved, "_site"), 0o755)
	os.WriteFile(filepath.Join(moved, "_site", "feed.json"), old, 0o644)
	if _, _, err := runHerald(t, testEnv(), "build", "-C", moved); err == nil || !strings.Contains(err.Error(), "was not written by Herald") {
		t.Errorf("another host's old feed: got %v, want it refused", err)
	}
}

// TestFeedPathsRefused: a feed name or folder that would put a feed outside its folder, among Herald's own
// files (the state folder, herald.yaml), or with feeds_in: source outside the site, is an error naming
// the setting, and nothing is written there.
func TestFeedPathsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, config, file, want string // file: where the feed must not go, in the site
	}{
		{"a feed in the state folder", "feeds_in: source\nrss: .herald/feed.xml\n", ".herald/feed.xml", `rss ".herald/feed.xml" in herald.yaml would go to .herald/feed.xml, among Herald's own files`},
		{"a feed in place of herald.yaml", "feeds_in: source\noverwrite: true\njson: herald.yaml\n", "", `json "herald.yaml" in herald.yaml would go to herald.yaml`},
		{"a feed out of the output folder", "atom: ../../outside.xml\n", "../outside.xml", `atom "../../outside.xml" in herald.yaml: a feed's name is a path inside the feeds' folder`},
		{"a feed out of the output folder, from its root", "atom: /../../outside.xml\n", "../outside.xml", `atom "/../../outside.xml" in herald.yaml`},
		{"the output in the state folder", "output: .herald/site\n", ".herald/site/feed.xml", "inside Herald's state folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copySite(t, "seed-jekyll")
			config := filepath.Join(dir, configName)
			os.WriteFile(config, []byte(tc.config), 0o644)
			for _, cmd := range []string{"build", "publish"} {
				if _, _, err := runHerald(t, testEnv(), cmd, "-C", dir); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: got %v, want an error with %q", cmd, err, tc.want)
				}
			}
			if b, _ := os.ReadFile(config); string(b) != tc.config {
				t.Errorf("herald.yaml was replaced: %.200q", b)
			}
			if tc.file != "" {
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tc.file))); err == nil {
					t.Errorf("wrote %s", tc.file)
				}
			}
		})
	}

	hugo := t.TempDir()
	os.WriteFile(filepath.Join(hugo, "hugo.toml"), []byte("baseURL = 'https://h.example/'\ntitle = 'H'\nstaticDir = '../elsewhere'\n"), 0o644)
	os.MkdirAll(filepath.Join(hugo, "content", "posts"), 0o755)
	os.WriteFile(filepath.Join(hugo, "content", "posts", "a.md"), []byte("---\ntitle: A\ndate: 2020-01-01\n---\nA\n"), 0o644)
	os.WriteFile(filepath.Join(hugo, configName), []byte("feeds_in: source\n"), 0o644)
	if _, _, err := runHerald(t, testEnv(), "build", "-C", hugo); err == nil || !strings.Contains(err.Error(), "is outside the site") {
		t.Errorf("hugo, staticDir outside the site: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(hugo), "elsewhere")); err == nil {
		t.Errorf("hugo: wrote the feeds outside the site")
	}
}

// FuzzSiteFeeds: whatever a Jekyll site's _config.yml, Gemfile and feed template, or a Hugo site's config,
// hold, what herald init writes for the site's own feeds is YAML that sets only rss, atom, json and ids,
// each feed at a path inside the output folder, and the notes are lines of their own.
func FuzzSiteFeeds(f *testing.F) {
	f.Add("plugins: [jekyll-feed]\nfeed:\n  path: /news/feed.xml\n", "source 'x'\ngroup :jekyll_plugins do\n  gem \"jekyll-feed\"\nend\n", "---\npermalink: /atom.xml\n---\n<feed>{% for post in site.posts %}<entry><id>{{ post.id }}</id></entry>{% endfor %}</feed>", "baseURL = 'https://h.example/'\n[outputFormats.RSS]\nbaseName = 'rss'\n")
	f.Add("feed: {path: \"x.xml\\nurl: https://evil.example #\"}\nplugins: [jekyll-feed]\n", "", "", "[outputFormats.RSS]\nbaseName = \"a\\nsmtp: x #\"\n")
	f.Add("plugins: [jekyll-feed]\nfeed: {path: \"../../etc/x\"}\n", "gem 'jekyll-feed', group: :jekyll_plugins", "---\npermalink: /a\u2028b: c/\n---\n<rss>", "")
	f.Fuzz(func(t *testing.T, config, gemfile, template, hugo string) {
		jekyll, hugoDir := t.TempDir(), t.TempDir()
		os.WriteFile(filepath.Join(jekyll, "_config.yml"), []byte(config), 0o644)
		os.WriteFile(filepath.Join(jekyll, "Gemfile"), []byte(gemfile), 0o644)
		os.WriteFile(filepath.Join(jekyll, "atom.xml"), []byte(template), 0o644)
		os.WriteFile(filepath.Join(hugoDir, "hugo.toml"), []byte(hugo), 0o644)
		for _, found := range [][]siteFeed{siteFeeds(jekyll, "jekyll"), siteFeeds(hugoDir, "hugo")} {
			settings, notes := feedSwitch(found)
			var got map[string]any
			if err := yaml.Unmarshal([]byte(settings), &got); err != nil {
				t.Fatalf("herald.yaml's lines are not YAML: %v\n%s", err, settings)
			}
			for k, v := range got {
				switch k {
				case "rss", "atom", "json":
					s, ok := v.(string)
					if !ok || !filepath.IsLocal(filepath.FromSlash(s)) {
						t.Fatalf("%s: %#v is not a path inside the output folder\n%s", k, v, settings)
					}
				case "ids":
				default:
					t.Fatalf("herald.yaml's lines set %s:\n%s", k, settings)
				}
			}
			for _, n := range notes {
				if strings.ContainsAny(n, "\r\n\u2028\u2029\u0085") {
					t.Fatalf("a note is more than one line: %q", n)
				}
			}
		}
	})
}

// TestJekyllFeedGemfile: jekyll-feed counts when the Gemfile's jekyll_plugins group holds it (Bundler
// requires that group, and Jekyll loads it), in whatever blocks inside the group, and not elsewhere.
func TestJekyllFeedGemfile(t *testing.T) {
	for _, tc := range []struct {
		name, gemfile string
		want          bool
	}{
		{"in the group", "group :jekyll_plugins do\n  gem \"jekyll-feed\", \"~> 0.12\"\nend\n", true},
		{"after a block in the group", "group :jekyll_plugins do\n  platforms :ruby do\n    gem \"jekyll-seo-tag\"\n  end\n  if ENV[\"X\"]\n    gem \"x\"\n  end\n  gem 'jekyll-feed'\nend\n", true},
		{"group: on the line", "gem \"jekyll-feed\", group: :jekyll_plugins\n", true},
		{":group => on the line", "gem \"jekyll-feed\", :group => :jekyll_plugins\n", true},
		{"in another group", "group :jekyll_plugins do\n  gem \"jekyll-seo-tag\"\nend\ngroup :test do\n  gem \"jekyll-feed\"\nend\n", false},
		{"after the group", "group :jekyll_plugins do\n  platforms :ruby do\n    gem \"a\"\n  end\nend\ngem \"jekyll-feed\"\n", false},
		{"commented out", "group :jekyll_plugins do\n  # gem \"jekyll-feed\"\nend\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "Gemfile"), []byte(tc.gemfile), 0o644)
			if _, got := jekyllFeedPlugin(dir); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
