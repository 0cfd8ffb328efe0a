package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
)

// Snapshot writes a consistent copy of the store at src to dst, which must not exist, without changing
// src: VACUUM INTO reads src in one read transaction, so a run writing to it meanwhile (herald serve,
// another send) cannot leave the copy half-way between two of its transactions, as copying the files
// could. The copy is at src's schema version; Open migrates it.
func Snapshot(ctx context.Context, src, dst string) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("store %s: %w", src, err)
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
