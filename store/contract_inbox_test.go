package store

import (
	"errors"
	"testing"
)

// TestContractFindDelivery: herald inbox finds a sent delivery by its id or by its Message-ID, written
// with or without its brackets, through the recipient the report names or, when that is not the
// delivery's subscriber, among all deliveries; and nothing else.
func TestContractFindDelivery(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		sent, unsent, bea := messageIDSite(t, c)
		for _, tc := range []struct {
			name                 string
			id                   int64
			messageID, recipient string
			want                 int64 // 0: not found
			item                 string
		}{
			{"by id", sent.ID, "", "", sent.ID, "p1"},
			{"by id, an unsent one", unsent.ID, "", "", unsent.ID, "p2"},
			{"the id wins over the Message-ID", unsent.ID, "<p1.ann@blog.example.com>", "", unsent.ID, "p2"},
			{"by Message-ID", 0, "<p1.ann@blog.example.com>", "", sent.ID, "p1"},
			{"by Message-ID without brackets", 0, " p1.ann@blog.example.com ", "", sent.ID, "p1"},
			{"by Message-ID and recipient", 0, "<p1.ann@blog.example.com>", "ann@example.com", sent.ID, "p1"},
			{"by Message-ID without brackets and recipient", 0, "p1.ann@blog.example.com", "ann@example.com", sent.ID, "p1"},
			{"by Message-ID and recipient in another case", 0, "<p1.ann@blog.example.com>", "ANN@EXAMPLE.COM", sent.ID, "p1"},
			{"by Message-ID, the recipient rewritten", 0, "<p1.ann@blog.example.com>", "ann@forward.example.net", sent.ID, "p1"},
			{"by Message-ID, the recipient another subscriber", 0, "<p1.ann@blog.example.com>", bea.Email, sent.ID, "p1"},
			{"by Message-ID, the recipient no address", 0, "p1.ann@blog.example.com", "ann", sent.ID, "p1"},
			{"an unknown id", sent.ID + unsent.ID + 100, "", "", 0, ""},
			{"an unknown Message-ID", 0, "<p1.bea@blog.example.com>", "", 0, ""},
			{"an unknown Message-ID and the recipient", 0, "<p1.bea@blog.example.com>", "ann@example.com", 0, ""},
			{"nothing", 0, "", "", 0, ""},
			{"empty brackets", 0, "<>", "ann@example.com", 0, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, err := c.FindDelivery(ctx, tc.id, tc.messageID, tc.recipient)
				if tc.want == 0 {
					if !errors.Is(err, ErrNotFound) {
						t.Fatalf("got %+v, %v; want an error wrapping ErrNotFound", d, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if d.ID != tc.want || len(d.ItemIDs) != 1 || d.ItemIDs[0] != tc.item {
					t.Errorf("got delivery %d of %v, want %d of %s", d.ID, d.ItemIDs, tc.want, tc.item)
				}
			})
		}
	})
}

// TestContractEventByMessageID: a provider's event finds its delivery by its Message-ID, with or without
// its brackets, through its recipient or, when that is not the delivery's subscriber, among all
// deliveries; an event whose Message-ID is none of Herald's is matched by its recipient alone.
func TestContractEventByMessageID(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		sent, _, bea := messageIDSite(t, c)
		for i, tc := range []struct {
			name                 string
			messageID, recipient string
			delivery, sub        int64 // 0: none
		}{
			{"with the recipient", "<p1.ann@blog.example.com>", "ann@example.com", sent.ID, sent.SubscriberID},
			{"without brackets, with the recipient", "p1.ann@blog.example.com", "Ann@Example.com", sent.ID, sent.SubscriberID},
			{"without a recipient", "<p1.ann@blog.example.com>", "", sent.ID, sent.SubscriberID},
			{"the recipient rewritten", "<p1.ann@blog.example.com>", "ann@forward.example.net", sent.ID, sent.SubscriberID},
			{"the recipient another subscriber", "p1.ann@blog.example.com", bea.Email, sent.ID, sent.SubscriberID},
			{"an unknown Message-ID, by the recipient", "<other@example.org>", bea.Email, 0, bea.ID},
			{"an unknown Message-ID, no subscriber's recipient", "<other@example.org>", "nobody@example.com", 0, 0},
			{"nothing", "", "", 0, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				at := chours(3 + float64(i)/10)
				e := Event{Provider: "test", ProviderEventID: tc.name, Kind: EventDelivered, At: at, ReceivedAt: at,
					MessageID: tc.messageID, Recipient: tc.recipient}
				if ok, err := c.RecordEvent(ctx, e); err != nil || !ok {
					t.Fatalf("record event: got %v, %v, want recorded", ok, err)
				}
				evs, err := c.Events(ctx, at)
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != 1 || evs[0].DeliveryID != tc.delivery || evs[0].SubscriberID != tc.sub {
					t.Fatalf("got events %+v, want one of delivery %d, subscriber %d", evs, tc.delivery, tc.sub)
				}
			})
		}
	})
}

// messageIDSite is ledgerSite with p1 sent to ann as <p1.ann@blog.example.com> and p2 queued for her,
// and bea, who has both queued.
func messageIDSite(t *testing.T, c *cstore) (sent, unsent Delivery, bea Subscriber) {
	t.Helper()
	ann, _, _ := ledgerSite(t, c)
	bea = c.add(Subscriber{Email: "bea@example.com", Status: Active}, chours(1))
	c.record(&Run{Started: chours(2), Command: "publish"}, Item{ID: "old", URL: "u", Hash: "h"}, post("p1", chours(1.8), true), post("p2", chours(1.9), true))
	c.plan(chours(2), 4) // p1 and p2 to ann and bea
	_, ds := c.due(chours(2), 10)
	for _, d := range ds {
		if d.SubscriberID == ann.ID && d.ItemIDs[0] == "p1" {
			sent = d
		} else if d.SubscriberID == ann.ID {
			unsent = d
		}
	}
	if sent.ID == 0 || unsent.ID == 0 {
		t.Fatalf("want ann's p1 and p2, got %+v", ds)
	}
	if _, err := c.Sending(t.Context(), []Attempt{{DeliveryID: sent.ID, MessageID: "<p1.ann@blog.example.com>"}}, chours(2.1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(t.Context(), []Outcome{{DeliveryID: sent.ID, Status: Sent, At: chours(2.2)}}); err != nil {
		t.Fatal(err)
	}
	return sent, unsent, bea
}
