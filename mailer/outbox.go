package mailer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Outbox delivers messages into a Maildir folder (tmp/, new/, cur/: see https://cr.yp.to/proto/maildir.html)
// that mutt, aerc or any Maildir client can open: what Herald sends when no SMTP server is configured,
// and what a dry run writes.
//
// A message's file name comes from its Message-ID, so sending the same delivery again replaces the file
// instead of adding a second copy, also when a mail client has since moved it to cur/.
type Outbox struct {
	dir string
}

// NewOutbox makes dir a Maildir, creating what is missing.
func NewOutbox(dir string) (*Outbox, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("mailer: outbox: %w", err)
		}
	}
	return &Outbox{dir: dir}, nil
}

// Dir is the Maildir's folder.
func (o *Outbox) Dir() string { return o.dir }

// Send writes the message into tmp/, syncs it, and renames it into new/: a reader never sees half a
// message.
func (o *Outbox) Send(ctx context.Context, m *Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := maildirName(m.MessageID)
	target := filepath.Join(o.dir, "new", name)
	// A client that has seen the message moved it to cur/, named name:2,FLAGS.
	if seen, _ := filepath.Glob(filepath.Join(o.dir, "cur", name+":*")); len(seen) > 0 {
		target = seen[0]
	}
	f, err := os.CreateTemp(filepath.Join(o.dir, "tmp"), name+".*")
	if err != nil {
		return fmt.Errorf("mailer: outbox: %w", err)
	}
	tmp := f.Name()
	_, err = m.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, target)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mailer: outbox: %w", err)
	}
	return syncDir(filepath.Dir(target))
}

// Close does nothing: an Outbox holds nothing open.
func (o *Outbox) Close() error { return nil }

// maildirName is the file name, in new/ or (followed by ":2,FLAGS") in cur/, of the message with this
// Message-ID: "herald-" and 32 hex digits of its SHA-256.
func maildirName(messageID string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(messageID)))
	return "herald-" + hex.EncodeToString(sum[:16])
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("mailer: outbox: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mailer: outbox: sync %s: %w", dir, err)
	}
	return nil
}
