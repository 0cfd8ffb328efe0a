package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInboxURLPasswordHidden: an inbox URL holding a password that also keeps the URL from parsing (a
// space, a bad escape, a "/" that ends the host) never shows the password, in herald inbox's error or in
// the config check's, and says to take it out.
func TestInboxURLPasswordHidden(t *testing.T) {
	dir := mailSite(t, "")
	for _, u := range []string{
		"imap://herald:s3cret word@127.0.0.1:1/INBOX",
		"imap://herald:s3cret%zz@127.0.0.1:1/INBOX",
		"imap://herald:s3cret/x@127.0.0.1:1/INBOX",
		"imaps://herald:s3cret@127.0.0.1:bad/INBOX",
	} {
		stdout, stderr, err := runHerald(t, testEnv("HERALD_INBOX", u), "inbox", "-C", dir)
		if err == nil {
			t.Errorf("%s: took it", u)
			continue
		}
		if all := err.Error() + stdout + stderr; strings.Contains(all, "s3cret") {
			t.Errorf("%s: the password shows:\n%s", u, all)
		}
	}
}

// TestInboxKill: herald inbox killed (SIGKILL) in the middle of a Maildir of 600 bounces moved only
// what it had recorded, and the run after it handles the rest: every report recorded once, every one
// moved, none left, none lost.
func TestInboxKill(t *testing.T) {
	dir, ids := inboxSite(t, "")
	box := filepath.Join(t.TempDir(), "Maildir")
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(box, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	const n = 600
	for i := range n {
		m := dsn(fmt.Sprintf("<dsn.%d@mx.example.org>", i), "cy@example.org", ids["cy@example.org"], "4.2.2")
		if i == n-1 {
			m = dsn("<dsn.ann@mx.example.org>", "ann@example.com", ids["ann@example.com"], "5.1.1")
		}
		if err := os.WriteFile(filepath.Join(box, "new", fmt.Sprintf("%05d.test", i)), []byte(crlf(m)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	count := func(sub string) int {
		e, _ := os.ReadDir(filepath.Join(box, sub))
		return len(e)
	}
	events := func() int {
		t.Helper()
		st, err := openTestStore(t, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		evs, err := st.Events(t.Context(), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, e := range evs {
			if e.Provider == "inbox" {
				k++
			}
		}
		return k
	}

	cmd := exec.Command(os.Args[0], "inbox", "-C", dir)
	cmd.Env = append(childEnv(), "HERALD_INBOX="+box)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for count(filepath.Join(".Processed", "cur")) < 50 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	moved := count(filepath.Join(".Processed", "cur"))
	if ee, ok := err.(*exec.ExitError); !ok || ee.Success() || moved >= n {
		t.Fatalf("herald inbox was not killed mid-run (%v, %d of %d moved):\n%s", err, moved, n, stderr.String())
	}
	if got := events(); got < moved {
		t.Errorf("killed: %d moved but %d recorded: a message moved before it was recorded", moved, got)
	}
	t.Logf("killed after %d of %d moved", moved, n)

	out, _, err := runHerald(t, testEnv("HERALD_INBOX", box), "inbox", "-C", dir)
	if err != nil {
		t.Fatalf("the run after the kill: %v\n%s", err, out)
	}
	if got := count(filepath.Join(".Processed", "cur")); got != n || count("new") != 0 || count("cur") != 0 {
		t.Errorf("after the run: %d processed, %d in new/, %d in cur/; want all %d processed", got, count("new"), count("cur"), n)
	}
	if got := events(); got != n {
		t.Errorf("%d events recorded, want %d: each report once", got, n)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s, err := st.SubscriberByEmail(t.Context(), "ann@example.com"); err != nil || s.Status != "bounced" {
		t.Errorf("ann: %+v, %v; want bounced", s.Status, err)
	}
}

// TestInboxReturnPathTooLong: a return_path whose addresses would be over SMTP's 64 characters before @
// is a config error that says to shorten it.
func TestInboxReturnPathTooLong(t *testing.T) {
	dir := mailSite(t, "")
	_, _, err := runHerald(t, testEnv("HERALD_RETURN_PATH", "newsletter-bounces-of-my-blog+{token}@blog.example.com"), "inbox", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "64 characters") {
		t.Errorf("got %v, want return_path refused as too long", err)
	}
}
