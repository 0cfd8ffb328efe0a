package store

import (
	"testing"
)

// TestLockReleasedAtUnlock: once Unlock has returned, the run lock is free: the next run, from another
// store handle (another process), takes it at once. A run that follows another in a script
// (herald subscribers import, then herald publish) must not find the lock still held.
func TestLockReleasedAtUnlock(t *testing.T) {
	url := pg.DB(t)
	open := func() Store {
		s, err := openPostgres(t.Context(), url, Options{}, len(migrations))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	for i := range 200 {
		l, err := a.Lock(t.Context(), "publish")
		if err != nil {
			t.Fatalf("round %d: a: %v", i, err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
		l, err = b.Lock(t.Context(), "publish")
		if err != nil {
			t.Fatalf("round %d: the lock just released by Unlock: %v", i, err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
}
