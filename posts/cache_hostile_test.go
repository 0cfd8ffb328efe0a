package posts

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cacheSite is a site with a few posts, aged out of the racy window, and where its cache goes.
func cacheSite(t *testing.T) (dir, cache string, load func() *Site) {
	t.Helper()
	dir = makeSite(t, map[string]string{
		"_config.yml":            "url: https://ex.org\n",
		"_posts/2020-01-01-a.md": "---\ntitle: A\n---\na\n",
		"_posts/2020-01-02-b.md": "---\ntitle: B\ndate: 2020-01-02 10:00\n---\nb\n",
		"_posts/2020-01-03-c.md": "---\ntitle: C\n---\nc\n",
	})
	ageFiles(t, dir)
	cache = filepath.Join(t.TempDir(), "posts.cache")
	load = func() *Site {
		t.Helper()
		s, err := Load(t.Context(), Options{Dir: dir, Cache: cache, Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return dir, cache, load
}

func cacheWarned(s *Site) bool {
	for _, w := range s.Warnings {
		if strings.Contains(w.Msg, "the posts cache is ignored") {
			return true
		}
	}
	return false
}

// TestCacheCorruption: a cache with 1 to 4 bytes changed anywhere is never trusted: the posts are those
// of the files, the run warns, and the cache is written anew (the next run trusts it without a warning).
func TestCacheCorruption(t *testing.T) {
	dir, cache, load := cacheSite(t)
	want := summary(t, load())
	good, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		b := bytes.Clone(good)
		for range 1 + rng.IntN(4) {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		if err := os.WriteFile(cache, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s := load()
		if got := summary(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d: got %v, want %v", trial, got, want)
		}
		if !cacheWarned(s) {
			t.Fatalf("trial %d: a damaged cache was read without a warning", trial)
		}
		if again, _ := os.ReadFile(cache); !bytes.Equal(again, good) {
			t.Fatalf("trial %d: the damaged cache was not written anew", trial)
		}
	}
	if s := load(); cacheWarned(s) {
		t.Errorf("a good cache warned: %v", s.Warnings)
	}
	// And the cache is used: a file changed behind its back (same size, same time) still reads as cached.
	a := filepath.Join(dir, "_posts", "2020-01-01-a.md")
	info, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a, []byte("---\ntitle: Z\n---\na\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(a, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := summary(t, load()); !reflect.DeepEqual(got, want) {
		t.Errorf("the cache was not used: got %v, want %v", got, want)
	}
}

// TestCacheCrafted: a cache whose checksum holds but whose contents claim 2^24 entries, or a string of
// 2^40 bytes, in a few bytes is refused without allocating for them; one whose entry for an unchanged file
// does not decode has that file read again.
func TestCacheCrafted(t *testing.T) {
	for _, c := range []struct {
		name  string
		after func(key string, entries []cacheEntry) []byte // the payload
	}{
		{"count", func(key string, _ []cacheEntry) []byte {
			p := binary.AppendUvarint(appendString(nil, key), 1<<24)
			return appendString(p, "x")
		}},
		{"string", func(key string, _ []cacheEntry) []byte {
			p := binary.AppendUvarint(appendString(nil, key), 1)
			return append(binary.AppendUvarint(p, 1<<40), "x"...)
		}},
		{"body", func(key string, entries []cacheEntry) []byte {
			p := binary.AppendUvarint(appendString(nil, key), uint64(len(entries)))
			for i, e := range entries {
				if i == 0 {
					e.body = "\x01\xff\xff" // a post whose id claims more bytes than the body has
				}
				p = appendString(binary.AppendVarint(binary.AppendUvarint(appendString(p, e.rel), uint64(e.size)), e.modTime), e.body)
			}
			return p
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, cache, load := cacheSite(t)
			want := summary(t, load())
			good, err := readCacheFile(cache)
			if err != nil {
				t.Fatal(err)
			}
			r := cacheReader{s: good}
			key := r.str()
			entries, err := parseEntries(good, key)
			if err != nil || len(entries) != 3 {
				t.Fatalf("the cache written holds %d entries (%v), want 3", len(entries), err)
			}
			p := c.after(key, entries)
			sum := sha256.Sum256(p)
			crafted := append(append([]byte(cacheVersion), sum[:]...), p...)
			if err := os.WriteFile(cache, crafted, 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := load()
			runtime.ReadMemStats(&after)
			if got := summary(t, s); !reflect.DeepEqual(got, want) || !cacheWarned(s) {
				t.Errorf("got %v (warnings %v), want %v and a warning", got, s.Warnings, want)
			}
			if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 64 {
				t.Errorf("reading a %d-byte cache allocated %d MB", len(crafted), mb)
			}
			if s := load(); cacheWarned(s) {
				t.Errorf("the cache written anew is ignored: %v", s.Warnings)
			}
		})
	}
}

// TestCacheNotRegular: a cache path that is a FIFO, a link to /dev/zero or a link at all is not opened
// (a FIFO would hang the build until a writer came): the cache is ignored with the usual warning, and
// written anew as a regular file.
func TestCacheNotRegular(t *testing.T) {
	for _, c := range []struct {
		name string
		make func(p string) error
	}{
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"zero", func(p string) error { return os.Symlink("/dev/zero", p) }},
		{"link", func(p string) error { return os.Symlink(p+".real", p) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, cache, load := cacheSite(t)
			load()
			if c.name == "link" {
				os.Rename(cache, cache+".real")
			} else {
				os.Remove(cache)
			}
			if err := c.make(cache); err != nil {
				t.Skip(err)
			}
			done := make(chan *Site, 1)
			go func() { done <- load() }()
			select {
			case s := <-done:
				if !cacheWarned(s) {
					t.Errorf("no warning: %v", s.Warnings)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Load hangs on the posts cache")
			}
			if fi, err := os.Lstat(cache); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("the cache was not written anew: %v", err)
			}
			if s := load(); cacheWarned(s) {
				t.Errorf("the cache written anew is ignored: %v", s.Warnings)
			}
		})
	}
}
