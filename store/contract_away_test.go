package store

import "testing"

// TestContractJoinAway: a new id that carries on an alias gone in an earlier run (history ties one when the
// ids setting changed while the post was off the site) is another id of that post, which comes back: whoever
// had the post does not get it again, and the post is on the site again (checkModel).
func TestContractJoinAway(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.publish(h(-100), false, "base")
		st.subscribe("now@example.com", Immediate, h(-50))
		st.publish(h(1), true, "away")
		st.plan(h(1), 1)
		st.sendAll(h(2))
		st.remove("away")
		st.publish(h(3), false) // away off the site
		it := Item{ID: "away-new-scheme", URL: "https://example.com/away", Title: "away", Hash: "away", Date: h(1),
			Continues: "away"}
		st.posts = append(st.posts, it)
		st.publish(h(4), false) // back under another id
		m := st.items()
		if got := m["away-new-scheme"]; got.Post != m["away"].Post || got.Removed {
			t.Errorf("the new id: got post %d (removed %v), want the post of away, %d, on the site", got.Post, got.Removed, m["away"].Post)
		}
		st.plan(h(5), 0)
		st.ledger("now@example.com [away-new-scheme] sent") // the post under its id now
	})
}
