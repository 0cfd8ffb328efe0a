package posts

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
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
	"time"

	"github.com/heraldhq/herald/internal/sitefs"
)

// postCache remembers what reading each post file gave, by the file's size and modification time, so that
// a run over a site of thousands of unchanged posts does not read and parse them all again: the way git's
// index spares it from reading unchanged files. The cache is only a cache, never trusted: one that is
// missing or made for another configuration is ignored, one that fails a check (its header and version,
// its SHA-256, its size, its entries) is ignored with a warning, and entries for files modified within
// racyWindow of the run are not kept, since a later edit in the same clock tick could go unseen.
//
// The file is read whole into one string, and an entry's post is decoded from it only when its file is
// looked up, its strings pointing into that string: a site of 10,000 posts holds 5 MB for its cache and
// its posts' strings together, rather than a decoded copy of every entry beside the posts made of them.
type postCache struct {
	path  string // "" when there is no cache
	key   string // what the entries depend on besides the file: Herald's reader, the options, the site config
	start time.Time

	old    []cacheEntry // as read, sorted by rel
	used   []bool       // old[i] was looked up and its file had not changed
	mu     sync.Mutex
	damage string       // why the file, or an entry of it, was ignored
	fresh  []cacheEntry // what this run read from the files
}

const (
	cacheVersion  = "herald posts cache 11\n" // the file's first line; change it when what a loader makes of a file changes
	racyWindow    = 2 * time.Second
	maxCacheBytes = 256 << 20 // a larger file is not read: no real site's cache comes near it
)

// A cache file is cacheVersion, the SHA-256 of the rest, then the key (a string), the number of entries
// and the entries, sorted by rel: each its rel, size and modification time, then its body, what reading
// the file gave (see appendBody). Integers are varints; a string is its length, then its bytes.
type cacheEntry struct {
	rel     string
	size    int64
	modTime int64 // nanoseconds
	body    string
}

// minEntryBytes is the smallest entry: a rel of one byte (two bytes), its size and time, an empty body.
const minEntryBytes = 5

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
	c := &postCache{path: path, key: key, start: time.Now()}
	if path == "" {
		return c
	}
	payload, err := readCacheFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c
	}
	if err == nil {
		c.old, err = parseEntries(payload, key)
	}
	if err != nil {
		c.damage = err.Error()
		c.old = nil
	}
	c.used = make([]bool, len(c.old))
	return c
}

// readCacheFile reads the cache file at path and checks its header and checksum; it returns the rest.
// Only a regular file is opened: a FIFO would block the run until a writer came, a device may never end.
func readCacheFile(path string) (string, error) {
	file, info, err := sitefs.OpenRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("not a regular file of at most %d bytes", maxCacheBytes)
	}
	defer file.Close()
	if info.Size() > maxCacheBytes {
		return "", fmt.Errorf("not a regular file of at most %d bytes", maxCacheBytes)
	}
	r := io.LimitReader(file, info.Size()) // a file that grew since is cut short, and fails its checksum
	head := make([]byte, len(cacheVersion)+sha256.Size)
	if _, err := io.ReadFull(r, head); err != nil || string(head[:len(cacheVersion)]) != cacheVersion {
		return "", errors.New("not a cache of this version of Herald")
	}
	// Read into a strings.Builder, whose string is its buffer: the posts' strings point into it.
	var payload strings.Builder
	payload.Grow(int(info.Size()) - len(head))
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(&payload, h), r); err != nil {
		return "", err
	}
	if !bytes.Equal(h.Sum(nil), head[len(cacheVersion):]) {
		return "", errors.New("its checksum does not match: it was damaged")
	}
	return payload.String(), nil
}

// parseEntries reads the entries of a cache's payload, leaving their bodies as they are; none when the
// cache was made for another key.
func parseEntries(payload, key string) ([]cacheEntry, error) {
	r := cacheReader{s: payload}
	if r.str() != key {
		return nil, nil
	}
	n := r.count(minEntryBytes)
	if r.bad {
		return nil, errors.New("cannot decode it")
	}
	entries := make([]cacheEntry, 0, n)
	for range n {
		e := cacheEntry{rel: r.str(), size: int64(r.uvarint()), modTime: r.varint(), body: r.str()}
		if r.bad || e.rel == "" || e.size < 0 || len(entries) > 0 && entries[len(entries)-1].rel >= e.rel {
			return nil, fmt.Errorf("entry %q does not hold together", e.rel)
		}
		entries = append(entries, e)
	}
	if r.s != "" {
		return nil, errors.New("it has bytes after its last entry")
	}
	return entries, nil
}

// warning says why the cache file, or an entry of it, was ignored, if one failed a check.
func (c *postCache) warning() *Warning {
	if c == nil || c.damage == "" {
		return nil
	}
	return &Warning{File: c.path, Msg: "the posts cache is ignored (" + c.damage + "); every post is read again and the cache written anew"}
}

// lookup returns the cached result for rel if info says the file has not changed since. The post's dates
// are in loc, as a loader's are.
func (c *postCache) lookup(rel string, info fs.FileInfo, loc *time.Location) (p *Post, warns []Warning, ok bool) {
	if c == nil {
		return nil, nil, false
	}
	i, found := slices.BinarySearchFunc(c.old, rel, func(e cacheEntry, rel string) int { return strings.Compare(e.rel, rel) })
	if !found || c.old[i].size != info.Size() || c.old[i].modTime != info.ModTime().UnixNano() {
		return nil, nil, false
	}
	p, warns, err := decodeBody(c.old[i].rel, c.old[i].body, loc) // rel from the cache's string: the caller's can go
	if err != nil {
		// Only a file that Herald did not write gets here: its checksum held.
		c.mu.Lock()
		c.damage = fmt.Sprintf("entry %q does not hold together", rel)
		c.mu.Unlock()
		return nil, nil, false
	}
	c.used[i] = true // each file is looked up once, by one goroutine
	return p, warns, true
}

// store remembers what reading rel gave.
func (c *postCache) store(rel string, info fs.FileInfo, p *Post, warns []Warning) {
	if c == nil || c.path == "" || info.ModTime().After(c.start.Add(-racyWindow)) {
		return
	}
	e := cacheEntry{rel: rel, size: info.Size(), modTime: info.ModTime().UnixNano(), body: string(appendBody(nil, p, warns))}
	c.mu.Lock()
	c.fresh = append(c.fresh, e)
	c.mu.Unlock()
}

// changed tells whether the file would change: a file was read, or an entry's file was gone or changed.
func (c *postCache) changed() bool {
	return c.damage != "" || len(c.fresh) > 0 || slices.Contains(c.used, false)
}

// save writes the entries this run saw, when they differ from what was read (temp file, then rename).
func (c *postCache) save() error {
	if c == nil || c.path == "" || !c.changed() {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".posts-cache*")
	if err != nil {
		return err
	}
	err = c.write(tmp)
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

// write writes the cache to the new file tmp as its layout has it, hashing the payload as it goes, then
// putting its sum in the header: the entries of the files that did not change as they were read, and
// those read by this run.
func (c *postCache) write(tmp *os.File) error {
	var zero [sha256.Size]byte
	if _, err := tmp.WriteString(cacheVersion); err != nil {
		return err
	}
	if _, err := tmp.Write(zero[:]); err != nil {
		return err
	}
	var entries []cacheEntry
	for i, e := range c.old {
		if c.used[i] {
			entries = append(entries, e)
		}
	}
	entries = append(entries, c.fresh...)
	slices.SortFunc(entries, func(a, b cacheEntry) int { return strings.Compare(a.rel, b.rel) })
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(tmp, h), 64<<10)
	b := appendString(nil, c.key)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = appendString(b, e.rel)
		b = binary.AppendUvarint(b, uint64(e.size))
		b = binary.AppendVarint(b, e.modTime)
		b = appendString(b, e.body)
		if _, err := w.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := tmp.WriteAt(h.Sum(nil), int64(len(cacheVersion)))
	return err
}

// An entry's body is what reading its file gave: a byte that says whether it is a post (not one when
// published: false), the post's fields when it is, then the warnings. A post is kept as Load leaves it,
// less its path (the entry's rel) and its front matter (Data), which the renderer reads again.
const isPost = 1

// The post's flags, in one byte.
const (
	flagExcerptOnly = 1 << iota
	flagDraft
	flagNoEmail
	flagHold
	flagHasID
)

// appendBody appends the body of an entry for post p (nil when the file is not a post) and warns to b.
func appendBody(b []byte, p *Post, warns []Warning) []byte {
	if p != nil {
		b = append(b, isPost)
		for _, s := range []string{p.ID, p.URL, p.Title, p.Image, p.Lang, p.Hash, p.excerpt, p.sep} {
			b = appendString(b, s)
		}
		for _, t := range []time.Time{p.Date, p.Updated, p.visibleFrom, p.expires} {
			b = binary.AppendVarint(b, t.Unix())
			b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
		}
		b = binary.AppendUvarint(b, uint64(len(p.Authors)))
		for _, a := range p.Authors {
			b = appendString(appendString(appendString(b, a.Name), a.Email), a.URL)
		}
		for _, list := range [][]string{p.Categories, p.Tags} {
			b = binary.AppendUvarint(b, uint64(len(list)))
			for _, s := range list {
				b = appendString(b, s)
			}
		}
		if e := p.Enclosure; e != nil {
			b = append(b, 1)
			b = appendString(binary.AppendVarint(appendString(b, e.URL), e.Length), e.Type)
		} else {
			b = append(b, 0)
		}
		b = append(b, flag(p.ExcerptOnly, flagExcerptOnly)|flag(p.Draft, flagDraft)|flag(p.NoEmail, flagNoEmail)|
			flag(p.Hold, flagHold)|flag(p.hasID, flagHasID))
		b = binary.AppendVarint(b, int64(p.EmailAfter))
		b = binary.AppendVarint(b, int64(p.bodyLine))
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(warns)))
	for _, w := range warns {
		b = appendString(binary.AppendVarint(appendString(b, w.File), int64(w.Line)), w.Msg)
	}
	return b
}

// decodeBody decodes the body of rel's entry, as appendBody made it; its strings point into body.
func decodeBody(rel, body string, loc *time.Location) (*Post, []Warning, error) {
	r := cacheReader{s: body}
	var p *Post
	switch r.byte() {
	case isPost:
		p = &Post{Path: rel}
		for _, s := range []*string{&p.ID, &p.URL, &p.Title, &p.Image, &p.Lang, &p.Hash, &p.excerpt, &p.sep} {
			*s = r.str()
		}
		for _, t := range []*time.Time{&p.Date, &p.Updated, &p.visibleFrom, &p.expires} {
			*t = r.time(loc)
		}
		if n := r.count(3); n > 0 { // three strings
			p.Authors = make([]Author, n)
			for i := range p.Authors {
				p.Authors[i] = Author{Name: r.str(), Email: r.str(), URL: r.str()}
			}
		}
		p.Categories, p.Tags = r.strings(), r.strings()
		if r.byte() == 1 {
			p.Enclosure = &Enclosure{URL: r.str(), Length: r.varint(), Type: r.str()}
		}
		flags := r.byte()
		p.ExcerptOnly, p.Draft, p.NoEmail = flags&flagExcerptOnly != 0, flags&flagDraft != 0, flags&flagNoEmail != 0
		p.Hold, p.hasID = flags&flagHold != 0, flags&flagHasID != 0
		p.EmailAfter = time.Duration(r.varint())
		p.bodyLine = int(r.varint())
	case 0:
	default:
		r.bad = true
	}
	var warns []Warning
	if n := r.count(3); n > 0 { // two strings and a varint
		warns = make([]Warning, n)
		for i := range warns {
			warns[i] = Warning{File: r.str(), Line: int(r.varint()), Msg: r.str()}
		}
	}
	if r.bad || r.s != "" {
		return nil, nil, errors.New("cannot decode it")
	}
	return p, warns, nil
}

func flag(set bool, f byte) byte {
	if set {
		return f
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// cacheReader reads the varints and strings of a cache from s. Once it runs out of bytes, or meets a
// length longer than what is left, bad is set and it gives zero values.
type cacheReader struct {
	s   string
	bad bool
}

func (r *cacheReader) uvarint() uint64 {
	var v uint64
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.s = r.s[i+1:]
			return v
		}
	}
	r.s, r.bad = "", true
	return 0
}

// varint reads a signed varint, as binary.AppendVarint writes it.
func (r *cacheReader) varint() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (r *cacheReader) byte() byte {
	if r.s == "" {
		r.bad = true
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}

func (r *cacheReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.s)) {
		r.s, r.bad = "", true
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// count reads the length of a list whose every element takes least bytes at least: a count that the
// bytes left cannot hold is bad, so that a crafted count allocates nothing. least must be the element's
// smallest encoding (an Author is three strings, three bytes), or the list made for a count of n elements
// of 48 bytes each could be 48 times the bytes that claim it: a 256 MB cache asking for 12 GB.
func (r *cacheReader) count(least int) int {
	n := r.uvarint()
	if n > uint64(len(r.s)/least) {
		r.s, r.bad = "", true
		return 0
	}
	return int(n)
}

func (r *cacheReader) strings() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	list := make([]string, n)
	for i := range list {
		list[i] = r.str()
	}
	return list
}

// time reads a time as appendBody writes it (seconds and nanoseconds since 1970), in loc; the zero time
// stays zero.
func (r *cacheReader) time(loc *time.Location) time.Time {
	sec, nsec := r.varint(), r.uvarint()
	if nsec >= 1e9 {
		r.bad = true
		return time.Time{}
	}
	if sec == zeroUnix && nsec == 0 {
		return time.Time{}.In(loc)
	}
	return time.Unix(sec, int64(nsec)).In(loc)
}

var zeroUnix = time.Time{}.Unix()
