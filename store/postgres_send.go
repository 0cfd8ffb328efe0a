package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Several senders share a PostgreSQL store's queue. Each one, while it runs, holds on a connection of its
// own (its session):
//   - the run lock in shared mode (pg_try_advisory_lock_shared(appID, runKey)), so that a publishing run
//     or a copy, which takes it alone (Lock), waits for no sender and no sender for them: either fails at
//     once while the other runs;
//   - the lock (senderKey, n), n being its number from the sequence sender_ids.
//
// A sender claims deliveries by writing its number into claimed_by (ClaimAfter, FOR UPDATE SKIP LOCKED).
// A claim counts while the lock (senderKey, claimed_by) is held, that is while the sender's session
// lasts: the server drops the lock when the session ends, however it ends (the process killed, its
// machine gone once the server notices), and from then on its claims are anyone's and what it left
// sending is Recover's. No lease time is needed.

// livePred is true for a claimed_by whose sender's session still holds its lock (the claim counts).
// (CAST rather than ::, which the :name parameters of pgBind would take for one.)
const livePred = `claimed_by IN (SELECT CAST(l.objid AS bigint) FROM pg_locks l
	WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND CAST(l.classid AS bigint) = %d AND l.objsubid = 2 AND l.granted)`

// live is livePred for this store's senders.
func (s *pgStore) live() string { return fmt.Sprintf(livePred, s.senderKey) }

// pgSendLock is a sender's session: the shared run lock (unless the store holds the run lock itself) and
// the sender's own lock.
type pgSendLock struct {
	conn *pgx.Conn
	s    *pgStore
	once sync.Once
	err  error
}

func (s *pgStore) LockSend(ctx context.Context, command string) (Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	closed, sending, held := s.closed, s.sender != 0, len(s.locks) > 0
	s.mu.Unlock()
	switch {
	case closed:
		return nil, fmt.Errorf("store %s: lock: the store is closed", s.name)
	case sending:
		return nil, fmt.Errorf("store %s: lock: this store is a sender already", s.name)
	}
	conn, err := pgx.ConnectConfig(ctx, s.conn)
	if err != nil {
		return nil, s.dbErr("lock", scrubbed{err, s.conn.Password})
	}
	utc(conn)
	n, err := s.lockSend(ctx, conn, held)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx)) // releases what was taken
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("store %s: lock: the store is closed", s.name)
	}
	l := &pgSendLock{conn: conn, s: s}
	s.sender, s.senderPID, s.sendLock = n, conn.PgConn().PID(), l
	return l, nil
}

// keepSession readies conn, which holds a lock for as long as a run lasts and is idle meanwhile: the
// server must not end it for being idle (idle_session_timeout, PostgreSQL 14 on, which managed servers
// set), and must notice soon when its client is gone without a word (a machine switched off, a network
// cut), rather than after the system's two hours: TCP keepalives every 10 s after 30 s of quiet, and 3
// unanswered end it, so such a run's locks and claims are free after about a minute. (They apply to TCP
// connections; over a unix socket the server sees the client go at once.)
func keepSession(ctx context.Context, conn *pgx.Conn) error {
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return err
	}
	set := "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3"
	if version >= 140000 {
		set += "; SET idle_session_timeout = 0"
	}
	_, err := conn.Exec(ctx, set)
	return err
}

// checkSender fails when this store is a sender whose session lock is gone (the server ended the lock's
// connection): its claims are anyone's then, and another sender may be recovering what it is sending, so
// it must stop. It runs inside the transactions that claim and that mark deliveries sending.
func (s *pgStore) checkSender(ctx context.Context, tx pgx.Tx) error {
	s.mu.Lock()
	me, pid := s.sender, s.senderPID
	s.mu.Unlock()
	if me == 0 {
		return nil
	}
	var held bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 2 AND l.pid = $3 AND l.granted)`,
		s.senderKey, int32(me), pid).Scan(&held)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("this sender's session lock is gone (the server ended its connection), so other senders may take what it claimed: it stops; the next run recovers what it was sending")
	}
	return nil
}

// lockSend takes a sender's locks on conn (the shared run lock unless held says the store holds the run
// lock) and returns its number.
func (s *pgStore) lockSend(ctx context.Context, conn *pgx.Conn, held bool) (int64, error) {
	if !held {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock_shared($1, $2)", appID, s.runKey).Scan(&got); err != nil {
			return 0, s.dbErr("lock", err)
		}
		if !got {
			return 0, s.holder(ctx, conn)
		}
	}
	if err := keepSession(ctx, conn); err != nil {
		return 0, s.dbErr("lock", err)
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT nextval('sender_ids')").Scan(&n); err != nil {
		return 0, s.dbErr("lock: take a sender's number", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", s.senderKey, int32(n)).Scan(&got); err != nil {
		return 0, s.dbErr("lock", err)
	}
	if !got { // a number from sender_ids is held by nobody, unless the sequence went round to a live one
		return 0, s.dbErr("lock", fmt.Errorf("sender number %d is in use", n))
	}
	return n, nil
}

// Unlock closes the sender's connection, which ends its session and so releases its locks and claims.
func (l *pgSendLock) Unlock() error {
	l.once.Do(func() {
		l.s.mu.Lock()
		if l.s.sendLock == l {
			l.s.sender, l.s.senderPID, l.s.sendLock = 0, 0, nil
		}
		l.s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Released at once, rather than when the server has ended the session after Close: the next
		// sender's Recover must see them gone.
		_, uerr := l.conn.Exec(ctx, "SELECT pg_advisory_unlock_all()")
		if err := l.conn.Close(ctx); err != nil || uerr != nil {
			l.err = l.s.dbErr("unlock", errors.Join(uerr, err))
		}
	})
	return l.err
}

// me is this store's sender number, or an error when it is not a sender.
func (s *pgStore) me(what string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sender == 0 {
		return 0, s.checkErr("%s: not a sender (call LockSend first)", what)
	}
	return s.sender, nil
}

// ClaimAfter claims, in one short transaction, the due deliveries above after that are unclaimed, this
// sender's, or claimed by a sender whose session has ended, skipping rows another sender is claiming at
// the same moment (FOR UPDATE SKIP LOCKED), and returns them. It does not take the store's write lock:
// the rows it locks are all it changes.
func (s *pgStore) ClaimAfter(ctx context.Context, now time.Time, after int64, limit int) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	me, err := s.me("claim deliveries")
	if err != nil {
		return nil, err
	}
	q, args := pgBind(`WITH due AS (
			SELECT d.id FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
			WHERE d.id > :after AND s.status = 'active'
				AND (d.status = 'queued' OR (d.status = 'deferred' AND d.next_attempt_at <= CAST(:now AS TIMESTAMPTZ)))
				AND (d.claimed_by IS NULL OR d.claimed_by = :me OR NOT d.`+s.live()+`)
			ORDER BY d.id LIMIT :limit
			FOR UPDATE OF d SKIP LOCKED)
		UPDATE deliveries SET claimed_by = :me FROM due WHERE deliveries.id = due.id RETURNING deliveries.id`,
		map[string]any{"now": pgTime(now), "limit": int64(limit), "after": after, "me": me})
	var ids []int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.checkSender(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return nil, s.dbErr("claim deliveries", err)
	}
	if len(ids) == 0 {
		return []Delivery{}, nil
	}
	slices.Sort(ids)
	return s.deliveries(ctx, "claimed deliveries", `SELECT `+deliveryCols+` FROM deliveries d
		WHERE d.id = ANY($1::bigint[]) ORDER BY d.id`, ids)
}

// Recover turns into unknown what senders that no longer run left sending: those whose claim's session
// has ended, and those no sender claimed (sent by a Herald before claims, or through Sending alone).
func (s *pgStore) Recover(ctx context.Context) (int, error) {
	s.mu.Lock()
	me := s.sender // 0 when this store is no sender: then every running sender's is left
	s.mu.Unlock()
	return s.exec(ctx, "recover", `UPDATE deliveries SET status = 'unknown', attempts = attempts + 1, claimed_by = NULL,
		last_error = 'the run ended while it was being sent: the server may have it'
		WHERE status = 'sending' AND (claimed_by IS NULL OR (claimed_by <> $1 AND NOT `+s.live()+`))`, me)
}
