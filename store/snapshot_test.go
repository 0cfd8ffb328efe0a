package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestSnapshot(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	src := filepath.Join(dir, "state.db")
	s := openStore(t, src)
	r, seen := generation(0, 50)
	record(t, s, r, seen)
	now := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	if _, err := s.AddSubscriber(ctx, Subscriber{Email: "a@example.com", Status: Active}, now); err != nil {
		t.Fatal(err)
	}

	// A writer holds a transaction open, uncommitted, while the copy is made: the copy has the committed
	// state only. (A copy of the files would too; what VACUUM INTO adds, one read transaction across the
	// database and its WAL, is SQLite's to keep.)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE subscribers SET name = 'half-way'"); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "copy.db")
	if err := Snapshot(ctx, src, dst, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	c := openStore(t, dst)
	if d := diffItems(items(t, c), items(t, s)); d != "" {
		t.Errorf("items of the copy differ:\n%s", d)
	}
	subs, err := c.Subscribers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].Email != "a@example.com" || subs[0].Name != "" {
		t.Errorf("subscribers of the copy: got %+v, want a@example.com with no name", subs)
	}

	// Changing the copy leaves the original as it was.
	if err := c.DeleteSubscriber(ctx, subs[0].ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Subscribers(ctx, ""); err != nil || len(got) != 1 {
		t.Errorf("original after the copy changed: got %d subscribers (%v), want 1", len(got), err)
	}

	if err := Snapshot(ctx, src, dst, Options{}); err == nil {
		t.Error("Snapshot onto an existing file: got no error")
	}
	if err := Snapshot(context.Background(), filepath.Join(dir, "none.db"), filepath.Join(dir, "x.db"), Options{}); !errors.Is(err, ErrNoStore) {
		t.Errorf("Snapshot of a missing store: got %v, want ErrNoStore", err)
	}
}

// TestSnapshotPostgres: a PostgreSQL store's snapshot is an SQLite file with what it holds; an empty
// database has no store to snapshot, and is left without one.
func TestSnapshotPostgres(t *testing.T) {
	ctx := t.Context()
	raw := pg.DB(t)
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := Snapshot(ctx, raw, dst, Options{}); !errors.Is(err, ErrNoStore) {
		t.Fatalf("Snapshot of an empty database: got %v, want ErrNoStore", err)
	}
	s, err := Open(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AddSubscriber(ctx, Subscriber{Email: "ann@example.com", Status: Active}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := Snapshot(ctx, raw, dst, Options{}); err != nil {
		t.Fatal(err)
	}
	c, err := Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := c.Subscribers(ctx, Active); err != nil || len(got) != 1 || got[0].Email != "ann@example.com" {
		t.Errorf("the snapshot holds %v (%v), want ann@example.com", got, err)
	}
}
