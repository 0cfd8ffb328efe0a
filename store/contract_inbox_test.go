package store

import (
	"errors"
	"testing"
)

// TestContractFindDelivery: herald inbox finds a sent delivery by its id or by its Message-ID, written
// with or without its brackets, and nothing else.
func TestContractFindDelivery(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		ann, _, _ := ledgerSite(t, c)
		c.record(&Run{Started: chours(2), Command: "publish"}, Item{ID: "old", URL: "u", Hash: "h"}, post("p1", chours(1.8), true), post("p2", chours(1.9), true))
		c.plan(chours(2), 2) // p1 and p2 to ann
		_, ds := c.due(chours(2), 10)
		var sent, unsent Delivery
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
		if _, err := c.Sending(ctx, []Attempt{{DeliveryID: sent.ID, MessageID: "<p1.ann@blog.example.com>"}}, chours(2.1)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name      string
			id        int64
			messageID string
			want      int64 // 0: not found
			item      string
		}{
			{"by id", sent.ID, "", sent.ID, "p1"},
			{"by id, an unsent one", unsent.ID, "", unsent.ID, "p2"},
			{"the id wins over the Message-ID", unsent.ID, "<p1.ann@blog.example.com>", unsent.ID, "p2"},
			{"by Message-ID", 0, "<p1.ann@blog.example.com>", sent.ID, "p1"},
			{"by Message-ID without brackets", 0, " p1.ann@blog.example.com ", sent.ID, "p1"},
			{"an unknown id", sent.ID + unsent.ID + 100, "", 0, ""},
			{"an unknown Message-ID", 0, "<p1.bea@blog.example.com>", 0, ""},
			{"nothing", 0, "", 0, ""},
			{"empty brackets", 0, "<>", 0, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, err := c.FindDelivery(ctx, tc.id, tc.messageID)
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
