package main

import (
	"strings"
	"testing"
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
