package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL store's events: the model is events.go's.

func (s *pgStore) RecordEvent(ctx context.Context, e Event) (bool, error) {
	if msg := checkEvent(e); msg != "" {
		return false, s.checkErr("record event: %s", msg)
	}
	var recorded bool
	// inTx's write lock orders writers: the look-up of a replay and the insert see the same events.
	err := s.inTx(ctx, "record event", func(tx pgx.Tx) error {
		var dup bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM events WHERE provider = $1 AND provider_event_id = $2)",
			e.Provider, e.ProviderEventID).Scan(&dup)
		if err != nil || dup {
			return err
		}
		delivery, sub, err := pgMatchEvent(ctx, tx, e)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO events (provider, provider_event_id, kind, at, received_at, detail,
			delivery_id, subscriber_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.Provider, e.ProviderEventID, e.Kind,
			pgTime(e.At), pgTime(e.ReceivedAt), e.Detail, delivery, sub)
		if err != nil {
			return err
		}
		recorded = true
		if sub == nil {
			return nil
		}
		return pgApplyEvent(ctx, tx, *sub, e)
	})
	return recorded, err
}

// pgMatchEvent is matchEvent.
func pgMatchEvent(ctx context.Context, tx pgx.Tx, e Event) (delivery, sub *int64, err error) {
	d, su, err := pgFindByMessageID(ctx, tx, e.MessageID, e.Recipient)
	if err != nil {
		return nil, nil, err
	}
	if d != 0 {
		return &d, &su, nil
	}
	key, ok := emailKey(e.Recipient)
	if !ok {
		return nil, nil, nil
	}
	err = tx.QueryRow(ctx, `SELECT id FROM subscribers WHERE herald_ascii_lower(email_key) = $1 ORDER BY `+latestFirst+` LIMIT 1`, key).Scan(&su)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return nil, &su, nil
}

// pgFindByMessageID is findByMessageID.
func pgFindByMessageID(ctx context.Context, q querier, messageID, recipient string) (id, sub int64, err error) {
	for _, l := range messageIDLookups("herald_ascii_lower", messageID, recipient) {
		query, args := pgBind(l.query, l.args)
		err := q.QueryRow(ctx, query, args...).Scan(&id, &sub)
		if !errors.Is(err, pgx.ErrNoRows) {
			return id, sub, err
		}
	}
	return 0, 0, nil
}

// pgApplyEvent is applyEvent.
func pgApplyEvent(ctx context.Context, tx pgx.Tx, sub int64, e Event) error {
	if e.Kind == EventComplaint {
		if _, err := tx.Exec(ctx, "UPDATE subscribers SET complained_at = $1 WHERE id = $2", pgTime(e.At), sub); err != nil {
			return fmt.Errorf("record the complaint of subscriber %d: %w", sub, err)
		}
	}
	status := eventEffect(e.Kind)
	if status == "" {
		return nil
	}
	tag, err := tx.Exec(ctx, `UPDATE subscribers SET status = $1,
		unsubscribed_at = CASE WHEN $1 = 'unsubscribed' THEN $2 ELSE unsubscribed_at END
		WHERE id = $3 AND status IN ('active', 'pending')`, status, pgTime(e.At), sub)
	if err != nil {
		return fmt.Errorf("mark subscriber %d %s: %w", sub, status, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return pgCancelDeliveries(ctx, tx, sub, status)
}

func (s *pgStore) Events(ctx context.Context, since time.Time) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, provider, provider_event_id, kind, at, received_at, detail,
		COALESCE(delivery_id, 0), COALESCE(subscriber_id, 0) FROM events WHERE at >= $1 ORDER BY at, id`, pgTime(sinceOrAll(since)))
	if err != nil {
		return nil, s.dbErr("events", err)
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		err := row.Scan(&e.ID, &e.Provider, &e.ProviderEventID, &e.Kind, &e.At, &e.ReceivedAt, &e.Detail, &e.DeliveryID, &e.SubscriberID)
		e.At, e.ReceivedAt = e.At.UTC(), e.ReceivedAt.UTC()
		return e, err
	})
	if err != nil {
		return nil, s.dbErr("events", err)
	}
	if evs == nil {
		evs = []Event{}
	}
	return evs, nil
}

func (s *pgStore) PostEvents(ctx context.Context, since time.Time) ([]PostEvents, error) {
	q, args := pgBind(postEventsQuery, map[string]any{"since": pgTime(sinceOrAll(since))})
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, s.dbErr("events by post", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PostEvents, error) {
		var p PostEvents
		err := row.Scan(&p.PostID, &p.ItemID, &p.Title, &p.Sent, &p.HardBounces, &p.Complaints)
		return p, err
	})
	if err != nil {
		return nil, s.dbErr("events by post", err)
	}
	if out == nil {
		out = []PostEvents{}
	}
	return out, nil
}
