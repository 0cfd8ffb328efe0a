package feed

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeFilesSoon is WriteFiles, failing the test instead of hanging.
func writeFilesSoon(t *testing.T, files []File) ([]bool, error) {
	t.Helper()
	type result struct {
		changed []bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		c, err := WriteFiles(files)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.changed, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("WriteFiles hangs")
		return nil, nil
	}
}

// TestWriteFilesNotRegular: a FIFO, a device or a link at a feed's path is never read (a FIFO would hang
// the build, /dev/zero fill its memory) nor replaced: the error names it, and nothing is written.
func TestWriteFilesNotRegular(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "atom.xml")
	target := filepath.Join(dir, "elsewhere.xml")
	os.WriteFile(target, []byte("<rss/>"), 0o644)
	for _, c := range []struct {
		name string
		make func(p string) error
		want string
	}{
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "is a named pipe (FIFO)"},
		{"zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "is a symbolic link"},
		{"link", func(p string) error { return os.Symlink(target, p) }, "is a symbolic link"},
		{"folder", func(p string) error { return os.Mkdir(p, 0o755) }, "is a folder"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name+".xml")
			if err := c.make(p); err != nil {
				t.Skip(err)
			}
			_, err := writeFilesSoon(t, []File{{Path: good, Data: []byte("<feed/>")}, {Path: p, Data: []byte("<rss/>")}})
			if err == nil || !strings.Contains(err.Error(), p+" "+c.want) {
				t.Errorf("got %v, want an error saying %s %s", err, p, c.want)
			}
			if _, err := os.Stat(good); err == nil {
				t.Errorf("the other file was written")
			}
			if fi, _ := os.Lstat(p); fi.Mode().IsRegular() {
				t.Errorf("%s was replaced", p)
			}
		})
	}
	if b, _ := os.ReadFile(target); string(b) != "<rss/>" {
		t.Errorf("the link's target was written: %q", b)
	}
	dev := filepath.Join(dir, "null.xml")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o644, 0x103); err == nil { // /dev/null's numbers, where we may
		if _, err := writeFilesSoon(t, []File{{Path: dev, Data: []byte("<rss/>")}}); err == nil || !strings.Contains(err.Error(), "is a device") {
			t.Errorf("a device: %v", err)
		}
	}
}

// TestWriteFilesSameSize: a file of the same size with other bytes is written; one with the same bytes is
// left alone; one of another size is written without being read.
func TestWriteFilesSameSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "feed.xml")
	for i, c := range []struct {
		data    string
		changed bool
	}{{"abc", true}, {"abc", false}, {"abd", true}, {"abcd", true}, {"abcd", false}} {
		changed, err := writeFilesSoon(t, []File{{Path: p, Data: []byte(c.data)}})
		if err != nil || changed[0] != c.changed {
			t.Errorf("write %d (%q): changed %v, %v; want %v", i, c.data, changed, err, c.changed)
		}
		if b, _ := os.ReadFile(p); string(b) != c.data {
			t.Errorf("write %d: %q, want %q", i, b, c.data)
		}
	}
}
