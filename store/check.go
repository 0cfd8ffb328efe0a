package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// checkFile looks at an existing store file's bytes before SQLite touches it, so that a file that is not
// an SQLite database, or a truncated one, is reported and left exactly as it is. (SQLite itself would
// write to a file it cannot make sense of once Herald switched it to WAL mode.) A zero-length file is an
// empty database to SQLite, but never a Herald store (create makes a store whole, elsewhere, and links it
// into place): it was truncated, or made by something else, and taking it for a new store would start a
// new history, and mail everyone again, without a word.
//
// The header layout is https://www.sqlite.org/fileformat2.html#the_database_header.
func checkFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return &pathError{path: path, err: err,
				msg: "cannot be opened for reading and writing (permission denied); check its owner and mode, and run Herald as the user who owns it"}
		}
		return &pathError{path: path, err: err, msg: "cannot be opened: " + err.Error()}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return &pathError{path: path, err: err, msg: "cannot be read: " + err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return &pathError{path: path, kind: ErrNotStore, msg: "is not a regular file; point `store` at a file"}
	}
	size := fi.Size()
	const restore = "; restore it from a backup, or move it away to start a new history (Herald has not changed it)"
	if size == 0 {
		return &pathError{path: path, kind: ErrCorrupt, msg: "is empty (0 bytes), which a Herald store never is: it was truncated, or made by something else" + restore}
	}
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return &pathError{path: path, err: err, msg: "cannot be read: " + err.Error()}
	}
	if !bytes.HasPrefix(h[:], []byte("SQLite format 3\x00")) {
		return &pathError{path: path, kind: ErrCorrupt,
			msg: "is not an SQLite database (it does not start with SQLite's header): it is corrupt or another kind of file" + restore}
	}
	if size < int64(len(h)) {
		return &pathError{path: path, kind: ErrCorrupt,
			msg: fmt.Sprintf("is truncated (%d bytes, shorter than SQLite's header)", size) + restore}
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return &pathError{path: path, kind: ErrCorrupt,
			msg: fmt.Sprintf("is corrupt (its header gives a page size of %d)", pageSize) + restore}
	}
	// Pages that are still in the write-ahead log are missing from the file until a checkpoint: the
	// size tells nothing then, and SQLite recovers them from the log.
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() >= 32+24+pageSize {
		return nil
	}
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	sizeValid := pages > 0 && bytes.Equal(h[24:28], h[92:96])
	if size%pageSize != 0 || (sizeValid && size < pages*pageSize) {
		want := ""
		if sizeValid {
			want = fmt.Sprintf(" where its header says %d", pages*pageSize)
		}
		return &pathError{path: path, kind: ErrCorrupt,
			msg: fmt.Sprintf("is truncated (%d bytes%s)", size, want) + restore}
	}
	return nil
}
