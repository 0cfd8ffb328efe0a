package mailer

import (
	"bytes"
	"net/mail"
	"testing"
	"time"
)

// TestSetReturnPath: the envelope sender changes and nothing of the message does; a bad address is refused.
func TestSetReturnPath(t *testing.T) {
	c := newTestComposer(t, testOptions())
	m, err := c.Post(Recipient{Email: "ann@example.com", UnsubscribeURL: "https://example.com/u/1"}, testPosts()[0], "k1", time.Unix(1.7e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	raw := string(m.raw)
	if err := m.SetReturnPath("bounces+abc_-1@blog.example.com"); err != nil {
		t.Fatal(err)
	}
	if m.from != "<bounces+abc_-1@blog.example.com>" || string(m.raw) != raw {
		t.Errorf("envelope sender %s (the message changed: %v)", m.from, string(m.raw) != raw)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(messageBytes(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	if from := msg.Header.Get("From"); from == "" || from == m.from {
		t.Errorf("From header %q", from)
	}
	for _, bad := range []string{"", "bounces", "Bounces <b@example.com>", "b@example.com\r\nBcc: x@example.com"} {
		if m.SetReturnPath(bad) == nil {
			t.Errorf("SetReturnPath(%q) took it", bad)
		}
	}
}
