package store

import (
	"maps"
	"testing"
	"time"
)

// digestsQueued counts the digest deliveries in the ledger, by the subscriber's frequency.
func digestsQueued(st *csite) map[string]int {
	st.t.Helper()
	subs, err := st.Subscribers(st.t.Context(), "")
	if err != nil {
		st.t.Fatal(err)
	}
	out := map[string]int{}
	for _, sub := range subs {
		ds, err := st.SubscriberDeliveries(st.t.Context(), sub.ID)
		if err != nil {
			st.t.Fatal(err)
		}
		for _, d := range ds {
			if d.DigestKey != "" {
				out[sub.Frequency]++
			}
		}
	}
	return out
}

// TestContractDigestsDue: DigestsDue at each moment is what PlanWith then queues, by frequency: nothing
// while no post waits for a subscriber whose period passed, nothing for one who chose a tag no post has,
// and a digest once a delayed post is released by the plan itself; and DigestsDue changes nothing.
func TestContractDigestsDue(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours // h(0) is Monday 2025-01-06 09:00 UTC
		st.subscribe("now@example.com", Immediate, h(-30))
		st.subscribe("day@example.com", Daily, h(-30))
		st.subscribe("fresh@example.com", Daily, h(-1)) // in today's period: tomorrow's digest
		st.subscribe("week@example.com", Weekly, h(-200))
		st.subscribe("month@example.com", Monthly, h(-24*40))
		tagged := st.subscribe("tagged@example.com", Daily, h(-30))
		st.update(tagged, h(-30), func(s *Subscriber) { s.Tags = MakeTags("nothing") })

		check := func(at time.Time, want map[string]int) {
			t.Helper()
			got, err := c.DigestsDue(t.Context(), at, defaultPlan)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, want) {
				t.Errorf("DigestsDue at %s: got %v, want %v", at.Format(time.RFC3339), got, want)
			}
			before := digestsQueued(st)
			if _, err := c.PlanWith(t.Context(), at, defaultPlan); err != nil {
				t.Fatal(err)
			}
			queued := digestsQueued(st)
			for f := range queued {
				queued[f] -= before[f]
				if queued[f] == 0 {
					delete(queued, f)
				}
			}
			if !maps.Equal(queued, got) {
				t.Errorf("at %s PlanWith queued digests %v, DigestsDue said %v", at.Format(time.RFC3339), queued, got)
			}
		}

		st.publish(h(0), false, "old")  // the baseline
		check(h(0.5), map[string]int{}) // every period passed, no post: moved on, none due
		st.posts = append(st.posts, Item{ID: "later", URL: "https://example.com/later", Title: "later", Hash: "l",
			Date: h(1), Sendable: true, Delay: 20 * time.Hour})
		st.publish(h(1), true, "p1")
		check(h(2), map[string]int{})          // today's digests went at 0.5
		check(h(16), map[string]int{Daily: 2}) // Tuesday: day and fresh, with p1; later waits until h(21)
		got, err := c.DigestsDue(t.Context(), h(40), defaultPlan)
		if err != nil || got[Daily] != 2 {
			t.Errorf("DigestsDue on Wednesday: got %v, %v, want 2 daily, with later released", got, err)
		}
		if it := c.items()["later"]; it.WaitUntil.IsZero() {
			t.Errorf("DigestsDue released later in the store")
		}
		check(h(40), map[string]int{Daily: 2}) // Wednesday: later, released by the plan
	})
}
