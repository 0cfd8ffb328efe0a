package inbox

import (
	"strings"
	"testing"
)

func TestParseIMAPURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want IMAPConfig // Addr "" for an error
	}{
		{"imap://herald@127.0.0.1:1143/INBOX", IMAPConfig{Addr: "127.0.0.1:1143", User: "herald", Mailbox: "INBOX"}},
		{"imaps://jane%40blog.example.com@mail.example.com", IMAPConfig{Addr: "mail.example.com:993", TLS: true, User: "jane@blog.example.com", Mailbox: "INBOX"}},
		{"imap://jane@mail.example.com/Bounces/2026", IMAPConfig{Addr: "mail.example.com:143", User: "jane", Mailbox: "Bounces/2026"}},
		{"imap://[::1]:143/INBOX", IMAPConfig{}},                    // no user
		{"imap://jane:s3cret@mail.example.com/INBOX", IMAPConfig{}}, // a password
		{"pop3://jane@mail.example.com", IMAPConfig{}},
		{"imap://jane@mail.example.com:99999/INBOX", IMAPConfig{}},
	} {
		got, err := ParseIMAPURL(tc.url)
		if tc.want.Addr == "" {
			if err == nil {
				t.Errorf("%s: took it as %+v", tc.url, got)
			} else if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: the error shows the password: %v", tc.url, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
}

// FuzzReturnToken: a return path reads back as its delivery, and no other address passes for one.
func FuzzReturnToken(f *testing.F) {
	f.Add(int64(1), "bounces+x@blog.example.com")
	f.Add(int64(1<<40), ReturnPath(pattern, secret, 7))
	f.Fuzz(func(t *testing.T, id int64, addr string) {
		if id > 0 {
			if got, ok := ReturnToken(pattern, secret, ReturnPath(pattern, secret, id)); !ok || got != id {
				t.Fatalf("delivery %d read back as %d, %v", id, got, ok)
			}
		}
		if got, ok := ReturnToken(pattern, secret, addr); ok && ReturnPath(pattern, secret, got) != addr &&
			!strings.EqualFold(ReturnPath(pattern, secret, got), addr) {
			t.Fatalf("%q passes for delivery %d", addr, got)
		}
	})
}
