package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testSite is a site and its store, for the tests of Plan and the ledger.
type testSite struct {
	t     *testing.T
	s     *sqliteStore
	posts []Item // on the site now
}

func newSite(t *testing.T) *testSite {
	return &testSite{t: t, s: openStore(t, filepath.Join(t.TempDir(), "herald.db"))}
}

// publish records a run at at that sees the site's posts and new ones, sendable when send (as the
// diff's New items are; a baseline's are not). Each new post is a minute newer than the one before.
func (st *testSite) publish(at time.Time, send bool, ids ...string) {
	st.t.Helper()
	for i, id := range ids {
		st.posts = append(st.posts, Item{ID: id, URL: "https://example.com/" + id, Title: id, Hash: id,
			Date: at.Add(time.Duration(i) * time.Minute), Sendable: send})
	}
	record(st.t, st.s, &Run{Started: at, Command: "publish"}, slices.Clone(st.posts))
}

// remove takes a post off the site: the next publish records it removed.
func (st *testSite) remove(id string) {
	st.posts = slices.DeleteFunc(st.posts, func(it Item) bool { return it.ID == id })
}

// carry publishes a run at at in which post from left the site and came back as to, carrying it on (as
// when its date was corrected); it returns the post as it was under from.
func (st *testSite) carry(at time.Time, from, to string) Item {
	st.t.Helper()
	old := st.posts[slices.IndexFunc(st.posts, func(it Item) bool { return it.ID == from })]
	st.remove(from)
	it := old
	it.ID, it.Continues = to, from
	st.posts = append(st.posts, it)
	st.publish(at, false)
	return old
}

// subscribe adds an active subscriber confirmed at confirmed.
func (st *testSite) subscribe(email, frequency string, confirmed time.Time) int64 {
	st.t.Helper()
	sub, err := st.s.AddSubscriber(st.t.Context(), Subscriber{Email: email, Frequency: frequency, Status: Active, ConfirmedAt: confirmed}, confirmed)
	if err != nil {
		st.t.Fatal(err)
	}
	return sub.ID
}

func (st *testSite) update(id int64, at time.Time, change func(*Subscriber)) {
	st.t.Helper()
	if err := st.s.UpdateSubscriber(st.t.Context(), id, at, change); err != nil {
		st.t.Fatal(err)
	}
}

// plan plans at now and checks that it queued want deliveries.
func (st *testSite) plan(now time.Time, want int) {
	st.t.Helper()
	n, err := st.s.Plan(st.t.Context(), now)
	if err != nil {
		st.t.Fatal(err)
	}
	if n != want {
		st.t.Errorf("Plan at %s queued %d deliveries, want %d", now.Format(time.RFC3339), n, want)
	}
}

// sendAll records every due delivery sent at at.
func (st *testSite) sendAll(at time.Time) {
	st.t.Helper()
	due, err := st.s.Due(st.t.Context(), at, 1000)
	if err != nil {
		st.t.Fatal(err)
	}
	var attempts []Attempt
	var outcomes []Outcome
	for _, d := range due {
		attempts = append(attempts, Attempt{DeliveryID: d.ID, MessageID: fmt.Sprintf("<%d@example.com>", d.ID)})
		outcomes = append(outcomes, Outcome{DeliveryID: d.ID, Status: Sent, At: at})
	}
	if _, err := st.s.Commit(st.t.Context(), nil, attempts, at); err != nil {
		st.t.Fatal(err)
	}
	if _, err := st.s.Commit(st.t.Context(), outcomes, nil, at); err != nil {
		st.t.Fatal(err)
	}
}

// ledger checks every delivery, in id order: "email post" or "email digest-key [posts, newest first]",
// then " status" unless queued. A post is shown by the alias it goes under (shownAlias).
func (st *testSite) ledger(want ...string) {
	st.t.Helper()
	checkModel(st.t, st.s)
	got := ledgerLines(st.t, st.s)
	if !slices.Equal(got, want) {
		st.t.Errorf("got ledger\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func ledgerLines(t *testing.T, s *sqliteStore) []string {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(), `SELECT s.email, COALESCE(d.digest_key, ''), d.status,
		COALESCE(`+fmt.Sprintf(shownAlias, "d.post_id")+`, (SELECT GROUP_CONCAT(public_id, ' ') FROM (SELECT a.public_id
			FROM delivery_items di JOIN aliases a ON a.public_id = `+fmt.Sprintf(shownAlias, "di.post_id")+`
			WHERE di.delivery_id = d.id ORDER BY COALESCE(a.date, a.first_seen) DESC, a.public_id)), '')
		FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id ORDER BY d.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var email, key, status, posts string
		if err := rows.Scan(&email, &key, &status, &posts); err != nil {
			t.Fatal(err)
		}
		line := email + " " + posts
		if key != "" {
			line = email + " " + key + " [" + posts + "]"
		}
		if status != Queued {
			line += " " + status
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// Monday 6 January 2025, ISO week 2.
var t0 = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

func hours(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }

func TestRecordSendable(t *testing.T) {
	st := newSite(t)
	st.publish(hours(0), false, "base")
	st.publish(hours(1), true, "new")
	st.posts[0].Sendable = true // known: ignored
	st.publish(hours(2), true)
	var got []string
	for _, it := range items(t, st.s) {
		got = append(got, fmt.Sprintf("%s %t", it.ID, it.Sendable))
	}
	if want := []string{"base false", "new true"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestPlanWho checks who gets which post: only active subscribers, only posts first seen after they
// confirmed and after they were added, only sendable posts that are still on the site.
func TestPlanWho(t *testing.T) {
	st := newSite(t)
	st.subscribe("early@example.com", Immediate, hours(-10))
	pending, err := st.s.AddSubscriber(t.Context(), Subscriber{Email: "pending@example.com"}, hours(-10))
	if err != nil {
		t.Fatal(err)
	}
	later, err := st.s.AddSubscriber(t.Context(), Subscriber{Email: "confirms-later@example.com"}, hours(-10))
	if err != nil {
		t.Fatal(err)
	}
	left := st.subscribe("left@example.com", Immediate, hours(-10))
	bounced := st.subscribe("bounced@example.com", Immediate, hours(-10))
	st.update(left, hours(-1), func(s *Subscriber) { s.Status = Unsubscribed })
	st.update(bounced, hours(-1), func(s *Subscriber) { s.Status = Bounced })

	// The baseline: three posts, the newest backfilled.
	st.posts = []Item{{ID: "old1", Hash: "1", Date: hours(-100)}, {ID: "old2", Hash: "2", Date: hours(-50)}, {ID: "backfill", Hash: "3", Date: hours(-20), Sendable: true}}
	record(t, st.s, &Run{Started: hours(0), Command: "publish", Baseline: true}, st.posts)
	st.update(later.ID, hours(1), func(s *Subscriber) { s.Status = Active })
	// Imported after the baseline with an older confirmation: what was recorded before is not theirs.
	if _, err := st.s.ImportSubscribers(t.Context(), []Subscriber{{Email: "imported@example.com", ConfirmedAt: hours(-100)}}, hours(1)); err != nil {
		t.Fatal(err)
	}
	st.publish(hours(2), true, "p1", "gone")
	st.remove("gone")
	st.publish(hours(3), false)
	st.plan(hours(3), 4)
	st.ledger(
		"early@example.com backfill",
		"early@example.com p1",
		"confirms-later@example.com p1",
		"imported@example.com p1",
	)
	st.plan(hours(3), 0)
	st.plan(hours(4), 0)
	// Confirming later does not bring back what was before.
	st.update(pending.ID, hours(5), func(s *Subscriber) { s.Status = Active })
	st.plan(hours(5), 0)
	st.publish(hours(6), true, "p2")
	st.plan(hours(6), 4)
	st.ledger(
		"early@example.com backfill",
		"early@example.com p1",
		"confirms-later@example.com p1",
		"imported@example.com p1",
		"early@example.com p2",
		"pending@example.com p2",
		"confirms-later@example.com p2",
		"imported@example.com p2",
	)
}

// TestPlanRedated: a post whose id changed with its date carries on under the new id. Who had it does
// not get it again, a digest still to come has it, and a delivery still queued goes out under the new id.
func TestPlanRedated(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	st.subscribe("now@example.com", Immediate, hours(-50))
	st.subscribe("week@example.com", Weekly, hours(-50))
	st.plan(hours(0), 0)              // Monday: an empty digest
	st.publish(hours(24), true, "p1") // Tuesday
	st.plan(hours(24), 1)             // now@ gets p1: queued, not sent yet
	st.subscribe("late@example.com", Immediate, hours(30))
	// Wednesday: p1's date is corrected, and its id with it.
	st.remove("p1")
	st.posts = append(st.posts, Item{ID: "p1b", URL: "https://example.com/p1", Title: "p1", Hash: "p1b",
		Date: hours(23), Continues: "p1"})
	record(t, st.s, &Run{Started: hours(48), Command: "publish"}, slices.Clone(st.posts))
	st.plan(hours(48), 0)   // nobody gets it again, late@ (who came after it) neither
	st.plan(hours(24*7), 1) // Monday: week@'s digest has it
	st.ledger("now@example.com p1b", "week@example.com weekly 2025-W03 [p1b]")
	// A post that only looks re-dated (Continues names an item this run did not see go) is new.
	st.publish(hours(24*7+1), true, "p2")
	st.posts = append(st.posts, Item{ID: "p3", URL: "https://example.com/p3", Title: "p3", Hash: "p3",
		Date: hours(24 * 7), Sendable: true, Continues: "p2"})
	record(t, st.s, &Run{Started: hours(24*7 + 2), Command: "publish"}, slices.Clone(st.posts))
	st.plan(hours(24*7+2), 4) // p2 and p3 each to now@ and late@
}

// TestPlanRedatedBack: a date changed and changed back carries the post back to its first id, with what
// is still to send.
func TestPlanRedatedBack(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	st.subscribe("now@example.com", Immediate, hours(-50))
	st.subscribe("week@example.com", Weekly, hours(-50))
	st.plan(hours(0), 0)
	st.publish(hours(24), true, "p1")
	st.plan(hours(24), 1) // now@'s p1, queued
	redate := func(at time.Time, from, to string) {
		st.remove(from)
		st.posts = append(st.posts, Item{ID: to, URL: "https://example.com/p1", Title: "p1", Hash: to, Date: hours(23), Continues: from})
		record(t, st.s, &Run{Started: at, Command: "publish"}, slices.Clone(st.posts))
	}
	redate(hours(48), "p1", "p1b")
	redate(hours(50), "p1b", "p1")
	st.plan(hours(50), 0)
	st.plan(hours(24*7), 1)
	st.ledger("now@example.com p1", "week@example.com weekly 2025-W03 [p1]")
}

// TestPlanRestored: a post taken off the site before a digest went out, and put back after, goes in the
// next digest of whoever it is still owed to; who had it does not get it again, nor does a subscriber
// added after it was recorded.
func TestPlanRestored(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	st.subscribe("now@example.com", Immediate, hours(-50))
	st.subscribe("day@example.com", Daily, hours(-50))
	st.plan(hours(0), 0)
	st.publish(hours(1), true, "p1") // Monday
	st.plan(hours(1), 1)             // now@ gets p1
	st.sendAll(hours(1))
	// Imported after p1 was recorded, with a confirmation from long before: p1 is not theirs.
	if _, err := st.s.ImportSubscribers(t.Context(), []Subscriber{{Email: "imported@example.com", ConfirmedAt: hours(-500)}}, hours(1.5)); err != nil {
		t.Fatal(err)
	}
	p1 := st.posts[len(st.posts)-1]
	st.remove("p1")
	st.publish(hours(2), false)
	st.plan(hours(24), 0) // Tuesday: day@'s digest would have had p1, but it is gone
	st.posts = append(st.posts, p1)
	st.publish(hours(25), false) // back
	st.plan(hours(25), 0)        // now@ had it; day@'s digest is tomorrow
	st.plan(hours(48), 1)        // Wednesday
	st.plan(hours(72), 0)
	st.ledger("now@example.com p1 sent", "day@example.com daily 2025-01-08 [p1]")
}

// TestPlanRemovedBeforeSent: a post taken off the site while its messages wait to go leaves them (a
// digest goes without it, or not at all), and when it is put back everyone who had not had it gets it.
func TestPlanRemovedBeforeSent(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	st.subscribe("now@example.com", Immediate, hours(-50))
	st.subscribe("day@example.com", Daily, hours(-50))
	st.subscribe("week@example.com", Weekly, hours(-50))
	st.plan(hours(0), 0)
	st.publish(hours(1), true, "p1", "p2") // Monday
	st.plan(hours(1), 2)                   // now@ gets p1 and p2
	st.publish(hours(2), true, "p3")
	st.plan(hours(2), 1)  // now@ gets p3
	st.plan(hours(24), 1) // Tuesday: day@'s digest, with p1, p2 and p3
	p1 := st.posts[1]
	st.remove("p1")
	st.publish(hours(25), false) // p1 gone before anything went out
	st.ledger(
		"now@example.com p2",
		"now@example.com p3",
		"day@example.com daily 2025-01-07 [p3 p2]",
	)
	st.posts = append(st.posts, p1)
	st.publish(hours(26), false) // back
	st.plan(hours(26), 1)        // now@ gets p1 again
	st.plan(hours(48), 1)        // Wednesday's digest has it
	st.plan(hours(24*7), 1)      // Monday: week@'s has all three
	st.ledger(
		"now@example.com p2",
		"now@example.com p3",
		"day@example.com daily 2025-01-07 [p3 p2]",
		"now@example.com p1",
		"day@example.com daily 2025-01-08 [p1]",
		"week@example.com weekly 2025-W03 [p3 p2 p1]",
	)
}

// TestRecordKeepsWhatServersMayHave: when a post leaves, its mail that a server may have (a crash left it
// sending, or unknown, or --retry-unknown queued such a one again) stays in the ledger with the post in
// it; what was refused (deferred) or never tried leaves, and a digest left with nothing goes too.
func TestRecordKeepsWhatServersMayHave(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	for _, email := range []string{"sending", "unknown", "retried", "deferred", "queued"} {
		st.subscribe(email+"@example.com", Daily, hours(-50))
	}
	st.plan(hours(0), 0)
	st.publish(hours(1), true, "p1")
	st.plan(hours(24), 5) // Tuesday's digests, with p1, in subscriber order
	at := hours(24)
	if _, err := st.s.Sending(t.Context(), []Attempt{{DeliveryID: 1, MessageID: "<1@x>"}, {DeliveryID: 2, MessageID: "<2@x>"},
		{DeliveryID: 3, MessageID: "<3@x>"}, {DeliveryID: 4, MessageID: "<4@x>"}}, at); err != nil {
		t.Fatal(err)
	}
	finish := func(o ...Outcome) {
		t.Helper()
		if err := st.s.Finish(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	finish(Outcome{DeliveryID: 3, Status: Unknown, At: at}, Outcome{DeliveryID: 4, Status: Deferred, Error: "451 later", NextAttempt: hours(25), At: at})
	if n, err := st.s.RetryUnknown(t.Context(), time.Time{}); err != nil || n != 1 { // 3 is queued again
		t.Fatalf("retry unknown: %d, %v", n, err)
	}
	finish(Outcome{DeliveryID: 2, Status: Unknown, At: at})
	st.remove("p1")
	st.publish(hours(25), false)
	st.ledger(
		"sending@example.com daily 2025-01-07 [p1] sending",
		"unknown@example.com daily 2025-01-07 [p1] unknown",
		"retried@example.com daily 2025-01-07 [p1]",
	)
}

// TestPlanCarryOnAfterDigest: a subscriber who had a post in a digest, then switched to immediate mail and
// has another post queued, is not mailed the first post again when it comes back carrying on the second.
func TestPlanCarryOnAfterDigest(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	ann := st.subscribe("ann@example.com", Daily, hours(-50))
	st.plan(hours(0), 0)
	st.publish(hours(1), true, "t")
	post := st.posts[len(st.posts)-1]
	st.plan(hours(24), 1) // Tuesday's digest, with t
	st.sendAll(hours(24))
	st.remove("t")
	st.publish(hours(25), false)
	st.update(ann, hours(26), func(s *Subscriber) { s.Frequency = Immediate })
	st.publish(hours(27), true, "f")
	st.plan(hours(27), 1) // f, alone
	st.remove("f")
	post.Continues = "f"
	st.posts = append(st.posts, post)
	st.publish(hours(28), false)
	st.plan(hours(28), 0)
	st.ledger("ann@example.com daily 2025-01-07 [t] sent")
}

// TestPlanMovedAndBack: a post that moves to another id and back (a domain move undone) keeps its record:
// put back after a bad deploy later, it goes to nobody who had it, whatever their frequency now.
func TestPlanMovedAndBack(t *testing.T) {
	for _, frequency := range []string{Immediate, Daily} {
		t.Run(frequency, func(t *testing.T) {
			st := newSite(t)
			st.publish(hours(-100), false, "base")
			ann := st.subscribe("ann@example.com", Immediate, hours(-50))
			st.publish(hours(1), true, "a")
			st.plan(hours(1), 1)
			st.sendAll(hours(1))
			st.carry(hours(2), "a", "b")
			st.carry(hours(3), "b", "a")
			st.update(ann, hours(3.5), func(s *Subscriber) { s.Frequency = frequency })
			a := st.posts[len(st.posts)-1]
			a.Continues = ""
			st.remove("a")
			st.publish(hours(4), false) // a bad deploy
			st.posts = append(st.posts, a)
			st.publish(hours(5), false) // fixed
			st.plan(hours(5), 0)
			st.plan(hours(24), 0)
			st.ledger("ann@example.com a sent")
		})
	}
}

// TestPlanOldCarryOn: before version 6, carrying a post on moved who had it to the new id and left the
// sent message on the old one. Migrated, the two ids are one post: put back under the old id, the post
// goes to nobody again, and Plan does not fail on the message left there.
func TestPlanOldCarryOn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	old, err := open(t.Context(), path, 6)
	if err != nil {
		t.Fatal(err)
	}
	// What a version-6 store held after a was mailed to ann, then carried on to b by the old carryOn.
	_, err = old.db.ExecContext(t.Context(), `
		INSERT INTO runs (started, command, config_hash, items_count, new_count, updated_count, removed_count, baseline, forced)
			VALUES (?1, 'publish', '', 1, 0, 0, 0, 1, 0), (?2, 'publish', '', 2, 1, 0, 0, 0, 0), (?3, 'publish', '', 2, 1, 0, 1, 0, 0);
		INSERT INTO items (id, url, title, hash, first_run, first_seen, last_run, last_seen, removed, sendable, plan_run, lineage) VALUES
			('base', 'https://example.com/base', 'base', 'base', 1, ?1, NULL, NULL, 0, 0, 1, 'base'),
			('a', 'https://example.com/a', 'a', 'a', 2, ?2, 2, ?2, 1, 1, 2, 'a'),
			('b', 'https://example.com/a', 'a', 'a', 3, ?3, NULL, NULL, 0, 1, 3, 'b');
		INSERT INTO subscribers (email, email_key, status, created_at, consent_source, consent_at, confirmed_at, planned_run, start_run)
			VALUES ('ann@example.com', 'ann@example.com', 'active', ?4, 'command', ?4, ?4, 3, 0);
		INSERT INTO deliveries (id, subscriber_id, item_id, status, message_id, attempts, queued_at, sending_at, sent_at)
			VALUES (1, 1, 'a', 'sent', '<1@example.com>', 1, ?2, ?2, ?2);
		INSERT INTO delivery_items (subscriber_id, item_id, delivery_id) VALUES (1, 'b', 1);`,
		formatTime(hours(-100)), formatTime(hours(1)), formatTime(hours(2)), formatTime(hours(-50)))
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	st := &testSite{t: t, s: openStore(t, path), posts: []Item{
		{ID: "base", URL: "https://example.com/base", Title: "base", Hash: "base"},
		{ID: "a", URL: "https://example.com/a", Title: "a", Hash: "a"}, // a is back, on its own
	}}
	st.publish(hours(3), false)
	st.plan(hours(3), 0)
	st.ledger("ann@example.com a sent")
}

// TestPlanLineage: whoever had a post under one id has it under every id it carried on to, whatever comes
// back later without being carried on: a move undone after a bad deploy lost the post (b recorded
// removed, then a back on its own), or the old file back beside the new one. Sent or still queued, alone
// or in a digest. The ledger shows the post under its newest id on the site.
func TestPlanLineage(t *testing.T) {
	for _, tt := range []struct {
		name     string
		sent     bool
		undo     bool // the move undone after b was lost; else a is back beside b
		frequent string
		want     []string
	}{
		{"undone, sent", true, true, Immediate, []string{"ann@example.com a sent"}},
		{"undone, sent in a digest", true, true, Daily, []string{"ann@example.com daily 2025-01-07 [a] sent"}},
		{"beside, sent", true, false, Immediate, []string{"ann@example.com b sent"}},
		{"beside, queued", false, false, Immediate, []string{"ann@example.com b"}},
		{"beside, sent in a digest", true, false, Daily, []string{"ann@example.com daily 2025-01-07 [b] sent"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newSite(t)
			st.publish(hours(-100), false, "base")
			st.subscribe("ann@example.com", tt.frequent, hours(-50))
			st.plan(hours(0), 0)
			st.publish(hours(1), true, "a")
			st.plan(hours(1), map[string]int{Immediate: 1, Daily: 0}[tt.frequent])
			st.plan(hours(24), map[string]int{Immediate: 0, Daily: 1}[tt.frequent])
			if tt.sent {
				st.sendAll(hours(24))
			}
			a := st.carry(hours(25), "a", "b")
			if tt.undo {
				st.remove("b")
				st.publish(hours(26), false) // a bad deploy loses it
			}
			st.posts = append(st.posts, a)
			st.publish(hours(27), false) // a is back
			st.plan(hours(27), 0)
			st.plan(hours(48), 0)
			st.ledger(tt.want...)
		})
	}
}

// TestPlanLineageBeforePlan: the old file back beside the new before anything was planned for the post:
// it goes once (under its newest id on the site), alone or in a digest.
func TestPlanLineageBeforePlan(t *testing.T) {
	for _, frequency := range []string{Immediate, Daily} {
		t.Run(frequency, func(t *testing.T) {
			st := newSite(t)
			st.publish(hours(-100), false, "base")
			st.subscribe("ann@example.com", frequency, hours(-50))
			st.plan(hours(0), 0)
			st.publish(hours(1), true, "a")
			a := st.carry(hours(2), "a", "b")
			st.posts = append(st.posts, a)
			st.publish(hours(3), false) // a back beside b
			st.plan(hours(3), map[string]int{Immediate: 1, Daily: 0}[frequency])
			st.plan(hours(24), map[string]int{Immediate: 0, Daily: 1}[frequency])
			st.ledger(map[string]string{Immediate: "ann@example.com b", Daily: "ann@example.com daily 2025-01-07 [b]"}[frequency])
		})
	}
}

// TestPlanLineageSiblingLeaves: a message waits for a post while two of its ids are on the site (an old
// file back beside the new); when one of them leaves, the post is still on the site, so its message stays
// in the queue, and it goes under the id still there, once, even when the other comes back later.
func TestPlanLineageSiblingLeaves(t *testing.T) {
	for _, frequency := range []string{Immediate, Daily} {
		t.Run(frequency, func(t *testing.T) {
			st := newSite(t)
			st.publish(hours(-100), false, "base")
			st.subscribe("ann@example.com", frequency, hours(-50))
			st.plan(hours(0), 0)
			st.publish(hours(1), true, "a")
			st.plan(hours(1), map[string]int{Immediate: 1, Daily: 0}[frequency])
			st.plan(hours(24), map[string]int{Immediate: 0, Daily: 1}[frequency]) // not sent: the server is down
			a := st.carry(hours(25), "a", "b")                                    // the message goes as b
			st.posts = append(st.posts, a)
			st.publish(hours(26), false) // a back beside b
			st.plan(hours(26), 0)
			b := st.posts[slices.IndexFunc(st.posts, func(it Item) bool { return it.ID == "b" })]
			st.remove("b")
			st.publish(hours(27), false) // b deleted: the message waits on, and goes as a
			st.plan(hours(27), 0)
			st.ledger(map[string]string{Immediate: "ann@example.com a", Daily: "ann@example.com daily 2025-01-07 [a]"}[frequency])
			st.plan(hours(48), 0)
			b.Continues = ""
			st.posts = append(st.posts, b)
			st.publish(hours(49), false) // b back too
			st.plan(hours(49), 0)
			st.plan(hours(72), 0)
			st.ledger(map[string]string{Immediate: "ann@example.com b", Daily: "ann@example.com daily 2025-01-07 [b]"}[frequency])
		})
	}
}

// TestPlanLineagesMerge: an id back after it was removed, carrying on another, is back as the post it was
// (a known id never moves to another post): who had the post under its first id does not get it again.
func TestPlanLineagesMerge(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	st.subscribe("ann@example.com", Daily, hours(-50))
	st.plan(hours(0), 0)
	st.publish(hours(1), true, "a")
	st.plan(hours(24), 1)
	st.sendAll(hours(24))
	st.carry(hours(25), "a", "b")
	b := st.posts[len(st.posts)-1]
	st.remove("b")
	st.publish(hours(26), true, "c") // b lost, and the post back as c, which nothing tied to b
	st.remove("c")
	b.Continues = "c"
	st.posts = append(st.posts, b)
	st.publish(hours(27), false) // b back, carrying c on
	st.plan(hours(48), 0)
	st.ledger("ann@example.com daily 2025-01-07 [b] sent")
}

// TestContinuationNeverJoinsTwoPosts: a post back after it was removed, carrying on (Continues) the gone
// id of another post, is back as itself: the two stay two posts. ann had a, bob had b; bob is still owed
// a, and nobody gets either twice.
func TestContinuationNeverJoinsTwoPosts(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	ann := st.subscribe("ann@example.com", Immediate, hours(-50))
	st.subscribe("bob@example.com", Daily, hours(-50))
	st.plan(hours(0), 0)
	st.publish(hours(1), true, "a")
	st.plan(hours(1), 1) // ann's a
	st.sendAll(hours(1))
	st.update(ann, hours(1.5), func(s *Subscriber) { s.Frequency = Weekly }) // her digest: next Monday
	a := st.posts[len(st.posts)-1]
	st.remove("a")
	st.publish(hours(2), false) // a gone before bob's digest
	st.plan(hours(24), 0)
	st.publish(hours(25), true, "b")
	st.plan(hours(48), 1) // bob's Wednesday digest, with b
	st.sendAll(hours(48))
	st.remove("b")
	a.Continues = "b"
	st.posts = append(st.posts, a)
	st.publish(hours(49), false) // a back, carrying b on
	st.plan(hours(72), 1)        // bob's Thursday digest has a
	st.plan(hours(24*7), 0)      // ann's Monday digest: she had a, and b is gone
	st.plan(hours(24*8), 0)
	st.ledger(
		"ann@example.com a sent",
		"bob@example.com daily 2025-01-08 [b] sent",
		"bob@example.com daily 2025-01-09 [a]",
	)
	if got := postLedger(t, st.s, "a", "b"); !slices.Equal(got, []string{"a: ann@example.com sent, bob@example.com queued", "b: bob@example.com sent"}) {
		t.Errorf("got posts %q, want a and b apart", got)
	}
}

// TestRecordKeepsDeferredAfterUnknown: a delivery once unknown, queued again by --retry-unknown and then
// refused, may be in the mailbox from its first try: when its post leaves and comes back, the post is not
// planned again for that subscriber.
func TestRecordKeepsDeferredAfterUnknown(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	st.subscribe("day@example.com", Daily, hours(-50))
	st.plan(hours(0), 0)
	st.publish(hours(1), true, "p1")
	p1 := st.posts[len(st.posts)-1]
	st.plan(hours(24), 1)
	at := hours(24)
	sending := func() {
		t.Helper()
		if _, err := st.s.Sending(t.Context(), []Attempt{{DeliveryID: 1, MessageID: "<1@x>"}}, at); err != nil {
			t.Fatal(err)
		}
	}
	sending()
	if n, err := st.s.Recover(t.Context()); err != nil || n != 1 { // killed while it went out
		t.Fatalf("recover: %d, %v", n, err)
	}
	if n, err := st.s.RetryUnknown(t.Context(), time.Time{}); err != nil || n != 1 {
		t.Fatalf("retry unknown: %d, %v", n, err)
	}
	sending()
	if err := st.s.Finish(t.Context(), []Outcome{{DeliveryID: 1, Status: Deferred, Error: "451 later", NextAttempt: hours(25), At: at}}); err != nil {
		t.Fatal(err)
	}
	st.remove("p1")
	st.publish(hours(25), false)
	st.posts = append(st.posts, p1)
	st.publish(hours(26), false) // back
	st.plan(hours(48), 0)
	st.ledger("day@example.com daily 2025-01-07 [p1] deferred")
}

// TestPlanContinuesItemWithLedger: a post back after it was removed may continue another that both had
// their own ledger (each mailed to the same subscriber): recording it works, and nobody gets it again.
func TestPlanContinuesItemWithLedger(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-100), false, "base")
	st.subscribe("now@example.com", Immediate, hours(-50))
	st.publish(hours(1), true, "a")
	st.plan(hours(1), 1)
	st.sendAll(hours(1))
	a := st.posts[len(st.posts)-1]
	st.remove("a")
	st.publish(hours(2), false)
	st.publish(hours(3), true, "b")
	st.plan(hours(3), 1)
	st.sendAll(hours(3))
	st.remove("b")
	a.Continues = "b"
	st.posts = append(st.posts, a)
	st.publish(hours(4), false)
	st.plan(hours(4), 0)
	st.ledger("now@example.com a sent", "now@example.com b sent")
}

// TestPlanSwitchToDigestMidWeek: a subscriber of long standing who switches to the weekly digest on a
// Wednesday gets their first digest on the next Monday, not at the next hourly run.
func TestPlanSwitchToDigestMidWeek(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-200), false, "base")
	ann := st.subscribe("ann@example.com", Immediate, hours(-24*30))
	st.update(ann, hours(48), func(s *Subscriber) { s.Frequency = Weekly }) // Wednesday
	st.publish(hours(49), true, "p1")
	st.plan(hours(49), 0)
	st.plan(hours(24*6), 0) // Sunday
	st.plan(hours(24*7), 1) // Monday
	st.ledger("ann@example.com weekly 2025-W03 [p1]")
}

// TestPlanFrequencyChange checks that a post reaches a subscriber once, alone or in a digest, whatever
// their frequency was when it was planned.
func TestPlanFrequencyChange(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-1), false, "base")
	ann := st.subscribe("ann@example.com", Immediate, hours(0))
	st.publish(hours(1), true, "p1")
	st.plan(hours(1), 1)
	st.update(ann, hours(2), func(s *Subscriber) { s.Frequency = Daily })
	st.publish(hours(3), true, "p2")
	st.plan(hours(3), 0) // ann's digest is due tomorrow
	// Tuesday: the digest has p2 only, p1 went out alone.
	st.plan(hours(24), 1)
	st.publish(hours(25), true, "p3", "p4")
	st.update(ann, hours(26), func(s *Subscriber) { s.Frequency = Immediate })
	// Back to immediate: what the digest was holding goes out now, one by one.
	st.plan(hours(26), 2)
	st.update(ann, hours(27), func(s *Subscriber) { s.Frequency = Weekly })
	st.publish(hours(28), true, "p5")
	st.plan(hours(28), 0)                           // the week's digest: next Monday
	st.update(ann, hours(29), func(s *Subscriber) { // and back again before it
		s.Frequency = Daily
	})
	st.plan(hours(48), 1) // Wednesday's daily digest has p5
	st.plan(hours(24*7), 0)
	// The ledger, not the cursor, is what keeps a post from going twice: start the cursor over.
	if _, err := st.s.db.ExecContext(t.Context(), "UPDATE subscribers SET planned_run = 0, last_digest_at = NULL"); err != nil {
		t.Fatal(err)
	}
	st.plan(hours(24*8), 0)
	st.update(ann, hours(24*8), func(s *Subscriber) { s.Frequency = Immediate })
	st.plan(hours(24*8), 0)
	st.ledger(
		"ann@example.com p1",
		"ann@example.com daily 2025-01-07 [p2]",
		"ann@example.com p3",
		"ann@example.com p4",
		"ann@example.com daily 2025-01-08 [p5]",
	)
}

func TestPlanDigestContent(t *testing.T) {
	st := newSite(t)
	st.publish(hours(-1), false, "base1", "base2")
	st.subscribe("daily@example.com", Daily, hours(0))
	st.subscribe("weekly@example.com", Weekly, hours(0))
	st.subscribe("now@example.com", Immediate, hours(0))
	st.update(st.subscribe("left@example.com", Daily, hours(0)), hours(0.5), func(s *Subscriber) { s.Status = Unsubscribed })
	st.update(st.subscribe("bounced@example.com", Weekly, hours(0)), hours(0.5), func(s *Subscriber) { s.Status = Bounced })
	if _, err := st.s.AddSubscriber(t.Context(), Subscriber{Email: "pending@example.com", Frequency: Daily}, hours(0)); err != nil {
		t.Fatal(err)
	}
	st.publish(hours(1), true, "a", "b")
	st.publish(hours(2), true, "c", "removed")
	st.remove("removed")
	st.publish(hours(3), true, "d")
	st.plan(hours(3), 4) // now@ gets a, b, c, d (removed was gone by then); the digests are due tomorrow
	st.plan(hours(24), 1)
	st.plan(hours(24*7), 1)
	st.ledger(
		"now@example.com a",
		"now@example.com b",
		"now@example.com c",
		"now@example.com d",
		"daily@example.com daily 2025-01-07 [d c b a]",
		"weekly@example.com weekly 2025-W03 [d c b a]",
	)
	// The digests carry their posts, newest first.
	due, err := st.s.Due(t.Context(), hours(24*7), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 6 || !slices.Equal(due[4].ItemIDs, []string{"d", "c", "b", "a"}) || due[4].DigestKey != "daily 2025-01-07" ||
		!slices.Equal(due[0].ItemIDs, []string{"a"}) || due[0].DigestKey != "" {
		t.Errorf("got due %+v, want 6 with the digest's posts newest first", due)
	}
}

// TestDigestDue checks when a digest falls due: on the first Plan after the start of the next UTC day
// (daily) or ISO week (weekly) since the last digest, or since confirmation when there was none.
func TestDigestDue(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	confirmed := utc("2024-12-01T08:00:00Z")
	tests := []struct {
		name      string
		frequency string
		confirmed string // default: confirmed
		last      string // LastDigestAt, "" for none
		now       string
		key       string // "" when not due
	}{
		{"daily: the first moment of the next day", Daily, "", "2025-01-02T23:59:59.999999999Z", "2025-01-03T00:00:00Z", "daily 2025-01-03"},
		{"daily: the last moment of the same day", Daily, "", "2025-01-03T00:00:00Z", "2025-01-03T23:59:59.999999999Z", ""},
		{"daily: days later", Daily, "", "2025-01-01T12:00:00Z", "2025-01-05T07:00:00Z", "daily 2025-01-05"},
		{"daily: by UTC days, not local ones", Daily, "", "2025-01-03T20:00:00-05:00", "2025-01-04T18:00:00-05:00", ""},
		{"daily: never, confirmed the same day", Daily, "2025-01-03T08:00:00Z", "", "2025-01-03T20:00:00Z", ""},
		{"daily: never, confirmed the day before", Daily, "2025-01-02T08:00:00Z", "", "2025-01-03T00:30:00Z", "daily 2025-01-03"},
		{"weekly: Sunday night to Monday", Weekly, "", "2025-01-05T23:00:00Z", "2025-01-06T00:00:00Z", "weekly 2025-W02"},
		{"weekly: Monday to Sunday", Weekly, "", "2025-01-06T00:00:00Z", "2025-01-12T23:59:59Z", ""},
		{"weekly: into ISO week 1 in December", Weekly, "", "2024-12-29T10:00:00Z", "2024-12-31T10:00:00Z", "weekly 2025-W01"},
		{"weekly: one ISO week across the new year", Weekly, "", "2024-12-30T10:00:00Z", "2025-01-05T10:00:00Z", ""},
		{"weekly: never, confirmed the same week", Weekly, "2025-01-06T08:00:00Z", "", "2025-01-12T08:00:00Z", ""},
		{"weekly: never, confirmed the week before", Weekly, "2025-01-05T08:00:00Z", "", "2025-01-06T08:00:00Z", "weekly 2025-W02"},
		{"immediate subscribers have no digest", Immediate, "", "2025-01-01T00:00:00Z", "2025-01-09T00:00:00Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newSite(t)
			conf := confirmed
			if tt.confirmed != "" {
				conf = utc(tt.confirmed)
			}
			id := st.subscribe("ann@example.com", tt.frequency, conf)
			if tt.last != "" {
				st.update(id, conf, func(s *Subscriber) { s.LastDigestAt = utc(tt.last) })
			}
			st.publish(conf.Add(time.Second), true, "post")
			now := utc(tt.now)
			want := 0
			if tt.key != "" {
				want = 1
			}
			if tt.frequency == Immediate {
				want = 1 // the post itself
			}
			st.plan(now, want)
			d, err := st.s.Due(t.Context(), now, 10)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(d) == 1 && d[0].DigestKey == tt.key && (tt.key != "" || tt.frequency == Immediate); got != (want == 1) {
				t.Errorf("got due %+v, want a digest %q", d, tt.key)
			}
			sub := subscriber(t, st.s, id)
			var wantLast time.Time
			if tt.last != "" {
				wantLast = utc(tt.last)
			}
			if tt.key != "" {
				wantLast = now
			}
			if !sub.LastDigestAt.Equal(wantLast) {
				t.Errorf("got LastDigestAt %v, want %v", sub.LastDigestAt, wantLast)
			}
		})
	}
	// A digest that is due with nothing in it sends nothing, and the next waits for the next period.
	st := newSite(t)
	st.subscribe("ann@example.com", Daily, hours(-48))
	st.plan(hours(0), 0)
	if sub := subscriber(t, st.s, 1); !sub.LastDigestAt.Equal(hours(0)) {
		t.Errorf("got LastDigestAt %v after an empty digest, want %v", sub.LastDigestAt, hours(0))
	}
	st.publish(hours(1), true, "p")
	st.plan(hours(2), 0)
	st.plan(hours(15), 1) // Tuesday 00:00
	st.ledger("ann@example.com daily 2025-01-07 [p]")
}

// TestPlanDigestKeyTaken: a digest whose key is already used (a LastDigestAt set back by hand) is not
// planned, and its posts wait for the next period rather than being skipped.
func TestPlanDigestKeyTaken(t *testing.T) {
	st := newSite(t)
	id := st.subscribe("ann@example.com", Daily, hours(-48))
	st.publish(hours(-1), true, "p1")
	st.plan(hours(0), 1)
	st.update(id, hours(1), func(s *Subscriber) { s.LastDigestAt = hours(-24) })
	st.publish(hours(2), true, "p2")
	st.plan(hours(3), 0)
	st.plan(hours(24), 1)
	st.ledger("ann@example.com daily 2025-01-06 [p1]", "ann@example.com daily 2025-01-07 [p2]")
}

// queue makes a store with n subscribers (an@example.com, ...) each with one post queued, and returns
// it with the deliveries in id order.
func queue(t *testing.T, n int, frequency string) (*testSite, []Delivery) {
	t.Helper()
	st := newSite(t)
	for i := range n {
		st.subscribe(fmt.Sprintf("a%d@example.com", i), frequency, hours(-48))
	}
	st.publish(hours(-1), true, "post")
	st.plan(hours(0), n)
	due, err := st.s.Due(t.Context(), hours(0), n+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != n {
		t.Fatalf("got %d due, want %d", len(due), n)
	}
	return st, due
}

func attempts(ds ...Delivery) []Attempt {
	var as []Attempt
	for _, d := range ds {
		mid := d.MessageID
		if mid == "" {
			mid = fmt.Sprintf("%d.test@example.com", d.ID)
		}
		as = append(as, Attempt{DeliveryID: d.ID, MessageID: mid})
	}
	return as
}

func (st *testSite) sending(at time.Time, ds ...Delivery) {
	st.t.Helper()
	skipped, err := st.s.Sending(st.t.Context(), attempts(ds...), at)
	if err != nil {
		st.t.Fatal(err)
	}
	if len(skipped) > 0 {
		st.t.Fatalf("Sending skipped %v", skipped)
	}
}

func (st *testSite) finish(os ...Outcome) {
	st.t.Helper()
	if err := st.s.Finish(st.t.Context(), os); err != nil {
		st.t.Fatal(err)
	}
}

func (st *testSite) due(now time.Time, limit int) []int64 {
	st.t.Helper()
	ds, err := st.s.Due(st.t.Context(), now, limit)
	if err != nil {
		st.t.Fatal(err)
	}
	var ids []int64
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func (st *testSite) delivery(id int64) Delivery {
	st.t.Helper()
	d, err := scanDelivery(st.s.db.QueryRowContext(st.t.Context(), "SELECT "+deliveryCols+" FROM deliveries d WHERE d.id = ?", id))
	if err != nil {
		st.t.Fatal(err)
	}
	return d
}

func TestDue(t *testing.T) {
	st, ds := queue(t, 6, Immediate)
	if got := st.due(hours(0), 4); !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Errorf("got due %v, want the oldest 4", got)
	}
	st.sending(hours(1), ds[0], ds[1], ds[2])
	st.finish(Outcome{DeliveryID: 1, Status: Deferred, Error: "451 later", NextAttempt: hours(2), At: hours(1)},
		Outcome{DeliveryID: 2, Status: Deferred, Error: "451 later", NextAttempt: hours(3), At: hours(1)},
		Outcome{DeliveryID: 3, Status: Sent, At: hours(1)})
	tests := []struct {
		now   time.Time
		limit int
		want  []int64
	}{
		{hours(1), 10, []int64{4, 5, 6}},
		{hours(2).Add(-1), 10, []int64{4, 5, 6}},
		{hours(2), 10, []int64{1, 4, 5, 6}}, // a deferred delivery is due at its next attempt, and goes first: it is older
		{hours(5), 10, []int64{1, 2, 4, 5, 6}},
		{hours(5), 3, []int64{1, 2, 4}},
		{hours(5), 0, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("at %s, up to %d", tt.now.Format("15:04:05.000000000"), tt.limit), func(t *testing.T) {
			if got := st.due(tt.now, tt.limit); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// Deliveries of subscribers who left are not due, even if something left them queued.
	if _, err := st.s.db.ExecContext(t.Context(), "UPDATE subscribers SET status = 'unsubscribed' WHERE id IN (1, 5)"); err != nil {
		t.Fatal(err)
	}
	if got, want := st.due(hours(5), 10), []int64{2, 4, 6}; !slices.Equal(got, want) {
		t.Errorf("got %v after two subscribers left behind the store's back, want %v", got, want)
	}
}

// TestFinish checks each outcome's transition from sending.
func TestFinish(t *testing.T) {
	at := hours(1)
	tests := []struct {
		name    string
		outcome Outcome
		want    Delivery // the fields compared: Status, Attempts, LastError, SentAt, NextAttemptAt
	}{
		{"sent", Outcome{Status: Sent, Error: "ignored", At: at}, Delivery{Status: Sent, Attempts: 1, SentAt: at}},
		{"deferred", Outcome{Status: Deferred, Error: "451 4.7.1 try later", EnhancedCode: "4.7.1", NextAttempt: hours(2), At: at},
			Delivery{Status: Deferred, Attempts: 1, LastError: "451 4.7.1 try later", NextAttemptAt: hours(2)}},
		{"failed", Outcome{Status: Failed, Error: "550 5.7.1 rejected", EnhancedCode: "5.7.1", At: at},
			Delivery{Status: Failed, Attempts: 1, LastError: "550 5.7.1 rejected"}},
		{"unknown", Outcome{Status: Unknown, Error: "connection reset after DATA", At: at},
			Delivery{Status: Unknown, Attempts: 1, LastError: "connection reset after DATA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, ds := queue(t, 1, Immediate)
			st.sending(hours(0.5), ds[0])
			d := st.delivery(1)
			if d.Status != Sending || !d.SendingAt.Equal(hours(0.5)) || d.MessageID != "1.test@example.com" {
				t.Errorf("after Sending: got %+v, want it sending since %v with its Message-ID", d, hours(0.5))
			}
			o := tt.outcome
			o.DeliveryID = 1
			st.finish(o)
			d = st.delivery(1)
			if d.Status != tt.want.Status || d.Attempts != tt.want.Attempts || d.LastError != tt.want.LastError ||
				!d.SentAt.Equal(tt.want.SentAt) || !d.NextAttemptAt.Equal(tt.want.NextAttemptAt) || d.MessageID != "1.test@example.com" {
				t.Errorf("got %+v, want %+v", d, tt.want)
			}
			// A second Finish finds it no longer sending, and records nothing.
			if err := st.s.Finish(t.Context(), []Outcome{o}); err == nil || !strings.Contains(err.Error(), "delivery 1 is "+tt.want.Status+", not sending") {
				t.Errorf("finishing twice: got %v, want an error", err)
			}
			if again := st.delivery(1); again.Attempts != 1 {
				t.Errorf("a refused Finish changed the delivery: %+v", again)
			}
		})
	}
}

func TestFinishRejects(t *testing.T) {
	st, ds := queue(t, 3, Immediate)
	st.sending(hours(1), ds[0], ds[1])
	tests := []struct {
		name     string
		outcomes []Outcome
		msg      string
	}{
		{"not sending", []Outcome{{DeliveryID: 1, Status: Sent, At: hours(1)}, {DeliveryID: 3, Status: Sent, At: hours(1)}}, "delivery 3 is queued, not sending"},
		{"no such delivery", []Outcome{{DeliveryID: 1, Status: Sent, At: hours(1)}, {DeliveryID: 99, Status: Sent, At: hours(1)}}, "there is no delivery 99"},
		{"twice", []Outcome{{DeliveryID: 1, Status: Sent, At: hours(1)}, {DeliveryID: 1, Status: Failed, At: hours(1)}}, "delivery 1 appears twice"},
		{"an unknown status", []Outcome{{DeliveryID: 1, Status: "bounced", At: hours(1)}}, `status "bounced" is not one of`},
		{"no time", []Outcome{{DeliveryID: 1, Status: Sent}}, "no time given"},
		{"deferred without a next attempt", []Outcome{{DeliveryID: 1, Status: Deferred, At: hours(1)}}, "no time for the next attempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dump(t, st.s, 2)
			err := st.s.Finish(t.Context(), tt.outcomes)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v, want an error saying %q", err, tt.msg)
			}
			if after := dump(t, st.s, 2); after != before {
				t.Errorf("a refused Finish changed the store:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

func TestSending(t *testing.T) {
	st, ds := queue(t, 4, Immediate)
	// A subscriber who leaves between Due and Sending: their delivery is not to be sent.
	st.update(2, hours(0.5), func(s *Subscriber) { s.Status = Unsubscribed })
	skipped, err := st.s.Sending(t.Context(), attempts(ds[0], ds[1], ds[2]), hours(1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(skipped, []int64{2}) {
		t.Errorf("got skipped %v, want [2]", skipped)
	}
	// Already sending: skipped too (another batch, or a bug, has it).
	skipped, err = st.s.Sending(t.Context(), attempts(ds[0], ds[3]), hours(1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(skipped, []int64{1}) {
		t.Errorf("got skipped %v, want [1]", skipped)
	}
	st.ledger("a0@example.com post sending", "a1@example.com post cancelled", "a2@example.com post sending", "a3@example.com post sending")
	if d := st.delivery(2); d.LastError != "the subscriber is unsubscribed" {
		t.Errorf("got last error %q for a cancelled delivery, want it to say why", d.LastError)
	}
	for _, tt := range []struct {
		name  string
		batch []Attempt
		msg   string
	}{
		{"twice in a batch", []Attempt{{DeliveryID: 3, MessageID: "x"}, {DeliveryID: 3, MessageID: "x"}}, "delivery 3 appears twice"},
	} {
		if _, err := st.s.Sending(t.Context(), tt.batch, hours(1)); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.msg)
		}
	}
	if _, err := st.s.Sending(t.Context(), nil, time.Time{}); err == nil {
		t.Error("Sending with no time: got no error")
	}
}

// TestUnsubscribeCancels: leaving cancels what is queued or deferred, not what is on its way or done.
func TestUnsubscribeCancels(t *testing.T) {
	st := newSite(t)
	ann := st.subscribe("ann@example.com", Immediate, hours(-48))
	st.subscribe("bob@example.com", Immediate, hours(-48))
	st.publish(hours(-1), true, "p1", "p2", "p3", "p4")
	st.plan(hours(0), 8)
	ds, err := st.s.Due(t.Context(), hours(0), 10) // p1 to ann, p1 to bob, p2 to ann, ...
	if err != nil {
		t.Fatal(err)
	}
	st.sending(hours(0), ds[0], ds[2], ds[4])
	st.finish(Outcome{DeliveryID: ds[0].ID, Status: Sent, At: hours(0)}, Outcome{DeliveryID: ds[2].ID, Status: Deferred, NextAttempt: hours(1), At: hours(0)})
	st.update(ann, hours(0.5), func(s *Subscriber) { s.Status = Unsubscribed })
	st.ledger(
		"ann@example.com p1 sent", "bob@example.com p1",
		"ann@example.com p2 cancelled", "bob@example.com p2", // it was deferred
		"ann@example.com p3 sending", "bob@example.com p3", // it is on its way: its outcome will be recorded
		"ann@example.com p4 cancelled", "bob@example.com p4",
	)
}

func TestBounces(t *testing.T) {
	fail := func(id int64, code string) Outcome {
		return Outcome{DeliveryID: id, Status: Failed, Error: "550 " + code + " no such user", EnhancedCode: code, At: hours(1)}
	}
	tests := []struct {
		name    string
		batches [][]Outcome // deliveries 1-3 go to ann, 4 to bob
		bounces int
		status  string
		ledger  []string
	}{
		{"one 5.1.1", [][]Outcome{{fail(1, "5.1.1")}}, 1, Active,
			[]string{"ann@example.com p1 failed", "ann@example.com p2", "ann@example.com p3", "bob@example.com p1"}},
		{"5.1.1 twice", [][]Outcome{{fail(1, "5.1.1")}, {fail(2, "5.1.1")}}, 2, Bounced,
			[]string{"ann@example.com p1 failed", "ann@example.com p2 failed", "ann@example.com p3 cancelled", "bob@example.com p1"}},
		{"5.1.1 twice in one batch", [][]Outcome{{fail(1, "5.1.1"), fail(2, "5.1.1")}}, 2, Bounced,
			[]string{"ann@example.com p1 failed", "ann@example.com p2 failed", "ann@example.com p3 cancelled", "bob@example.com p1"}},
		{"other 5xx codes do not count", [][]Outcome{{fail(1, "5.2.2")}, {fail(2, "5.7.1")}}, 0, Active,
			[]string{"ann@example.com p1 failed", "ann@example.com p2 failed", "ann@example.com p3", "bob@example.com p1"}},
		{"a deferral with 5.1.1 does not count", [][]Outcome{{{DeliveryID: 1, Status: Deferred, EnhancedCode: "5.1.1", NextAttempt: hours(2), At: hours(1)}}, {fail(2, "5.1.1")}}, 1, Active,
			[]string{"ann@example.com p1 deferred", "ann@example.com p2 failed", "ann@example.com p3", "bob@example.com p1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newSite(t)
			ann := st.subscribe("ann@example.com", Immediate, hours(-48))
			st.publish(hours(-2), true, "p1", "p2", "p3")
			st.plan(hours(-2), 3)
			st.subscribe("bob@example.com", Immediate, hours(-1.5))
			st.publish(hours(-1), false)
			if _, err := st.s.db.ExecContext(t.Context(), "UPDATE subscribers SET planned_run = 0, start_run = 0, confirmed_at = ? WHERE id = 2", formatTime(hours(-48))); err != nil {
				t.Fatal(err)
			}
			st.plan(hours(0), 3)
			if _, err := st.s.db.ExecContext(t.Context(), "DELETE FROM deliveries WHERE id > 4"); err != nil {
				t.Fatal(err)
			}
			for _, b := range tt.batches {
				var ds []Delivery
				for _, o := range b {
					ds = append(ds, Delivery{ID: o.DeliveryID})
				}
				st.sending(hours(0.5), ds...)
				st.finish(b...)
			}
			sub := subscriber(t, st.s, ann)
			if sub.HardBounces != tt.bounces || sub.Status != tt.status {
				t.Errorf("got %d hard bounces, %s; want %d, %s", sub.HardBounces, sub.Status, tt.bounces, tt.status)
			}
			st.ledger(tt.ledger...)
			if tt.status == Bounced {
				if got := st.due(hours(5), 10); !slices.Equal(got, []int64{4}) {
					t.Errorf("got due %v, want only bob's", got)
				}
				// The author fixes the address and activates them again: the count starts over.
				st.update(ann, hours(6), func(s *Subscriber) { s.Status = Active })
				if sub := subscriber(t, st.s, ann); sub.HardBounces != 0 {
					t.Errorf("got %d hard bounces after reactivation, want 0", sub.HardBounces)
				}
			}
		})
	}
}

// TestRecoverAndRetry simulates a crash: deliveries left sending when the store was closed without a
// Finish. Recover makes them unknown; RetryUnknown queues them again with their Message-IDs.
func TestRecoverAndRetry(t *testing.T) {
	st, ds := queue(t, 5, Immediate)
	st.sending(hours(1), ds[0], ds[1], ds[2], ds[4])
	st.finish(Outcome{DeliveryID: 1, Status: Sent, At: hours(1)}, Outcome{DeliveryID: 5, Status: Failed, Error: "550 no", At: hours(1)})
	path := st.s.path
	if err := st.s.Close(); err != nil {
		t.Fatal(err)
	}
	st.s = openStore(t, path)

	n, err := st.s.Recover(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("Recover: got %d, %v, want 2", n, err)
	}
	st.ledger("a0@example.com post sent", "a1@example.com post unknown", "a2@example.com post unknown", "a3@example.com post", "a4@example.com post failed")
	if d := st.delivery(2); d.Attempts != 1 || !strings.Contains(d.LastError, "the server may have it") {
		t.Errorf("got %+v, want one attempt and a last error that says why it is unknown", d)
	}
	if got := st.due(hours(2), 10); !slices.Equal(got, []int64{4}) {
		t.Errorf("got due %v, want the queued ones only: unknown ones are not resent by themselves", got)
	}
	if n, err := st.s.Recover(t.Context()); err != nil || n != 0 {
		t.Errorf("Recover again: got %d, %v, want 0", n, err)
	}

	st.update(3, hours(2), func(s *Subscriber) { s.Status = Unsubscribed }) // not retried
	n, err = st.s.RetryUnknown(t.Context(), time.Time{})
	if err != nil || n != 1 {
		t.Fatalf("RetryUnknown: got %d, %v, want 1", n, err)
	}
	due, err := st.s.Due(t.Context(), hours(2), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due[0].ID != 2 || due[0].MessageID != "2.test@example.com" {
		t.Fatalf("got due %+v, want delivery 2 first, with its Message-ID", due)
	}
	// It must go out under the same Message-ID.
	if _, err := st.s.Sending(t.Context(), []Attempt{{DeliveryID: 2, MessageID: "2.other@example.com"}}, hours(3)); err == nil ||
		!strings.Contains(err.Error(), `delivery 2 was sent before with Message-ID "2.test@example.com"`) {
		t.Errorf("sending again under another Message-ID: got %v, want an error", err)
	}
	st.sending(hours(3), due[0])
	st.finish(Outcome{DeliveryID: 2, Status: Sent, At: hours(3)})
	if d := st.delivery(2); d.Status != Sent || d.MessageID != "2.test@example.com" || d.Attempts != 2 {
		t.Errorf("got %+v, want it sent on its second attempt under its first Message-ID", d)
	}
	st.ledger("a0@example.com post sent", "a1@example.com post sent", "a2@example.com post unknown", "a3@example.com post", "a4@example.com post failed")
}

// TestFailOld: a deferred delivery fails once its first attempt is older than the age; one that waited
// long before its first attempt (an outage, a slow rate limit) still gets its retries.
func TestFailOld(t *testing.T) {
	st, ds := queue(t, 3, Immediate)
	st.sending(hours(1), ds[0], ds[1])
	st.finish(Outcome{DeliveryID: 1, Status: Deferred, Error: "451 busy", NextAttempt: hours(2), At: hours(1)},
		Outcome{DeliveryID: 2, Status: Deferred, Error: "451 busy", NextAttempt: hours(2), At: hours(1)})
	st.sending(hours(2), ds[0]) // a second attempt: the age still counts from the first
	st.finish(Outcome{DeliveryID: 1, Status: Deferred, Error: "451 busy", NextAttempt: hours(3), At: hours(2)})
	st.sending(hours(72), ds[2]) // queued at 0, first tried after 72 hours
	st.finish(Outcome{DeliveryID: 3, Status: Deferred, Error: "451 greylisted", NextAttempt: hours(72.25), At: hours(72)})
	if n, err := st.s.FailOld(t.Context(), hours(72.5), 72*time.Hour); err != nil || n != 0 {
		t.Errorf("FailOld before the age: got %d, %v, want 0", n, err)
	}
	if n, err := st.s.FailOld(t.Context(), hours(73.5), 72*time.Hour); err != nil || n != 2 {
		t.Errorf("FailOld after the age: got %d, %v, want 2", n, err)
	}
	st.ledger("a0@example.com post failed", "a1@example.com post failed", "a2@example.com post deferred")
	if d := st.delivery(1); d.LastError != "deferred for more than 72h0m0s; last error: 451 busy" || !d.NextAttemptAt.IsZero() {
		t.Errorf("got %+v, want the last error kept, with why it failed", d)
	}
	counts, err := st.s.DeliveryCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{Failed: 2, Deferred: 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("got counts %v, want %v", counts, want)
	}
}

func TestBind(t *testing.T) {
	q, args := bind("SELECT :b, :a, :b_c, :a FROM x WHERE y = :b", map[string]any{"a": 1, "b": 2, "b_c": 3, "unused": 4})
	if want := "SELECT ?1, ?2, ?3, ?2 FROM x WHERE y = ?1"; q != want {
		t.Errorf("got %q, want %q", q, want)
	}
	if fmt.Sprint(args) != "[2 1 3]" {
		t.Errorf("got args %v, want [2 1 3]", args)
	}
	defer func() {
		if recover() == nil {
			t.Error("a missing argument did not panic")
		}
	}()
	bind("SELECT :missing", nil)
}

func TestPlanRejects(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	if _, err := s.Plan(t.Context(), time.Time{}); err == nil {
		t.Error("Plan with no time: got no error")
	}
	if _, err := s.FailOld(t.Context(), hours(0), 0); err == nil {
		t.Error("FailOld with no age: got no error")
	}
	var ce checkError
	_, err := s.Subscriber(t.Context(), 5)
	if !errors.As(err, &ce) || !errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), "store "+s.path+": subscriber 5: ") {
		t.Errorf("got %v, want a not-found error naming the store", err)
	}
}

func TestSubscriberDeliveries(t *testing.T) {
	st := newSite(t)
	ann := st.subscribe("ann@example.com", Immediate, t0)
	dan := st.subscribe("dan@example.com", Daily, t0)
	bob := st.subscribe("bob@example.com", Immediate, t0)
	st.publish(hours(1), true, "p1", "p2")
	st.plan(hours(1), 4)                                                        // ann's and bob's posts; dan's digest is due tomorrow
	st.update(bob, hours(1.5), func(s *Subscriber) { s.Status = Unsubscribed }) // cancels bob's
	st.publish(hours(2), true, "p3")
	st.plan(hours(25), 2) // ann's p3, dan's digest of the three
	first := st.delivery(1)
	st.sending(hours(25.5), first)
	st.finish(Outcome{DeliveryID: 1, Status: Sent, At: hours(25.6)})

	type line struct {
		items          string
		digest, status string
		sent           time.Time
	}
	lines := func(id int64) []line {
		t.Helper()
		ds, err := st.s.SubscriberDeliveries(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ds == nil {
			t.Errorf("subscriber %d: got nil, want a slice", id)
		}
		var ls []line
		for i, d := range ds {
			if d.SubscriberID != id {
				t.Errorf("subscriber %d: delivery %d is subscriber %d's", id, d.ID, d.SubscriberID)
			}
			if i > 0 && d.ID <= ds[i-1].ID {
				t.Errorf("subscriber %d: delivery %d after %d, want id order", id, d.ID, ds[i-1].ID)
			}
			ls = append(ls, line{strings.Join(d.ItemIDs, " "), d.DigestKey, d.Status, d.SentAt})
		}
		return ls
	}
	tests := []struct {
		name string
		id   int64
		want []line
	}{
		{"posts, one sent", ann, []line{{"p1", "", Sent, hours(25.6)}, {"p2", "", Queued, time.Time{}}, {"p3", "", Queued, time.Time{}}}},
		{"a digest, newest first", dan, []line{{"p3 p2 p1", "daily 2025-01-07", Queued, time.Time{}}}},
		{"cancelled", bob, []line{{"p1", "", Cancelled, time.Time{}}, {"p2", "", Cancelled, time.Time{}}}},
		{"no such subscriber", 99, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lines(tt.id)
			if !slices.EqualFunc(got, tt.want, func(a, b line) bool {
				return a.items == b.items && a.digest == b.digest && a.status == b.status && a.sent.Equal(b.sent)
			}) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if err := st.s.DeleteSubscriber(t.Context(), ann); err != nil {
		t.Fatal(err)
	}
	if got := lines(ann); len(got) != 0 {
		t.Errorf("an erased subscriber's deliveries: got %+v, want none", got)
	}
}

// TestLedgerStatementsCompareInPlace: the ledger's two UPDATEs of a delivery's status, run twice for each
// message sent, build no temporary b-tree (SQLite's OpenEphemeral) since version 14. Version 13's CHECK on
// status, an IN list of seven values, built one for every row checked: 13% of a commit's CPU time.
func TestLedgerStatementsCompareInPlace(t *testing.T) {
	opcodes := func(s *sqliteStore, q string) []string {
		t.Helper()
		rows, err := s.db.QueryContext(t.Context(), "EXPLAIN "+q, "2025-01-01", 1, "<m@example.com>", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var ops []string
		for rows.Next() {
			var addr, p1, p2, p3, p5 int
			var op string
			var p4, comment any
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return ops
	}
	old, err := open(t.Context(), filepath.Join(t.TempDir(), "v13.db"), 13)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	s := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	for name, q := range map[string]string{"markSending": markSending, "recordOutcome": recordOutcome} {
		if ops := opcodes(old, q); !slices.Contains(ops, "OpenEphemeral") {
			t.Errorf("%s on version 13: got opcodes %v, want an OpenEphemeral (the check cannot see one)", name, ops)
		}
		if ops := opcodes(s, q); len(ops) == 0 || slices.Contains(ops, "OpenEphemeral") {
			t.Errorf("%s: got opcodes %v, want some and no OpenEphemeral", name, ops)
		}
	}
}
