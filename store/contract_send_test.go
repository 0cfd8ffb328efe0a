package store

import (
	"fmt"
	"testing"
)

// TestContractSubscribersByID: a sender loads the subscribers of a page of deliveries in one query. Each
// comes back as Subscriber gives it, under its id, whatever its status; an id with no subscriber is left
// out; more ids than one SQLite statement takes are all answered.
func TestContractSubscribersByID(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		var ids []int64
		for i := range maxIDsPerQuery + 20 {
			s := Subscriber{Email: fmt.Sprintf("r%d@example.com", i), Name: fmt.Sprintf("Reader %d", i), Status: Active}
			if i%7 == 0 {
				s.Status = Unsubscribed
			}
			ids = append(ids, c.add(s, chours(1)).ID)
		}
		ask := append([]int64{999999}, ids...) // one unknown id first
		got, err := c.SubscribersByID(t.Context(), ask)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) {
			t.Errorf("got %d subscribers, want %d (the unknown id left out)", len(got), len(ids))
		}
		for _, id := range []int64{ids[0], ids[1], ids[maxIDsPerQuery], ids[len(ids)-1]} {
			sub, ok := got[id]
			if !ok {
				t.Errorf("subscriber %d is missing", id)
				continue
			}
			if diff := sameSubscriber(sub, c.sub(id)); diff != "" {
				t.Errorf("subscriber %d differs from what Subscriber gives:\n%s", id, diff)
			}
		}
		if none, err := c.SubscribersByID(t.Context(), nil); err != nil || len(none) != 0 {
			t.Errorf("no ids: got %v, %v, want none", none, err)
		}
	})
}
