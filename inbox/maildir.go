package inbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ProcessedMaildir is the sub-folder of a Maildir that handled messages move to (a Maildir++ folder, as
// Dovecot and Courier name them: mail clients show it as "Processed").
const ProcessedMaildir = ".Processed"

// Maildir is a Maildir folder as a Source: the messages of its new/ and cur/ folders.
type Maildir struct{ dir string }

// OpenMaildir opens the Maildir folder dir, which must hold cur/ and new/.
func OpenMaildir(dir string) (*Maildir, error) {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("inbox: %s is not a Maildir folder: it has no %s/ folder", dir, sub)
		}
	}
	return &Maildir{dir: dir}, nil
}

// Messages yields the messages of new/ then cur/, each by file name, read one at a time. A message
// that a mail client moved or deleted since the folder was listed is passed over.
func (m *Maildir) Messages(ctx context.Context) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		var keys []string
		for _, sub := range []string{"new", "cur"} {
			entries, err := os.ReadDir(filepath.Join(m.dir, sub))
			if err != nil {
				yield(Message{}, fmt.Errorf("inbox: read %s: %w", filepath.Join(m.dir, sub), err))
				return
			}
			for _, e := range entries {
				if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && !trashed(e.Name()) {
					keys = append(keys, sub+"/"+e.Name())
				}
			}
		}
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				yield(Message{}, err)
				return
			}
			raw, err := readMax(filepath.Join(m.dir, filepath.FromSlash(k)))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if !yield(Message{Key: k, Raw: raw}, err) || err != nil {
				return
			}
		}
	}
}

// readMax reads a message file, up to MaxSize and a byte (enough for Parse to refuse it).
func readMax(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("inbox: read %s: %w", path, err)
	}
	return b, nil
}

// Done moves the message into the Processed folder's cur/, marked seen, making the folder if need be.
func (m *Maildir) Done(ctx context.Context, msg Message) error {
	dst := filepath.Join(m.dir, ProcessedMaildir)
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dst, sub), 0o700); err != nil {
			return fmt.Errorf("inbox: make %s: %w", dst, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dst, "maildirfolder"), nil, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("inbox: make %s: %w", dst, err)
	}
	sub, name, _ := strings.Cut(msg.Key, "/")
	return os.Rename(filepath.Join(m.dir, sub, name), filepath.Join(dst, "cur", seen(name)))
}

// seen gives a Maildir file name the S (seen) flag (the info after ":2,", flags in ASCII order).
func seen(name string) string {
	base, flags, ok := strings.Cut(name, ":2,")
	if !ok {
		return name + ":2,S"
	}
	if strings.Contains(flags, "S") {
		return name
	}
	f := []byte(flags + "S")
	slices.Sort(f)
	return base + ":2," + string(f)
}

func (m *Maildir) Close() error { return nil }

// trashed tells a message a mail client marked deleted (the T flag) and has yet to remove.
func trashed(name string) bool {
	_, flags, ok := strings.Cut(name, ":2,")
	return ok && strings.Contains(flags, "T")
}
