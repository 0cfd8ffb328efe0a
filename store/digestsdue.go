package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"
)

// countDigests is Plan's "queue digests" statement as a count by frequency.
const (
	countDigests = `SELECT s.frequency, COUNT(*) FROM subscribers s
		WHERE ` + planDue + ` AND EXISTS (SELECT 1 FROM posts p WHERE ` + planMine + `)
		GROUP BY s.frequency`
	pgCountDigests = `SELECT s.frequency, COUNT(*) FROM subscribers s
		WHERE ` + pgPlanDue + ` AND EXISTS (SELECT 1 FROM posts p WHERE ` + pgPlanMine + `)
		GROUP BY s.frequency`
)

func (s *sqliteStore) DigestsDue(ctx context.Context, now time.Time, o PlanOptions) (map[string]int, error) {
	if err := o.Check(); err != nil {
		return nil, s.checkErr("digests due: %v", err)
	}
	args := planPeriods(now, o)
	for k, v := range args {
		if t, ok := v.(time.Time); ok {
			args[k] = formatTime(t)
		}
	}
	args["now"], args["lang"] = formatTime(now), normLang(o.Lang)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.fileErr("digests due", err)
	}
	defer tx.Rollback() //nolint:errcheck // nothing is to be kept
	out, err := func() (map[string]int, error) {
		q, a := bind(planRelease, args)
		res, err := tx.ExecContext(ctx, q, a...)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			if err == nil {
				_, err = tx.ExecContext(ctx, planRewind)
			}
			if err != nil {
				return nil, err
			}
		}
		var maxID int64
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM deliveries").Scan(&maxID); err != nil {
			return nil, err
		}
		cursor, err := planStart(ctx, tx)
		if err != nil {
			return nil, err
		}
		args["cursor"], args["max_id"] = cursor, maxID
		q, a = bind(countDigests, args)
		rows, err := tx.QueryContext(ctx, q, a...)
		if err != nil {
			return nil, err
		}
		return scanCounts(rows)
	}()
	if err != nil {
		return nil, s.fileErr("digests due", err)
	}
	return out, nil
}

func scanCounts(rows *sql.Rows) (map[string]int, error) {
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var f string
		var n int
		if err := rows.Scan(&f, &n); err != nil {
			return nil, err
		}
		out[f] = n
	}
	return out, rows.Err()
}

func (s *pgStore) DigestsDue(ctx context.Context, now time.Time, o PlanOptions) (map[string]int, error) {
	if err := o.Check(); err != nil {
		return nil, s.checkErr("digests due: %v", err)
	}
	args := planPeriods(now, o)
	for k, v := range args {
		if t, ok := v.(time.Time); ok {
			args[k] = pgTime(t)
		}
	}
	args["now"], args["lang"] = pgTime(now), normLang(o.Lang)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, s.dbErr("digests due", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing is to be kept
	out, err := func() (map[string]int, error) {
		q, a := pgBind(pgPlanRelease, args)
		tag, err := tx.Exec(ctx, q, a...)
		if err == nil && tag.RowsAffected() > 0 {
			_, err = tx.Exec(ctx, planRewind)
		}
		if err != nil {
			return nil, err
		}
		var maxID int64
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM deliveries").Scan(&maxID); err != nil {
			return nil, err
		}
		cursor, err := pgPlanStart(ctx, tx)
		if err != nil {
			return nil, err
		}
		args["cursor"], args["max_id"] = cursor, maxID
		q, a = pgBind(pgCountDigests, args)
		rows, err := tx.Query(ctx, q, a...)
		if err != nil {
			return nil, err
		}
		out := map[string]int{}
		var f string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&f, &n}, func() error {
			out[f] = n
			return nil
		})
		return out, err
	}()
	if err != nil {
		return nil, s.dbErr("digests due", err)
	}
	return out, nil
}
