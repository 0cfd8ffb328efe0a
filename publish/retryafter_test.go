package publish

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/store"
)

// TestLedgerRetryAfter: a deferral whose provider asked to wait (Retry-After) is next tried at that
// time when it is later than the ledger's own backoff, and after the backoff otherwise.
func TestLedgerRetryAfter(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	if err := st.Record(ctx, &store.Run{Started: t0, Command: "publish", Baseline: true}, []store.Item{{ID: "old", URL: "u", Hash: "h"}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"ann@example.com", "bob@example.com"} {
		if _, err := st.AddSubscriber(ctx, store.Subscriber{Email: e, Status: store.Active}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Record(ctx, &store.Run{Started: t0.Add(time.Hour), Command: "publish"}, []store.Item{{ID: "old", URL: "u", Hash: "h"},
		{ID: "p1", URL: "https://x/p1", Title: "p1", Date: t0, Hash: "p1", Sendable: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Plan(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ds, err := st.Due(ctx, t0.Add(time.Hour), 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("due: %v, %d", err, len(ds))
	}
	l := &storeLedger{st: st, backoff: 15 * time.Minute}
	at := t0.Add(time.Hour)
	var jobs []mailer.Job
	for _, d := range ds {
		jobs = append(jobs, mailer.Job{ID: d.ID, Message: &mailer.Message{MessageID: "<" + d.ItemIDs[0] + "." + string(rune('0'+d.ID)) + "@x>"}})
	}
	if _, err := l.Commit(ctx, jobs, nil); err != nil {
		t.Fatal(err)
	}
	want := map[int64]time.Time{ds[0].ID: at.Add(2 * time.Hour), ds[1].ID: at.Add(15 * time.Minute)}
	done := []mailer.Result{
		{ID: ds[0].ID, Outcome: mailer.Deferred, Reason: "429", At: at, NotBefore: at.Add(2 * time.Hour)},
		{ID: ds[1].ID, Outcome: mailer.Deferred, Reason: "429", At: at, NotBefore: at.Add(time.Minute)},
	}
	if _, err := l.Commit(ctx, nil, done); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		got, err := st.SubscriberDeliveries(ctx, d.SubscriberID)
		if err != nil || len(got) != 1 {
			t.Fatalf("deliveries of %d: %v, %d", d.SubscriberID, err, len(got))
		}
		if got[0].Status != store.Deferred || !got[0].NextAttemptAt.Equal(want[d.ID]) {
			t.Errorf("delivery %d: %s, next attempt %v; want deferred, %v", d.ID, got[0].Status, got[0].NextAttemptAt, want[d.ID])
		}
	}
}
