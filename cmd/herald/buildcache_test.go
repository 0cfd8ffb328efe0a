package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildCacheWithoutStateFolder: a site without a state folder keeps its posts cache in
// XDG_CACHE_HOME/herald, and a build that reads it writes the same feeds as one that read every post.
func TestBuildCacheWithoutStateFolder(t *testing.T) {
	dir := agedSite(t, "seed-jekyll")
	xdg := t.TempDir()
	env := testEnv("XDG_CACHE_HOME", xdg)
	feeds := func(out string) map[string]string {
		t.Helper()
		if _, stderr, err := runHerald(t, env, "build", "-C", dir, "--output", out, "--limit", "0"); err != nil {
			t.Fatalf("herald build: %v\n%s", err, stderr)
		}
		got := map[string]string{}
		for _, f := range []string{"feed.xml", "atom.xml", "feed.json"} {
			b, err := os.ReadFile(filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			got[f] = string(b)
		}
		return got
	}
	first := feeds(filepath.Join(t.TempDir(), "a"))
	caches, _ := filepath.Glob(filepath.Join(xdg, "herald", "posts-*"))
	if len(caches) != 1 {
		t.Fatalf("got caches %q in XDG_CACHE_HOME, want one", caches)
	}
	if _, err := os.Stat(filepath.Join(dir, ".herald")); err == nil {
		t.Errorf("the build made a state folder in the site")
	}
	info, err := os.Stat(caches[0])
	if err != nil {
		t.Fatal(err)
	}
	second := feeds(filepath.Join(t.TempDir(), "b"))
	for f, want := range first {
		if second[f] != want {
			t.Errorf("%s built from the cache differs from the first build", f)
		}
	}
	if again, err := os.Stat(caches[0]); err != nil || !again.ModTime().Equal(info.ModTime()) {
		t.Errorf("the cache was written again by a build of an unchanged site")
	}
	// Without XDG_CACHE_HOME or HOME there is no cache at all.
	if _, stderr, err := runHerald(t, testEnv(), "build", "-C", dir, "--output", filepath.Join(t.TempDir(), "c")); err != nil || strings.Contains(stderr, "cache") {
		t.Errorf("herald build without a cache folder: %v\n%s", err, stderr)
	}
}

// TestDryRunWritesNoCache: a dry run writes nothing, not the posts cache nor its folder, whether the
// site has a state folder or not.
func TestDryRunWritesNoCache(t *testing.T) {
	dir := agedSite(t, "seed-jekyll")
	xdg := t.TempDir()
	env := testEnv("XDG_CACHE_HOME", xdg)
	if _, stderr, err := runHerald(t, env, "publish", "--dry-run", "-C", dir); err != nil {
		t.Fatalf("herald publish --dry-run: %v\n%s", err, stderr)
	}
	if left, _ := os.ReadDir(xdg); len(left) > 0 {
		t.Errorf("the dry run left %s in XDG_CACHE_HOME", left[0].Name())
	}
	state := filepath.Join(dir, ".herald")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runHerald(t, env, "publish", "--dry-run", "-C", dir); err != nil {
		t.Fatalf("herald publish --dry-run: %v\n%s", err, stderr)
	}
	if left, _ := os.ReadDir(state); len(left) > 0 {
		t.Errorf("the dry run left %s in the state folder", left[0].Name())
	}
}

// agedSite is copySite with every file an hour old: files modified within the last seconds are not cached
// (a later edit in the same clock tick could go unseen).
func agedSite(t *testing.T, name string) string {
	dir := copySite(t, name)
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			err = os.Chtimes(p, old, old)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBuildCacheFolderUnusable: where the user's cache folder cannot be made (HOME=/ in a container, run
// as a user who may not write there), a build keeps no cache and says nothing about it, as without HOME.
func TestBuildCacheFolderUnusable(t *testing.T) {
	dir := agedSite(t, "seed-jekyll")
	// A file where the folder would be: no one can make a folder under it, root included.
	home := filepath.Join(t.TempDir(), "home")
	if err := os.WriteFile(home, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range [][]string{{"HOME", home}, {"XDG_CACHE_HOME", home}} {
		_, stderr, err := runHerald(t, testEnv(env...), "build", "-C", dir, "--output", filepath.Join(t.TempDir(), "out"))
		if err != nil || strings.Contains(stderr, "cache") {
			t.Errorf("herald build with %s=%s: %v\n%s", env[0], env[1], err, stderr)
		}
	}
}
