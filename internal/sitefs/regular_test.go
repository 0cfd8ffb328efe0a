package sitefs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadRegular: Herald's own files are read only when they are regular files within the limit; a link,
// a FIFO, a folder or a file over the limit is refused with an error that names it and says why.
func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(at("file"), []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(at("file"), at("link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(at("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(at("folder"), 0o700); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadRegular(at("file"), 5); err != nil || string(b) != "12345" {
		t.Errorf("a regular file within the limit reads as %q, %v; want 12345", b, err)
	}
	for _, c := range []struct{ name, why string }{
		{"link", "a link"}, {"fifo", "a FIFO"}, {"folder", "a folder"}, {"file", "larger than 4 bytes"},
	} {
		_, err := ReadRegular(at(c.name), 4)
		if err == nil || !strings.Contains(err.Error(), at(c.name)) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: read gives %v, want an error naming it and saying %q", c.name, err, c.why)
		}
	}
}
