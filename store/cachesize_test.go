package store

import (
	"path/filepath"
	"testing"
)

// TestCacheSizeEveryConnection checks that each connection the pool opens has the page cache dsn sets,
// not SQLite's default or the 8 MB that made a send's peak RSS: two connections held at once.
func TestCacheSizeEveryConnection(t *testing.T) {
	ctx := t.Context()
	s, err := open(ctx, filepath.Join(t.TempDir(), "state.db"), len(migrations))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 2 {
		conn, err := s.db.Conn(ctx) // the first stays open, so the second is a new connection
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var kib int
		if err := conn.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&kib); err != nil {
			t.Fatal(err)
		}
		if kib != -4000 {
			t.Errorf("connection %d: cache_size %d, want -4000 (4 MB)", i, kib)
		}
	}
}
