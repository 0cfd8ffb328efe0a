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
