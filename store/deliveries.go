package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// bind turns the :name parameters of query into numbered ones (?1, ?2, ... in order of first use; $1,
// $2, ... on PostgreSQL) and returns the arguments in that order: exactly those the query uses, each
// once however often it appears. Names are lower-case letters and underscores.
func bind(query string, args map[string]any) (string, []any) {
	var b strings.Builder
	var out []any
	num := map[string]int{}
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c != ':' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(query) && (query[j] >= 'a' && query[j] <= 'z' || query[j] == '_') {
			j++
		}
		name := query[i+1 : j]
		v, ok := args[name]
		if !ok {
			panic("store: bind: no argument :" + name) // a bug in a query here
		}
		n, seen := num[name]
		if !seen {
			out = append(out, v)
			n = len(out)
			num[name] = n
		}
		b.WriteString("?" + strconv.Itoa(n))
		i = j - 1
	}
	return b.String(), out
}

// The SQL of Plan. :mine is the condition that post p is for subscriber s and still to be planned
// (Store.PlanWith), under whichever of its ids they may have had it, and of their choosing (a tag of
// theirs, or none chosen; their language, or the site's when they chose none); :due that subscriber s's digest is due,
// and not blocked by a digest of the same period that was there before this Plan (a LastDigestAt set
// back by hand could otherwise make one: its posts wait for the next period rather than the cursor
// passing them).
const (
	planMine = `p.sendable = TRUE AND p.removed = FALSE
		AND p.plan_run > s.planned_run AND p.plan_run <= :cursor AND p.first_run > s.start_run
		AND p.first_seen > s.confirmed_at AND p.wait_until IS NULL
		AND (s.tags = '' OR EXISTS (SELECT 1 FROM post_tags pt WHERE pt.post_id = p.id AND instr(s.tags, '|' || pt.tag || '|') > 0))
		AND (s.lang = p.lang OR s.lang = '' AND (:lang = '' OR p.lang IN ('', :lang)))
		AND NOT EXISTS (SELECT 1 FROM delivery_items di WHERE di.subscriber_id = s.id AND di.post_id = p.id)`
	planKey = `CASE s.frequency WHEN 'daily' THEN :daily_key WHEN 'weekly' THEN :weekly_key ELSE :monthly_key END`
	planDue = `s.status = 'active' AND s.frequency IN ('daily', 'weekly', 'monthly') AND s.confirmed_at IS NOT NULL
		AND COALESCE(s.last_digest_at, s.confirmed_at) <
			CASE s.frequency WHEN 'daily' THEN :daily_start WHEN 'weekly' THEN :weekly_start ELSE :monthly_start END
		AND NOT EXISTS (SELECT 1 FROM deliveries od WHERE od.subscriber_id = s.id AND od.id <= :max_id
			AND od.digest_key = ` + planKey + `)`
)

// planRelease releases the posts whose wait is over (Item.Delay, Item.Held), before Plan reads its cursor:
// each is planned as a post of the latest run. When it released any, planRewind takes every subscriber's
// cursor back before that run, so that the next statements look at them (and again at that run's other
// posts, which delivery_items keeps from going twice). A Plan that releases nothing touches no subscriber.
const (
	planRelease = `UPDATE posts SET wait_until = NULL, plan_run = (SELECT MAX(id) FROM runs)
		WHERE wait_until <= :now AND held = FALSE`
	planRewind = `UPDATE subscribers SET planned_run = (SELECT MAX(id) FROM runs) - 1
		WHERE planned_run >= (SELECT MAX(id) FROM runs)`
)

// shownAlias is the alias that post %[1]s goes under in the mail: one on the site (the newest of them),
// else the one last seen there.
const shownAlias = `(SELECT a.public_id FROM aliases a WHERE a.post_id = %[1]s
	ORDER BY a.removed, a.last_run DESC, a.first_run DESC, a.public_id LIMIT 1)`

// planSteps are Plan's statements, in order; those marked count return the deliveries they queue.
//
// Each subscriber has a cursor, planned_run: the posts whose plan_run is up to that run (the run that
// recorded them, or that put them back after they were removed) have been planned for them. An
// immediate subscriber's moves on every Plan, a digest subscriber's when their digest is planned. So a
// Plan looks only at the posts recorded since, through the indexes subscribers_plan and posts_sendable:
// a run with nothing new costs next to nothing however many subscribers there are, and one new post for
// 100,000 subscribers is a few set-based statements. delivery_items' primary key is what keeps a post
// from reaching a subscriber twice; the cursor only saves work.
var planSteps = []struct {
	name  string
	count bool
	sql   string
}{
	{"queue posts", true, `INSERT INTO deliveries (subscriber_id, post_id, status, queued_at)
		SELECT s.id, p.id, 'queued', :now
		FROM subscribers s JOIN posts p ON ` + planMine + `
		WHERE s.status = 'active' AND s.frequency = 'immediate' AND s.planned_run < :cursor
		ORDER BY p.id, s.id`},
	{"queue digests", true, `INSERT INTO deliveries (subscriber_id, digest_key, status, queued_at)
		SELECT s.id, ` + planKey + `, 'queued', :now
		FROM subscribers s
		WHERE ` + planDue + ` AND EXISTS (SELECT 1 FROM posts p WHERE ` + planMine + `)
		ORDER BY s.id`},
	{"record the posts", false, `INSERT INTO delivery_items (subscriber_id, post_id, delivery_id)
		SELECT subscriber_id, post_id, id FROM deliveries WHERE id > :max_id AND post_id IS NOT NULL`},
	{"record the digests' posts", false, `INSERT INTO delivery_items (subscriber_id, post_id, delivery_id)
		SELECT d.subscriber_id, p.id, d.id
		FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id JOIN posts p ON ` + planMine + `
		WHERE d.id > :max_id AND d.digest_key IS NOT NULL`},
	{"move the digests on", false, `UPDATE subscribers AS s SET planned_run = :cursor, last_digest_at = :now
		WHERE ` + planDue},
	{"move the immediate subscribers on", false, `UPDATE subscribers SET planned_run = :cursor
		WHERE status = 'active' AND frequency = 'immediate' AND planned_run < :cursor`},
}

func (s *sqliteStore) Plan(ctx context.Context, now time.Time) (int, error) {
	return s.PlanWith(ctx, now, defaultPlan)
}

func (s *sqliteStore) PlanWith(ctx context.Context, now time.Time, o PlanOptions) (int, error) {
	if now.IsZero() {
		return 0, s.checkErr("plan: no time given")
	}
	if err := o.Check(); err != nil {
		return 0, s.checkErr("plan: %v", err)
	}
	args := planPeriods(now, o)
	for k, v := range args {
		if t, ok := v.(time.Time); ok {
			args[k] = formatTime(t)
		}
	}
	args["now"], args["lang"] = formatTime(now), normLang(o.Lang)
	queued := 0
	err := s.inTx(ctx, "plan", func(tx *sql.Tx) error {
		queued = 0
		q, a := bind(planRelease, args)
		res, err := tx.ExecContext(ctx, q, a...)
		if err != nil {
			return fmt.Errorf("release the posts that waited: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			if err == nil {
				_, err = tx.ExecContext(ctx, planRewind)
			}
			if err != nil {
				return fmt.Errorf("release the posts that waited: %w", err)
			}
		}
		var maxID int64
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM deliveries").Scan(&maxID); err != nil {
			return fmt.Errorf("read the last delivery: %w", err)
		}
		cursor, err := planStart(ctx, tx)
		if err != nil {
			return fmt.Errorf("read the last sendable post: %w", err)
		}
		args["cursor"], args["max_id"] = cursor, maxID
		for _, step := range planSteps {
			q, a := bind(step.sql, args)
			res, err := tx.ExecContext(ctx, q, a...)
			if err != nil {
				return fmt.Errorf("%s: %w", step.name, err)
			}
			if step.count {
				n, err := res.RowsAffected()
				if err != nil {
					return fmt.Errorf("%s: %w", step.name, err)
				}
				queued += int(n)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return queued, nil
}

var deliveryCols = `d.id, d.subscriber_id, COALESCE(` + fmt.Sprintf(shownAlias, "d.post_id") + `, ''), COALESCE(d.digest_key, ''), d.status,
	COALESCE(d.message_id, ''), d.attempts, d.last_error, d.queued_at, d.sending_at, d.sent_at, d.next_attempt_at`

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var item string
	var queued, sending, sent, next sql.NullString
	if err := row.Scan(&d.ID, &d.SubscriberID, &item, &d.DigestKey, &d.Status, &d.MessageID, &d.Attempts,
		&d.LastError, &queued, &sending, &sent, &next); err != nil {
		return Delivery{}, err
	}
	if item != "" {
		d.ItemIDs = []string{item}
	}
	var err error
	if d.QueuedAt, err = parseTime(queued); err == nil {
		if d.SendingAt, err = parseTime(sending); err == nil {
			if d.SentAt, err = parseTime(sent); err == nil {
				d.NextAttemptAt, err = parseTime(next)
			}
		}
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("delivery %d: %w", d.ID, err)
	}
	return d, nil
}

// Due takes the queued and the due deferred deliveries each in id order, through the partial indexes
// deliveries_open and deliveries_deferred (in id order: no sort of 100,000 rows for each batch), then
// merges the two. CROSS JOIN keeps deliveries the outer loop: SQLite would otherwise start from the
// active subscribers and sort all their queued deliveries for each batch.
func (s *sqliteStore) Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error) {
	return s.DueAfter(ctx, now, 0, limit)
}

func (s *sqliteStore) DueAfter(ctx context.Context, now time.Time, after int64, limit int) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	q, args := bind(`SELECT `+deliveryCols+` FROM deliveries d JOIN (
			SELECT id FROM (SELECT q.id FROM deliveries q CROSS JOIN subscribers s ON s.id = q.subscriber_id
				WHERE q.status = 'queued' AND s.status = 'active' AND q.id > :after
				ORDER BY q.id LIMIT :limit) queued
			UNION ALL
			SELECT id FROM (SELECT r.id FROM deliveries r CROSS JOIN subscribers s ON s.id = r.subscriber_id
				WHERE r.status = 'deferred' AND r.next_attempt_at <= :now AND s.status = 'active' AND r.id > :after
				ORDER BY r.id LIMIT :limit) deferred
		) due ON due.id = d.id
		ORDER BY d.id LIMIT :limit`, map[string]any{"now": formatTime(now), "limit": limit, "after": after})
	return s.deliveries(ctx, "due deliveries", q, args...)
}

// ClaimAfter is DueAfter for the store's one sender, which holds its run lock.
func (s *sqliteStore) ClaimAfter(ctx context.Context, now time.Time, after int64, limit int) ([]Delivery, error) {
	s.mu.Lock()
	held := len(s.locks) > 0
	s.mu.Unlock()
	if !held {
		return nil, s.checkErr("claim deliveries: not a sender (call LockSend first)")
	}
	return s.DueAfter(ctx, now, after, limit)
}

// deliveries runs q, a SELECT of deliveryCols, and fills in the items of the digests among them, newest
// first. what names the query in errors.
func (s *sqliteStore) deliveries(ctx context.Context, what, q string, args ...any) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.fileErr(what, err)
	}
	defer rows.Close()
	ds := []Delivery{}
	digests := map[int64]int{} // delivery id → index in ds
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, s.fileErr(what, err)
		}
		if d.DigestKey != "" {
			digests[d.ID] = len(ds)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr(what, err)
	}
	rows.Close()
	if len(digests) == 0 {
		return ds, nil
	}
	ids := slices.Sorted(maps.Keys(digests))
	args = make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err = s.db.QueryContext(ctx, `SELECT di.delivery_id, a.public_id
		FROM delivery_items di JOIN aliases a ON a.public_id = `+fmt.Sprintf(shownAlias, "di.post_id")+`
		WHERE di.delivery_id IN (`+placeholders(len(ids), 1)+`)
		ORDER BY di.delivery_id, COALESCE(a.date, a.first_seen) DESC, a.public_id`, args...)
	if err != nil {
		return nil, s.fileErr(what+": digest items", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var item string
		if err := rows.Scan(&id, &item); err != nil {
			return nil, s.fileErr(what+": digest items", err)
		}
		d := &ds[digests[id]]
		d.ItemIDs = append(d.ItemIDs, item)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr(what+": digest items", err)
	}
	return ds, nil
}

func (s *sqliteStore) Sending(ctx context.Context, attempts []Attempt, at time.Time) ([]int64, error) {
	if at.IsZero() {
		return nil, s.checkErr("sending: no time given")
	}
	return s.Commit(ctx, nil, attempts, at)
}

func (s *sqliteStore) Finish(ctx context.Context, outcomes []Outcome) error {
	_, err := s.Commit(ctx, outcomes, nil, time.Time{})
	return err
}

// Commit records outcomes (as Finish) and then marks attempts as sending (as Sending), in one
// transaction: the mailer's connections record one message's result and the start of their next together.
func (s *sqliteStore) Commit(ctx context.Context, outcomes []Outcome, attempts []Attempt, at time.Time) ([]int64, error) {
	if err := checkCommit(outcomes, attempts, at, s.checkErr); err != nil {
		return nil, err
	}
	var skipped []int64
	err := s.inTx(ctx, "record deliveries", func(tx *sql.Tx) error {
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

// The ledger's statements, one row each and prepared once: the mailer commits a few rows at a time,
// and a statement made for each batch's size cost more to parse than to run.
const (
	// A delivery keeps the first Message-ID it was sent with (one sent before under another is
	// found by sendingTx), and the time of its first attempt, from which FailOld counts its age.
	markSending = `UPDATE deliveries SET status = 'sending', sending_at = COALESCE(sending_at, ?1),
		message_id = COALESCE(message_id, NULLIF(?3, ''))
		WHERE id = ?2 AND status IN ('queued', 'deferred') AND (message_id IS NULL OR message_id = ?3)
			AND EXISTS (SELECT 1 FROM subscribers s WHERE s.id = deliveries.subscriber_id AND s.status = 'active')`
	recordOutcome = `UPDATE deliveries SET status = ?2, attempts = attempts + 1,
		last_error = ?3, next_attempt_at = ?4, sent_at = COALESCE(?5, sent_at)
		WHERE id = ?1 AND status = 'sending'`
)

func (s *sqliteStore) sendingTx(ctx context.Context, tx *sql.Tx, attempts []Attempt, at time.Time) ([]int64, error) {
	if len(attempts) == 0 {
		return nil, nil
	}
	mark, err := s.prepared(ctx, tx, markSending)
	if err != nil {
		return nil, err
	}
	when := formatTime(at)
	var skipped []int64
	for _, a := range attempts {
		res, err := mark.ExecContext(ctx, when, a.DeliveryID, a.MessageID)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			if err != nil {
				return nil, err
			}
			continue
		}
		var mid sql.NullString
		err = tx.QueryRowContext(ctx, "SELECT message_id FROM deliveries WHERE id = ?", a.DeliveryID).Scan(&mid)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if mid.Valid && mid.String != a.MessageID {
			return nil, s.checkErr("sending: delivery %d was sent before with Message-ID %q; send it with that one, not %q",
				a.DeliveryID, mid.String, a.MessageID)
		}
		skipped = append(skipped, a.DeliveryID)
	}
	return skipped, nil
}

// bounceCode is the enhanced status code (RFC 3463) of "bad destination mailbox address": the address
// does not exist.
const bounceCode = "5.1.1"

// checkCommit says what is wrong with a Commit's arguments, through the store's checkErr: both stores
// refuse the same batches.
func checkCommit(outcomes []Outcome, attempts []Attempt, at time.Time, checkErr func(format string, args ...any) error) error {
	if len(attempts) > 0 && at.IsZero() {
		return checkErr("sending: no time given")
	}
	seen := make(map[int64]bool, len(attempts))
	for _, a := range attempts {
		if seen[a.DeliveryID] {
			return checkErr("sending: delivery %d appears twice", a.DeliveryID)
		}
		seen[a.DeliveryID] = true
	}
	return checkOutcomes(outcomes, checkErr)
}

// checkOutcomes says what is wrong with a batch of outcomes, through the store's checkErr.
func checkOutcomes(outcomes []Outcome, checkErr func(format string, args ...any) error) error {
	seen := make(map[int64]bool, len(outcomes))
	for _, o := range outcomes {
		switch {
		case seen[o.DeliveryID]:
			return checkErr("finish: delivery %d appears twice", o.DeliveryID)
		case o.Status != Sent && o.Status != Deferred && o.Status != Failed && o.Status != Unknown:
			return checkErr("finish: delivery %d: status %q is not one of sent, deferred, failed, unknown", o.DeliveryID, o.Status)
		case o.At.IsZero():
			return checkErr("finish: delivery %d: no time given", o.DeliveryID)
		case o.Status == Deferred && o.NextAttempt.IsZero():
			return checkErr("finish: delivery %d: deferred with no time for the next attempt", o.DeliveryID)
		}
		seen[o.DeliveryID] = true
	}
	return nil
}

func (s *sqliteStore) finishTx(ctx context.Context, tx *sql.Tx, outcomes []Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	record, err := s.prepared(ctx, tx, recordOutcome)
	if err != nil {
		return err
	}
	for _, o := range outcomes {
		var next, sent any
		msg := o.Error
		switch o.Status {
		case Deferred:
			next = formatTime(o.NextAttempt)
		case Sent:
			sent, msg = formatTime(o.At), ""
		}
		res, err := record.ExecContext(ctx, o.DeliveryID, o.Status, msg, next, sent)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n != 1 {
			return s.notSending(ctx, tx, o)
		}
	}
	for _, o := range outcomes {
		if o.Status != Failed || strings.TrimSpace(o.EnhancedCode) != bounceCode {
			continue
		}
		var id int64
		var status string
		// The right-hand sides read the row as it was.
		err := tx.QueryRowContext(ctx, `UPDATE subscribers SET hard_bounces = hard_bounces + 1,
			status = CASE WHEN hard_bounces + 1 >= 2 AND status = 'active' THEN 'bounced' ELSE status END
			WHERE id = (SELECT subscriber_id FROM deliveries WHERE id = ?) RETURNING id, status`, o.DeliveryID).Scan(&id, &status)
		if err != nil {
			return fmt.Errorf("count a bounce of delivery %d: %w", o.DeliveryID, err)
		}
		if status == Bounced {
			if err := cancelDeliveries(ctx, tx, id, status); err != nil {
				return err
			}
		}
	}
	return nil
}

// notSending is the error of a Finish of a delivery that was not being sent.
func (s *sqliteStore) notSending(ctx context.Context, tx *sql.Tx, o Outcome) error {
	var status string
	err := tx.QueryRowContext(ctx, "SELECT status FROM deliveries WHERE id = ?", o.DeliveryID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return s.checkErr("finish: there is no delivery %d", o.DeliveryID)
	}
	if err != nil {
		return err
	}
	return s.checkErr("finish: delivery %d is %s, not sending: nothing was recorded", o.DeliveryID, status)
}

// exec runs one statement that changes deliveries and returns how many rows it changed.
func (s *sqliteStore) exec(ctx context.Context, what, query string, args ...any) (int, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, s.fileErr(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fileErr(what, err)
	}
	return int(n), nil
}

func (s *sqliteStore) Recover(ctx context.Context) (int, error) {
	return s.exec(ctx, "recover", `UPDATE deliveries SET status = 'unknown', attempts = attempts + 1,
		last_error = 'the run ended while it was being sent: the server may have it'
		WHERE status = 'sending'`)
}

func (s *sqliteStore) RetryUnknown(ctx context.Context, since time.Time) (int, error) {
	q := `UPDATE deliveries SET status = 'queued', next_attempt_at = NULL, maybe_sent = 1
		WHERE status = 'unknown'
			AND EXISTS (SELECT 1 FROM subscribers s WHERE s.id = deliveries.subscriber_id AND s.status = 'active')`
	if since.IsZero() {
		return s.exec(ctx, "retry unknown deliveries", q)
	}
	return s.exec(ctx, "retry unknown deliveries", q+` AND sending_at >= ?`, formatTime(since))
}

func (s *sqliteStore) FailOld(ctx context.Context, now time.Time, maxAge time.Duration) (int, error) {
	if now.IsZero() || maxAge <= 0 {
		return 0, s.checkErr("fail old deliveries: no time or age given")
	}
	// The age counts from the first attempt, not from when the delivery was queued: one that waited
	// days for its first try (a long outage, a slow rate limit) still gets its retries.
	return s.exec(ctx, "fail old deliveries", `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL,
		last_error = ? || last_error
		WHERE status = 'deferred' AND COALESCE(sending_at, queued_at) < ?`,
		fmt.Sprintf("deferred for more than %v; last error: ", maxAge), formatTime(now.Add(-maxAge)))
}

func (s *sqliteStore) DeliveryCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT status, COUNT(*) FROM deliveries GROUP BY status")
	if err != nil {
		return nil, s.fileErr("delivery counts", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, s.fileErr("delivery counts", err)
		}
		counts[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr("delivery counts", err)
	}
	return counts, nil
}

func (s *sqliteStore) SubscriberDeliveries(ctx context.Context, id int64) ([]Delivery, error) {
	return s.deliveries(ctx, fmt.Sprintf("deliveries of subscriber %d", id),
		`SELECT `+deliveryCols+` FROM deliveries d WHERE d.subscriber_id = ? ORDER BY d.id`, id)
}

// maxIDsPerQuery bounds the ids of one SubscribersByID query, under SQLite's limit on a statement's
// parameters.
const maxIDsPerQuery = 500

func (s *sqliteStore) SubscribersByID(ctx context.Context, ids []int64) (map[int64]Subscriber, error) {
	subs := make(map[int64]Subscriber, len(ids))
	for chunk := range slices.Chunk(ids, maxIDsPerQuery) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.db.QueryContext(ctx, `SELECT `+subscriberCols+` FROM subscribers WHERE id IN (`+placeholders(len(chunk), 1)+`)`, args...)
		if err != nil {
			return nil, s.fileErr("subscribers by id", err)
		}
		for rows.Next() {
			sub, err := scanSubscriber(rows)
			if err != nil {
				rows.Close()
				return nil, s.fileErr("subscribers by id", err)
			}
			subs[sub.ID] = sub
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.fileErr("subscribers by id", err)
		}
	}
	return subs, nil
}
