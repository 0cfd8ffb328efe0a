package store

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"
)

func (s *pgStore) Approve(ctx context.Context, id string) (bool, error) {
	q, a := pgBind(approveSQL, map[string]any{"id": id})
	tag, err := s.pool.Exec(ctx, q, a...)
	if err != nil {
		return false, s.dbErr("approve "+id, err)
	}
	if tag.RowsAffected() > 0 {
		return true, nil
	}
	var known bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM aliases WHERE public_id = $1)", id).Scan(&known); err != nil {
		return false, s.dbErr("approve "+id, err)
	}
	if !known {
		return false, s.checkErr("approve %q: no post has this id: %w", id, ErrNotFound)
	}
	return false, nil
}

func (s *pgStore) Choices(ctx context.Context) (Choices, error) {
	var c Choices
	for _, q := range []struct {
		sql string
		dst *[]string
	}{{choiceTags, &c.Tags}, {choiceLangs, &c.Langs}} {
		rows, err := s.pool.Query(ctx, q.sql)
		if err != nil {
			return Choices{}, s.dbErr("choices", err)
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return Choices{}, s.dbErr("choices", err)
		}
		slices.Sort(vals)
		*q.dst = vals
	}
	return c, nil
}

// pgRefreshWaiting is refreshWaiting on PostgreSQL.
func pgRefreshWaiting(ctx context.Context, tx pgx.Tx, run int64, seen []Item) error {
	q, a := pgBind(waitingPosts, map[string]any{"run": run})
	rows, err := tx.Query(ctx, q, a...)
	if err != nil {
		return err
	}
	waiting := map[string]int64{}
	var id string
	var p int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &p}, func() error { waiting[id] = p; return nil }); err != nil {
		return err
	}
	for _, e := range waitEdits(seen, waiting) {
		for _, st := range e.steps() {
			q, a := pgBind(waitEditSQL[st.sql], st.args)
			if _, err := tx.Exec(ctx, q, a...); err != nil {
				return err
			}
		}
	}
	return nil
}
