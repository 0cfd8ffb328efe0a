package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The ledger of the PostgreSQL store: deliveries.go's statements in PostgreSQL's terms. Parameters
// whose type the server cannot infer from their place (a CASE's branches, a SELECT list) are cast.

// pgBind is bind with PostgreSQL's $1, $2, ... placeholders.
func pgBind(query string, args map[string]any) (string, []any) {
	q, a := bind(query, args)
	return strings.ReplaceAll(q, "?", "$"), a
}

const (
	pgPlanMine = `p.sendable AND NOT p.removed
		AND p.plan_run > s.planned_run AND p.plan_run <= :cursor AND p.first_run > s.start_run
		AND p.first_seen > s.confirmed_at AND p.wait_until IS NULL
		AND (s.tags = '' OR EXISTS (SELECT 1 FROM post_tags pt WHERE pt.post_id = p.id AND strpos(s.tags, '|' || pt.tag || '|') > 0))
		AND (s.lang = p.lang OR s.lang = '' AND (CAST(:lang AS TEXT) = '' OR p.lang IN ('', CAST(:lang AS TEXT))))
		AND NOT EXISTS (SELECT 1 FROM delivery_items di WHERE di.subscriber_id = s.id AND di.post_id = p.id)`
	pgDigestKey = `CASE s.frequency WHEN 'daily' THEN CAST(:daily_key AS TEXT) WHEN 'weekly' THEN CAST(:weekly_key AS TEXT)
		ELSE CAST(:monthly_key AS TEXT) END`
	pgPlanDue = `s.status = 'active' AND s.frequency IN ('daily', 'weekly', 'monthly') AND s.confirmed_at IS NOT NULL
		AND COALESCE(s.last_digest_at, s.confirmed_at) <
			CASE s.frequency WHEN 'daily' THEN CAST(:daily_start AS TIMESTAMPTZ) WHEN 'weekly' THEN CAST(:weekly_start AS TIMESTAMPTZ)
				ELSE CAST(:monthly_start AS TIMESTAMPTZ) END
		AND NOT EXISTS (SELECT 1 FROM deliveries od WHERE od.subscriber_id = s.id AND od.id <= :max_id
			AND od.digest_key = ` + pgDigestKey + `)`
)

// pgPlanRelease is planRelease (planRewind runs as it is).
const pgPlanRelease = `UPDATE posts SET wait_until = NULL, plan_run = (SELECT MAX(id) FROM runs)
	WHERE wait_until <= CAST(:now AS TIMESTAMPTZ) AND NOT held`

// pgPlanSteps are planSteps.
var pgPlanSteps = []struct {
	name  string
	count bool
	sql   string
}{
	{"queue posts", true, `INSERT INTO deliveries (subscriber_id, post_id, status, queued_at)
		SELECT s.id, p.id, 'queued', CAST(:now AS TIMESTAMPTZ)
		FROM subscribers s JOIN posts p ON ` + pgPlanMine + `
		WHERE s.status = 'active' AND s.frequency = 'immediate' AND s.planned_run < :cursor
		ORDER BY p.id, s.id`},
	{"queue digests", true, `INSERT INTO deliveries (subscriber_id, digest_key, status, queued_at)
		SELECT s.id, ` + pgDigestKey + `, 'queued', CAST(:now AS TIMESTAMPTZ)
		FROM subscribers s
		WHERE ` + pgPlanDue + ` AND EXISTS (SELECT 1 FROM posts p WHERE ` + pgPlanMine + `)
		ORDER BY s.id`},
	{"record the posts", false, `INSERT INTO delivery_items (subscriber_id, post_id, delivery_id)
		SELECT subscriber_id, post_id, id FROM deliveries WHERE id > :max_id AND post_id IS NOT NULL`},
	{"record the digests' posts", false, `INSERT INTO delivery_items (subscriber_id, post_id, delivery_id)
		SELECT d.subscriber_id, p.id, d.id
		FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id JOIN posts p ON ` + pgPlanMine + `
		WHERE d.id > :max_id AND d.digest_key IS NOT NULL`},
	{"move the digests on", false, `UPDATE subscribers AS s SET planned_run = :cursor, last_digest_at = CAST(:now AS TIMESTAMPTZ)
		WHERE ` + pgPlanDue},
	{"move the immediate subscribers on", false, `UPDATE subscribers SET planned_run = :cursor
		WHERE status = 'active' AND frequency = 'immediate' AND planned_run < :cursor`},
}

func (s *pgStore) Plan(ctx context.Context, now time.Time) (int, error) {
	return s.PlanWith(ctx, now, defaultPlan)
}

func (s *pgStore) PlanWith(ctx context.Context, now time.Time, o PlanOptions) (int, error) {
	if now.IsZero() {
		return 0, s.checkErr("plan: no time given")
	}
	if err := o.Check(); err != nil {
		return 0, s.checkErr("plan: %v", err)
	}
	args := planPeriods(now, o)
	for k, v := range args {
		if t, ok := v.(time.Time); ok {
			args[k] = pgTime(t)
		}
	}
	args["now"], args["lang"] = pgTime(now), normLang(o.Lang)
	queued := 0
	err := s.inTx(ctx, "plan", func(tx pgx.Tx) error {
		queued = 0
		q, a := pgBind(pgPlanRelease, args)
		tag, err := tx.Exec(ctx, q, a...)
		if err == nil && tag.RowsAffected() > 0 {
			_, err = tx.Exec(ctx, planRewind)
		}
		if err != nil {
			return fmt.Errorf("release the posts that waited: %w", err)
		}
		var maxID int64
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM deliveries").Scan(&maxID); err != nil {
			return fmt.Errorf("read the last delivery: %w", err)
		}
		cursor, err := pgPlanStart(ctx, tx)
		if err != nil {
			return fmt.Errorf("read the last sendable post: %w", err)
		}
		args["cursor"], args["max_id"] = cursor, maxID
		for _, step := range pgPlanSteps {
			q, a := pgBind(step.sql, args)
			tag, err := tx.Exec(ctx, q, a...)
			if err != nil {
				return fmt.Errorf("%s: %w", step.name, err)
			}
			if step.count {
				queued += int(tag.RowsAffected())
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return queued, nil
}

func pgScanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	var item string
	var sending, sent, next *time.Time
	if err := row.Scan(&d.ID, &d.SubscriberID, &item, &d.DigestKey, &d.Status, &d.MessageID, &d.Attempts,
		&d.LastError, &d.QueuedAt, &sending, &sent, &next); err != nil {
		return Delivery{}, err
	}
	if item != "" {
		d.ItemIDs = []string{item}
	}
	d.SendingAt, d.SentAt, d.NextAttemptAt = when(sending), when(sent), when(next)
	return d, nil
}

func (s *pgStore) Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error) {
	return s.DueAfter(ctx, now, 0, limit)
}

func (s *pgStore) DueAfter(ctx context.Context, now time.Time, after int64, limit int) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	q, args := pgBind(`SELECT `+deliveryCols+` FROM deliveries d JOIN (
			SELECT id FROM (SELECT q.id FROM deliveries q JOIN subscribers s ON s.id = q.subscriber_id
				WHERE q.status = 'queued' AND s.status = 'active' AND q.id > :after
				ORDER BY q.id LIMIT :limit) queued
			UNION ALL
			SELECT id FROM (SELECT r.id FROM deliveries r JOIN subscribers s ON s.id = r.subscriber_id
				WHERE r.status = 'deferred' AND r.next_attempt_at <= CAST(:now AS TIMESTAMPTZ) AND s.status = 'active' AND r.id > :after
				ORDER BY r.id LIMIT :limit) deferred
		) due ON due.id = d.id
		ORDER BY d.id LIMIT :limit`, map[string]any{"now": pgTime(now), "limit": int64(limit), "after": after})
	return s.deliveries(ctx, "due deliveries", q, args...)
}

// deliveries runs q, a SELECT of deliveryCols, and fills in the items of the digests among them, newest
// first. what names the query in errors.
func (s *pgStore) deliveries(ctx context.Context, what, q string, args ...any) ([]Delivery, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, s.dbErr(what, err)
	}
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Delivery, error) { return pgScanDelivery(row) })
	if err != nil {
		return nil, s.dbErr(what, err)
	}
	digests := map[int64]int{} // delivery id → index in ds
	for i, d := range ds {
		if d.DigestKey != "" {
			digests[d.ID] = i
		}
	}
	if len(digests) == 0 {
		return ds, nil
	}
	rows, err = s.pool.Query(ctx, `SELECT di.delivery_id, a.public_id
		FROM delivery_items di JOIN aliases a ON a.public_id = `+fmt.Sprintf(shownAlias, "di.post_id")+`
		WHERE di.delivery_id = ANY($1::bigint[])
		ORDER BY di.delivery_id, COALESCE(a.date, a.first_seen) DESC, a.public_id`, slices.Sorted(maps.Keys(digests)))
	if err != nil {
		return nil, s.dbErr(what+": digest items", err)
	}
	var id int64
	var item string
	_, err = pgx.ForEachRow(rows, []any{&id, &item}, func() error {
		d := &ds[digests[id]]
		d.ItemIDs = append(d.ItemIDs, item)
		return nil
	})
	if err != nil {
		return nil, s.dbErr(what+": digest items", err)
	}
	return ds, nil
}

func (s *pgStore) Sending(ctx context.Context, attempts []Attempt, at time.Time) ([]int64, error) {
	if at.IsZero() {
		return nil, s.checkErr("sending: no time given")
	}
	return s.Commit(ctx, nil, attempts, at)
}

func (s *pgStore) Finish(ctx context.Context, outcomes []Outcome) error {
	_, err := s.Commit(ctx, outcomes, nil, time.Time{})
	return err
}

func (s *pgStore) Commit(ctx context.Context, outcomes []Outcome, attempts []Attempt, at time.Time) ([]int64, error) {
	if err := checkCommit(outcomes, attempts, at, s.checkErr); err != nil {
		return nil, err
	}
	var skipped []int64
	err := s.inTx(ctx, "record deliveries", func(tx pgx.Tx) error {
		if err := s.finishTx(ctx, tx, outcomes); err != nil {
			return err
		}
		var err error
		skipped, err = s.sendingTx(ctx, tx, attempts, at)
		return err
	})
	if err != nil {
		return nil, err
	}
	return skipped, nil
}

const (
	pgMarkSending = `UPDATE deliveries SET status = 'sending', sending_at = COALESCE(sending_at, $1::timestamptz),
		message_id = COALESCE(message_id, NULLIF($3::text, '')), claimed_by = COALESCE(NULLIF($4::bigint, 0), claimed_by)
		WHERE id = $2 AND status IN ('queued', 'deferred') AND (message_id IS NULL OR message_id = $3::text)
			AND EXISTS (SELECT 1 FROM subscribers s WHERE s.id = deliveries.subscriber_id AND s.status = 'active')`
	pgRecordOutcome = `UPDATE deliveries SET status = $2, attempts = attempts + 1, claimed_by = NULL,
		last_error = $3, next_attempt_at = $4::timestamptz, sent_at = COALESCE($5::timestamptz, sent_at)
		WHERE id = $1 AND status = 'sending'`
)

func (s *pgStore) sendingTx(ctx context.Context, tx pgx.Tx, attempts []Attempt, at time.Time) ([]int64, error) {
	if len(attempts) > 0 {
		if err := s.checkSender(ctx, tx); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	me := s.sender // a message being sent is its sender's claim, a retry after a deferral too
	s.mu.Unlock()
	var skipped []int64
	for _, a := range attempts {
		tag, err := tx.Exec(ctx, pgMarkSending, pgTime(at), a.DeliveryID, a.MessageID, me)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 1 {
			continue
		}
		var mid *string
		err = tx.QueryRow(ctx, "SELECT message_id FROM deliveries WHERE id = $1", a.DeliveryID).Scan(&mid)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		if mid != nil && *mid != a.MessageID {
			return nil, s.checkErr("sending: delivery %d was sent before with Message-ID %q; send it with that one, not %q",
				a.DeliveryID, *mid, a.MessageID)
		}
		skipped = append(skipped, a.DeliveryID)
	}
	return skipped, nil
}

func (s *pgStore) finishTx(ctx context.Context, tx pgx.Tx, outcomes []Outcome) error {
	for _, o := range outcomes {
		var next, sent any
		msg := o.Error
		switch o.Status {
		case Deferred:
			next = pgTime(o.NextAttempt)
		case Sent:
			sent, msg = pgTime(o.At), ""
		}
		tag, err := tx.Exec(ctx, pgRecordOutcome, o.DeliveryID, o.Status, msg, next, sent)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return s.notSending(ctx, tx, o)
		}
	}
	for _, o := range outcomes {
		if o.Status != Failed || strings.TrimSpace(o.EnhancedCode) != bounceCode {
			continue
		}
		var id int64
		var status string
		err := tx.QueryRow(ctx, `UPDATE subscribers SET hard_bounces = hard_bounces + 1,
			status = CASE WHEN hard_bounces + 1 >= 2 AND status = 'active' THEN 'bounced' ELSE status END
			WHERE id = (SELECT subscriber_id FROM deliveries WHERE id = $1) RETURNING id, status`, o.DeliveryID).Scan(&id, &status)
		if err != nil {
			return fmt.Errorf("count a bounce of delivery %d: %w", o.DeliveryID, err)
		}
		if status == Bounced {
			if err := pgCancelDeliveries(ctx, tx, id, status); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *pgStore) notSending(ctx context.Context, tx pgx.Tx, o Outcome) error {
	var status string
	err := tx.QueryRow(ctx, "SELECT status FROM deliveries WHERE id = $1", o.DeliveryID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.checkErr("finish: there is no delivery %d", o.DeliveryID)
	}
	if err != nil {
		return err
	}
	return s.checkErr("finish: delivery %d is %s, not sending: nothing was recorded", o.DeliveryID, status)
}

// exec runs one statement that changes deliveries, in a write transaction, and returns how many rows it
// changed.
func (s *pgStore) exec(ctx context.Context, what, query string, args ...any) (int, error) {
	var n int64
	err := s.inTx(ctx, what, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, args...)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

func (s *pgStore) RetryUnknown(ctx context.Context, since time.Time) (int, error) {
	q := `UPDATE deliveries SET status = 'queued', next_attempt_at = NULL, maybe_sent = TRUE
		WHERE status = 'unknown'
			AND EXISTS (SELECT 1 FROM subscribers s WHERE s.id = deliveries.subscriber_id AND s.status = 'active')`
	if since.IsZero() {
		return s.exec(ctx, "retry unknown deliveries", q)
	}
	return s.exec(ctx, "retry unknown deliveries", q+` AND sending_at >= $1::timestamptz`, pgTime(since))
}

func (s *pgStore) FailOld(ctx context.Context, now time.Time, maxAge time.Duration) (int, error) {
	if now.IsZero() || maxAge <= 0 {
		return 0, s.checkErr("fail old deliveries: no time or age given")
	}
	return s.exec(ctx, "fail old deliveries", `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL,
		last_error = $1::text || last_error
		WHERE status = 'deferred' AND COALESCE(sending_at, queued_at) < $2::timestamptz`,
		fmt.Sprintf("deferred for more than %v; last error: ", maxAge), pgTime(now.Add(-maxAge)))
}

func (s *pgStore) DeliveryCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, "SELECT status, COUNT(*) FROM deliveries GROUP BY status")
	if err != nil {
		return nil, s.dbErr("delivery counts", err)
	}
	counts := map[string]int{}
	var status string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		counts[status] = n
		return nil
	})
	if err != nil {
		return nil, s.dbErr("delivery counts", err)
	}
	return counts, nil
}

func (s *pgStore) SubscriberDeliveries(ctx context.Context, id int64) ([]Delivery, error) {
	return s.deliveries(ctx, fmt.Sprintf("deliveries of subscriber %d", id),
		`SELECT `+deliveryCols+` FROM deliveries d WHERE d.subscriber_id = $1 ORDER BY d.id`, id)
}

func (s *pgStore) SubscribersByID(ctx context.Context, ids []int64) (map[int64]Subscriber, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pgSubscriberCols+` FROM subscribers WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, s.dbErr("subscribers by id", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Subscriber, error) { return pgScanSubscriber(row) })
	if err != nil {
		return nil, s.dbErr("subscribers by id", err)
	}
	subs := make(map[int64]Subscriber, len(list))
	for _, sub := range list {
		subs[sub.ID] = sub
	}
	return subs, nil
}
