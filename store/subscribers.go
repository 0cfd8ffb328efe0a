package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// checkError is an error that the store's own checks found (not the database): it already names the
// store and what was being done, so that inTx passes it on as it is.
type checkError struct{ error }

func (e checkError) Unwrap() error { return e.error }

func (s *sqliteStore) checkErr(format string, args ...any) error {
	return checkError{fmt.Errorf("store %s: "+format, append([]any{s.path}, args...)...)}
}

// inTx runs f in a write transaction (BEGIN IMMEDIATE, see dsn) and commits it, or rolls it back when f
// fails. Errors from the database are wrapped with what, by fileErr.
func (s *sqliteStore) inTx(ctx context.Context, what string, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.fileErr(what, err)
	}
	if err := f(tx); err != nil {
		tx.Rollback() //nolint:errcheck // the error that made us roll back is the one to report
		if errors.As(err, new(checkError)) {
			return err
		}
		return s.fileErr(what, err)
	}
	if err := commit(ctx, tx); err != nil {
		return s.fileErr(what, err)
	}
	return nil
}

// emailKey is how the store tells addresses apart: the local part with its ASCII letters in lower case,
// "@", the domain in lower case. RFC 5321 lets a server treat local parts as case-sensitive, but the big
// providers do not, and list tools change the case of addresses: "Ann@" and "ann@" are one reader, who
// must not come back through an import as one after unsubscribing as the other, nor get every post twice.
// Only ASCII is folded, as SQLite's lower() does: the store finds a subscriber by lower(email_key), which
// also matches the keys written before version 5, when the local part kept its case. ok is false for what
// is not an address.
func emailKey(email string) (key string, ok bool) {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || strings.ContainsAny(email, "\r\n\x00") {
		return "", false
	}
	return asciiLower(email[:at+1]) + strings.ToLower(email[at+1:]), true
}

// asciiLower is SQLite's lower(): ASCII letters in lower case, every other character as it is.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// latestFirst orders the rows that one address had before version 5 (a key per case of its local
// part): a bounce first (the mailbox is the same), then the row with the latest decision (an opt-out,
// or a consent given after it), the oldest first among equals. The first is the subscriber of that
// address.
const latestFirst = `CASE status WHEN 'bounced' THEN 0 ELSE 1 END,
	COALESCE(unsubscribed_at, confirmed_at, consent_at, created_at) DESC, id`

var (
	statuses       = []string{Pending, Active, Unsubscribed, Bounced}
	frequencies    = []string{Immediate, Daily, Weekly, Monthly}
	consentSources = []string{FromImport, FromWeb, FromCommand}
)

// newSubscriber fills in what a subscriber about to be added leaves out.
func newSubscriber(sub Subscriber, now time.Time, status, source string) Subscriber {
	sub.ID = 0
	sub.Tags, sub.Lang = sub.Tags.norm(), normLang(sub.Lang)
	if sub.Status == "" {
		sub.Status = status
	}
	if sub.Frequency == "" {
		sub.Frequency = Immediate
	}
	if sub.ConsentSource == "" {
		sub.ConsentSource = source
	}
	if sub.CreatedAt.IsZero() {
		sub.CreatedAt = now
	}
	if sub.ConsentAt.IsZero() {
		sub.ConsentAt = now
	}
	if sub.Status == Active && sub.ConfirmedAt.IsZero() {
		sub.ConfirmedAt = now
	}
	if sub.Status == Unsubscribed && sub.UnsubscribedAt.IsZero() {
		sub.UnsubscribedAt = now
	}
	return sub
}

// checkSubscriber says what is wrong with sub, or "".
func checkSubscriber(sub *Subscriber) string {
	if _, ok := emailKey(sub.Email); !ok {
		return fmt.Sprintf("%q is not an email address", sub.Email)
	}
	if !slices.Contains(statuses, sub.Status) {
		return fmt.Sprintf("status %q is not one of %s", sub.Status, strings.Join(statuses, ", "))
	}
	if !slices.Contains(frequencies, sub.Frequency) {
		return fmt.Sprintf("frequency %q is not one of %s", sub.Frequency, strings.Join(frequencies, ", "))
	}
	if !slices.Contains(consentSources, sub.ConsentSource) {
		return fmt.Sprintf("consent source %q is not one of %s", sub.ConsentSource, strings.Join(consentSources, ", "))
	}
	if sub.Status == Active && sub.ConfirmedAt.IsZero() {
		return "an active subscriber has no confirmation time"
	}
	return ""
}

const subscriberCols = `id, email, name, status, frequency, created_at, consent_source, consent_at,
	COALESCE(consent_ip, ''), confirmed_at, unsubscribed_at, last_digest_at, hard_bounces, complained_at, tags, lang`

func scanSubscriber(row interface{ Scan(...any) error }) (Subscriber, error) {
	var sub Subscriber
	var created, consent, confirmed, unsubscribed, digest, complained sql.NullString
	if err := row.Scan(&sub.ID, &sub.Email, &sub.Name, &sub.Status, &sub.Frequency, &created, &sub.ConsentSource,
		&consent, &sub.ConsentIP, &confirmed, &unsubscribed, &digest, &sub.HardBounces, &complained, &sub.Tags, &sub.Lang); err != nil {
		return Subscriber{}, err
	}
	for _, t := range []struct {
		dst *time.Time
		src sql.NullString
	}{{&sub.CreatedAt, created}, {&sub.ConsentAt, consent}, {&sub.ConfirmedAt, confirmed},
		{&sub.UnsubscribedAt, unsubscribed}, {&sub.LastDigestAt, digest}, {&sub.ComplainedAt, complained}} {
		var err error
		if *t.dst, err = parseTime(t.src); err != nil {
			return Subscriber{}, fmt.Errorf("subscriber %d: %w", sub.ID, err)
		}
	}
	return sub, nil
}

func (s *sqliteStore) Subscribers(ctx context.Context, status string) ([]Subscriber, error) {
	if status != "" && !slices.Contains(statuses, status) {
		return nil, s.checkErr("subscribers: status %q is not one of %s", status, strings.Join(statuses, ", "))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriberCols+` FROM subscribers
		WHERE status = ? OR ? = '' ORDER BY id`, status, status)
	if err != nil {
		return nil, s.fileErr("subscribers", err)
	}
	defer rows.Close()
	var subs []Subscriber
	for rows.Next() {
		sub, err := scanSubscriber(rows)
		if err != nil {
			return nil, s.fileErr("subscribers", err)
		}
		subs = append(subs, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr("subscribers", err)
	}
	return subs, nil
}

func (s *sqliteStore) Subscriber(ctx context.Context, id int64) (Subscriber, error) {
	sub, err := scanSubscriber(s.db.QueryRowContext(ctx, `SELECT `+subscriberCols+` FROM subscribers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Subscriber{}, s.checkErr("subscriber %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Subscriber{}, s.fileErr(fmt.Sprintf("subscriber %d", id), err)
	}
	return sub, nil
}

func (s *sqliteStore) SubscriberByEmail(ctx context.Context, email string) (Subscriber, error) {
	// The errors do not quote the address: herald serve logs them, and addresses stay out of logs.
	key, ok := emailKey(email)
	if !ok {
		return Subscriber{}, s.checkErr("subscriber by address: %w", ErrNotFound)
	}
	sub, err := scanSubscriber(s.db.QueryRowContext(ctx, `SELECT `+subscriberCols+` FROM subscribers
		WHERE lower(email_key) = ? ORDER BY `+latestFirst+` LIMIT 1`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return Subscriber{}, s.checkErr("subscriber by address: %w", ErrNotFound)
	}
	if err != nil {
		return Subscriber{}, s.fileErr("subscriber by address", err)
	}
	return sub, nil
}

// planStart is where a subscriber added now starts planning (subscribers.planned_run and start_run): at
// the newest sendable post, so that nothing recorded before they were added is theirs.
func planStart(ctx context.Context, tx *sql.Tx) (int64, error) {
	var m int64
	err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(plan_run), 0) FROM posts WHERE sendable = TRUE").Scan(&m)
	return m, err
}

const insertSubscriberCols = `(email, email_key, name, status, frequency, created_at, consent_source, consent_at,
	consent_ip, confirmed_at, unsubscribed_at, last_digest_at, hard_bounces, planned_run, start_run, tags, lang)`

// subscriberArgs is how many values insertSubscriberArgs gives.
const subscriberArgs = 17

func insertSubscriberArgs(sub *Subscriber, planned int64) []any {
	key, _ := emailKey(sub.Email)
	var ip any
	if sub.ConsentIP != "" {
		ip = sub.ConsentIP
	}
	return []any{sub.Email, key, sub.Name, sub.Status, sub.Frequency, formatTime(sub.CreatedAt), sub.ConsentSource,
		formatTime(sub.ConsentAt), ip, formatTime(sub.ConfirmedAt), formatTime(sub.UnsubscribedAt),
		formatTime(sub.LastDigestAt), sub.HardBounces, planned, planned, string(sub.Tags.norm()), normLang(sub.Lang)}
}

func (s *sqliteStore) AddSubscriber(ctx context.Context, sub Subscriber, now time.Time) (Subscriber, error) {
	sub = newSubscriber(sub, now, Pending, FromCommand)
	if msg := checkSubscriber(&sub); msg != "" {
		return Subscriber{}, s.checkErr("add subscriber: %s", msg)
	}
	key, _ := emailKey(sub.Email)
	err := s.inTx(ctx, "add subscriber", func(tx *sql.Tx) error {
		var other int64
		err := tx.QueryRowContext(ctx, "SELECT id FROM subscribers WHERE lower(email_key) = ? ORDER BY "+latestFirst+" LIMIT 1", key).Scan(&other)
		if err == nil {
			return s.checkErr("add subscriber %q: %w (subscriber %d)", sub.Email, ErrExists, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		planned, err := planStart(ctx, tx)
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "INSERT INTO subscribers "+insertSubscriberCols+" VALUES "+placeholders(1, subscriberArgs)+" RETURNING id",
			insertSubscriberArgs(&sub, planned)...).Scan(&sub.ID)
	})
	if err != nil {
		return Subscriber{}, err
	}
	return sub, nil
}

// importEntry is a subscriber as an import leaves it.
type importEntry struct {
	sub       Subscriber
	known     bool // in the store before the import
	changed   bool
	wasActive bool // in the store, active before the import
}

func (s *sqliteStore) ImportSubscribers(ctx context.Context, subs []Subscriber, now time.Time) (ImportResult, error) {
	keys := make([]string, len(subs))
	for i := range subs {
		sub := &subs[i]
		key, ok := emailKey(sub.Email)
		if !ok {
			return ImportResult{}, s.checkErr("import subscriber %d: %q is not an email address", i+1, sub.Email)
		}
		keys[i] = key
		// Checked here as well as when added, for the rows that are merged.
		if sub.Status != "" && !slices.Contains(statuses, sub.Status) {
			return ImportResult{}, s.checkErr("import subscriber %d (%s): status %q is not one of %s", i+1, sub.Email, sub.Status, strings.Join(statuses, ", "))
		}
		if sub.Frequency != "" && !slices.Contains(frequencies, sub.Frequency) {
			return ImportResult{}, s.checkErr("import subscriber %d (%s): frequency %q is not one of %s", i+1, sub.Email, sub.Frequency, strings.Join(frequencies, ", "))
		}
	}
	var res ImportResult
	err := s.inTx(ctx, "import subscribers", func(tx *sql.Tx) error {
		res = ImportResult{}
		byKey := map[string]*importEntry{}
		rows, err := tx.QueryContext(ctx, `SELECT `+subscriberCols+`, lower(email_key) FROM subscribers ORDER BY `+latestFirst)
		if err != nil {
			return err
		}
		for rows.Next() {
			var e importEntry
			var key string
			var created, consent, confirmed, unsubscribed, digest, complained sql.NullString
			sub := &e.sub
			if err := rows.Scan(&sub.ID, &sub.Email, &sub.Name, &sub.Status, &sub.Frequency, &created, &sub.ConsentSource,
				&consent, &sub.ConsentIP, &confirmed, &unsubscribed, &digest, &sub.HardBounces, &complained, &sub.Tags, &sub.Lang, &key); err != nil {
				rows.Close()
				return err
			}
			// Only the fields an import may change are read: the rest is left as it is.
			if sub.ConfirmedAt, err = parseTime(confirmed); err == nil {
				sub.UnsubscribedAt, err = parseTime(unsubscribed)
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("subscriber %d: %w", sub.ID, err)
			}
			e.known, e.wasActive = true, sub.Status == Active
			if byKey[key] == nil { // the first of the rows an address had before version 5
				byKey[key] = &e
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()

		var added []*importEntry // in the order of subs
		for i, in := range subs {
			e := byKey[keys[i]]
			if e == nil {
				e = &importEntry{sub: newSubscriber(in, now, Active, FromImport)}
				if msg := checkSubscriber(&e.sub); msg != "" {
					return s.checkErr("import subscriber %d (%s): %s", i+1, in.Email, msg)
				}
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

		planned, err := planStart(ctx, tx)
		if err != nil {
			return err
		}
		if err := execBatches(ctx, tx, added, subscriberArgs, func(n int) string {
			return "INSERT INTO subscribers " + insertSubscriberCols + " VALUES " + placeholders(n, subscriberArgs)
		}, nil, func(e *importEntry) []any { return insertSubscriberArgs(&e.sub, planned) }); err != nil {
			return err
		}
		var changed []*importEntry
		for _, e := range byKey {
			if e.known && e.changed {
				changed = append(changed, e)
			}
		}
		slices.SortFunc(changed, func(a, b *importEntry) int { return cmp.Compare(a.sub.ID, b.sub.ID) })
		for _, e := range changed {
			sub := &e.sub
			// As UpdateSubscriber: a switch to a digest starts its period now (the right-hand sides read
			// the row as it was).
			if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET name = ?1, status = ?2, frequency = ?3,
				confirmed_at = ?4, unsubscribed_at = ?5,
				last_digest_at = CASE WHEN frequency <> ?3 AND ?3 <> 'immediate' THEN ?7 ELSE last_digest_at END,
				tags = ?8, lang = ?9
				WHERE id = ?6`, sub.Name, sub.Status, sub.Frequency,
				formatTime(sub.ConfirmedAt), formatTime(sub.UnsubscribedAt), sub.ID, formatTime(now),
				string(sub.Tags.norm()), normLang(sub.Lang)); err != nil {
				return fmt.Errorf("update subscriber %d: %w", sub.ID, err)
			}
			if e.wasActive && sub.Status != Active {
				if err := cancelDeliveries(ctx, tx, sub.ID, sub.Status); err != nil {
					return err
				}
			}
			if sub.Status == Unsubscribed || sub.Status == Bounced {
				key, _ := emailKey(sub.Email)
				if err := optOutCaseVariants(ctx, tx, key, sub.ID, sub.Status, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// merge applies an import's row in to a subscriber the store (or the import) already has, and says
// whether it changed anything. Someone unsubscribed or bounced is left as they are; an active subscriber
// does not become pending again.
func merge(sub *Subscriber, in Subscriber, now time.Time) bool {
	if hasLeft(*sub) {
		return false
	}
	old := *sub
	if in.Name != "" {
		sub.Name = in.Name
	}
	if in.Frequency != "" {
		sub.Frequency = in.Frequency
	}
	if in.Tags != "" {
		sub.Tags = in.Tags.norm()
	}
	if in.Lang != "" {
		sub.Lang = normLang(in.Lang)
	}
	switch {
	case (in.Status == "" || in.Status == Active) && sub.Status == Pending:
		sub.Status = Active
		sub.ConfirmedAt = in.ConfirmedAt
		if sub.ConfirmedAt.IsZero() {
			sub.ConfirmedAt = now
		}
	case in.Status == Unsubscribed:
		sub.Status = Unsubscribed
		sub.UnsubscribedAt = in.UnsubscribedAt
		if sub.UnsubscribedAt.IsZero() {
			sub.UnsubscribedAt = now
		}
	case in.Status == Bounced:
		sub.Status = Bounced
	}
	return sub.Name != old.Name || sub.Frequency != old.Frequency || sub.Status != old.Status ||
		sub.Tags != old.Tags || sub.Lang != old.Lang
}

// cancelDeliveries cancels what is queued or deferred for a subscriber who is no longer active (status
// says what they are now).
func cancelDeliveries(ctx context.Context, tx *sql.Tx, subscriberID int64, status string) error {
	_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, last_error = ?
		WHERE subscriber_id = ? AND status IN ('queued', 'deferred')`, "the subscriber is "+status, subscriberID)
	if err != nil {
		return fmt.Errorf("cancel the deliveries of subscriber %d: %w", subscriberID, err)
	}
	return nil
}

func (s *sqliteStore) UpdateSubscriber(ctx context.Context, id int64, at time.Time, change func(*Subscriber)) error {
	what := fmt.Sprintf("update subscriber %d", id)
	return s.inTx(ctx, what, func(tx *sql.Tx) error {
		old, err := scanSubscriber(tx.QueryRowContext(ctx, `SELECT `+subscriberCols+` FROM subscribers WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
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
			err = tx.QueryRowContext(ctx, "SELECT id FROM subscribers WHERE lower(email_key) = ? AND id <> ? LIMIT 1", key, id).Scan(&other)
			if err == nil {
				return s.checkErr("%s: %q: %w (subscriber %d)", what, sub.Email, ErrExists, other)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var ip any
		if sub.ConsentIP != "" {
			ip = sub.ConsentIP
		}
		// A key written before version 5 stays as it is while the address is the same: another row of the
		// address may hold the lower-case one.
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET email = ?, email_key = CASE lower(email_key) WHEN ?2 THEN email_key ELSE ?2 END,
			name = ?, status = ?, frequency = ?, created_at = ?, consent_source = ?, consent_at = ?, consent_ip = ?,
			confirmed_at = ?, unsubscribed_at = ?, last_digest_at = ?, hard_bounces = ?, tags = ?, lang = ? WHERE id = ?`,
			sub.Email, key, sub.Name, sub.Status, sub.Frequency, formatTime(sub.CreatedAt), sub.ConsentSource,
			formatTime(sub.ConsentAt), ip, formatTime(sub.ConfirmedAt), formatTime(sub.UnsubscribedAt),
			formatTime(sub.LastDigestAt), sub.HardBounces, string(sub.Tags.norm()), normLang(sub.Lang), id); err != nil {
			return err
		}
		if old.Status == Active && sub.Status != Active {
			if err := cancelDeliveries(ctx, tx, id, sub.Status); err != nil {
				return err
			}
		}
		if sub.Status != old.Status && (sub.Status == Unsubscribed || sub.Status == Bounced) {
			return optOutCaseVariants(ctx, tx, key, id, sub.Status, at)
		}
		return nil
	})
}

// applyStatusTimes sets the times that UpdateSubscriber's change of sub from old implies, at at, where
// the change did not set them itself.
func applyStatusTimes(sub *Subscriber, old Subscriber, at time.Time) {
	if sub.Status != old.Status {
		switch sub.Status {
		case Active:
			if sub.ConfirmedAt.Equal(old.ConfirmedAt) {
				sub.ConfirmedAt = at
			}
			if sub.UnsubscribedAt.Equal(old.UnsubscribedAt) {
				sub.UnsubscribedAt = time.Time{}
			}
			if sub.HardBounces == old.HardBounces {
				sub.HardBounces = 0
			}
		case Unsubscribed:
			if sub.UnsubscribedAt.Equal(old.UnsubscribedAt) {
				sub.UnsubscribedAt = at
			}
		}
	}
	if sub.Frequency != old.Frequency && sub.Frequency != Immediate && sub.LastDigestAt.Equal(old.LastDigestAt) {
		sub.LastDigestAt = at // the first digest comes on the first run of the next day or week
	}
}

// optOutCaseVariants gives an opt-out of subscriber id to the other rows its address got before
// version 5, one per case of its local part (emailKey), so that unsubscribing by any of them stops them
// all.
func optOutCaseVariants(ctx context.Context, tx *sql.Tx, key string, id int64, status string, at time.Time) error {
	rows, err := tx.QueryContext(ctx, `UPDATE subscribers SET status = ?1,
		unsubscribed_at = CASE WHEN ?1 = 'unsubscribed' THEN ?2 ELSE unsubscribed_at END
		WHERE lower(email_key) = ?3 AND id <> ?4 AND status IN ('active', 'pending') RETURNING id`,
		status, formatTime(at), key, id)
	if err != nil {
		return fmt.Errorf("opt out the other rows of subscriber %d: %w", id, err)
	}
	var ids []int64
	for rows.Next() {
		var other int64
		if err := rows.Scan(&other); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, other)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, other := range ids {
		if err := cancelDeliveries(ctx, tx, other, status); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqliteStore) DeleteExpiredPending(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, "expire sign-ups", func(tx *sql.Tx) error {
		const expired = `status = 'pending' AND consent_source = 'web' AND consent_at < ?`
		res, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE `+expired+
			` AND confirmed_at IS NULL AND unsubscribed_at IS NULL`, formatTime(before))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE subscribers SET status = 'unsubscribed' WHERE `+expired+
			` AND unsubscribed_at IS NOT NULL`, formatTime(before))
		return err
	})
	return int(n), err
}

func (s *sqliteStore) DeleteUnsentSignUp(ctx context.Context, id int64, consentAt time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM subscribers WHERE id = ? AND status = 'pending' AND consent_source = 'web'
		AND consent_at = ? AND confirmed_at IS NULL AND unsubscribed_at IS NULL`, id, formatTime(consentAt))
	if err != nil {
		return false, s.fileErr(fmt.Sprintf("delete sign-up %d", id), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.fileErr(fmt.Sprintf("delete sign-up %d", id), err)
	}
	return n == 1, nil
}

// hasLeft says whether sub unsubscribed or bounced, and has not confirmed since: a pending subscriber
// who had unsubscribed before signing up again counts until they confirm, so that an import cannot
// bring back someone whom a stranger typed into the form.
func hasLeft(sub Subscriber) bool {
	return sub.Status == Unsubscribed || sub.Status == Bounced || (sub.Status == Pending && !sub.UnsubscribedAt.IsZero())
}

// DeleteSubscriber deletes the rows and then rebuilds the file (VACUUM): SQLite leaves deleted and
// overwritten rows in free space (an earlier UPDATE's old copy of the row too, which secure_delete would
// not reach), and the WAL keeps older versions of pages until a checkpoint. VACUUM writes every page anew,
// and the checkpoint (TRUNCATE) copies them into the file and empties the WAL. It costs a pass over the
// store, which an erase, done by hand and rarely, can afford. A reader in progress can keep the
// checkpoint from finishing; the next one does.
func (s *sqliteStore) DeleteSubscriber(ctx context.Context, id int64) error {
	what := fmt.Sprintf("delete subscriber %d", id)
	res, err := s.db.ExecContext(ctx, "DELETE FROM subscribers WHERE id = ?", id)
	if err != nil {
		return s.fileErr(what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fileErr(what, err)
	} else if n == 0 {
		return s.checkErr("%s: %w", what, ErrNotFound)
	}
	if err := s.Compact(ctx); err != nil {
		return fmt.Errorf("%s: deleted, but %w", what, err)
	}
	return nil
}

func (s *sqliteStore) Compact(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, "VACUUM"); err != nil {
		return s.fileErr("clearing the free space failed (VACUUM); stop herald serve and run the command again", err)
	}
	var busy, logPages, done int
	if err := s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done); err != nil {
		return s.fileErr("emptying the WAL failed", err)
	}
	if busy != 0 {
		// A reader elsewhere (herald serve) kept the checkpoint from finishing: the WAL may still hold
		// old pages.
		return &pathError{path: s.path, msg: "could not empty its WAL: another process is reading it; stop herald serve and run the command again"}
	}
	return nil
}
