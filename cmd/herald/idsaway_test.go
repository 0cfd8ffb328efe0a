package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIDsSwitchWhileAway: a post that was off the site (published: false) when the ids setting changed,
// and comes back after, under the new scheme's id, is the post it was: it is not mailed again.
func TestIDsSwitchWhileAway(t *testing.T) {
	dir := mailSite(t, "")
	base, _ := os.ReadFile(filepath.Join(dir, configName))
	for i := 1; i <= 3; i++ {
		addPost(t, dir, fmt.Sprintf("2021-01-0%d-p%d.md", i, i), fmt.Sprintf("P%d", i))
	}
	publish := func() string {
		t.Helper()
		out, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
		if err != nil {
			t.Fatalf("publish: %v\n%s", err, out)
		}
		return out
	}
	publish()
	addPost(t, dir, "2021-02-01-away.md", "Away")
	if out := publish(); !strings.Contains(out, "new: 1\n") {
		t.Fatalf("the post's first publish:\n%s", out)
	}
	mailed := func() int {
		box, _ := os.ReadDir(filepath.Join(dir, ".herald", "outbox", "new"))
		return len(box)
	}
	if n := mailed(); n != 1 {
		t.Fatalf("mailed %d messages for the new post, want 1", n)
	}
	away := filepath.Join(dir, "_posts", "2021-02-01-away.md")
	os.WriteFile(away, []byte("---\ntitle: Away\npublished: false\n---\nSome *text* of Away.\n"), 0o644)
	publish()
	os.WriteFile(filepath.Join(dir, configName), []byte(string(base)+"ids: jekyll\n"), 0o644)
	publish()
	os.WriteFile(away, []byte("---\ntitle: Away\n---\nSome *text* of Away.\n"), 0o644)
	out := publish()
	if n := mailed(); n != 1 || strings.Contains(out, "new: 1\n") {
		t.Errorf("the post back under its new id: mailed %d messages in all, want 1\n%s", n, out)
	}
}
