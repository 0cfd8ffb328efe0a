package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The subscriber methods of the PostgreSQL store follow subscribers.go's, statement for statement; the
// decisions (newSubscriber, checkSubscriber, merge, hasLeft, latestFirst) are the same functions.
// herald_ascii_lower(email_key) is SQLite's lower(email_key).

// pgSubscriberCols are subscriberCols with the times as timestamptz.
const pgSubscriberCols = subscriberCols

func pgScanSubscriber(row pgx.Row) (Subscriber, error) {
	var sub Subscriber
	var consent, confirmed, unsubscribed, digest, complained *time.Time
	if err := row.Scan(&sub.ID, &sub.Email, &sub.Name, &sub.Status, &sub.Frequency, &sub.CreatedAt, &sub.ConsentSource,
		&consent, &sub.ConsentIP, &confirmed, &unsubscribed, &digest, &sub.HardBounces, &complained, &sub.Tags, &sub.Lang); err != nil {
		return Subscriber{}, err
	}
	sub.ConsentAt, sub.ConfirmedAt, sub.UnsubscribedAt, sub.LastDigestAt = when(consent), when(confirmed), when(unsubscribed), when(digest)
	sub.ComplainedAt = when(complained)
	return sub, nil
}

func (s *pgStore) Subscribers(ctx context.Context, status string) ([]Subscriber, error) {
	if status != "" && !slices.Contains(statuses, status) {
		return nil, s.checkErr("subscribers: status %q is not one of %s", status, strings.Join(statuses, ", "))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+pgSubscriberCols+` FROM subscribers
		WHERE status = $1 OR $1 = '' ORDER BY id`, status)
	if err != nil {
		return nil, s.dbErr("subscribers", err)
	}
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Subscriber, error) { return pgScanSubscriber(row) })
	if err != nil {
		return nil, s.dbErr("subscribers", err)
	}
	if len(subs) == 0 {
		return nil, nil // as the SQLite store
	}
	return subs, nil
}

func (s *pgStore) Subscriber(ctx context.Context, id int64) (Subscriber, error) {
	sub, err := pgScanSubscriber(s.pool.QueryRow(ctx, `SELECT `+pgSubscriberCols+` FROM subscribers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Subscriber{}, s.checkErr("subscriber %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Subscriber{}, s.dbErr(fmt.Sprintf("subscriber %d", id), err)
	}
	return sub, nil
}

func (s *pgStore) SubscriberByEmail(ctx context.Context, email string) (Subscriber, error) {
	// The errors do not quote the address: herald serve logs them, and addresses stay out of logs.
	key, ok := emailKey(email)
	if !ok {
		return Subscriber{}, s.checkErr("subscriber by address: %w", ErrNotFound)
	}
	sub, err := pgScanSubscriber(s.pool.QueryRow(ctx, `SELECT `+pgSubscriberCols+` FROM subscribers
		WHERE herald_ascii_lower(email_key) = $1 ORDER BY `+latestFirst+` LIMIT 1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return Subscriber{}, s.checkErr("subscriber by address: %w", ErrNotFound)
	}
	if err != nil {
		return Subscriber{}, s.dbErr("subscriber by address", err)
	}
	return sub, nil
}

// pgPlanStart is planStart.
func pgPlanStart(ctx context.Context, tx pgx.Tx) (int64, error) {
	var m int64
	err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(plan_run), 0) FROM posts WHERE sendable").Scan(&m)
	return m, err
}

var pgSubscriberColumns = []string{"email", "email_key", "name", "status", "frequency", "created_at", "consent_source", "consent_at",
	"consent_ip", "confirmed_at", "unsubscribed_at", "last_digest_at", "hard_bounces", "planned_run", "start_run", "tags", "lang"}

func pgSubscriberArgs(sub *Subscriber, planned int64) []any {
	key, _ := emailKey(sub.Email)
	var ip any
	if sub.ConsentIP != "" {
		ip = sub.ConsentIP
	}
	return []any{sub.Email, key, sub.Name, sub.Status, sub.Frequency, pgTime(sub.CreatedAt), sub.ConsentSource,
		pgTime(sub.ConsentAt), ip, pgTime(sub.ConfirmedAt), pgTime(sub.UnsubscribedAt),
		pgTime(sub.LastDigestAt), sub.HardBounces, planned, planned, string(sub.Tags.norm()), normLang(sub.Lang)}
}

// pgRound cuts sub's times to the microsecond, as the store keeps them, so that what AddSubscriber and
// ImportSubscribers return, and what they compare, is what a read gives back.
func pgRound(sub *Subscriber) {
	for _, t := range []*time.Time{&sub.CreatedAt, &sub.ConsentAt, &sub.ConfirmedAt, &sub.UnsubscribedAt, &sub.LastDigestAt} {
		if !t.IsZero() {
			*t = t.Truncate(time.Microsecond).UTC()
		}
	}
}

func (s *pgStore) AddSubscriber(ctx context.Context, sub Subscriber, now time.Time) (Subscriber, error) {
	sub = newSubscriber(sub, now, Pending, FromCommand)
	if msg := checkSubscriber(&sub); msg != "" {
		return Subscriber{}, s.checkErr("add subscriber: %s", msg)
	}
	pgRound(&sub)
	key, _ := emailKey(sub.Email)
	err := s.inTx(ctx, "add subscriber", func(tx pgx.Tx) error {
		var other int64
		err := tx.QueryRow(ctx, "SELECT id FROM subscribers WHERE herald_ascii_lower(email_key) = $1 ORDER BY "+latestFirst+" LIMIT 1", key).Scan(&other)
		if err == nil {
			return s.checkErr("add subscriber %q: %w (subscriber %d)", sub.Email, ErrExists, other)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		planned, err := pgPlanStart(ctx, tx)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, "INSERT INTO subscribers ("+strings.Join(pgSubscriberColumns, ", ")+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
			pgSubscriberArgs(&sub, planned)...).Scan(&sub.ID)
	})
	if err != nil {
		return Subscriber{}, err
	}
	return sub, nil
}

func (s *pgStore) ImportSubscribers(ctx context.Context, subs []Subscriber, now time.Time) (ImportResult, error) {
	keys := make([]string, len(subs))
	for i := range subs {
		sub := &subs[i]
		key, ok := emailKey(sub.Email)
		if !ok {
			return ImportResult{}, s.checkErr("import subscriber %d: %q is not an email address", i+1, sub.Email)
		}
		keys[i] = key
		if sub.Status != "" && !slices.Contains(statuses, sub.Status) {
			return ImportResult{}, s.checkErr("import subscriber %d (%s): status %q is not one of %s", i+1, sub.Email, sub.Status, strings.Join(statuses, ", "))
		}
		if sub.Frequency != "" && !slices.Contains(frequencies, sub.Frequency) {
			return ImportResult{}, s.checkErr("import subscriber %d (%s): frequency %q is not one of %s", i+1, sub.Email, sub.Frequency, strings.Join(frequencies, ", "))
		}
	}
	var res ImportResult
	err := s.inTx(ctx, "import subscribers", func(tx pgx.Tx) error {
		res = ImportResult{}
		byKey, err := pgImportEntries(ctx, tx)
		if err != nil {
			return err
		}
		var added []*importEntry // in the order of subs
		for i, in := range subs {
			e := byKey[keys[i]]
			if e == nil {
				e = &importEntry{sub: newSubscriber(in, now, Active, FromImport)}
				if msg := checkSubscriber(&e.sub); msg != "" {
					return s.checkErr("import subscriber %d (%s): %s", i+1, in.Email, msg)
				}
				pgRound(&e.sub)
				byKey[keys[i]] = e
				added = append(added, e)
				res.Added++
				continue
			}
			if merge(&e.sub, in, now) {
				e.changed = true
				res.Updated++
			} else if hasLeft(e.sub) {
				res.Skipped++
			} else {
				res.Unchanged++
			}
		}
		planned, err := pgPlanStart(ctx, tx)
		if err != nil {
			return err
		}
		if len(added) > 0 {
			rows := make([][]any, len(added))
			for i, e := range added {
				rows[i] = pgSubscriberArgs(&e.sub, planned)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"subscribers"}, pgSubscriberColumns, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
		}
		var changed []*importEntry
		for _, e := range byKey {
			if e.known && e.changed {
				changed = append(changed, e)
			}
		}
		slices.SortFunc(changed, func(a, b *importEntry) int { return cmp.Compare(a.sub.ID, b.sub.ID) })
		for _, e := range changed {
			if err := s.importChange(ctx, tx, e, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// pgImportEntries reads every subscriber, by lower-case key (the first of the rows an address had before
// version 5, in latestFirst's order), with the fields an import may change.
func pgImportEntries(ctx context.Context, tx pgx.Tx) (map[string]*importEntry, error) {
	byKey := map[string]*importEntry{}
	rows, err := tx.Query(ctx, `SELECT id, email, name, status, frequency, confirmed_at, unsubscribed_at, tags, lang,
		herald_ascii_lower(email_key) FROM subscribers ORDER BY `+latestFirst)
	if err != nil {
		return nil, err
	}
	var sub Subscriber
	var confirmed, unsubscribed *time.Time
	var key string
	_, err = pgx.ForEachRow(rows, []any{&sub.ID, &sub.Email, &sub.Name, &sub.Status, &sub.Frequency, &confirmed, &unsubscribed, &sub.Tags, &sub.Lang, &key}, func() error {
		if byKey[key] == nil {
			sub.ConfirmedAt, sub.UnsubscribedAt = when(confirmed), when(unsubscribed)
			byKey[key] = &importEntry{sub: sub, known: true, wasActive: sub.Status == Active}
		}
		return nil
	})
	return byKey, err
}

// importChange writes what an import changed of a known subscriber.
func (s *pgStore) importChange(ctx context.Context, tx pgx.Tx, e *importEntry, now time.Time) error {
	sub := &e.sub
	// As UpdateSubscriber: a switch to a digest starts its period now (the right-hand sides read the row
	// as it was).
	if _, err := tx.Exec(ctx, `UPDATE subscribers SET name = $1, status = $2, frequency = $3,
		confirmed_at = $4, unsubscribed_at = $5,
		last_digest_at = CASE WHEN frequency <> $3 AND $3 <> 'immediate' THEN $7::timestamptz ELSE last_digest_at END,
		tags = $8, lang = $9
		WHERE id = $6`, sub.Name, sub.Status, sub.Frequency,
		pgTime(sub.ConfirmedAt), pgTime(sub.UnsubscribedAt), sub.ID, pgTime(now), string(sub.Tags.norm()), normLang(sub.Lang)); err != nil {
		return fmt.Errorf("update subscriber %d: %w", sub.ID, err)
	}
	if e.wasActive && sub.Status != Active {
		if err := pgCancelDeliveries(ctx, tx, sub.ID, sub.Status); err != nil {
			return err
		}
	}
	if sub.Status == Unsubscribed || sub.Status == Bounced {
		key, _ := emailKey(sub.Email)
		return pgOptOutCaseVariants(ctx, tx, key, sub.ID, sub.Status, now)
	}
	return nil
}

// pgCancelDeliveries is cancelDeliveries.
func pgCancelDeliveries(ctx context.Context, tx pgx.Tx, subscriberID int64, status string) error {
	_, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, last_error = $1
		WHERE subscriber_id = $2 AND status IN ('queued', 'deferred')`, "the subscriber is "+status, subscriberID)
	if err != nil {
		return fmt.Errorf("cancel the deliveries of subscriber %d: %w", subscriberID, err)
	}
	return nil
}

func (s *pgStore) UpdateSubscriber(ctx context.Context, id int64, at time.Time, change func(*Subscriber)) error {
	what := fmt.Sprintf("update subscriber %d", id)
	return s.inTx(ctx, what, func(tx pgx.Tx) error {
		old, err := pgScanSubscriber(tx.QueryRow(ctx, `SELECT `+pgSubscriberCols+` FROM subscribers WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return s.checkErr("%s: %w", what, ErrNotFound)
		}
		if err != nil {
			return err
		}
		sub := old
		change(&sub)
		sub.Tags, sub.Lang = sub.Tags.norm(), normLang(sub.Lang)
		if sub.ID != id {
			return s.checkErr("%s: the change set its id to %d; ids never change", what, sub.ID)
		}
		applyStatusTimes(&sub, old, at)
		if msg := checkSubscriber(&sub); msg != "" {
			return s.checkErr("%s: %s", what, msg)
		}
		key, _ := emailKey(sub.Email)
		if oldKey, _ := emailKey(old.Email); key != oldKey {
			var other int64
			err = tx.QueryRow(ctx, "SELECT id FROM subscribers WHERE herald_ascii_lower(email_key) = $1 AND id <> $2 LIMIT 1", key, id).Scan(&other)
			if err == nil {
				return s.checkErr("%s: %q: %w (subscriber %d)", what, sub.Email, ErrExists, other)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		var ip any
		if sub.ConsentIP != "" {
			ip = sub.ConsentIP
		}
		// A key written before version 5 stays as it is while the address is the same.
		if _, err := tx.Exec(ctx, `UPDATE subscribers SET email = $1,
			email_key = CASE herald_ascii_lower(email_key) WHEN $2 THEN email_key ELSE $2 END,
			name = $3, status = $4, frequency = $5, created_at = $6, consent_source = $7, consent_at = $8, consent_ip = $9,
			confirmed_at = $10, unsubscribed_at = $11, last_digest_at = $12, hard_bounces = $13, tags = $15, lang = $16
			WHERE id = $14`,
			sub.Email, key, sub.Name, sub.Status, sub.Frequency, pgTime(sub.CreatedAt), sub.ConsentSource,
			pgTime(sub.ConsentAt), ip, pgTime(sub.ConfirmedAt), pgTime(sub.UnsubscribedAt),
			pgTime(sub.LastDigestAt), sub.HardBounces, id, string(sub.Tags.norm()), normLang(sub.Lang)); err != nil {
			if isUnique(err) {
				return s.checkErr("%s: %q: %w", what, sub.Email, ErrExists)
			}
			return err
		}
		if old.Status == Active && sub.Status != Active {
			if err := pgCancelDeliveries(ctx, tx, id, sub.Status); err != nil {
				return err
			}
		}
		if sub.Status != old.Status && (sub.Status == Unsubscribed || sub.Status == Bounced) {
			return pgOptOutCaseVariants(ctx, tx, key, id, sub.Status, at)
		}
		return nil
	})
}

// pgOptOutCaseVariants is optOutCaseVariants.
func pgOptOutCaseVariants(ctx context.Context, tx pgx.Tx, key string, id int64, status string, at time.Time) error {
	rows, err := tx.Query(ctx, `UPDATE subscribers SET status = $1,
		unsubscribed_at = CASE WHEN $1 = 'unsubscribed' THEN $2::timestamptz ELSE unsubscribed_at END
		WHERE herald_ascii_lower(email_key) = $3 AND id <> $4 AND status IN ('active', 'pending') RETURNING id`,
		status, pgTime(at), key, id)
	if err != nil {
		return fmt.Errorf("opt out the other rows of subscriber %d: %w", id, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("opt out the other rows of subscriber %d: %w", id, err)
	}
	for _, other := range ids {
		if err := pgCancelDeliveries(ctx, tx, other, status); err != nil {
			return err
		}
	}
	return nil
}

func (s *pgStore) DeleteExpiredPending(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, "expire sign-ups", func(tx pgx.Tx) error {
		const expired = `status = 'pending' AND consent_source = 'web' AND consent_at < $1`
		tag, err := tx.Exec(ctx, `DELETE FROM subscribers WHERE `+expired+
			` AND confirmed_at IS NULL AND unsubscribed_at IS NULL`, pgTime(before))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `UPDATE subscribers SET status = 'unsubscribed' WHERE `+expired+
			` AND unsubscribed_at IS NOT NULL`, pgTime(before))
		return err
	})
	return int(n), err
}

func (s *pgStore) DeleteUnsentSignUp(ctx context.Context, id int64, consentAt time.Time) (bool, error) {
	var n int64
	err := s.inTx(ctx, fmt.Sprintf("delete sign-up %d", id), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM subscribers WHERE id = $1 AND status = 'pending' AND consent_source = 'web'
			AND consent_at = $2 AND confirmed_at IS NULL AND unsubscribed_at IS NULL`, id, pgTime(consentAt))
		n = tag.RowsAffected()
		return err
	})
	return n == 1, err
}

// DeleteSubscriber deletes the rows and then rewrites the tables that held them (Compact).
func (s *pgStore) DeleteSubscriber(ctx context.Context, id int64) error {
	what := fmt.Sprintf("delete subscriber %d", id)
	var n int64
	err := s.inTx(ctx, what, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM subscribers WHERE id = $1", id)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return s.checkErr("%s: %w", what, ErrNotFound)
	}
	if err := s.Compact(ctx); err != nil {
		return fmt.Errorf("%s: deleted, but %w", what, err)
	}
	return nil
}

// Compact rewrites the tables that hold subscribers' data (VACUUM FULL), so that the rows deleted or
// updated are not left in the tables' files. The server's write-ahead log, and its archives and replicas,
// keep them until they are recycled: that is the server's administrator's to manage.
func (s *pgStore) Compact(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, "VACUUM (FULL) subscribers, deliveries, delivery_items"); err != nil {
		return s.dbErr("clearing the free space failed (VACUUM FULL)", err)
	}
	return nil
}
