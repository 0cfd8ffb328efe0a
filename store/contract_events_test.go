package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestContractEvents: what RecordEvent does with each kind of event, how it matches one, that a replay
// changes nothing, and what Events and PostEvents then say.
func TestContractEvents(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		ann, _, pat := ledgerSite(t, c)
		bea := c.add(Subscriber{Email: "Bea@Example.com", Status: Active}, chours(1))
		cy := c.add(Subscriber{Email: "cy@example.com", Status: Active}, chours(1))
		base := Item{ID: "old", URL: "u", Hash: "h"}
		c.record(&Run{Started: chours(2), Command: "publish"}, base, post("p1", chours(1.8), true), post("p2", chours(1.9), true))
		c.plan(chours(2), 6) // p1 and p2 to ann, bea and cy
		_, ds := c.due(chours(2), 10)
		// p1 goes to everyone; p2 waits.
		mid := map[int64]string{}
		for _, d := range ds {
			if d.ItemIDs[0] != "p1" {
				continue
			}
			mid[d.SubscriberID] = fmt.Sprintf("<p1.%d@blog.example.com>", d.SubscriberID)
			if _, err := c.Sending(ctx, []Attempt{{DeliveryID: d.ID, MessageID: mid[d.SubscriberID]}}, chours(2.1)); err != nil {
				t.Fatal(err)
			}
			if err := c.Finish(ctx, []Outcome{{DeliveryID: d.ID, Status: Sent, At: chours(2.2)}}); err != nil {
				t.Fatal(err)
			}
		}
		deliveryOf := func(sub int64) int64 {
			for _, d := range ds {
				if d.SubscriberID == sub && d.ItemIDs[0] == "p1" {
					return d.ID
				}
			}
			t.Fatalf("no p1 to %d", sub)
			return 0
		}
		event := func(id, kind, messageID, recipient string, at float64) bool {
			t.Helper()
			ok, err := c.RecordEvent(ctx, Event{Provider: "test", ProviderEventID: id, Kind: kind, At: chours(at),
				ReceivedAt: chours(at + 0.01), Detail: kind + " detail", MessageID: messageID, Recipient: recipient})
			if err != nil {
				t.Fatalf("record event %s: %v", id, err)
			}
			return ok
		}

		// Delivered, by the Message-ID without its brackets, as Mailgun writes it: recorded, nothing changes.
		if !event("d1", EventDelivered, mid[ann.ID][1:len(mid[ann.ID])-1], "", 2.3) {
			t.Error("a new event was not recorded")
		}
		if s := c.sub(ann.ID); s.Status != Active {
			t.Errorf("ann after delivered: %s, want active", s.Status)
		}
		// A soft bounce of bea's: recorded, she stays.
		event("s1", EventSoftBounce, mid[bea.ID], "", 2.4)
		if s := c.sub(bea.ID); s.Status != Active {
			t.Errorf("bea after a soft bounce: %s, want active", s.Status)
		}
		// A hard bounce of bea's: bounced at once, her p2 cancelled.
		event("h1", EventHardBounce, mid[bea.ID], "", 2.5)
		if s := c.sub(bea.ID); s.Status != Bounced {
			t.Errorf("bea after a hard bounce: %s, want bounced", s.Status)
		}
		// cy complains: unsubscribed, the complaint recorded, her p2 cancelled.
		event("c1", EventComplaint, mid[cy.ID], "", 2.6)
		s := c.sub(cy.ID)
		if s.Status != Unsubscribed || !s.ComplainedAt.Equal(c.at(chours(2.6))) || !s.UnsubscribedAt.Equal(c.at(chours(2.6))) {
			t.Errorf("cy after a complaint: %s, complained %v, unsubscribed %v; want unsubscribed at %v both",
				s.Status, s.ComplainedAt, s.UnsubscribedAt, c.at(chours(2.6)))
		}
		got, _ := c.due(chours(3), 10)
		sameStrings(t, "due after the bounce and the complaint", got, []string{fmt.Sprint(ann.ID, ":p2")})
		if dc, _ := c.DeliveryCounts(ctx); dc[Cancelled] != 2 || dc[Sent] != 3 {
			t.Errorf("delivery counts: got %v, want 2 cancelled, 3 sent", dc)
		}

		// A replay of cy's complaint, and of the hard bounce with another kind: nothing changes, and
		// an address that matches no Message-ID is looked up instead.
		if err := c.UpdateSubscriber(ctx, cy.ID, chours(3), func(s *Subscriber) { s.Status = Active }); err != nil {
			t.Fatal(err)
		}
		if event("c1", EventComplaint, mid[cy.ID], "", 3.1) || event("h1", EventComplaint, "", "cy@example.com", 3.1) {
			t.Error("a replayed event was recorded")
		}
		if s := c.sub(cy.ID); s.Status != Active || !s.ComplainedAt.Equal(c.at(chours(2.6))) {
			t.Errorf("cy after replays: %s, complained %v; want active, %v", s.Status, s.ComplainedAt, c.at(chours(2.6)))
		}
		// By address (the domain in another case), when the event has no Message-ID Herald knows: pat,
		// pending, whose confirmation bounced.
		event("h2", EventHardBounce, "<confirm-unknown@blog.example.com>", "pat@EXAMPLE.com", 3.2)
		if s := c.sub(pat.ID); s.Status != Bounced {
			t.Errorf("pat after a hard bounce by address: %s, want bounced", s.Status)
		}
		// A complaint of someone who left already records the complaint and changes nothing else.
		event("c2", EventComplaint, "", "bea@example.com", 3.3)
		if s := c.sub(bea.ID); s.Status != Bounced || !s.ComplainedAt.Equal(c.at(chours(3.3))) {
			t.Errorf("bea after a complaint: %s, complained %v; want bounced, %v", s.Status, s.ComplainedAt, c.at(chours(3.3)))
		}
		// An event about nobody is kept, matched to nothing.
		event("x1", EventHardBounce, "<stranger@elsewhere>", "stranger@example.org", 3.4)
		// The same event id from another provider is another event.
		if !event2(t, c, Event{Provider: "other", ProviderEventID: "d1", Kind: EventDelivered, At: chours(3.5), ReceivedAt: chours(3.5)}) {
			t.Error("another provider's event of the same id was not recorded")
		}

		evs, err := c.Events(ctx, chours(2.45))
		if err != nil {
			t.Fatal(err)
		}
		var brief []string
		for _, e := range evs {
			brief = append(brief, fmt.Sprintf("%s/%s %s d%d s%d", e.Provider, e.ProviderEventID, e.Kind, e.DeliveryID, e.SubscriberID))
		}
		sameStrings(t, "events since 2.45h", brief, []string{
			fmt.Sprintf("test/h1 hard_bounce d%d s%d", deliveryOf(bea.ID), bea.ID),
			fmt.Sprintf("test/c1 complaint d%d s%d", deliveryOf(cy.ID), cy.ID),
			fmt.Sprintf("test/h2 hard_bounce d0 s%d", pat.ID),
			fmt.Sprintf("test/c2 complaint d0 s%d", bea.ID),
			"test/x1 hard_bounce d0 s0",
			"other/d1 delivered d0 s0",
		})
		if e := evs[0]; !e.At.Equal(c.at(chours(2.5))) || !e.ReceivedAt.Equal(c.at(chours(2.51))) || e.Detail != "hard_bounce detail" || e.MessageID != "" {
			t.Errorf("event h1: got %+v", e)
		}

		pe, err := c.PostEvents(ctx, chours(2))
		if err != nil {
			t.Fatal(err)
		}
		if len(pe) != 1 || pe[0].ItemID != "p1" || pe[0].Title != "p1" || pe[0].Sent != 3 || pe[0].HardBounces != 1 || pe[0].Complaints != 1 {
			t.Errorf("events by post: got %+v, want p1 sent 3, 1 hard bounce, 1 complaint", pe)
		}
		if pe, err := c.PostEvents(ctx, chours(2.3)); err != nil || len(pe) != 0 {
			t.Errorf("events by post sent after the last send: got %+v, %v, want none", pe, err)
		}

		// Erasing a subscriber erases their events.
		if err := c.DeleteSubscriber(ctx, bea.ID); err != nil {
			t.Fatal(err)
		}
		evs, _ = c.Events(ctx, time.Time{})
		for _, e := range evs {
			if e.SubscriberID == bea.ID {
				t.Errorf("an event of erased bea is left: %+v", e)
			}
		}
		if len(evs) != 5 {
			t.Errorf("after erasing bea: got %d events, want 5 (3 of hers gone)", len(evs))
		}
	})
}

func event2(t *testing.T, c *cstore, e Event) bool {
	t.Helper()
	ok, err := c.RecordEvent(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestContractEventRejects: an event with no id, no time or an unknown kind is refused, and stores nothing.
func TestContractEventRejects(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		good := Event{Provider: "p", ProviderEventID: "1", Kind: EventDelivered, At: chours(1), ReceivedAt: chours(1)}
		for _, tc := range []struct {
			name   string
			change func(e *Event)
		}{
			{"no provider", func(e *Event) { e.Provider = "" }},
			{"no id", func(e *Event) { e.ProviderEventID = "" }},
			{"unknown kind", func(e *Event) { e.Kind = "opened" }},
			{"no time", func(e *Event) { e.At = time.Time{} }},
		} {
			e := good
			tc.change(&e)
			if ok, err := c.RecordEvent(t.Context(), e); ok || err == nil || errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: got %v, %v, want an error", tc.name, ok, err)
			}
		}
		if evs, err := c.Events(t.Context(), time.Time{}); err != nil || len(evs) != 0 {
			t.Errorf("events after refusals: %v, %v", evs, err)
		}
	})
}
