package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPostgresURLErrorHidesPassword: a URL whose password holds a character that must be percent-encoded
// (#, ? or /) and is not cannot be parsed, and net/url's error quotes what it took for the port: the
// password, or its start. No error may show it.
func TestPostgresURLErrorHidesPassword(t *testing.T) {
	const secret = "Zq9sEcReT"
	for _, raw := range []string{
		"postgres://ann:" + secret + "#1@127.0.0.1:5432/herald",
		"postgres://ann:" + secret + "?1@127.0.0.1:5432/herald",
		"postgres://ann:" + secret + "/1@127.0.0.1:5432/herald",
	} {
		s, err := OpenWith(t.Context(), raw, Options{})
		if err == nil {
			s.Close()
			t.Errorf("%s: got no error", Name(raw))
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows the password: %q", err)
		}
	}
}

// TestPostgresSenderSessionLost: a sender's claims and its "running" are its lock session's, a connection
// of its own that sits idle while the pool's connections do the work. When that session ends and the
// process goes on (the server or a proxy dropped the idle connection, idle_session_timeout, an admin's
// pg_terminate_backend), its claims are anyone's, another sender's Recover takes what it is sending
// for a dead sender's, and a publishing run or a copy may take the run lock alone, while it goes on
// claiming and marking its claimed deliveries sending. Store's comments: "what running senders are sending is
// theirs"; a claim lasts while its sender's session does. The sender must find out that its session
// ended (and stop) rather than go on sending as a sender it no longer is.
func TestPostgresSenderSessionLost(t *testing.T) {
	var b backend
	for _, x := range backends {
		if x.name == "postgres" {
			b = x
		}
	}
	open := b.fresh(t)
	c := &cstore{Store: open(t), t: t, b: b, open: open}
	ctx := t.Context()
	ledgerSite(t, c)
	for i := range 3 {
		c.add(Subscriber{Email: fmt.Sprintf("r%d@example.com", i), Status: Active}, chours(1))
	}
	c.record(&Run{Started: chours(2), Command: "publish"}, Item{ID: "old", URL: "u", Hash: "h"},
		post("p1", chours(1.8), true), post("p2", chours(1.9), true))
	c.plan(chours(2), 8)

	a := c.Store.(*pgStore)
	la, err := a.LockSend(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	ga, err := a.ClaimAfter(ctx, chours(2), 0, 4)
	if err != nil || len(ga) != 4 {
		t.Fatalf("a claims: %v, %v", deliveryIDs(ga), err)
	}
	first := ga[0]
	if skipped, err := a.Sending(ctx, []Attempt{{DeliveryID: first.ID, MessageID: "<1@x>"}}, chours(2)); err != nil || len(skipped) > 0 {
		t.Fatalf("Sending: %v, %v", skipped, err)
	}

	// a's lock session ends; a's pool, and a, go on.
	other := open(t).(*pgStore)
	pid := la.(*pgSendLock).conn.PgConn().PID()
	if _, err := other.pool.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	waitGone(t, other, pid)

	// Now a publishing run or a copy can take the run lock alone (a's shared hold went with the
	// session), while a, still running, writes on.
	l, err := other.Lock(ctx, "store copy")
	if err != nil {
		t.Fatalf("Lock after a's session ended: %v", err)
	}
	defer l.Unlock()

	// a goes on as if it were still a sender.
	if skipped, err := a.Sending(ctx, []Attempt{{DeliveryID: ga[1].ID, MessageID: "<2@x>"}}, chours(2)); err == nil && len(skipped) == 0 {
		t.Errorf("a, whose sender session has ended, marked delivery %d sending: want an error (its claim ended with its session, and another sender may take it)", ga[1].ID)
	}
	if _, err := a.ClaimAfter(ctx, chours(2), 0, 10); err == nil {
		t.Error("ClaimAfter by a, whose sender session has ended: got no error, want one (it is no sender any more)")
	}
	la.Unlock()
}

// waitGone waits until the server has ended the backend pid's session.
func waitGone(t *testing.T, s *pgStore, pid uint32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", int64(pid)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("session %d did not end", pid)
}

// TestPostgresIdleSessionTimeout: a server, database or role with idle_session_timeout set (PostgreSQL 14
// and later; managed services set it to reap idle connections) ends every session that sits idle that
// long. The sender's lock session does nothing but sit idle while the pool does the work, so the server
// ends it during any send that lasts longer: the sender loses its claims and its shared hold of the run
// lock while it goes on sending, and a publishing run or a copy may start. The same holds for a
// publishing run's own run lock.
func TestPostgresIdleSessionTimeout(t *testing.T) {
	raw := pg.DB(t)
	ctx := t.Context()
	admin := pgOpen(t, raw)
	if _, err := admin.pool.Exec(ctx, `ALTER DATABASE "`+dbName(t, raw)+`" SET idle_session_timeout = '1s'`); err != nil {
		t.Fatal(err)
	}
	admin.Close()

	a := pgOpen(t, raw)
	la, err := a.LockSend(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	defer la.Unlock()
	// a sends for 3 s: its pool is busy all along.
	busy(t, a, 3*time.Second)
	held, err := a.senderHeld(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !held {
		t.Error("after 3 s of sending under idle_session_timeout = 1s, the sender's lock is gone while it runs")
	}
	p := pgOpen(t, raw)
	if l, err := p.Lock(ctx, "publish"); err == nil {
		l.Unlock()
		t.Error("a publishing run took the run lock while a sender runs (its shared hold went with its idle session)")
	}
	la.Unlock()

	// A publishing run's run lock, for a run whose build and sending take longer than the timeout.
	l, err := p.Lock(ctx, "publish")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	busy(t, p, 3*time.Second)
	if l2, err := pgOpen(t, raw).Lock(ctx, "publish"); err == nil {
		l2.Unlock()
		t.Error("a second publishing run took the run lock while the first runs (its lock's session went idle)")
	}
}

// busy keeps s's pool at work for d, as a sender's Commits do.
func busy(t *testing.T, s *pgStore, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if _, err := s.pool.Exec(t.Context(), "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
}

// senderHeld says whether s's sender lock is held, as other senders see it (pg_locks).
func (s *pgStore) senderHeld(ctx context.Context) (bool, error) {
	s.mu.Lock()
	me := s.sender
	s.mu.Unlock()
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT CAST($1 AS bigint) AS claimed_by) c WHERE c.`+s.live(), me).Scan(&n)
	return n == 1, err
}

// TestPostgresHolderStaleRow: the run_lock row a finished publishing run left (Unlock deletes it, a killed
// run leaves it) names the holder when its backend_pid holds the run lock in any mode. Backend pids are
// the server's process ids, which come round again: when a sender's lock session gets the dead run's pid,
// a Lock's error names the long-gone publishing run rather than the running sender.
func TestPostgresHolderStaleRow(t *testing.T) {
	raw := pg.DB(t)
	ctx := t.Context()
	a, p := pgOpen(t, raw), pgOpen(t, raw)
	la, err := a.LockSend(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	defer la.Unlock()
	// A publishing run, killed long ago, whose server process had the pid the sender's session has now.
	pid := la.(*pgSendLock).conn.PgConn().PID()
	if _, err := p.pool.Exec(ctx, `INSERT INTO run_lock (lock_key, backend_pid, pid, host, command, since)
		VALUES ($1, $2, 4242, 'ci-runner', 'publish', now() - interval '30 days')`, p.runKey, int64(pid)); err != nil {
		t.Fatal(err)
	}
	_, err = p.Lock(ctx, "publish")
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while a sender runs: got %v, want a LockedError", err)
	}
	if le.Senders != 1 || le.Command == "publish" {
		t.Errorf("Lock while a sender runs: got %q, want it to say 1 running sender, not the dead publish", le)
	}
}
