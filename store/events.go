package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The model of the providers' events (RecordEvent): an event is kept once, keyed by its provider's id
// for it, and applied in the transaction that stores it, so that a replay, which is not stored, applies
// nothing. It changes a subscriber only towards leaving (active or pending to bounced or unsubscribed):
// an event never brings anyone back, and one about someone who has left already changes nothing but
// the record of a complaint.

var eventKinds = []string{EventDelivered, EventSoftBounce, EventHardBounce, EventComplaint}

// checkEvent says what is wrong with an event to record, "" when nothing is.
func checkEvent(e Event) string {
	switch {
	case e.Provider == "" || e.ProviderEventID == "":
		return "no provider or no provider's event id"
	case !slices.Contains(eventKinds, e.Kind):
		return fmt.Sprintf("kind %q is not one of %s", e.Kind, strings.Join(eventKinds, ", "))
	case e.At.IsZero() || e.ReceivedAt.IsZero():
		return "no time given"
	}
	return ""
}

// eventEffect is the status an event of kind gives its subscriber, "" for none.
func eventEffect(kind string) string {
	switch kind {
	case EventHardBounce:
		return Bounced
	case EventComplaint:
		return Unsubscribed
	}
	return ""
}

func (s *sqliteStore) RecordEvent(ctx context.Context, e Event) (bool, error) {
	if msg := checkEvent(e); msg != "" {
		return false, s.checkErr("record event: %s", msg)
	}
	// The delivery is looked up before the transaction, which holds the store's write lock
	// (_txlock=immediate): a look-up by Message-ID may scan every delivery (messageid.go), and a send's
	// ledger would wait for it.
	found, _, err := findByMessageID(ctx, s.db, e.MessageID, e.Recipient)
	if err != nil {
		return false, s.fileErr("record event", err)
	}
	var recorded bool
	err = s.inTx(ctx, "record event", func(tx *sql.Tx) error {
		var dup int
		err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE provider = ? AND provider_event_id = ?",
			e.Provider, e.ProviderEventID).Scan(&dup)
		if err != nil || dup > 0 {
			return err
		}
		delivery, sub, err := s.matchEvent(ctx, tx, e, found)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO events (provider, provider_event_id, kind, at, received_at, detail,
			delivery_id, subscriber_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.Provider, e.ProviderEventID, e.Kind,
			formatTime(e.At), formatTime(e.ReceivedAt), e.Detail, delivery, sub)
		if err != nil {
			return err
		}
		recorded = true
		if sub == nil {
			return nil
		}
		return applyEvent(ctx, tx, sub.(int64), e)
	})
	return recorded, err
}

// matchEvent finds the delivery and subscriber of e: nil for none. found is the delivery of e's
// Message-ID (findByMessageID), 0 for none, taken for it if it is still there; the subscriber, when no
// delivery is, is found by e's recipient.
func (s *sqliteStore) matchEvent(ctx context.Context, tx *sql.Tx, e Event, found int64) (delivery, sub any, err error) {
	var su int64
	if found != 0 {
		err := tx.QueryRowContext(ctx, "SELECT subscriber_id FROM deliveries WHERE id = ?", found).Scan(&su)
		if err == nil {
			return found, su, nil
		}
		if !errors.Is(err, sql.ErrNoRows) { // else erased since: the subscriber is found by the recipient
			return nil, nil, err
		}
	}
	key, ok := emailKey(e.Recipient)
	if !ok {
		return nil, nil, nil
	}
	err = tx.QueryRowContext(ctx, `SELECT id FROM subscribers WHERE lower(email_key) = ? ORDER BY `+latestFirst+` LIMIT 1`, key).Scan(&su)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return nil, su, nil
}

// rowQuerier is what findByMessageID reads with: the database, or a transaction.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// findByMessageID returns the id and subscriber of the delivery sent with messageID to recipient (""
// when unknown): 0, 0 for none.
func findByMessageID(ctx context.Context, q rowQuerier, messageID, recipient string) (id, sub int64, err error) {
	for _, l := range messageIDLookups("lower", messageID, recipient) {
		query, args := bind(l.query, l.args)
		err := q.QueryRowContext(ctx, query, args...).Scan(&id, &sub)
		if !errors.Is(err, sql.ErrNoRows) {
			return id, sub, err
		}
	}
	return 0, 0, nil
}

// applyEvent makes the change e brings to subscriber sub.
func applyEvent(ctx context.Context, tx *sql.Tx, sub int64, e Event) error {
	if e.Kind == EventComplaint {
		if _, err := tx.ExecContext(ctx, "UPDATE subscribers SET complained_at = ? WHERE id = ?", formatTime(e.At), sub); err != nil {
			return fmt.Errorf("record the complaint of subscriber %d: %w", sub, err)
		}
	}
	status := eventEffect(e.Kind)
	if status == "" {
		return nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE subscribers SET status = ?,
		unsubscribed_at = CASE WHEN ? = 'unsubscribed' THEN ? ELSE unsubscribed_at END
		WHERE id = ? AND status IN ('active', 'pending')`, status, status, formatTime(e.At), sub)
	if err != nil {
		return fmt.Errorf("mark subscriber %d %s: %w", sub, status, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	return cancelDeliveries(ctx, tx, sub, status)
}

func (s *sqliteStore) Events(ctx context.Context, since time.Time) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, provider, provider_event_id, kind, at, received_at, detail,
		COALESCE(delivery_id, 0), COALESCE(subscriber_id, 0) FROM events WHERE at >= ? ORDER BY at, id`, formatTime(sinceOrAll(since)))
	if err != nil {
		return nil, s.fileErr("events", err)
	}
	defer rows.Close()
	evs := []Event{}
	for rows.Next() {
		var e Event
		var at, received sql.NullString
		if err := rows.Scan(&e.ID, &e.Provider, &e.ProviderEventID, &e.Kind, &at, &received, &e.Detail,
			&e.DeliveryID, &e.SubscriberID); err != nil {
			return nil, s.fileErr("events", err)
		}
		if e.At, err = parseTime(at); err == nil {
			e.ReceivedAt, err = parseTime(received)
		}
		if err != nil {
			return nil, s.fileErr("events", fmt.Errorf("event %d: %w", e.ID, err))
		}
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr("events", err)
	}
	return evs, nil
}

// sinceOrAll is since, or for the zero time a time before any event: Events and PostEvents from the
// zero time return everything.
func sinceOrAll(since time.Time) time.Time {
	if since.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return since
}

// postEventsQuery is PostEvents' SELECT, in SQL both backends run, with :since the time.
var postEventsQuery = `SELECT di.post_id, COALESCE(` + fmt.Sprintf(shownAlias, "di.post_id") + `, ''),
		COALESCE((SELECT a.title FROM aliases a WHERE a.public_id = ` + fmt.Sprintf(shownAlias, "di.post_id") + `), ''),
		COUNT(*),
		COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM events e WHERE e.delivery_id = d.id AND e.kind = 'hard_bounce')),
		COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM events e WHERE e.delivery_id = d.id AND e.kind = 'complaint'))
	FROM deliveries d JOIN delivery_items di ON di.delivery_id = d.id
	WHERE d.status = 'sent' AND d.sent_at >= :since
	GROUP BY di.post_id ORDER BY di.post_id`

func (s *sqliteStore) PostEvents(ctx context.Context, since time.Time) ([]PostEvents, error) {
	q, args := bind(postEventsQuery, map[string]any{"since": formatTime(sinceOrAll(since))})
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.fileErr("events by post", err)
	}
	defer rows.Close()
	out := []PostEvents{}
	for rows.Next() {
		var p PostEvents
		if err := rows.Scan(&p.PostID, &p.ItemID, &p.Title, &p.Sent, &p.HardBounces, &p.Complaints); err != nil {
			return nil, s.fileErr("events by post", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr("events by post", err)
	}
	return out, nil
}
