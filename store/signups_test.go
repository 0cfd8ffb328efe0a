package store

import (
	"path/filepath"
	"testing"
	"time"
)

// TestTakeLimit: a key counts up to its limit in a fixed window that its first request starts; a request
// refused changes nothing; a request after the window starts a new one at 1; keys count apart.
func TestTakeLimit(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	take := func(key string, n int, at time.Time) int {
		t.Helper()
		got, err := s.TakeLimit(t.Context(), key, n, time.Hour, at)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	row := func(key string) (end string, count int) {
		t.Helper()
		if err := s.db.QueryRowContext(t.Context(), "SELECT window_end, count FROM limit_counts WHERE key = ?", key).Scan(&end, &count); err != nil {
			t.Fatal(err)
		}
		return end, count
	}
	steps := []struct {
		name string
		key  string
		at   time.Duration // after t0
		want int
	}{
		{"first", "a", 0, 1},
		{"second", "a", 10 * time.Minute, 2},
		{"third, the limit", "a", 20 * time.Minute, 3},
		{"over", "a", 30 * time.Minute, 0},
		{"another key", "b", 30 * time.Minute, 1},
		{"still over, just before the window ends", "a", time.Hour - time.Nanosecond, 0},
		{"a new window", "a", time.Hour, 1},
		{"counting again", "a", time.Hour + time.Minute, 2},
	}
	for _, st := range steps {
		if got := take(st.key, 3, t0.Add(st.at)); got != st.want {
			t.Errorf("%s: got %d, want %d", st.name, got, st.want)
		}
		if st.name == "over" {
			if end, count := row("a"); end != layoutString(t0.Add(time.Hour)) || count != 3 {
				t.Errorf("a refused request changed the row to %s, %d", end, count)
			}
		}
	}
	if end, _ := row("a"); end != layoutString(t0.Add(2*time.Hour)) {
		t.Errorf("the new window ends at %s, want %s", end, layoutString(t0.Add(2*time.Hour)))
	}
	if got := take("c", 0, t0); got != 0 {
		t.Errorf("a limit of 0 took a request: %d", got)
	}

	// Pruning deletes the counts whose window has ended, and only those.
	n, err := s.PruneLimits(t.Context(), t0.Add(time.Hour+30*time.Minute))
	if err != nil || n != 1 {
		t.Errorf("prune: got %d, %v, want 1 (b)", n, err)
	}
	var left int
	if err := s.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM limit_counts").Scan(&left); err != nil || left != 1 {
		t.Errorf("got %d counts left (%v), want 1 (a)", left, err)
	}
	if got := take("a", 3, t0.Add(time.Hour+31*time.Minute)); got != 3 {
		t.Errorf("after the prune: got %d, want a's count to go on (3)", got)
	}
}

// TestTakeLimitSurvivesReopen: the counts are in the file.
func TestTakeLimitSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := openStore(t, path)
	for range 2 {
		if _, err := s.TakeLimit(t.Context(), "k", 2, time.Hour, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	if got, err := s.TakeLimit(t.Context(), "k", 2, time.Hour, t0.Add(time.Minute)); err != nil || got != 0 {
		t.Errorf("after reopening: got %d, %v, want 0 (the limit was reached before)", got, err)
	}
}

// TestSignUpQueue: queued sign-ups come back oldest first, as written, after the store is reopened too;
// dequeued ones are gone.
func TestSignUpQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openStore(t, path)
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 123, time.UTC)
	want := []QueuedSignUp{
		{Email: "Ann@Example.com", Name: "Ann Lee", Frequency: Daily, IP: "192.0.2.1", At: t0},
		{Email: "bob@example.com", IP: "2001:db8::1", At: t0.Add(time.Second)},
		{Email: "cy@example.com", Frequency: Weekly, IP: "192.0.2.3", At: t0.Add(-time.Hour)}, // queued last, whatever its time
	}
	for _, q := range want {
		if err := s.QueueSignUp(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	got, err := s.QueuedSignUps(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d queued, want %d", len(got), len(want))
	}
	for i := range want {
		want[i].ID = got[i].ID
		if got[i] != want[i] {
			t.Errorf("%d: got %+v, want %+v", i, got[i], want[i])
		}
		if i > 0 && got[i].ID <= got[i-1].ID {
			t.Errorf("ids out of order: %d after %d", got[i].ID, got[i-1].ID)
		}
	}
	if first, err := s.QueuedSignUps(t.Context(), 1); err != nil || len(first) != 1 || first[0] != want[0] {
		t.Errorf("the first: got %+v, %v", first, err)
	}
	for _, id := range []int64{want[0].ID, want[0].ID} { // twice: the second finds nothing, which is no error
		if err := s.DequeueSignUp(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	if rest, err := s.QueuedSignUps(t.Context(), 10); err != nil || len(rest) != 2 || rest[0] != want[1] {
		t.Errorf("after dequeueing the first: got %+v, %v", rest, err)
	}
}

// TestCheckWrite: the check writes one row, and fails on a store that cannot be written.
func TestCheckWrite(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 2 {
		if err := s.CheckWrite(t.Context(), t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	var at string
	if err := s.db.QueryRowContext(t.Context(), "SELECT COUNT(*), MAX(checked_at) FROM write_checks").Scan(&n, &at); err != nil {
		t.Fatal(err)
	}
	if n != 1 || at != layoutString(t0.Add(time.Minute)) {
		t.Errorf("got %d rows, last check %s; want 1, %s", n, at, layoutString(t0.Add(time.Minute)))
	}
	s.db.SetMaxOpenConns(1) // one connection, which the pragma is on
	if _, err := s.db.ExecContext(t.Context(), "PRAGMA query_only = 1"); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWrite(t.Context(), t0); err == nil {
		t.Errorf("a store that takes no writes passed the check")
	}
}
