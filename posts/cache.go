package posts

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// postCache remembers what reading each post file gave, by the file's size and modification time, so that
// a run over a site of thousands of unchanged posts does not read and parse them all again: the way git's
// index spares it from reading unchanged files. The cache is only a cache: one that is missing, unreadable
// or made for another configuration is ignored, and entries for files modified within racyWindow of the
// run are not kept, since a later edit in the same clock tick could go unseen.
type postCache struct {
	path  string // "" when there is no cache
	key   string // what the entries depend on besides the file: Herald's reader, the options, the site config
	start time.Time

	old map[string]cacheEntry // as read
	mu  sync.Mutex
	new map[string]cacheEntry // what this run saw
}

const (
	cacheVersion = "herald posts cache 7" // change it when what a loader makes of a file changes
	racyWindow   = 2 * time.Second
)

type cacheFile struct {
	Key     string
	Entries map[string]cacheEntry
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
	Hash                 string
	VisibleFrom, Expires time.Time
	BodyLine             int
	Excerpt, Sep         string
	HasID                bool
}

// cacheKey hashes what a cached post depends on besides its own file.
func cacheKey(opts Options, parts ...[]byte) string {
	opts.Now = time.Time{}
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
	b, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	var f cacheFile
	if gob.NewDecoder(bytes.NewReader(b)).Decode(&f) == nil && f.Key == key {
		c.old = f.Entries
	}
	return c
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
	if c == nil || c.path == "" || sameEntries(c.old, c.new) {
		return nil
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(cacheFile{Key: c.key, Entries: c.new}); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".posts-cache*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b.Bytes())
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
