package store

import (
	"testing"
)

// TestSendersRetryKeepsClaim: a sender whose message was deferred tries it again in the same run, as the
// mailer's engine does after a 4xx or a lost connection (Finish deferred, then Sending again). While that
// retry is under way the delivery is the sender's: another sender that starts then must not Recover it
// into unknown, and the first sender's outcome must be recorded.
func TestSendersRetryKeepsClaim(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		if c.b.name != "postgres" {
			t.Skip("one sender at a time on SQLite")
		}
		ctx := t.Context()
		ann, _, _ := ledgerSite(t, c)
		c.record(&Run{Started: chours(2), Command: "publish"}, Item{ID: "old", URL: "u", Hash: "h"}, post("p1", chours(1.8), true))
		c.plan(chours(2), 1)
		a := c.Store
		if _, err := a.LockSend(ctx, "send"); err != nil {
			t.Fatal(err)
		}
		got, err := a.ClaimAfter(ctx, chours(2), 0, 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("ClaimAfter: %v, %v", got, err)
		}
		id := got[0].ID
		att := []Attempt{{DeliveryID: id, MessageID: "<1@x>"}}
		if _, err := a.Sending(ctx, att, chours(2)); err != nil {
			t.Fatal(err)
		}
		// The engine's retry: the deferral recorded, then the message started again on a new connection.
		if err := a.Finish(ctx, []Outcome{{DeliveryID: id, Status: Deferred, Error: "451", NextAttempt: chours(2.25), At: chours(2)}}); err != nil {
			t.Fatal(err)
		}
		if skipped, err := a.Sending(ctx, att, chours(2)); err != nil || len(skipped) > 0 {
			t.Fatalf("Sending again: %v, %v", skipped, err)
		}
		b := c.open(t)
		if _, err := b.LockSend(ctx, "send"); err != nil {
			t.Fatal(err)
		}
		if n, err := b.Recover(ctx); err != nil || n != 0 {
			t.Errorf("Recover by a new sender while the first retries its message: got %d, %v, want 0", n, err)
		}
		if d := c.delivery(ann.ID, id); d.Status != Sending {
			t.Errorf("the message being retried: got %s, want sending", d.Status)
		}
		if err := a.Finish(ctx, []Outcome{{DeliveryID: id, Status: Sent, At: chours(2)}}); err != nil {
			t.Errorf("the retry's outcome: %v", err)
		}
	})
}
