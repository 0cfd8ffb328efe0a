package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestAddUnrecorded: the unrecorded list holds every id added until it is cleared, sorted, once each, and
// is not written again when it would not change (a build of an unchanged site adds the same ids each
// time, and each write costs an fsync); a list edited by hand, unsorted and with repeats, reads the same.
func TestAddUnrecorded(t *testing.T) {
	dir := mailSite(t, "")
	if err := os.MkdirAll(filepath.Join(dir, ".herald"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := loadTestConfig(t, dir)
	file := unrecordedPath(dir, cfg)
	steps := []struct {
		name    string
		ids     []string
		clear   bool
		want    string
		written bool
	}{
		{"first ids", []string{"b", "a", "b"}, false, "a\nb", true},
		{"the same ids", []string{"a", "b"}, false, "a\nb", false},
		{"some of them", []string{"b"}, false, "a\nb", false},
		{"none", nil, false, "a\nb", false},
		{"a new one", []string{"a", "c"}, false, "a\nb\nc", true},
		{"cleared", nil, true, "", true},
		{"cleared again", nil, true, "", false},
		{"after clearing", []string{"c"}, false, "c", true},
	}
	var before os.FileInfo
	for _, s := range steps {
		if err := addUnrecorded(dir, cfg, s.ids, s.clear); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		b, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if string(b) != s.want {
			t.Errorf("%s: the list holds %q, want %q", s.name, b, s.want)
		}
		after, _ := os.Stat(file)
		if written := before == nil || after == nil || !os.SameFile(before, after); written != s.written {
			t.Errorf("%s: written %v, want %v", s.name, written, s.written)
		}
		before = after
	}

	if err := os.WriteFile(file, []byte("z\nc\n\nz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readUnrecorded(dir, cfg)
	if err != nil || len(got) != 2 || !got["z"] || !got["c"] {
		t.Errorf("a list edited by hand reads as %v (%v), want c and z", got, err)
	}
	if err := addUnrecorded(dir, cfg, []string{"d"}, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "c\nd\nz" {
		t.Errorf("after adding an id to a list edited by hand, it holds %q, want c, d and z", b)
	}
}

// TestUnrecordedNotRegular: a site's .herald may come with the site, so the unrecorded list is read only
// from a regular file. A link to /dev/zero (which would be read until memory ran out) or a FIFO (which
// would block the run) is refused with an error that names the file, at once.
func TestUnrecordedNotRegular(t *testing.T) {
	dir := mailSite(t, "")
	if err := os.MkdirAll(filepath.Join(dir, ".herald"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := loadTestConfig(t, dir)
	file := unrecordedPath(dir, cfg)
	for _, c := range []struct {
		name string
		make func() error
	}{
		{"a link to /dev/zero", func() error { return os.Symlink("/dev/zero", file) }},
		{"a FIFO", func() error { return syscall.Mkfifo(file, 0o600) }},
	} {
		if err := c.make(); err != nil {
			t.Fatal(err)
		}
		_, err := readUnrecorded(dir, cfg)
		if err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: read gives %v, want an error naming %s", c.name, err, file)
		}
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
	}
}
