package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestContractSenders: a sender holds LockSend and takes what is due with ClaimAfter. On SQLite one
// sender runs at a time; on PostgreSQL several share the queue, never claiming the same delivery, and
// when a sender's session ends its claims go to the others and what it left sending is Recover's, while
// what a running sender is sending is left to it. A publishing run's Lock waits for no sender.
func TestContractSenders(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		ledgerSite(t, c)
		for i := range 5 {
			c.add(Subscriber{Email: fmt.Sprintf("r%d@example.com", i), Status: Active}, chours(1))
		}
		c.record(&Run{Started: chours(2), Command: "publish"}, Item{ID: "old", URL: "u", Hash: "h"},
			post("p1", chours(1.8), true), post("p2", chours(1.9), true))
		c.plan(chours(2), 12) // ann and r0..r4 get both posts (dan's digest is not due on the day he joined)
		_, all := c.due(chours(2), 100)
		var ids []int64
		for _, d := range all {
			ids = append(ids, d.ID)
		}

		if _, err := c.ClaimAfter(ctx, chours(2), 0, 10); err == nil {
			t.Error("ClaimAfter without LockSend: got no error")
		}
		a, b := c.Store, c.open(t)
		la, err := a.LockSend(ctx, "send")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.open(t).Lock(ctx, "publish")
		var le *LockedError
		if !errors.As(err, &le) {
			t.Fatalf("Lock while a sender runs: got %v, want a LockedError", err)
		}

		lb, err := b.LockSend(ctx, "send")
		if c.b.name == "sqlite" {
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("a second sender on SQLite: got %v, want ErrLocked", err)
			}
			got, err := a.ClaimAfter(ctx, chours(2), 0, 100)
			if err != nil || !slices.Equal(deliveryIDs(got), ids) {
				t.Errorf("ClaimAfter of the one sender: got %v, %v, want all that is due, %v", deliveryIDs(got), err, ids)
			}
			return
		}
		if err != nil {
			t.Fatalf("a second sender on PostgreSQL: %v", err)
		}
		if le.Senders != 1 || !strings.Contains(le.Error(), "1 running sender") {
			t.Errorf("Lock while a sender runs: got %q, want it to say 1 sender", le)
		}

		// Two senders take disjoint batches.
		ga, err := a.ClaimAfter(ctx, chours(2), 0, 4)
		if err != nil {
			t.Fatal(err)
		}
		gb, err := b.ClaimAfter(ctx, chours(2), 0, 4)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(deliveryIDs(ga), ids[:4]) || !slices.Equal(deliveryIDs(gb), ids[4:8]) {
			t.Fatalf("claims: a %v, b %v, want %v and %v", deliveryIDs(ga), deliveryIDs(gb), ids[:4], ids[4:8])
		}
		// a is sending its first when it ends (Unlock: its session ends, as when it dies, where the server
		// takes the moment it needs to see the connection gone); b is sending its first.
		for _, x := range []struct {
			s  Store
			id int64
		}{{a, ga[0].ID}, {b, gb[0].ID}} {
			if skipped, err := x.s.Sending(ctx, []Attempt{{DeliveryID: x.id, MessageID: fmt.Sprintf("<%d@x>", x.id)}}, chours(2)); err != nil || len(skipped) > 0 {
				t.Fatalf("Sending %d: %v, %v", x.id, skipped, err)
			}
		}
		if err := la.Unlock(); err != nil {
			t.Fatal(err)
		}
		// b recovers what a left sending, and not its own.
		if n, err := b.Recover(ctx); err != nil || n != 1 {
			t.Fatalf("Recover after a died: got %d, %v, want 1", n, err)
		}
		if d := c.delivery(ga[0].SubscriberID, ga[0].ID); d.Status != Unknown {
			t.Errorf("a's message in flight: got %s, want unknown", d.Status)
		}
		if d := c.delivery(gb[0].SubscriberID, gb[0].ID); d.Status != Sending {
			t.Errorf("b's message in flight: got %s, want sending still", d.Status)
		}
		// A new sender gets a's claims and the rest, none of b's.
		cs := c.open(t)
		if _, err := cs.LockSend(ctx, "send"); err != nil {
			t.Fatal(err)
		}
		if n, err := cs.Recover(ctx); err != nil || n != 0 {
			t.Errorf("Recover while b sends: got %d, %v, want 0", n, err)
		}
		gc, err := cs.ClaimAfter(ctx, chours(2), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		want := append(slices.Clone(ids[1:4]), ids[8:]...)
		if !slices.Equal(deliveryIDs(gc), want) {
			t.Errorf("the new sender claims %v, want %v (a's unsent claims and what nobody claimed)", deliveryIDs(gc), want)
		}
		// b finishes: its deferred message is anyone's at its next attempt, and b's other claims are its own
		// while it runs.
		if err := b.Finish(ctx, []Outcome{{DeliveryID: gb[0].ID, Status: Deferred, Error: "451", NextAttempt: chours(3), At: chours(2)}}); err != nil {
			t.Fatal(err)
		}
		gc2, err := cs.ClaimAfter(ctx, chours(3), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		want = append([]int64{gb[0].ID}, want...)
		slices.Sort(want)
		if !slices.Equal(deliveryIDs(gc2), want) {
			t.Errorf("after b deferred one: the new sender claims %v, want %v", deliveryIDs(gc2), want)
		}
		if err := lb.Unlock(); err != nil {
			t.Fatal(err)
		}
		gc3, err := cs.ClaimAfter(ctx, chours(3), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(gc3) != len(ids)-1 { // all but a's unknown one
			t.Errorf("after b ended: the new sender claims %v, want all %d but the unknown one", deliveryIDs(gc3), len(ids)-1)
		}
	})
}

func deliveryIDs(ds []Delivery) []int64 {
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}
