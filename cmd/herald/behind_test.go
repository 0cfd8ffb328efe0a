package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/publish"
)

// TestStoreBehindFeeds: a store restored from a copy older than the feeds in the output folder would take
// the posts published since for new and mail them again: publish stops, names them and mails nobody;
// --rebaseline records them without mail. Feeds written by herald build, or by a publish that stopped
// before it recorded, are no such sign: the posts they hold unrecorded go out once.
func TestStoreBehindFeeds(t *testing.T) {
	sqliteOnly(t) // copies the store's file
	dir := mailSite(t, "")
	db := filepath.Join(dir, ".herald", "state.db")
	run := func(args ...string) (string, error) {
		t.Helper()
		out, errOut, err := runHerald(t, testEnv(), append(args, "-C", dir)...)
		return out + errOut, err
	}
	if _, err := run("publish"); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(db) // the backup, taken now
	if err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-a.md", "A")
	if out, err := run("publish"); err != nil || !strings.Contains(out, "sent 1") {
		t.Fatalf("publish of A: %v\n%s", err, out)
	}
	outbox := filepath.Join(dir, ".herald", "outbox")
	sent := len(maildir(t, outbox))

	// The store comes back from the backup; the feeds in _site hold A.
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	if err := os.WriteFile(db, old, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run("publish")
	if !errors.Is(err, publish.ErrStoreBehind) || !strings.Contains(err.Error(), "2021-01-01:a") || !strings.Contains(err.Error(), "restored from an older copy") {
		t.Fatalf("publish with a store older than the feeds: got %v, want ErrStoreBehind naming A\n%s", err, out)
	}
	if n := len(maildir(t, outbox)); n != sent {
		t.Errorf("the outbox went from %d to %d messages: A was mailed again", sent, n)
	}
	if out, err := run("publish", "--rebaseline"); err != nil || strings.Contains(out, "sent") && !strings.Contains(out, "nothing to send") {
		t.Fatalf("publish --rebaseline: %v\n%s", err, out)
	}
	if n := len(maildir(t, outbox)); n != sent {
		t.Errorf("after --rebaseline the outbox went from %d to %d messages", sent, n)
	}

	// herald build writes B into the feeds unrecorded: the next publish mails it, once.
	addPost(t, dir, "2021-02-01-b.md", "B")
	if _, err := run("build"); err != nil {
		t.Fatal(err)
	}
	if out, err := run("publish"); err != nil || !strings.Contains(out, "sent 1") {
		t.Fatalf("publish after herald build: %v\n%s", err, out)
	}
	// A publish that wrote C into the feeds and stopped before recording it: the unrecorded list says so.
	addPost(t, dir, "2021-03-01-c.md", "C")
	if err := addUnrecorded(dir, loadTestConfig(t, dir), []string{"tag:blog.example.com,2021-03-01:c"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := run("build"); err != nil { // the feeds, as that run left them
		t.Fatal(err)
	}
	if out, err := run("publish"); err != nil || !strings.Contains(out, "sent 1") {
		t.Fatalf("publish after one that stopped before recording: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".herald", "unrecorded-feed-ids")); len(b) != 0 {
		t.Errorf("after a publish recorded everything, the unrecorded list holds %q", b)
	}
}

func loadTestConfig(t *testing.T, dir string) config {
	t.Helper()
	cfg, err := loadConfig(dir, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
