package mailer

import (
	"bytes"
	"context"
	"net/mail"
	"os"
	"path/filepath"
	"testing"
)

func TestOutbox(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o, err := NewOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestComposer(t, testOptions())
	ctx := t.Context()
	var sent []*Message
	for i, key := range []string{"post/a/1", "post/a/2"} {
		r := testRecipient()
		r.Email = []string{"ann@example.org", "bob@example.net"}[i]
		m, err := c.Post(r, testPosts()[0], key, sendDate)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		if outcome, _ := Classify(nil); outcome != Sent {
			t.Fatalf("Classify(nil) = %v, want sent", outcome)
		}
		sent = append(sent, m)
	}
	// The same delivery again replaces its file.
	if err := o.Send(ctx, sent[0]); err != nil {
		t.Fatal(err)
	}

	for _, sub := range []string{"tmp", "cur"} {
		if es, err := os.ReadDir(filepath.Join(dir, sub)); err != nil || len(es) != 0 {
			t.Errorf("%s/: %d entries (%v), want none", sub, len(es), err)
		}
	}
	es, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(sent) {
		t.Fatalf("new/ holds %d files, want %d", len(es), len(sent))
	}
	for _, m := range sent {
		path := filepath.Join(dir, "new", maildirName(m.MessageID))
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := messageBytes(t, m); !bytes.Equal(raw, want) {
			t.Errorf("%s: the file is not the message", path)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got := msg.Header.Get("Message-Id"); got != m.MessageID {
			t.Errorf("%s: Message-ID %s, want %s", path, got, m.MessageID)
		}
		if to, err := mail.ParseAddress(msg.Header.Get("To")); err != nil || to.Address != m.To {
			t.Errorf("%s: To %q, want %s", path, msg.Header.Get("To"), m.To)
		}
	}

	// A mail client moved the first message to cur/ and flagged it seen: sending it again replaces
	// that file, and new/ gets no second copy.
	name := maildirName(sent[0].MessageID)
	seen := filepath.Join(dir, "cur", name+":2,S")
	if err := os.Rename(filepath.Join(dir, "new", name), seen); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seen, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := o.Send(ctx, sent[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new", name)); !os.IsNotExist(err) {
		t.Errorf("a second copy in new/ (%v)", err)
	}
	if raw, _ := os.ReadFile(seen); !bytes.Equal(raw, messageBytes(t, sent[0])) {
		t.Errorf("cur/%s was not replaced", filepath.Base(seen))
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := o.Send(cancelled, sent[1]); err == nil {
		t.Error("Send with a cancelled context succeeded")
	} else if outcome, _ := Classify(err); outcome != Deferred {
		t.Errorf("cancelled: %v, want deferred", outcome)
	}
	if err := o.Close(); err != nil {
		t.Error(err)
	}
}

func TestOutboxNotADir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewOutbox(file); err == nil {
		t.Error("NewOutbox on a file succeeded")
	}
}
