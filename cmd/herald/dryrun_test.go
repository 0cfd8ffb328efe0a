package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPublishDryRunWritesNothing: publish --dry-run --limit 0 on a site whose feeds are large enough to be
// written through temp files (more than 8 MB of HTML) says what it would write, and leaves the site's
// folder as it was: no output folder made, no temp file written beside a feed (which would change the
// output folder's time), whether the site was published before or not.
func TestPublishDryRunWritesNothing(t *testing.T) {
	for _, published := range []bool{false, true} {
		t.Run(fmt.Sprintf("published before %v", published), func(t *testing.T) {
			dir := copySite(t, "seed-jekyll")
			if published {
				if out, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
					t.Fatalf("publish: %v\n%s", err, out)
				}
			}
			body := strings.Repeat("word ", 20000) // 100 kB of HTML a post: 90 posts pass 8 MB
			for i := range 90 {
				post := fmt.Sprintf("---\ntitle: Big %d\n---\n%s\n", i, body)
				if err := os.WriteFile(filepath.Join(dir, "_posts", fmt.Sprintf("2021-01-%02d-big%d.md", i%28+1, i)), []byte(post), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, configName), []byte("max_new: 100\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := tree(t, dir)
			out, _, err := runHerald(t, testEnv(), "publish", "--dry-run", "--limit", "0", "-C", dir)
			if err != nil || !strings.Contains(out, "would write _site/feed.json (91 items") {
				t.Fatalf("publish --dry-run: %v\n%s", err, out)
			}
			after := tree(t, dir)
			for _, l := range after {
				if !slices.Contains(before, l) {
					t.Errorf("publish --dry-run made or changed %s", l)
				}
			}
			for _, l := range before {
				if !slices.Contains(after, l) {
					t.Errorf("publish --dry-run removed or changed %s", l)
				}
			}
		})
	}
}

// tree lists what is in dir, with each file's size and time.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() && (rel == storeDir || strings.HasPrefix(rel, storeDir+string(filepath.Separator))) {
			// The store's lock and journal come and go in a dry run too: its files are what counts.
			lines = append(lines, filepath.ToSlash(rel)+"/")
			return nil
		}
		lines = append(lines, fmt.Sprintf("%s %d %s", filepath.ToSlash(rel), info.Size(), info.ModTime().Format(time.RFC3339Nano)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}
