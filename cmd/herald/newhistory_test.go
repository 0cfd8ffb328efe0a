package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/publish"
)

// TestNewHistoryJekyllStoreDeleted: README's Jekyll workflow runs jekyll build, which wipes Herald's feeds
// from _site, before herald publish. A store deleted by itself still leaves the outbox's messages beside
// it: publish stops rather than take every post for a new baseline.
func TestNewHistoryJekyllStoreDeleted(t *testing.T) {
	sqliteOnly(t)
	dir := mailSite(t, "")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-hello.md", "Hello")
	agePosts(t, dir)
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, ".herald")
	if ents, _ := os.ReadDir(filepath.Join(state, "outbox", "new")); len(ents) == 0 {
		t.Fatal("nothing was mailed to the outbox")
	}
	lose := func() {
		os.RemoveAll(filepath.Join(dir, "_site")) // jekyll build
		for _, s := range []string{"", "-wal", "-shm"} {
			os.Remove(filepath.Join(state, "state.db"+s))
		}
	}
	lose()
	_, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
	if !errors.Is(err, publish.ErrStoreLooksNew) || !strings.Contains(err.Error(), filepath.Join("outbox", "new")) {
		t.Fatalf("publish after the store was lost, the outbox left: %v, want ErrStoreLooksNew naming the outbox", err)
	}
	lose()
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--init"); err != nil {
		t.Errorf("publish --init: %v", err)
	}
}

// TestNewHistoryPublishedFeed: with nothing left beside the store and _site wiped, the feed Herald published
// at the site's URL shows that the site was published before.
func TestNewHistoryPublishedFeed(t *testing.T) {
	sqliteOnly(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/atom.xml" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><generator>Herald v1.0.0</generator><entry><id>x</id></entry></feed>`))
	}))
	defer srv.Close()
	dir := copySite(t, "seed-jekyll")
	env := testEnv("HERALD_URL", srv.URL)
	_, _, err := runHerald(t, env, "publish", "-C", dir)
	if !errors.Is(err, publish.ErrStoreLooksNew) || !strings.Contains(err.Error(), srv.URL+"/atom.xml holds posts") {
		t.Fatalf("publish of a site whose published feed holds posts: %v, want ErrStoreLooksNew naming it", err)
	}
	if out, _, err := runHerald(t, env, "publish", "-C", dir, "--init"); err != nil || !strings.Contains(out, "recorded run #1") {
		t.Errorf("publish --init: %v\n%s", err, out)
	}
	// A site never published, whose URL answers nothing: the first run is the baseline, although
	// loading the site writes the posts cache beside the new store before the check.
	srv.Close()
	dir = copySite(t, "seed-jekyll")
	agePosts(t, dir)
	if out, _, err := runHerald(t, env, "publish", "-C", dir); err != nil || !strings.Contains(out, "recorded run #1") {
		t.Errorf("first publish: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".herald", "state.db.posts-cache")); err != nil {
		t.Errorf("no posts cache was written, so the run above checked nothing: %v", err)
	}
}

// agePosts dates the site's posts an hour back, out of the posts cache's racy window: the cache keeps them.
func agePosts(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "_posts"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, e := range ents {
		os.Chtimes(filepath.Join(dir, "_posts", e.Name()), old, old)
	}
}

// TestNewHistoryAfterPreview: the quick start's order (init, preview, then the first publish) needs no
// --init: what preview and diff leave beside the store (the posts cache) is no sign of an earlier history.
func TestNewHistoryAfterPreview(t *testing.T) {
	dir := mailSite(t, "")
	for _, args := range [][]string{{"preview", "-C", dir}, {"diff", "-C", dir}, {"publish", "-C", dir}} {
		if _, _, err := runHerald(t, testEnv(), args...); err != nil {
			t.Fatalf("herald %s: %v", args[0], err)
		}
	}
}
