package store

import (
	"testing"
	"time"
)

// TestContractWaitAndChange: what becomes of a post whose mail waits (email_after, hold) when the post
// changes meanwhile: it is carried on to another id, or taken off the site.
func TestContractWaitAndChange(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.subscribe("now@example.com", Immediate, h(-10))
		st.subscribe("day@example.com", Daily, h(-10))
		st.posts = []Item{
			{ID: "held", URL: "https://example.com/held", Hash: "1", Date: h(0), Sendable: true, Held: true},
			{ID: "later", URL: "https://example.com/later", Hash: "2", Date: h(0), Sendable: true, Delay: 2 * time.Hour},
			{ID: "gone", URL: "https://example.com/gone", Hash: "3", Date: h(0), Sendable: true, Delay: 2 * time.Hour},
		}
		st.record(&Run{Started: h(0), Command: "publish"}, st.posts...)
		st.plan(h(0.5), 0)
		// During the wait: held and later change their ids (re-dated), gone leaves the site.
		st.carry(h(1), "held", "held-2")
		st.carry(h(1), "later", "later-2")
		st.remove("gone")
		st.publish(h(1.5), false)
		st.plan(h(1.5), 0)
		if it := c.items()["held-2"]; !it.Held {
			t.Errorf("held, carried on to held-2: got %+v, want it still held", it)
		}
		st.plan(h(3), 1) // later-2, once; gone not at all; held-2 still held
		// The approval finds the post by its new id, and by its old one as well.
		if ok, err := c.Approve(t.Context(), "held"); err != nil || !ok {
			t.Fatalf("approve held (its old id): got %v, %v, want true", ok, err)
		}
		if ok, err := c.Approve(t.Context(), "held-2"); err != nil || ok {
			t.Errorf("approve held-2 after held: got %v, %v, want false (approved already), nil", ok, err)
		}
		st.plan(h(4), 1)
		st.plan(h(24), 1) // the day's digest: the two posts, once each
		st.plan(h(48), 0)
		st.ledger(
			"now@example.com [later-2]",
			"now@example.com [held-2]",
			"day@example.com daily 2025-01-07 [held-2 later-2]",
		)
	})
}

// TestContractWaitFollowsEdits: a post whose mail waits (email_after) is mailed as it is when the wait
// ends, its front matter too: email: false added meanwhile mails it to no one, and the tags and language
// it has then decide who gets it, not those it was first recorded with.
func TestContractWaitFollowsEdits(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.add(Subscriber{Email: "go@example.com", Status: Active, Tags: MakeTags("go"), ConfirmedAt: h(-10)}, h(-10))
		st.add(Subscriber{Email: "rust@example.com", Status: Active, Tags: MakeTags("rust"), ConfirmedAt: h(-10)}, h(-10))
		st.posts = []Item{
			{ID: "off", URL: "https://example.com/off", Hash: "1", Date: h(0), Sendable: true, Delay: 2 * time.Hour, Tags: MakeTags("go")},
			{ID: "retagged", URL: "https://example.com/retagged", Hash: "2", Date: h(0), Sendable: true, Delay: 2 * time.Hour, Tags: MakeTags("rust")},
		}
		st.record(&Run{Started: h(0), Command: "publish"}, st.posts...)
		// An hour later: off gets email: false, retagged goes from rust to go.
		st.posts[0].NoEmail, st.posts[0].Hash = true, "1b"
		st.posts[1].Tags, st.posts[1].Hash = MakeTags("Go"), "2b"
		st.publish(h(1), false)
		st.plan(h(3), 1)
		st.ledger("go@example.com [retagged]")
		ch, err := c.Choices(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Tags) != 1 || ch.Tags[0] != "go" {
			t.Errorf("got topics %q, want go alone", ch.Tags)
		}
		// Once mailed, a post's record stays as it was: an edit after the wait changes nothing.
		st.posts[1].Tags, st.posts[1].Hash = MakeTags("rust"), "2c"
		st.publish(h(4), false)
		st.plan(h(5), 0)
	})
}
