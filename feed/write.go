package feed

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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

// WriteFile writes data to path atomically (a temp file in the same folder, synced, then renamed over
// path), so that a reader never sees half a feed. A file that already holds data is left alone; changed
// reports whether the file was written.
func WriteFile(path string, data []byte) (changed bool, err error) {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create folder for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; not every file system supports it, so errors are ignored
		d.Close()
	}
	return true, nil
}
