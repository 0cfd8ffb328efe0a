package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// herald serve's state: the sign-ups it has answered and not yet handled, and the counts of its limits.
// Both are small and short-lived (a queued sign-up stays for as long as its confirmation takes, a count
// for its window), and each operation is one statement.

func (s *sqliteStore) QueueSignUp(ctx context.Context, q QueuedSignUp) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO signup_queue (email, name, frequency, ip, at, tags, lang) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		q.Email, q.Name, q.Frequency, q.IP, formatTime(q.At), string(q.Tags.norm()), normLang(q.Lang))
	if err != nil {
		return s.fileErr("queue a sign-up", err) // SQLite's messages do not quote the values bound
	}
	return nil
}

func (s *sqliteStore) QueuedSignUps(ctx context.Context, n int) ([]QueuedSignUp, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, email, name, frequency, ip, at, tags, lang FROM signup_queue ORDER BY id LIMIT ?`, n)
	if err != nil {
		return nil, s.fileErr("queued sign-ups", err)
	}
	defer rows.Close()
	var qs []QueuedSignUp
	for rows.Next() {
		var q QueuedSignUp
		var at sql.NullString
		if err := rows.Scan(&q.ID, &q.Email, &q.Name, &q.Frequency, &q.IP, &at, &q.Tags, &q.Lang); err != nil {
			return nil, s.fileErr("queued sign-ups", err)
		}
		if q.At, err = parseTime(at); err != nil {
			return nil, s.fileErr(fmt.Sprintf("queued sign-up %d", q.ID), err)
		}
		qs = append(qs, q)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr("queued sign-ups", err)
	}
	return qs, nil
}

func (s *sqliteStore) DequeueSignUp(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM signup_queue WHERE id = ?`, id); err != nil {
		return s.fileErr(fmt.Sprintf("dequeue sign-up %d", id), err)
	}
	return nil
}

// TakeLimit is one UPSERT: a new key starts a window at 1; a key whose window has ended starts a new
// one; any other is counted only while below n (the WHERE of DO UPDATE), so a request refused changes
// no row and writes nothing to disk.
func (s *sqliteStore) TakeLimit(ctx context.Context, key string, n int, window time.Duration, now time.Time) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	at, end := formatTime(now), formatTime(now.Add(window))
	var count int
	err := s.db.QueryRowContext(ctx, `INSERT INTO limit_counts (key, window_end, count) VALUES (?, ?, 1)
		ON CONFLICT (key) DO UPDATE SET
			window_end = CASE WHEN limit_counts.window_end <= ? THEN excluded.window_end ELSE limit_counts.window_end END,
			count = CASE WHEN limit_counts.window_end <= ? THEN 1 ELSE limit_counts.count + 1 END
		WHERE limit_counts.window_end <= ? OR limit_counts.count < ?
		RETURNING count`, key, end, at, at, at, n).Scan(&count)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.fileErr("count a request against a limit", err)
	}
	return count, nil
}

func (s *sqliteStore) PruneLimits(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM limit_counts WHERE window_end <= ?`, formatTime(now))
	if err != nil {
		return 0, s.fileErr("delete the limits' old counts", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fileErr("delete the limits' old counts", err)
	}
	return int(n), nil
}

func (s *sqliteStore) CheckWrite(ctx context.Context, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO write_checks (id, checked_at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`, formatTime(now))
	if err != nil {
		return s.fileErr("check a write", err)
	}
	return nil
}
