package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// copyDir copies a folder of the repository into a temp folder the test may write to.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
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
	return dst
}

// TestHugoConfigForms: herald init and build find a Hugo site configured by config.yml (as PaperMod's
// example site) or by a config/ folder, with the links Hugo gives its posts; a folder that is no site is
// told every file Herald looked for.
func TestHugoConfigForms(t *testing.T) {
	for _, tt := range []struct{ site, link string }{
		{"hugo-configyml", "https://papermod.example.org/posts/markdown-syntax/"},
		{"hugo-configdir", "https://split.example.net/2024/02/first/"},
	} {
		t.Run(tt.site, func(t *testing.T) {
			dir := copyDir(t, filepath.Join("..", "..", "posts", "testdata", tt.site))
			out, _, err := runHerald(t, testEnv(), "init", "-C", dir, "--from", "Ann <ann@example.com>")
			if err != nil || !strings.Contains(out, "(a hugo site, 1 post)") {
				t.Fatalf("herald init: %v\n%s", err, out)
			}
			if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil {
				t.Fatalf("herald build: %v", err)
			}
			f := parseFeed(t, filepath.Join(dir, "public", "atom.xml"))
			if len(f.Items) != 1 || f.Items[0].Link != tt.link {
				t.Errorf("got items %v, want one linking to %s", f.Items, tt.link)
			}
		})
	}
	t.Run("no site", func(t *testing.T) {
		dir := t.TempDir()
		for _, cmd := range []string{"init", "build"} {
			_, _, err := runHerald(t, testEnv(), cmd, "-C", dir)
			if err == nil || !strings.Contains(err.Error(), "no Jekyll or Hugo site found") ||
				!strings.Contains(err.Error(), "hugo.yml, hugo.json, config.toml, config.yaml, config.yml, config.json and the folders config/_default/, config/production/") {
				t.Errorf("herald %s in an empty folder: got %v, want every file looked for", cmd, err)
			}
		}
	})
	t.Run("no baseURL", func(t *testing.T) {
		dir := copyDir(t, filepath.Join("..", "..", "posts", "testdata", "hugo-configyml"))
		src, err := os.ReadFile(filepath.Join(dir, "config.yml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(strings.Replace(string(src), "baseURL:", "# baseURL:", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err = runHerald(t, testEnv(), "build", "-C", dir)
		if err == nil || !strings.Contains(err.Error(), "read config.yml: set baseURL: https://your.site/ in config.yml (or url in herald.yaml, HERALD_URL)") {
			t.Errorf("got %v, want the file to edit and herald.yaml's alternative", err)
		}
	})
}

// TestHugoConfigFormsAgainstHugo: Hugo itself builds the same sites, and the links of its RSS feed are the
// links of Herald's (so the config Herald merged gave the baseURL, permalinks and environment Hugo used).
func TestHugoConfigFormsAgainstHugo(t *testing.T) {
	needTool(t, "hugo", "apt-get install hugo")
	for _, site := range []string{"hugo-configyml", "hugo-configdir"} {
		t.Run(site, func(t *testing.T) {
			dir := copyDir(t, filepath.Join("..", "..", "posts", "testdata", site))
			// Hugo builds for production unless told otherwise, as Herald reads the config.
			out := hugoBuild(t, dir)
			if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil {
				t.Fatalf("herald build: %v", err)
			}
			want, got := feedLinks(t, filepath.Join(out, "index.xml")), feedLinks(t, filepath.Join(dir, "public", "feed.xml"))
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("Herald's links %v, Hugo's %v", got, want)
			}
		})
	}
}
