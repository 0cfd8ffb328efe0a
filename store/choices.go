package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// PlanOptions are the site's settings that PlanWith follows.
//
// A digest period starts at Hour (0-23) local time in Location (UTC when nil): every day for a daily
// digest, on Weekday for a weekly one, on the first of the month for a monthly one. The periods are
// counted on the local calendar, so a daylight saving change moves them with the clock: a digest at 8
// stays at 8, and a day of 23 or 25 hours is one period. An hour the clock skips that day (02:30 on the
// night it goes forward) starts the period when the clock has gone on (03:30); an hour it passes twice
// starts it the first time.
type PlanOptions struct {
	Hour     int
	Weekday  time.Weekday
	Location *time.Location
	// Lang is the site's default language on a multilingual site: a subscriber who chose no language gets
	// only the posts in it (and those with none). "" gives them every post.
	Lang string
}

// defaultPlan is what Plan plans with: digests at midnight UTC, weekly ones on Mondays.
var defaultPlan = PlanOptions{Weekday: time.Monday, Location: time.UTC}

// Check says what is wrong with o, or nil.
func (o PlanOptions) Check() error {
	if o.Hour < 0 || o.Hour > 23 {
		return fmt.Errorf("store: digest hour %d is not between 0 and 23", o.Hour)
	}
	if o.Weekday < time.Sunday || o.Weekday > time.Saturday {
		return fmt.Errorf("store: digest weekday %d is not a day of the week", o.Weekday)
	}
	return nil
}

func (o PlanOptions) loc() *time.Location {
	if o.Location == nil {
		return time.UTC
	}
	return o.Location
}

// at is the digest hour on day y-m-d, local: when the clock skips it, the moment the clock has gone on
// (time.Date's choice); when the clock passes it twice, the first time (time.Date's choice differs by zone).
func (o PlanOptions) at(y int, m time.Month, d int) time.Time {
	t := time.Date(y, m, d, o.Hour, 0, 0, 0, o.loc())
	for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		if e := t.Add(-back); e.Hour() == t.Hour() && e.Minute() == t.Minute() && e.Day() == t.Day() {
			return e
		}
	}
	return t
}

// PeriodStart is when the digest period of frequency (Daily, Weekly or Monthly) that now falls in began,
// and its key, which names it in the ledger ("daily 2025-01-03", "weekly 2025-W01", "monthly 2025-01",
// the dates local). A digest subscriber whose last digest was before it is due one.
func (o PlanOptions) PeriodStart(frequency string, now time.Time) (time.Time, string) {
	local := now.In(o.loc())
	y, m, d := local.Date()
	at := func(y int, m time.Month, d int) time.Time { return o.at(y, m, d) }
	var start time.Time
	switch frequency {
	case Daily:
		if start = at(y, m, d); start.After(now) {
			start = at(y, m, d-1)
		}
	case Weekly:
		back := (int(local.Weekday()) - int(o.Weekday) + 7) % 7
		if start = at(y, m, d-back); start.After(now) {
			start = at(y, m, d-back-7)
		}
	case Monthly:
		if start = at(y, m, 1); start.After(now) {
			start = at(y, m-1, 1)
		}
	default:
		return time.Time{}, ""
	}
	// The key is made from the day the period started on, at noon: a skipped hour may have moved the
	// start past midnight, never past the day.
	y, m, d = start.Date()
	day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	switch frequency {
	case Daily:
		return start, "daily " + day.Format("2006-01-02")
	case Weekly:
		wy, w := day.ISOWeek()
		return start, fmt.Sprintf("weekly %04d-W%02d", wy, w)
	}
	return start, "monthly " + day.Format("2006-01")
}

// NextDigest is when the next digest period of frequency starts after now: when a digest subscriber's
// next digest falls due (planned by the first send from then on).
func (o PlanOptions) NextDigest(frequency string, now time.Time) time.Time {
	start, _ := o.PeriodStart(frequency, now)
	if start.IsZero() {
		return time.Time{}
	}
	y, m, d := start.In(o.loc()).Date()
	switch frequency {
	case Daily:
		d++
	case Weekly:
		d += 7
	case Monthly:
		m, d = m+1, 1
	}
	return o.at(y, m, d)
}

// planPeriods are the arguments of Plan's statements that say which digests are due: each period's start
// and key.
func planPeriods(now time.Time, o PlanOptions) map[string]any {
	args := map[string]any{}
	for _, f := range []string{Daily, Weekly, Monthly} {
		start, key := o.PeriodStart(f, now)
		args[f+"_start"], args[f+"_key"] = start, key
	}
	return args
}

// NormTags folds tags as the store keeps and compares them: trimmed, case-folded (Unicode's full case
// folding, which also makes ΟΔΟΣ and οδος, STRASSE and straße one tag), in Unicode's composed form (NFC: an
// é typed as e and a combining accent is the é of another file), "|" (the store's separator) made a space,
// without empty ones and duplicates, sorted.
func NormTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	var fold *cases.Caser // not safe to share between goroutines; made for the first tag that needs it
	for _, t := range tags {
		t = strings.ReplaceAll(t, "|", " ")
		if ascii(t) {
			// Full case folding of ASCII is its lower case, and ASCII is in NFC: a run records the tags of
			// every post, and cases and norm took a third of a no-op publish's Record.
			t = strings.ToLower(t)
		} else {
			if fold == nil {
				f := cases.Fold()
				fold = &f
			}
			t = norm.NFC.String(fold.String(strings.ToValidUTF8(t, "\uFFFD")))
		}
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Tags is a set of tags as the store keeps them: folded (NormTags), sorted, each between "|" ("|go|news|"),
// "" for none; so that a post's tag t is a subscriber's when their Tags hold "|t|". Two sets compare with ==.
type Tags string

// MakeTags is the set of tags.
func MakeTags(tags ...string) Tags {
	tags = NormTags(tags)
	if len(tags) == 0 {
		return ""
	}
	return Tags("|" + strings.Join(tags, "|") + "|")
}

// List is the tags of the set, sorted; nil for none.
func (t Tags) List() []string {
	s := strings.Trim(string(t), "|")
	if s == "" {
		return nil
	}
	return strings.Split(s, "|")
}

// norm is t folded again: a Tags made by hand may not be.
func (t Tags) norm() Tags { return MakeTags(t.List()...) }

// normLang folds a language as the store keeps it: trimmed, lower case ("en-GB" is "en-gb").
func normLang(lang string) string { return strings.ToLower(strings.TrimSpace(lang)) }

// approveSQL lets a held post's mail go; the id is one of its aliases.
const approveSQL = `UPDATE posts SET held = FALSE WHERE held = TRUE AND id = (SELECT post_id FROM aliases WHERE public_id = :id)`

// The choices' queries: the tags and languages of the posts on the site.
const (
	choiceTags  = `SELECT DISTINCT pt.tag FROM post_tags pt JOIN posts p ON p.id = pt.post_id WHERE p.removed = FALSE`
	choiceLangs = `SELECT DISTINCT lang FROM posts WHERE removed = FALSE AND lang <> ''`
)

func (s *sqliteStore) Approve(ctx context.Context, id string) (bool, error) {
	q, a := bind(approveSQL, map[string]any{"id": id})
	n, err := s.exec(ctx, "approve "+id, q, a...)
	if err != nil || n > 0 {
		return n > 0, err
	}
	var known int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM aliases WHERE public_id = ?", id).Scan(&known); err != nil {
		return false, s.fileErr("approve "+id, err)
	}
	if known == 0 {
		return false, s.checkErr("approve %q: no post has this id: %w", id, ErrNotFound)
	}
	return false, nil
}

func (s *sqliteStore) Choices(ctx context.Context) (Choices, error) {
	var c Choices
	for _, q := range []struct {
		sql string
		dst *[]string
	}{{choiceTags, &c.Tags}, {choiceLangs, &c.Langs}} {
		rows, err := s.db.QueryContext(ctx, q.sql)
		if err != nil {
			return Choices{}, s.fileErr("choices", err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return Choices{}, s.fileErr("choices", err)
			}
			*q.dst = append(*q.dst, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Choices{}, s.fileErr("choices", err)
		}
		slices.Sort(*q.dst)
	}
	return c, nil
}

// postMail is what Record stores of a new post's mail: whether it is sendable (Item.Sendable, unless
// NoEmail), held, and until when it waits (zero: it does not).
func postMail(it *Item, started time.Time) (sendable, held bool, waitUntil time.Time) {
	sendable = it.Sendable && !it.NoEmail
	if sendable && (it.Held || it.Delay > 0) {
		waitUntil = started.Add(max(it.Delay, 0))
	}
	return sendable, sendable && it.Held, waitUntil
}

// postTag is one row of post_tags.
type postTag struct {
	post int64
	tag  string
}

// newPostTags are the post_tags rows of the new posts (post: seen's index to post id; fresh: the indexes).
func newPostTags(seen []Item, post map[int]int64, fresh []int) []postTag {
	var rows []postTag
	for _, i := range fresh {
		for _, t := range seen[i].Tags.norm().List() {
			rows = append(rows, postTag{post[i], t})
		}
	}
	return rows
}

// A post whose mail still waits (email_after, hold) is mailed as it is when the wait ends: each run that
// finds it on the site records its front matter's email: false, its tags and categories and its language
// anew (waitEdits), where a post's are otherwise those first seen. Not its hold: a hold taken off by
// Approve stays off until the post goes.
const waitingPosts = `SELECT a.public_id, a.post_id FROM aliases a JOIN posts p ON p.id = a.post_id
	WHERE p.wait_until IS NOT NULL AND p.first_run < :run`

// waitEdit is what a run records anew of a waiting post.
type waitEdit struct {
	post    int64
	noEmail bool
	lang    string
	tags    []string
}

// waitEdits are the edits of the waiting posts (waiting: their ids, alias to post) that seen holds.
func waitEdits(seen []Item, waiting map[string]int64) []waitEdit {
	var edits []waitEdit
	done := map[int64]bool{}
	for i := range seen {
		p, ok := waiting[seen[i].ID]
		if !ok || done[p] {
			continue
		}
		done[p] = true
		edits = append(edits, waitEdit{p, seen[i].NoEmail, normLang(seen[i].Lang), seen[i].Tags.norm().List()})
	}
	return edits
}

// The statements of a waitEdit, in order: email: false makes the post one to mail to no one (and no longer
// waiting); the language; the tags, replaced.
var waitEditSQL = [...]string{
	`UPDATE posts SET sendable = FALSE, no_email = TRUE, held = FALSE, wait_until = NULL WHERE id = :post`,
	`UPDATE posts SET lang = :lang WHERE id = :post`,
	`DELETE FROM post_tags WHERE post_id = :post`,
	`INSERT INTO post_tags (post_id, tag) VALUES (:post, :tag)`,
}

// steps are e's statements (waitEditSQL's indexes) with their arguments, for bind or pgBind.
func (e waitEdit) steps() []waitStep {
	var out []waitStep
	if e.noEmail {
		out = append(out, waitStep{0, map[string]any{"post": e.post}})
	}
	out = append(out, waitStep{1, map[string]any{"post": e.post, "lang": e.lang}}, waitStep{2, map[string]any{"post": e.post}})
	for _, t := range e.tags {
		out = append(out, waitStep{3, map[string]any{"post": e.post, "tag": t}})
	}
	return out
}

// waitStep is one statement of a waitEdit.
type waitStep struct {
	sql  int
	args map[string]any
}

// refreshWaiting records anew the waiting posts that seen holds (see waitingPosts), in run's transaction.
func refreshWaiting(ctx context.Context, tx *sql.Tx, run int64, seen []Item) error {
	q, a := bind(waitingPosts, map[string]any{"run": run})
	rows, err := tx.QueryContext(ctx, q, a...)
	if err != nil {
		return err
	}
	waiting := map[string]int64{}
	for rows.Next() {
		var id string
		var p int64
		if err := rows.Scan(&id, &p); err != nil {
			rows.Close()
			return err
		}
		waiting[id] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range waitEdits(seen, waiting) {
		for _, st := range e.steps() {
			q, a := bind(waitEditSQL[st.sql], st.args)
			if _, err := tx.ExecContext(ctx, q, a...); err != nil {
				return err
			}
		}
	}
	return nil
}
