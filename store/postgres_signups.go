package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// herald serve's state on the PostgreSQL store: signups.go's statements. Each is one statement, atomic
// by itself (TakeLimit's ON CONFLICT ... WHERE reads the row as it is when it locks it), so none takes
// the write lock.

func (s *pgStore) QueueSignUp(ctx context.Context, q QueuedSignUp) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO signup_queue (email, name, frequency, ip, at, tags, lang) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		q.Email, q.Name, q.Frequency, q.IP, pgTime(q.At), string(q.Tags.norm()), normLang(q.Lang))
	if err != nil {
		return s.dbErr("queue a sign-up", err) // the server's messages do not quote the values bound
	}
	return nil
}

func (s *pgStore) QueuedSignUps(ctx context.Context, n int) ([]QueuedSignUp, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, email, name, frequency, ip, at, tags, lang FROM signup_queue ORDER BY id LIMIT $1`, n)
	if err != nil {
		return nil, s.dbErr("queued sign-ups", err)
	}
	var qs []QueuedSignUp
	var q QueuedSignUp
	_, err = pgx.ForEachRow(rows, []any{&q.ID, &q.Email, &q.Name, &q.Frequency, &q.IP, &q.At, &q.Tags, &q.Lang}, func() error {
		qs = append(qs, q)
		return nil
	})
	if err != nil {
		return nil, s.dbErr("queued sign-ups", err)
	}
	return qs, nil
}

func (s *pgStore) DequeueSignUp(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM signup_queue WHERE id = $1`, id); err != nil {
		return s.dbErr(fmt.Sprintf("dequeue sign-up %d", id), err)
	}
	return nil
}

func (s *pgStore) TakeLimit(ctx context.Context, key string, n int, window time.Duration, now time.Time) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	var count int
	err := s.pool.QueryRow(ctx, `INSERT INTO limit_counts AS l (key, window_end, count) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			window_end = CASE WHEN l.window_end <= $3 THEN excluded.window_end ELSE l.window_end END,
			count = CASE WHEN l.window_end <= $3 THEN 1 ELSE l.count + 1 END
		WHERE l.window_end <= $3 OR l.count < $4
		RETURNING count`, key, pgTime(now.Add(window)), pgTime(now), n).Scan(&count)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.dbErr("count a request against a limit", err)
	}
	return count, nil
}

func (s *pgStore) PruneLimits(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM limit_counts WHERE window_end <= $1`, pgTime(now))
	if err != nil {
		return 0, s.dbErr("delete the limits' old counts", err)
	}
	return int(tag.RowsAffected()), nil
}

func (s *pgStore) CheckWrite(ctx context.Context, now time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO write_checks (id, checked_at) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`, pgTime(now))
	if err != nil {
		return s.dbErr("check a write", err)
	}
	return nil
}
