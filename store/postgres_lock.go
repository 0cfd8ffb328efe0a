package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lock takes the store's run lock: a session-level advisory lock (appID, runKey), taken without waiting
// (pg_try_advisory_lock) on a connection of its own, held until Unlock. The server drops it when that
// session ends however it ends (the process killed, the machine gone once the server notices the
// connection is), so a crashed run never blocks the next one. A second Lock, from this process or any
// other on any machine, is another session and fails. The holder writes who it is into run_lock, for
// the error a second run gets.
func (s *pgStore) Lock(ctx context.Context, command string) (Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("store %s: lock: the store is closed", s.name)
	}
	conn, err := pgx.ConnectConfig(ctx, s.conn)
	if err != nil {
		return nil, s.dbErr("lock", scrubbed{err, s.conn.Password})
	}
	utc(conn)
	l, err := s.lock(ctx, conn, command)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx)) // releases the lock, if it was taken
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("store %s: lock: the store is closed", s.name)
	}
	s.locks[l] = struct{}{}
	return l, nil
}

func (s *pgStore) lock(ctx context.Context, conn *pgx.Conn, command string) (*pgLock, error) {
	if err := keepSession(ctx, conn); err != nil {
		return nil, s.dbErr("lock", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", appID, s.runKey).Scan(&got); err != nil {
		return nil, s.dbErr("lock", err)
	}
	if !got {
		return nil, s.holder(ctx, conn)
	}
	host, _ := os.Hostname()
	_, err := conn.Exec(ctx, `INSERT INTO run_lock (lock_key, backend_pid, pid, host, command, since)
		VALUES ($1, pg_backend_pid(), $2, $3, $4, $5)
		ON CONFLICT (lock_key) DO UPDATE SET backend_pid = excluded.backend_pid, pid = excluded.pid,
			host = excluded.host, command = excluded.command, since = excluded.since`,
		s.runKey, os.Getpid(), host, command, pgTime(time.Now()))
	if err != nil {
		return nil, s.dbErr("lock: write who holds it", err)
	}
	return &pgLock{conn: conn, s: s}, nil
}

// holder is the error of a Lock that another session holds: who it is, if the row in run_lock is that
// session's (a row left by a session that has ended, or one not written yet, says nothing).
func (s *pgStore) holder(ctx context.Context, conn *pgx.Conn) error {
	e := &LockedError{Path: s.name}
	err := conn.QueryRow(ctx, `SELECT h.pid, h.host, h.command, h.since FROM run_lock h
		WHERE h.lock_key = $2 AND EXISTS (SELECT 1 FROM pg_locks l
			WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 2 AND l.granted AND l.pid = h.backend_pid
				AND l.mode = 'ExclusiveLock')`,
		appID, s.runKey).Scan(&e.PID, &e.Host, &e.Command, &e.Since)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return errors.Join(e, s.dbErr("lock: read who holds it", err))
	}
	if err == nil {
		return e
	}
	// No run holds it alone: senders share it (LockSend).
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks l
		WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 2 AND l.granted AND l.mode = 'ShareLock'`,
		appID, s.runKey).Scan(&e.Senders)
	if err != nil {
		return errors.Join(e, s.dbErr("lock: read who holds it", err))
	}
	return e
}

type pgLock struct {
	conn *pgx.Conn
	s    *pgStore
	once sync.Once
	err  error
}

// Unlock clears the holder's row and closes the lock's connection, which ends its session and so
// releases the lock, whatever became of the row.
func (l *pgLock) Unlock() error {
	l.once.Do(func() {
		l.s.mu.Lock()
		delete(l.s.locks, l)
		l.s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, derr := l.conn.Exec(ctx, "DELETE FROM run_lock WHERE lock_key = $1 AND backend_pid = pg_backend_pid()", l.s.runKey)
		// Released at once, rather than when the server has ended the session after Close, which it does
		// in its own time: the next run, started as soon as this one returns, must find the lock free.
		_, uerr := l.conn.Exec(ctx, "SELECT pg_advisory_unlock_all()")
		if err := l.conn.Close(ctx); err != nil || derr != nil || uerr != nil {
			l.err = l.s.dbErr("unlock", errors.Join(derr, uerr, err))
		}
	})
	return l.err
}
