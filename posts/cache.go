package posts

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// postCache remembers what reading each post file gave, by the file's size and modification time, so that
// a run over a site of thousands of unchanged posts does not read and parse them all again: the way git's
// index spares it from reading unchanged files. The cache is only a cache, never trusted: one that is
// missing or made for another configuration is ignored, one that fails a check (its header and version,
// its SHA-256, its size, its entries) is ignored with a warning, and entries for files modified within
// racyWindow of the run are not kept, since a later edit in the same clock tick could go unseen.
type postCache struct {
	path  string // "" when there is no cache
	key   string // what the entries depend on besides the file: Herald's reader, the options, the site config
	start time.Time

	old    map[string]cacheEntry // as read
	damage string                // why the file was ignored, when it failed a check
	mu     sync.Mutex
	new    map[string]cacheEntry // what this run saw
}

const (
	cacheVersion  = "herald posts cache 10\n" // the file's first line; change it when what a loader makes of a file changes
	racyWindow    = 2 * time.Second
	maxCacheBytes = 256 << 20 // a larger file is not read: no real site's cache comes near it
)

// A cache file is cacheVersion, the SHA-256 of the rest, then a gob of cacheFile. Entries is a slice, not
// a map: gob makes a map as large as its stream claims before reading it, a slice only as it reads.
type cacheFile struct {
	Key     string
	Entries []cacheItem
}

type cacheItem struct {
	Rel   string
	Entry cacheEntry
}

type cacheEntry struct {
	Size     int64
	ModTime  int64       // nanoseconds
	Post     *cachedPost // nil: the file is not a post (published: false)
	Warnings []Warning
}

// cachedPost is a Post as Load leaves it, less its front matter (Data), which the renderer reads again.
type cachedPost struct {
	Path, ID, URL, Title string
	Date, Updated        time.Time
	Authors              []Author
	Categories, Tags     []string
	Image                string
	Enclosure            *Enclosure
	Lang                 string
	ExcerptOnly, Draft   bool
	NoEmail, Hold        bool
	EmailAfter           time.Duration
	Hash                 string
	VisibleFrom, Expires time.Time
	BodyLine             int
	Excerpt, Sep         string
	HasID                bool
}

// cacheKey hashes what a cached post depends on besides its own file.
func cacheKey(opts Options, parts ...[]byte) string {
	opts.Now, opts.files = time.Time{}, nil // neither changes what a file gives
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%#v", cacheVersion, opts)
	for _, p := range parts {
		fmt.Fprintf(h, "\x00%d\x00", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// openPostCache reads the cache at path (none when path is ""), keeping its entries only if key matches.
func openPostCache(path, key string) *postCache {
	c := &postCache{path: path, key: key, start: time.Now(), new: map[string]cacheEntry{}}
	if path == "" {
		return c
	}
	f, err := readCacheFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		c.damage = err.Error()
	case f.Key == key:
		c.old = make(map[string]cacheEntry, len(f.Entries))
		for _, it := range f.Entries {
			c.old[it.Rel] = it.Entry
		}
	}
	return c
}

// readCacheFile reads and checks the cache file at path.
// Only a regular file is opened: a FIFO would block the run until a writer came, a device may never end.
func readCacheFile(path string) (*cacheFile, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() || before.Size() > maxCacheBytes {
		return nil, fmt.Errorf("not a regular file of at most %d bytes", maxCacheBytes)
	}
	// O_NONBLOCK: should a FIFO take the file's place since, opening it does not wait for a writer.
	file, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() || !os.SameFile(before, info) || info.Size() > maxCacheBytes {
		return nil, fmt.Errorf("not a regular file of at most %d bytes", maxCacheBytes)
	}
	// The payload is decoded as it is read and hashed, rather than read whole first: a site of 10,000 posts
	// has a cache of 5 MB, which would be held twice (the file and gob's copy) at the peak of a run.
	r := bufio.NewReader(io.LimitReader(file, info.Size())) // a file that grew since is cut short, and fails its checksum
	head := make([]byte, len(cacheVersion)+sha256.Size)
	if _, err := io.ReadFull(r, head); err != nil || string(head[:len(cacheVersion)]) != cacheVersion {
		return nil, errors.New("not a cache of this version of Herald")
	}
	h := sha256.New()
	payload := io.TeeReader(r, h)
	var f cacheFile
	decodeErr := gob.NewDecoder(payload).Decode(&f)
	if _, err := io.Copy(io.Discard, payload); err != nil {
		return nil, err
	}
	if !bytes.Equal(h.Sum(nil), head[len(cacheVersion):]) {
		return nil, errors.New("its checksum does not match: it was damaged")
	}
	if decodeErr != nil {
		return nil, fmt.Errorf("cannot decode it: %w", decodeErr)
	}
	seen := make(map[string]bool, len(f.Entries))
	for _, it := range f.Entries {
		if seen[it.Rel] || it.Rel == "" || it.Entry.Post != nil && it.Entry.Post.Path != it.Rel {
			return nil, fmt.Errorf("entry %q does not hold together", it.Rel)
		}
		seen[it.Rel] = true
	}
	return &f, nil
}

// warning says why the cache file was ignored, if it failed a check.
func (c *postCache) warning() *Warning {
	if c == nil || c.damage == "" {
		return nil
	}
	return &Warning{File: c.path, Msg: "the posts cache is ignored (" + c.damage + "); every post is read again and the cache written anew"}
}

// lookup returns the cached result for rel if info says the file has not changed since.
func (c *postCache) lookup(rel string, info fs.FileInfo, loc *time.Location) (p *Post, warns []Warning, ok bool) {
	if c == nil {
		return nil, nil, false
	}
	e, ok := c.old[rel]
	if !ok || e.Size != info.Size() || e.ModTime != info.ModTime().UnixNano() {
		return nil, nil, false
	}
	c.keep(rel, e)
	if e.Post == nil {
		return nil, e.Warnings, true
	}
	cp := e.Post
	return &Post{
		Path: cp.Path, ID: cp.ID, URL: cp.URL, Title: cp.Title, Date: cp.Date.In(loc), Updated: cp.Updated.In(loc),
		Authors: cp.Authors, Categories: cp.Categories, Tags: cp.Tags, Image: cp.Image, Enclosure: cp.Enclosure,
		Lang: cp.Lang, ExcerptOnly: cp.ExcerptOnly, Draft: cp.Draft, Hash: cp.Hash,
		NoEmail: cp.NoEmail, Hold: cp.Hold, EmailAfter: cp.EmailAfter,
		visibleFrom: cp.VisibleFrom, expires: cp.Expires, bodyLine: cp.BodyLine, excerpt: cp.Excerpt, sep: cp.Sep, hasID: cp.HasID,
	}, e.Warnings, true
}

// store remembers what reading rel gave.
func (c *postCache) store(rel string, info fs.FileInfo, p *Post, warns []Warning) {
	if c == nil || c.path == "" || info.ModTime().After(c.start.Add(-racyWindow)) {
		return
	}
	e := cacheEntry{Size: info.Size(), ModTime: info.ModTime().UnixNano(), Warnings: warns}
	if p != nil {
		e.Post = &cachedPost{
			Path: p.Path, ID: p.ID, URL: p.URL, Title: p.Title, Date: p.Date, Updated: p.Updated,
			Authors: p.Authors, Categories: p.Categories, Tags: p.Tags, Image: p.Image, Enclosure: p.Enclosure,
			Lang: p.Lang, ExcerptOnly: p.ExcerptOnly, Draft: p.Draft, Hash: p.Hash,
			NoEmail: p.NoEmail, Hold: p.Hold, EmailAfter: p.EmailAfter,
			VisibleFrom: p.visibleFrom, Expires: p.expires, BodyLine: p.bodyLine, Excerpt: p.excerpt, Sep: p.sep, HasID: p.hasID,
		}
	}
	c.keep(rel, e)
}

func (c *postCache) keep(rel string, e cacheEntry) {
	c.mu.Lock()
	c.new[rel] = e
	c.mu.Unlock()
}

// save writes the entries this run saw, when they differ from what was read (temp file, then rename).
func (c *postCache) save() error {
	if c == nil || c.path == "" || c.damage == "" && sameEntries(c.old, c.new) {
		return nil
	}
	f := cacheFile{Key: c.key, Entries: make([]cacheItem, 0, len(c.new))}
	for rel, e := range c.new {
		f.Entries = append(f.Entries, cacheItem{Rel: rel, Entry: e})
	}
	slices.SortFunc(f.Entries, func(a, b cacheItem) int { return strings.Compare(a.Rel, b.Rel) })
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".posts-cache*")
	if err != nil {
		return err
	}
	err = writeCache(tmp, f)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// writeCache writes f to the new file tmp as the cache's layout has it, encoding and hashing the payload
// as it goes, then putting its sum in the header.
func writeCache(tmp *os.File, f cacheFile) error {
	var zero [sha256.Size]byte
	if _, err := tmp.WriteString(cacheVersion); err != nil {
		return err
	}
	if _, err := tmp.Write(zero[:]); err != nil {
		return err
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(tmp, h), 64<<10)
	if err := gob.NewEncoder(w).Encode(f); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := tmp.WriteAt(h.Sum(nil), int64(len(cacheVersion)))
	return err
}

func sameEntries(a, b map[string]cacheEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for k, e := range b {
		if o, ok := a[k]; !ok || o.Size != e.Size || o.ModTime != e.ModTime {
			return false
		}
	}
	return true
}
