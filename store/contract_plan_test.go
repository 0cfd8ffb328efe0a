package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// The contract tests of who gets what, and when digests fall due: TestPlanWho and TestDigestDue of the
// SQLite store, through the Store interface alone.

// csite is a site for the contract tests of Plan: the posts on it now.
type csite struct {
	*cstore
	posts []Item
}

func (st *csite) publish(at time.Time, send bool, ids ...string) {
	st.t.Helper()
	for i, id := range ids {
		st.posts = append(st.posts, Item{ID: id, URL: "https://example.com/" + id, Title: id, Hash: id,
			Date: at.Add(time.Duration(i) * time.Minute), Sendable: send})
	}
	st.record(&Run{Started: at, Command: "publish"}, slices.Clone(st.posts)...)
}

// remove takes a post off the site: the next publish records it removed.
func (st *csite) remove(id string) {
	st.posts = slices.DeleteFunc(st.posts, func(it Item) bool { return it.ID == id })
}

// carry publishes a run at at in which post from left the site and came back as to, carrying it on.
func (st *csite) carry(at time.Time, from, to string) {
	st.t.Helper()
	it := st.posts[slices.IndexFunc(st.posts, func(it Item) bool { return it.ID == from })]
	st.remove(from)
	it.ID, it.Continues = to, from
	st.posts = append(st.posts, it)
	st.publish(at, false)
}

// sendAll sends everything due at at.
func (st *csite) sendAll(at time.Time) {
	st.t.Helper()
	_, ds := st.due(at, 1000)
	for _, d := range ds {
		if _, err := st.Commit(st.t.Context(), nil, []Attempt{{DeliveryID: d.ID, MessageID: fmt.Sprintf("<%d@x>", d.ID)}}, at); err != nil {
			st.t.Fatal(err)
		}
		if err := st.Finish(st.t.Context(), []Outcome{{DeliveryID: d.ID, Status: Sent, At: at}}); err != nil {
			st.t.Fatal(err)
		}
	}
}

func (st *csite) subscribe(email, frequency string, confirmed time.Time) int64 {
	st.t.Helper()
	return st.add(Subscriber{Email: email, Frequency: frequency, Status: Active, ConfirmedAt: confirmed}, confirmed).ID
}

func (st *csite) update(id int64, at time.Time, change func(*Subscriber)) {
	st.t.Helper()
	if err := st.UpdateSubscriber(st.t.Context(), id, at, change); err != nil {
		st.t.Fatal(err)
	}
}

// ledger checks every delivery of every subscriber, as "email [post]" or "email digest-key [posts, newest
// first]", then " status" unless queued, by subscriber and then delivery id.
func (st *csite) ledger(want ...string) {
	st.t.Helper()
	subs, err := st.Subscribers(st.t.Context(), "")
	if err != nil {
		st.t.Fatal(err)
	}
	var got []string
	for _, sub := range subs {
		ds, err := st.SubscriberDeliveries(st.t.Context(), sub.ID)
		if err != nil {
			st.t.Fatal(err)
		}
		for _, d := range ds {
			line := fmt.Sprint(sub.Email, " ", d.ItemIDs)
			if d.DigestKey != "" {
				line = fmt.Sprint(sub.Email, " ", d.DigestKey, " ", d.ItemIDs)
			}
			if d.Status != Queued {
				line += " " + d.Status
			}
			got = append(got, line)
		}
	}
	sameStrings(st.t, "ledger", got, want)
}

func TestContractPlanWho(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st := &csite{cstore: c}
		h := chours
		st.subscribe("early@example.com", Immediate, h(-10))
		pending := st.add(Subscriber{Email: "pending@example.com"}, h(-10))
		later := st.add(Subscriber{Email: "later@example.com"}, h(-10))
		left := st.subscribe("left@example.com", Immediate, h(-10))
		bounced := st.subscribe("bounced@example.com", Immediate, h(-10))
		st.update(left, h(-1), func(s *Subscriber) { s.Status = Unsubscribed })
		st.update(bounced, h(-1), func(s *Subscriber) { s.Status = Bounced })

		// The baseline: three posts, the newest backfilled (sendable).
		st.posts = []Item{{ID: "old1", Hash: "1", Date: h(-100)}, {ID: "old2", Hash: "2", Date: h(-50)}, {ID: "backfill", Hash: "3", Date: h(-20), Sendable: true}}
		st.record(&Run{Started: h(0), Command: "publish", Baseline: true}, st.posts...)
		st.update(later.ID, h(1), func(s *Subscriber) { s.Status = Active })
		// Imported after the baseline with an older confirmation: what was recorded before is not theirs.
		if _, err := st.ImportSubscribers(t.Context(), []Subscriber{{Email: "imported@example.com", ConfirmedAt: h(-100)}}, h(1)); err != nil {
			t.Fatal(err)
		}
		st.publish(h(2), true, "p1", "gone")
		st.posts = slices.DeleteFunc(st.posts, func(it Item) bool { return it.ID == "gone" })
		st.publish(h(3), false)
		st.plan(h(3), 4)
		st.plan(h(3), 0)
		st.plan(h(4), 0)
		// Confirming later does not bring back what was before.
		st.update(pending.ID, h(5), func(s *Subscriber) { s.Status = Active })
		st.plan(h(5), 0)
		st.publish(h(6), true, "p2")
		st.plan(h(6), 4)
		st.ledger(
			"early@example.com [backfill]",
			"early@example.com [p1]",
			"early@example.com [p2]",
			"pending@example.com [p2]",
			"later@example.com [p1]",
			"later@example.com [p2]",
			"imported@example.com [p1]",
			"imported@example.com [p2]",
		)
	})
}

func TestContractDigestDue(t *testing.T) {
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
	}
	contract(t, func(t *testing.T, c *cstore) {
		for i, tt := range tests {
			// One store for all rows: each row has its subscriber, and a post of its own at its time.
			st := &csite{cstore: c}
			conf := confirmed
			if tt.confirmed != "" {
				conf = utc(tt.confirmed)
			}
			id := st.subscribe(fmt.Sprintf("s%d@example.com", i), tt.frequency, conf)
			if tt.last != "" {
				st.update(id, conf, func(s *Subscriber) { s.LastDigestAt = utc(tt.last) })
			}
			now := utc(tt.now)
			if err := c.Record(t.Context(), &Run{Started: conf.Add(time.Second), Command: "publish"},
				[]Item{post(fmt.Sprint("post", i), conf, true)}); err != nil {
				t.Fatal(err)
			}
			n, err := c.Plan(t.Context(), now)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := c.SubscriberDeliveries(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, d := range ds {
				keys = append(keys, d.DigestKey)
			}
			want := []string{tt.key}
			if tt.key == "" {
				want = nil
			}
			if !slices.Equal(keys, want) || n != len(want) {
				t.Errorf("%s: got digests %q (%d queued), want %q", tt.name, keys, n, want)
			}
			wantLast := time.Time{}
			if tt.last != "" {
				wantLast = c.at(utc(tt.last))
			}
			if tt.key != "" {
				wantLast = c.at(now)
			}
			if sub := c.sub(id); !sub.LastDigestAt.Equal(wantLast) {
				t.Errorf("%s: got LastDigestAt %v, want %v", tt.name, sub.LastDigestAt, wantLast)
			}
			// Whatever was queued is cancelled, so that the next row sees only its own.
			if err := c.UpdateSubscriber(t.Context(), id, now, func(s *Subscriber) { s.Status = Unsubscribed }); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// The identity scenarios of deliveries_test.go (TestPlanRedated, TestPlanRestored, TestPlanMovedAndBack,
// TestContinuationNeverJoinsTwoPosts), on both stores. ct0, like t0 there, is a Monday.

func TestContractRedated(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.publish(h(-100), false, "base")
		st.subscribe("now@example.com", Immediate, h(-50))
		st.subscribe("week@example.com", Weekly, h(-50))
		st.plan(h(0), 0)              // Monday: an empty digest
		st.publish(h(24), true, "p1") // Tuesday
		st.plan(h(24), 1)             // now@ gets p1: queued, not sent yet
		st.subscribe("late@example.com", Immediate, h(30))
		// Wednesday: p1's date is corrected, and its id with it.
		st.remove("p1")
		st.posts = append(st.posts, Item{ID: "p1b", URL: "https://example.com/p1", Title: "p1", Hash: "p1b", Date: h(23), Continues: "p1"})
		st.publish(h(48), false)
		st.plan(h(48), 0)   // nobody gets it again, late@ (who came after it) neither
		st.plan(h(24*7), 1) // Monday: week@'s digest has it
		st.ledger("now@example.com [p1b]", "week@example.com weekly 2025-W03 [p1b]")
		// A post that only looks re-dated (Continues names an item this run did not see go) is new.
		st.publish(h(24*7+1), true, "p2")
		st.posts = append(st.posts, Item{ID: "p3", URL: "https://example.com/p3", Title: "p3", Hash: "p3", Date: h(24 * 7), Sendable: true, Continues: "p2"})
		st.publish(h(24*7+2), false)
		st.plan(h(24*7+2), 4) // p2 and p3 each to now@ and late@
	})
}

func TestContractRestored(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.publish(h(-100), false, "base")
		st.subscribe("now@example.com", Immediate, h(-50))
		st.subscribe("day@example.com", Daily, h(-50))
		st.plan(h(0), 0)
		st.publish(h(1), true, "p1") // Monday
		st.plan(h(1), 1)             // now@ gets p1
		st.sendAll(h(1))
		// Imported after p1 was recorded, with a confirmation from long before: p1 is not theirs.
		if _, err := st.ImportSubscribers(t.Context(), []Subscriber{{Email: "imported@example.com", ConfirmedAt: h(-500)}}, h(1.5)); err != nil {
			t.Fatal(err)
		}
		p1 := st.posts[len(st.posts)-1]
		st.remove("p1")
		st.publish(h(2), false)
		st.plan(h(24), 0) // Tuesday: day@'s digest would have had p1, but it is gone
		st.posts = append(st.posts, p1)
		st.publish(h(25), false) // back
		st.plan(h(25), 0)        // now@ had it; day@'s digest is tomorrow
		st.plan(h(48), 1)        // Wednesday
		st.plan(h(72), 0)
		st.ledger("now@example.com [p1] sent", "day@example.com daily 2025-01-08 [p1]")
	})
}

func TestContractMovedAndBack(t *testing.T) {
	for _, frequency := range []string{Immediate, Daily} {
		t.Run(frequency, func(t *testing.T) {
			contract(t, func(t *testing.T, c *cstore) {
				st, h := &csite{cstore: c}, chours
				st.publish(h(-100), false, "base")
				ann := st.subscribe("ann@example.com", Immediate, h(-50))
				st.publish(h(1), true, "a")
				st.plan(h(1), 1)
				st.sendAll(h(1))
				st.carry(h(2), "a", "b")
				st.carry(h(3), "b", "a")
				st.update(ann, h(3.5), func(s *Subscriber) { s.Frequency = frequency })
				a := st.posts[len(st.posts)-1]
				a.Continues = ""
				st.remove("a")
				st.publish(h(4), false) // a bad deploy
				st.posts = append(st.posts, a)
				st.publish(h(5), false) // fixed
				st.plan(h(5), 0)
				st.plan(h(24), 0)
				st.ledger("ann@example.com [a] sent")
			})
		})
	}
}

func TestContractContinuationNeverJoinsTwoPosts(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.publish(h(-100), false, "base")
		ann := st.subscribe("ann@example.com", Immediate, h(-50))
		st.subscribe("bob@example.com", Daily, h(-50))
		st.plan(h(0), 0)
		st.publish(h(1), true, "a")
		st.plan(h(1), 1) // ann's a
		st.sendAll(h(1))
		st.update(ann, h(1.5), func(s *Subscriber) { s.Frequency = Weekly }) // her digest: next Monday
		a := st.posts[len(st.posts)-1]
		st.remove("a")
		st.publish(h(2), false) // a gone before bob's digest
		st.plan(h(24), 0)
		st.publish(h(25), true, "b")
		st.plan(h(48), 1) // bob's Wednesday digest, with b
		st.sendAll(h(48))
		st.remove("b")
		a.Continues = "b"
		st.posts = append(st.posts, a)
		st.publish(h(49), false) // a back, carrying b on
		st.plan(h(72), 1)        // bob's Thursday digest has a
		st.plan(h(24*7), 0)      // ann's Monday digest: she had a, and b is gone
		st.plan(h(24*8), 0)
		st.ledger(
			"ann@example.com [a] sent",
			"bob@example.com daily 2025-01-08 [b] sent",
			"bob@example.com daily 2025-01-09 [a]",
		)
		if m := st.items(); m["a"].Post == m["b"].Post {
			t.Errorf("a and b are one post (%d); want them apart", m["a"].Post)
		}
	})
}

func TestContractRemovedBeforeSent(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.publish(h(-100), false, "base")
		st.subscribe("now@example.com", Immediate, h(-50))
		st.subscribe("day@example.com", Daily, h(-50))
		st.subscribe("week@example.com", Weekly, h(-50))
		st.plan(h(0), 0)
		st.publish(h(1), true, "p1", "p2") // Monday
		st.plan(h(1), 2)                   // now@ gets p1 and p2
		st.publish(h(2), true, "p3")
		st.plan(h(2), 1)  // now@ gets p3
		st.plan(h(24), 1) // Tuesday: day@'s digest, with p1, p2 and p3
		p1 := st.posts[1]
		st.remove("p1")
		st.publish(h(25), false) // p1 gone before anything went out
		st.ledger("now@example.com [p2]", "now@example.com [p3]", "day@example.com daily 2025-01-07 [p3 p2]")
		st.posts = append(st.posts, p1)
		st.publish(h(26), false) // back
		st.plan(h(26), 1)        // now@ gets p1 again
		st.plan(h(48), 1)        // Wednesday's digest has it
		st.plan(h(24*7), 1)      // Monday: week@'s has all three
		st.ledger(
			"now@example.com [p2]",
			"now@example.com [p3]",
			"now@example.com [p1]",
			"day@example.com daily 2025-01-07 [p3 p2]",
			"day@example.com daily 2025-01-08 [p1]",
			"week@example.com weekly 2025-W03 [p3 p2 p1]",
		)
	})
}

func TestContractKeepsWhatServersMayHave(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.publish(h(-100), false, "base")
		for _, email := range []string{"sending", "unknown", "retried", "deferred", "queued"} {
			st.subscribe(email+"@example.com", Daily, h(-50))
		}
		st.plan(h(0), 0)
		st.publish(h(1), true, "p1")
		st.plan(h(24), 5) // Tuesday's digests, with p1, in subscriber order
		_, ds := st.due(h(24), 10)
		if len(ds) != 5 {
			t.Fatalf("got %d due, want 5", len(ds))
		}
		at := h(24)
		var as []Attempt
		for _, d := range ds[:4] {
			as = append(as, Attempt{DeliveryID: d.ID, MessageID: fmt.Sprintf("<%d@x>", d.ID)})
		}
		if _, err := st.Sending(t.Context(), as, at); err != nil {
			t.Fatal(err)
		}
		finish := func(o ...Outcome) {
			t.Helper()
			if err := st.Finish(t.Context(), o); err != nil {
				t.Fatal(err)
			}
		}
		finish(Outcome{DeliveryID: ds[2].ID, Status: Unknown, At: at}, Outcome{DeliveryID: ds[3].ID, Status: Deferred, Error: "451 later", NextAttempt: h(25), At: at})
		if n, err := st.RetryUnknown(t.Context(), time.Time{}); err != nil || n != 1 {
			t.Fatalf("retry unknown: %d, %v", n, err)
		}
		finish(Outcome{DeliveryID: ds[1].ID, Status: Unknown, At: at})
		st.remove("p1")
		st.publish(h(25), false)
		st.ledger(
			"sending@example.com daily 2025-01-07 [p1] sending",
			"unknown@example.com daily 2025-01-07 [p1] unknown",
			"retried@example.com daily 2025-01-07 [p1]",
		)
	})
}

func TestContractFrequencyChange(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.publish(h(-1), false, "base")
		ann := st.subscribe("ann@example.com", Immediate, h(0))
		st.publish(h(1), true, "p1")
		st.plan(h(1), 1)
		st.update(ann, h(2), func(s *Subscriber) { s.Frequency = Daily })
		st.publish(h(3), true, "p2")
		st.plan(h(3), 0)  // ann's digest is due tomorrow
		st.plan(h(24), 1) // Tuesday: the digest has p2 only, p1 went out alone
		st.publish(h(25), true, "p3", "p4")
		st.update(ann, h(26), func(s *Subscriber) { s.Frequency = Immediate })
		st.plan(h(26), 2) // back to immediate: what the digest was holding goes out now, one by one
		st.update(ann, h(27), func(s *Subscriber) { s.Frequency = Weekly })
		st.publish(h(28), true, "p5")
		st.plan(h(28), 0) // the week's digest: next Monday
		st.update(ann, h(29), func(s *Subscriber) { s.Frequency = Daily })
		st.plan(h(48), 1) // Wednesday's daily digest has p5
		st.plan(h(24*7), 0)
		st.update(ann, h(24*8), func(s *Subscriber) { s.Frequency = Immediate })
		st.plan(h(24*8), 0)
		st.ledger(
			"ann@example.com [p1]",
			"ann@example.com daily 2025-01-07 [p2]",
			"ann@example.com [p3]",
			"ann@example.com [p4]",
			"ann@example.com daily 2025-01-08 [p5]",
		)
	})
}
