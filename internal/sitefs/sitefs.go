// Package sitefs reads a site's own files and nothing else. A site is untrusted input (a contributor's pull
// request, a CI preview), so a file whose real path, links resolved, leaves the site's folder or lies in one
// of Herald's private paths inside it (its state folder, with the secret that signs every link), or a file
// that is not a regular file (a FIFO, a device), is refused with an error that names it.
package sitefs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// Error says why a site file was refused.
type Error struct {
	Path     string // the file as the site names it, slash-separated and relative to the site's folder
	Reason   string
	TooLarge bool // refused for its size alone
}

func (e *Error) Error() string {
	if e.TooLarge {
		return e.Path + ": " + e.Reason
	}
	return fmt.Sprintf("%s: %s; Herald reads only the site's own regular files", e.Path, e.Reason)
}

// Every *Error matches ErrRefused with errors.Is; one refused for its size also matches ErrTooLarge.
var (
	ErrRefused  = errors.New("sitefs: file refused")
	ErrTooLarge = errors.New("sitefs: file too large")
)

func (e *Error) Is(target error) bool {
	return target == ErrRefused || e.TooLarge && target == ErrTooLarge
}

// FS reads files under one site folder. It is safe for concurrent use.
type FS struct {
	dir     string        // the folder as given, to join names onto
	root    string        // the folder's real path
	private []string      // real paths no site file may be or be under
	privIDs []fs.FileInfo // the private paths that exist, to match by identity (a hard link, another case)
	limit   int64         // the most bytes ReadFile reads; 0 for no limit

	mu      sync.Mutex
	real    map[string]string // a folder's path as given → its real path
	privDir map[string]string // a real folder → the private path it is (or is inside), "" for none

	inPrivOnce sync.Once
	inPriv     []privFile // the files inside private folders: met only by a file with several names
}

type privFile struct {
	path string
	info fs.FileInfo
}

// New opens the site folder dir. private lists paths (absolute, or relative to dir) that no site file may
// read even inside the site: Herald's state folder, its config, key files. A file larger than limit bytes
// (0: no limit) is refused by ReadFile.
func New(dir string, limit int64, private ...string) (*FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("site folder: %w", err)
	}
	f := &FS{dir: abs, root: root, limit: limit, real: map[string]string{}, privDir: map[string]string{}}
	for _, p := range private {
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(abs, p)
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		} else if d, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
			p = filepath.Join(d, filepath.Base(p)) // not there yet: its folder's real path
		}
		f.private = append(f.private, filepath.Clean(p))
		if info, err := os.Stat(p); err == nil {
			f.privIDs = append(f.privIDs, info)
		}
	}
	return f, nil
}

// Dir is the site folder, absolute.
func (f *FS) Dir() string { return f.dir }

// Stat checks the site file rel (slash-separated, relative to the site) as Open does, without opening it.
func (f *FS) Stat(rel string) (fs.FileInfo, error) {
	_, info, err := f.resolve(rel)
	return info, err
}

// Open opens the site file rel for reading, after the checks of the package comment.
func (f *FS) Open(rel string) (*os.File, fs.FileInfo, error) {
	real, info, err := f.resolve(rel)
	if err != nil {
		return nil, nil, err
	}
	file, err := os.Open(real)
	if err != nil {
		return nil, nil, err
	}
	return file, info, nil
}

// ReadFile reads the site file rel whole, after the checks of the package comment and the size limit.
func (f *FS) ReadFile(rel string) ([]byte, error) {
	file, info, err := f.Open(rel)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return f.ReadAll(rel, file, info)
}

// ReadAll reads an open site file whole, refusing one larger than the limit.
func (f *FS) ReadAll(rel string, r io.Reader, info fs.FileInfo) ([]byte, error) {
	if f.limit > 0 && info.Size() > f.limit {
		return nil, f.tooLarge(rel)
	}
	if f.limit > 0 {
		r = io.LimitReader(r, f.limit+1)
	}
	var buf bytes.Buffer
	buf.Grow(int(info.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if f.limit > 0 && int64(len(b)) > f.limit {
		return nil, f.tooLarge(rel) // it grew after the stat
	}
	return b, nil
}

func (f *FS) tooLarge(rel string) error {
	return &Error{Path: rel, Reason: fmt.Sprintf("larger than %d bytes, the most Herald reads of a site file", f.limit), TooLarge: true}
}

// resolve returns the real path of the site file rel and its info, or why it is refused.
func (f *FS) resolve(rel string) (string, fs.FileInfo, error) {
	rel = path.Clean(filepath.ToSlash(rel))
	name := filepath.Join(f.dir, filepath.FromSlash(rel))
	dir, err := f.realDir(filepath.Dir(name))
	if err != nil {
		return "", nil, err
	}
	real := filepath.Join(dir, filepath.Base(name))
	info, err := os.Lstat(real)
	if err != nil {
		return "", nil, err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		if real, err = filepath.EvalSymlinks(real); err != nil {
			return "", nil, err
		}
		if info, err = os.Stat(real); err != nil {
			return "", nil, err
		}
	}
	if reason := f.check(real, info); reason != "" {
		return "", nil, &Error{Path: rel, Reason: reason}
	}
	return real, info, nil
}

// realDir is the real path of the folder dir, remembered: the files of a folder share it.
func (f *FS) realDir(dir string) (string, error) {
	f.mu.Lock()
	r, ok := f.real[dir]
	f.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	f.real[dir] = r
	f.mu.Unlock()
	return r, nil
}

// check says why the file at the real path p, with info, may not be read, or "" when it may.
func (f *FS) check(p string, info fs.FileInfo) string {
	if !within(f.root, p) {
		return fmt.Sprintf("its real path %s is outside the site's folder (a link?)", p)
	}
	if priv := f.privateOf(p, info); priv != "" {
		rel, err := filepath.Rel(f.root, priv)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = priv
		}
		return fmt.Sprintf("it is, or links to, Herald's private %s, which is never published", filepath.ToSlash(rel))
	}
	if !info.Mode().IsRegular() {
		return fmt.Sprintf("not a regular file (%s)", kind(info.Mode()))
	}
	return ""
}

// privateOf is the private path that the file at the real path p, with info, is or is inside, or "". Paths
// are compared as strings, and then files and folders by identity, since a path can name a private file
// without spelling its path: a hard link, or another case on a file system that ignores case.
func (f *FS) privateOf(p string, info fs.FileInfo) string {
	for _, priv := range f.private {
		if within(priv, p) {
			return priv
		}
	}
	for i, id := range f.privIDs {
		if os.SameFile(id, info) {
			return f.private[i]
		}
	}
	if priv := f.privateDir(filepath.Dir(p)); priv != "" {
		return priv
	}
	if links(info) > 1 {
		return f.linkedPrivate(info)
	}
	return ""
}

// linkedPrivate is the file inside a private folder that info is another name of (a hard link), or "".
// The private folders are read once, when a file with several names is first met.
func (f *FS) linkedPrivate(info fs.FileInfo) string {
	f.inPrivOnce.Do(func() {
		for i, id := range f.privIDs {
			if !id.IsDir() {
				continue
			}
			filepath.WalkDir(f.private[i], func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() && len(f.inPriv) < 1_000_000 {
					if fi, err := d.Info(); err == nil {
						f.inPriv = append(f.inPriv, privFile{p, fi})
					}
				}
				return nil
			})
		}
	})
	for _, pf := range f.inPriv {
		if os.SameFile(pf.info, info) {
			return pf.path
		}
	}
	return ""
}

// privateDir is the private folder that the real folder dir is or is inside, or "", remembered.
func (f *FS) privateDir(dir string) string {
	f.mu.Lock()
	priv, ok := f.privDir[dir]
	f.mu.Unlock()
	if ok {
		return priv
	}
	if info, err := os.Stat(dir); err == nil {
		for i, id := range f.privIDs {
			if id.IsDir() && os.SameFile(id, info) {
				priv = f.private[i]
			}
		}
	}
	if parent := filepath.Dir(dir); priv == "" && dir != f.root && parent != dir && within(f.root, parent) {
		priv = f.privateDir(parent)
	}
	f.mu.Lock()
	f.privDir[dir] = priv
	f.mu.Unlock()
	return priv
}

// within tells whether p is dir or inside it; both are clean absolute paths. (Without dir+"/": it is called
// for every private path of every file a run stats.)
func within(dir, p string) bool {
	return strings.HasPrefix(p, dir) && (len(p) == len(dir) || p[len(dir)] == filepath.Separator) || dir == string(filepath.Separator)
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a link"
	}
	return m.Type().String()
}

// Sub is the site's folder dir as an fs.FS, for templates read through io/fs; its files are checked as
// Open checks them.
func (f *FS) Sub(dir string) fs.FS { return subFS{f, path.Clean(dir)} }

type subFS struct {
	f   *FS
	dir string
}

// ReadFile reads the file name with the size limit (fs.ReadFile uses it).
func (s subFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	b, err := s.f.ReadFile(path.Join(s.dir, name))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

func (s subFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	file, _, err := s.f.Open(path.Join(s.dir, name))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return file, nil
}
