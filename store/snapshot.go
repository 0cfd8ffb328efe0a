package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Snapshot writes a consistent copy of the store at src to dst, which must not exist, without changing
// src: VACUUM INTO reads src in one read transaction, so a run writing to it meanwhile (herald serve,
// another send) cannot leave the copy half-way between two of its transactions, as copying the files
// could. The copy is at src's schema version; Open migrates it.
//
// A PostgreSQL store at src (o holds its password) is copied with Copy into a new SQLite file at dst: that
// takes its run lock for the while, so a snapshot waits for no run but fails while one runs. A source with
// no store is an error wrapping ErrNoStore.
func Snapshot(ctx context.Context, src, dst string, o Options) error {
	if IsPostgres(src) {
		return snapshotPostgres(ctx, src, dst, o)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("store %s: %w", src, err)
	}
	if _, err := os.Lstat(abs); errors.Is(err, fs.ErrNotExist) {
		return &pathError{path: abs, kind: ErrNoStore, msg: "does not exist"}
	}
	if err := checkFile(abs); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return fmt.Errorf("store %s: %w", abs, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("store %s: copy to %s: %w", abs, dst, err)
	}
	return nil
}

func snapshotPostgres(ctx context.Context, src, dst string, o Options) error {
	o.Existing = true
	from, err := OpenWith(ctx, src, o)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := Open(ctx, dst)
	if err != nil {
		return err
	}
	defer to.Close()
	_, err = Copy(ctx, to, from)
	return err
}
