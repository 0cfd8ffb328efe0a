package feed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/heraldhq/herald/internal/sitefs"
	"github.com/heraldhq/herald/posts"
)

// Fit renders items with render and, when budget > 0 and the result is larger, drops the oldest items until
// it fits (items are newest first). It returns the bytes and how many items they hold.
func Fit(budget int, items []*posts.Post, render func([]*posts.Post) ([]byte, error)) ([]byte, int, error) {
	b, err := render(items)
	if err != nil || budget <= 0 || len(b) <= budget {
		return b, len(items), err
	}
	// Binary search for the largest n whose document fits.
	lo, hi := 0, len(items) // fits(lo) unknown for lo = 0 too: an empty feed may still be too big
	var best []byte
	bestN := -1
	for lo <= hi {
		mid := (lo + hi) / 2
		b, err := render(items[:mid])
		if err != nil {
			return nil, 0, err
		}
		if len(b) <= budget {
			best, bestN = b, mid
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	if bestN < 0 {
		return nil, 0, fmt.Errorf("feed: even an empty feed is larger than the byte budget of %d bytes; raise max_bytes", budget)
	}
	return best, bestN, nil
}

// sameFile tells whether old reads the same bytes as the file at name, comparing them a block at a time.
func sameFile(old io.Reader, name string) (bool, error) {
	f, err := os.Open(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	a, b := make([]byte, 256<<10), make([]byte, 256<<10)
	for {
		n, errA := io.ReadFull(old, a)
		m, errB := io.ReadFull(f, b)
		if n != m || !bytes.Equal(a[:n], b[:m]) {
			return false, nil
		}
		doneA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		doneB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		if errA != nil && !doneA {
			return false, errA
		}
		if errB != nil && !doneB {
			return false, errB
		}
		if doneA || doneB {
			return doneA && doneB, nil
		}
	}
}

// File is one file to write.
type File struct {
	Path string
	Data []byte
	// Guard: a file already at Path is replaced only when it carries Herald's mark (Marked), or is a JSON
	// feed an older Herald wrote before it had one for the site of Data (legacyJSON); else the write fails
	// with a *ForeignError and changes nothing.
	Guard bool
	// Temp, when set, holds the file's bytes in place of Data: a temp file beside Path that Spill wrote and
	// synced (a full-archive feed of a hundred megabytes is not held in memory). WriteFiles renames it into
	// place or removes it.
	Temp string
}

// Spill writes a file to go at path with write, into a temp file beside it (made with its folder), synced
// and ready for File.Temp; it returns the temp file's name and size, and on error leaves nothing.
func Spill(path string, write func(io.Writer) error) (string, int64, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", 0, err
	}
	err = write(tmp)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	info, serr := tmp.Stat()
	if err == nil {
		err = serr
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", 0, fmt.Errorf("write %s: %w", path, err)
	}
	return tmp.Name(), info.Size(), nil
}

// Unchanged tells whether the file at f.Path holds f's bytes already (see WriteFiles).
func Unchanged(f File) (bool, error) { return sameBytes(f) }

// WriteFiles writes files as one change, as near as a file system allows: each changed file goes to a temp
// file beside it and is synced; only when all of them are written are they renamed into place. An error
// before the renames leaves every file as it was, so the feeds never disagree with each other; a reader
// never sees half a file. Files whose bytes would not change are left alone; changed says which were
// written.
func WriteFiles(files []File) (changed []bool, err error) {
	changed = make([]bool, len(files))
	temps := make([]string, len(files))
	for i, f := range files {
		temps[i] = f.Temp // removed below unless renamed
	}
	defer func() {
		for _, t := range temps {
			if t != "" {
				os.Remove(t) // a no-op once renamed
			}
		}
	}()
	for i, f := range files {
		same, err := sameBytes(f)
		if err != nil {
			return nil, err
		}
		if same {
			continue
		}
		if f.Guard {
			if err := checkOwned(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		if f.Temp == "" {
			if temps[i], err = writeTemp(f); err != nil {
				return nil, err
			}
		}
		changed[i] = true
	}
	dirs := map[string]bool{}
	for i, f := range files {
		if !changed[i] {
			continue
		}
		if err := os.Rename(temps[i], f.Path); err != nil {
			return nil, err
		}
		temps[i] = ""
		dirs[filepath.Dir(f.Path)] = true
	}
	for dir := range dirs {
		if d, err := os.Open(dir); err == nil {
			d.Sync() // make the renames durable; not every file system supports it, so errors are ignored
			d.Close()
		}
	}
	return changed, nil
}

// CheckGuards returns the error WriteFiles would return for the first guarded file that is not Herald's,
// without writing anything.
func CheckGuards(files []File) error {
	for _, f := range files {
		if !f.Guard {
			continue
		}
		same, err := sameBytes(f)
		if err != nil {
			return err
		}
		if !same {
			if err := checkOwned(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// sameBytes tells whether the file at f.Path holds f.Data already. Only a regular file is read: a FIFO
// would block the run and a device (/dev/zero) would never end, so anything else at a feed's path,
// a symbolic link too, is an error naming it. A link is refused rather than replaced: the rename would put
// a file in its place and cut the link, and whatever the author meant it for (serving the feed from
// elsewhere) would silently stop getting the new feed.
func sameBytes(f File) (bool, error) {
	before, err := os.Lstat(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err // os errors name the path
	}
	if !before.Mode().IsRegular() {
		what := "not a regular file"
		switch m := before.Mode(); {
		case m&fs.ModeSymlink != 0:
			what = "a symbolic link"
		case m&fs.ModeNamedPipe != 0:
			what = "a named pipe (FIFO)"
		case m&fs.ModeDevice != 0:
			what = "a device"
		case m.IsDir():
			what = "a folder"
		}
		return false, fmt.Errorf("feed: %s is %s; Herald writes its files only in place of regular files: remove it, or set another output folder", f.Path, what)
	}
	size := int64(len(f.Data))
	if f.Temp != "" {
		info, err := os.Stat(f.Temp)
		if err != nil {
			return false, err
		}
		size = info.Size()
	}
	if before.Size() != size {
		return false, nil // no need to read it: its bytes differ
	}
	file, now, err := sitefs.OpenRegular(f.Path)
	if err != nil {
		return false, fmt.Errorf("feed: %w", err)
	}
	defer file.Close()
	if !os.SameFile(before, now) {
		return false, fmt.Errorf("feed: %s changed while Herald read it", f.Path)
	}
	if f.Temp != "" {
		return sameFile(file, f.Temp)
	}
	old, err := io.ReadAll(io.LimitReader(file, int64(len(f.Data))+1))
	if err != nil {
		return false, err
	}
	return bytes.Equal(old, f.Data), nil
}

// writeTemp writes f's data to a synced temp file in f's folder and returns its name.
func writeTemp(f File) (string, error) {
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.Path)+".tmp*")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(f.Data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write %s: %w", f.Path, err)
	}
	return tmp.Name(), nil
}
