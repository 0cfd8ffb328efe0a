package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

// The contract tests: one suite, written against the Store interface, that runs against every backend
// (TestContract*/sqlite, TestContract*/postgres). What the interface's comments promise is checked here
// the same way for both, so that no behaviour exists on one and not the other.

var pg pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

// backend makes stores for the contract tests.
type backend struct {
	name string
	// fresh makes new empty storage for the test and returns a function that opens a Store on it (each
	// call another Store on the same storage, as another process would), closed when the test ends.
	fresh func(t *testing.T) func(t *testing.T) Store
	// keeps is how finely the backend keeps times.
	keeps time.Duration
}

var backends = []backend{
	{"sqlite", func(t *testing.T) func(t *testing.T) Store {
		path := filepath.Join(t.TempDir(), "herald.db")
		return func(t *testing.T) Store { return openStore(t, path) }
	}, time.Nanosecond},
	{"postgres", func(t *testing.T) func(t *testing.T) Store {
		url := pg.DB(t)
		return func(t *testing.T) Store {
			t.Helper()
			s, err := openPostgres(t.Context(), url, Options{}, len(migrations))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}, time.Microsecond},
}

// contract runs test against a new store of each backend.
func contract(t *testing.T, test func(t *testing.T, c *cstore)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			s := open(t)
			test(t, &cstore{Store: s, t: t, b: b, open: open})
			// What the model says of every store, whatever the test did.
			switch s := s.(type) {
			case *sqliteStore:
				checkModel(t, s)
			case *pgStore:
				pgCheckModel(t, s)
			}
		})
	}
}

// cstore is a store under a contract test, with helpers that fail the test on an error.
type cstore struct {
	Store
	t    *testing.T
	b    backend
	open func(t *testing.T) Store
}

// at is t as the backend keeps it.
func (c *cstore) at(t time.Time) time.Time { return t.Truncate(c.b.keeps) }

func (c *cstore) record(r *Run, seen ...Item) *Run {
	c.t.Helper()
	if err := c.Record(c.t.Context(), r, seen); err != nil {
		c.t.Fatalf("record %s: %v", r.Command, err)
	}
	return r
}

// items returns the store's items by id, and checks that Aliases gives what Items does of them.
func (c *cstore) items() map[string]Item {
	c.t.Helper()
	its, err := c.Items(c.t.Context())
	if err != nil {
		c.t.Fatal(err)
	}
	aliases, err := c.Aliases(c.t.Context())
	if err != nil {
		c.t.Fatal(err)
	}
	want := make([]Alias, len(its))
	for i, it := range its {
		want[i] = Alias{ID: it.ID, URL: it.URL, Title: it.Title, Date: it.Date, Hash: it.Hash, Removed: it.Removed}
	}
	same := func(a, b Alias) bool {
		return a.ID == b.ID && a.URL == b.URL && a.Title == b.Title && a.Date.Equal(b.Date) && a.Hash == b.Hash && a.Removed == b.Removed
	}
	if !slices.EqualFunc(aliases, want, same) {
		c.t.Errorf("Aliases: got %+v, want what Items gives of them, in its order: %+v", aliases, want)
	}
	m := map[string]Item{}
	for _, it := range its {
		m[it.ID] = it
	}
	return m
}

func (c *cstore) counts() Counts {
	c.t.Helper()
	n, err := c.Counts(c.t.Context())
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

func (c *cstore) add(sub Subscriber, now time.Time) Subscriber {
	c.t.Helper()
	got, err := c.AddSubscriber(c.t.Context(), sub, now)
	if err != nil {
		c.t.Fatal(err)
	}
	return got
}

func (c *cstore) sub(id int64) Subscriber {
	c.t.Helper()
	got, err := c.Subscriber(c.t.Context(), id)
	if err != nil {
		c.t.Fatal(err)
	}
	return got
}

func (c *cstore) plan(now time.Time, want int) {
	c.t.Helper()
	n, err := c.Plan(c.t.Context(), now)
	if err != nil {
		c.t.Fatal(err)
	}
	if n != want {
		c.t.Errorf("Plan at %s queued %d, want %d", now.Format(time.RFC3339), n, want)
	}
}

// due returns what is due at now as "id:item,item" strings, and the deliveries.
func (c *cstore) due(now time.Time, limit int) ([]string, []Delivery) {
	c.t.Helper()
	ds, err := c.Due(c.t.Context(), now, limit)
	if err != nil {
		c.t.Fatal(err)
	}
	return brieflyAll(ds), ds
}

func brieflyAll(ds []Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%d:%s", d.SubscriberID, strings.Join(d.ItemIDs, ",")))
	}
	return out
}

func (c *cstore) delivery(sub, id int64) Delivery {
	c.t.Helper()
	ds, err := c.SubscriberDeliveries(c.t.Context(), sub)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == id {
			return d
		}
	}
	c.t.Fatalf("subscriber %d has no delivery %d", sub, id)
	return Delivery{}
}

func sameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// A moment with nanoseconds, which SQLite keeps and PostgreSQL cuts to microseconds.
var ct0 = time.Date(2025, 1, 6, 9, 0, 0, 123456789, time.UTC)

func chours(n float64) time.Time { return ct0.Add(time.Duration(n * float64(time.Hour))) }

func TestContractRecord(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		if n := c.counts(); n != (Counts{}) {
			t.Fatalf("a new store has counts %+v, want none", n)
		}
		day := time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)
		r1 := c.record(&Run{Started: chours(0), Finished: chours(0.1), Command: "publish", ConfigHash: "cfg1",
			Items: 4, Baseline: true},
			Item{ID: "b", URL: "https://x/b", Title: "B", Date: day, Hash: "hb"},
			Item{ID: "a", URL: "https://x/a", Title: "A", Hash: "ha"}, // no date
			Item{ID: "B", URL: "https://x/B", Title: "B2", Date: day.Add(time.Hour), Hash: "hB"},
			Item{ID: "c", URL: "https://x/c", Title: "C", Date: day, Hash: "hc"})
		if r1.ID == 0 {
			t.Fatal("Record did not set the run's id")
		}
		its, err := c.Items(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range its {
			ids = append(ids, it.ID)
		}
		sameStrings(t, "items in byte order", ids, []string{"B", "a", "b", "c"})
		b := c.items()["b"]
		if b.URL != "https://x/b" || b.Title != "B" || !b.Date.Equal(day) || b.Hash != "hb" || b.FirstRun != r1.ID ||
			!b.FirstSeen.Equal(c.at(r1.Started)) || b.LastRun != r1.ID || !b.LastSeen.Equal(c.at(r1.Started)) || b.Removed || b.Sendable {
			t.Errorf("after the baseline got %+v", b)
		}
		if a := c.items()["a"]; !a.Date.IsZero() {
			t.Errorf("an item without a date got date %v", a.Date)
		}

		// Run 2: b edited, c gone, d new and sendable, e new and carrying on c: e is another id of c's post.
		r2 := c.record(&Run{Started: chours(1), Command: "publish", ConfigHash: "cfg2", Items: 5, New: 1, Updated: 1, Removed: 1},
			Item{ID: "b", URL: "https://x/b2", Title: "B edited", Date: day, Hash: "hb2", Sendable: true},
			Item{ID: "a", URL: "https://x/a", Title: "A", Hash: "ha"},
			Item{ID: "B", URL: "https://x/B", Title: "B2", Date: day.Add(time.Hour), Hash: "hB"},
			Item{ID: "d", URL: "https://x/d", Title: "D", Date: day, Hash: "hd", Sendable: true},
			Item{ID: "e", URL: "https://x/e", Title: "C", Date: day.Add(2 * time.Hour), Hash: "hc", Continues: "c"})
		m := c.items()
		if b := m["b"]; b.URL != "https://x/b2" || b.Title != "B edited" || b.Hash != "hb2" || b.LastRun != r2.ID ||
			b.FirstRun != r1.ID || b.Sendable {
			t.Errorf("an edited item: got %+v, want the new URL, title and hash, seen by run 2, first seen by run 1, not sendable", b)
		}
		if cc := m["c"]; !cc.Removed || cc.LastRun != r1.ID || !cc.LastSeen.Equal(c.at(r1.Started)) {
			t.Errorf("a removed item: got %+v, want removed, last seen by run 1", cc)
		}
		if d := m["d"]; !d.Sendable || d.FirstRun != r2.ID || d.Removed || d.Post == m["b"].Post {
			t.Errorf("a new item: got %+v, want sendable, first seen by run 2, a post of its own", d)
		}
		if e := m["e"]; e.Post != m["c"].Post || e.FirstRun != r2.ID || e.Removed {
			t.Errorf("an id carrying on c: got post %d, want c's post %d", e.Post, m["c"].Post)
		}
		if n := c.counts(); n != (Counts{Runs: 2, Items: 6, Removed: 1}) {
			t.Errorf("got counts %+v, want 2 runs, 6 items, 1 removed", n)
		}

		// Run 3: c back beside e (the old file restored); a known id keeps its post whatever its Continues.
		c.record(&Run{Started: chours(2), Command: "publish"},
			Item{ID: "c", URL: "https://x/c", Title: "C", Date: day, Hash: "hc", Continues: "d"},
			Item{ID: "e", URL: "https://x/e", Title: "C", Date: day.Add(2 * time.Hour), Hash: "hc"})
		m = c.items()
		if cc := m["c"]; cc.Removed || cc.Post != m["e"].Post {
			t.Errorf("an id back on the site: got %+v, want it on the site, with e's post", cc)
		}
		for _, id := range []string{"a", "b", "B", "d"} {
			if !m[id].Removed || m[id].LastRun != r2.ID {
				t.Errorf("item %s: got %+v, want removed, last seen by run 2", id, m[id])
			}
		}

		runs, err := c.Runs(t.Context(), 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 || runs[0].ID <= runs[1].ID || runs[1].ID != r2.ID {
			t.Fatalf("Runs(2): got %+v, want runs 3 and 2, newest first", runs)
		}
		all, err := c.Runs(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		want := Run{ID: r1.ID, Started: c.at(r1.Started), Finished: c.at(r1.Finished), Command: "publish", ConfigHash: "cfg1",
			Items: 4, Baseline: true}
		if len(all) != 3 || !all[2].Started.Equal(want.Started) || !all[2].Finished.Equal(want.Finished) {
			t.Fatalf("Runs(0): got %+v, want 3 runs, the oldest %+v", all, want)
		}
		got := all[2]
		got.Started, got.Finished, want.Started, want.Finished = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != want || all[1].New != 1 || all[1].Updated != 1 || all[1].Removed != 1 || all[1].ConfigHash != "cfg2" || !all[0].Finished.IsZero() {
			t.Errorf("Runs(0): got %+v, want the runs as recorded", all)
		}
	})
}

func TestContractRecordRejects(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		c.record(&Run{Started: chours(0), Command: "publish"}, Item{ID: "a", URL: "u", Hash: "h"})
		before := c.items()
		for name, tc := range map[string]struct {
			run  *Run
			seen []Item
		}{
			"no start":      {&Run{Command: "publish"}, []Item{{ID: "a"}}},
			"no id":         {&Run{Started: chours(1)}, []Item{{ID: "a"}, {URL: "https://x/none"}}},
			"an id twice":   {&Run{Started: chours(1)}, []Item{{ID: "b"}, {ID: "b"}}},
			"no run at all": {nil, nil},
		} {
			if err := c.Record(t.Context(), tc.run, tc.seen); err == nil {
				t.Errorf("%s: got no error, want one", name)
			}
		}
		if n := c.counts(); n.Runs != 1 || n.Items != 1 {
			t.Errorf("after rejected runs got counts %+v, want the first run's alone", n)
		}
		if after := c.items(); after["a"] != before["a"] || len(after) != 1 {
			t.Errorf("after rejected runs got items %+v, want %+v", after, before)
		}
	})
}

func TestContractSubscribers(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		now := chours(0)
		ann := c.add(Subscriber{Email: "Ann@Example.COM", Name: "Ann"}, now)
		if ann.ID == 0 || ann.Status != Pending || ann.Frequency != Immediate || ann.ConsentSource != FromCommand ||
			!ann.CreatedAt.Equal(c.at(now)) || !ann.ConsentAt.Equal(c.at(now)) || !ann.ConfirmedAt.IsZero() {
			t.Errorf("AddSubscriber's defaults: got %s", sprint(ann))
		}
		if got := c.sub(ann.ID); sameSubscriber(got, ann) != "" {
			t.Errorf("Subscriber gives back another subscriber than was added:\n%s", sameSubscriber(got, ann))
		}
		bob := c.add(Subscriber{Email: "bob@example.com", Status: Active, Frequency: Daily, ConsentIP: "192.0.2.1"}, chours(1))
		if !bob.ConfirmedAt.Equal(c.at(chours(1))) || bob.ConsentIP != "192.0.2.1" {
			t.Errorf("an active subscriber added: got %s, want confirmed at once", sprint(bob))
		}
		for _, email := range []string{"ann@example.com", "ANN@example.com", "Ann@EXAMPLE.com"} {
			if _, err := c.AddSubscriber(ctx, Subscriber{Email: email}, now); !errors.Is(err, ErrExists) {
				t.Errorf("adding %s again: got %v, want ErrExists", email, err)
			}
			if got, err := c.SubscriberByEmail(ctx, email); err != nil || got.ID != ann.ID {
				t.Errorf("SubscriberByEmail(%s): got %d, %v, want subscriber %d", email, got.ID, err, ann.ID)
			}
		}
		if _, err := c.SubscriberByEmail(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("an unknown address: got %v, want ErrNotFound", err)
		}
		if _, err := c.Subscriber(ctx, 999); !errors.Is(err, ErrNotFound) {
			t.Errorf("an unknown id: got %v, want ErrNotFound", err)
		}
		if _, err := c.AddSubscriber(ctx, Subscriber{Email: "not an address"}, now); err == nil {
			t.Error("adding what is not an address: got no error")
		}

		// Import: one new, Ann confirmed (pending → active), Bob unchanged, one unsubscribed row new.
		res, err := c.ImportSubscribers(ctx, []Subscriber{
			{Email: "cy@example.com", Name: "Cy"},
			{Email: "ann@EXAMPLE.com", Frequency: Weekly},
			{Email: "bob@example.com"},
			{Email: "dee@example.com", Status: Unsubscribed},
		}, chours(2))
		if err != nil {
			t.Fatal(err)
		}
		if res != (ImportResult{Added: 2, Updated: 1, Unchanged: 1}) {
			t.Errorf("import: got %+v, want 2 added, 1 updated, 1 unchanged", res)
		}
		cy, err := c.SubscriberByEmail(ctx, "cy@example.com")
		if err != nil || cy.Status != Active || cy.ConsentSource != FromImport || !cy.ConfirmedAt.Equal(c.at(chours(2))) || cy.Name != "Cy" {
			t.Errorf("an imported subscriber: got %s, %v, want active, from import, confirmed at the import", sprint(cy), err)
		}
		a := c.sub(ann.ID)
		if a.Status != Active || a.Frequency != Weekly || !a.ConfirmedAt.Equal(c.at(chours(2))) || a.Name != "Ann" {
			t.Errorf("a pending subscriber imported: got %s, want active, weekly, confirmed at the import, name kept", sprint(a))
		}
		// An import never brings back someone who left, and a bad row stores nothing.
		res, err = c.ImportSubscribers(ctx, []Subscriber{{Email: "dee@example.com", Status: Active}}, chours(3))
		if err != nil || res != (ImportResult{Skipped: 1}) {
			t.Errorf("importing someone unsubscribed: got %+v, %v, want 1 skipped", res, err)
		}
		if _, err := c.ImportSubscribers(ctx, []Subscriber{{Email: "eve@example.com"}, {Email: "bad"}}, chours(3)); err == nil {
			t.Error("an import with a bad row: got no error")
		}
		if _, err := c.SubscriberByEmail(ctx, "eve@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a failed import stored its first row (%v)", err)
		}

		// Update: unsubscribing sets its time; coming back confirms again and clears it.
		at := chours(4)
		if err := c.UpdateSubscriber(ctx, bob.ID, at, func(s *Subscriber) { s.Status = Unsubscribed }); err != nil {
			t.Fatal(err)
		}
		if b := c.sub(bob.ID); b.Status != Unsubscribed || !b.UnsubscribedAt.Equal(c.at(at)) {
			t.Errorf("unsubscribed: got %s", sprint(b))
		}
		if err := c.UpdateSubscriber(ctx, bob.ID, chours(5), func(s *Subscriber) { s.Status = Active; s.Frequency = Immediate }); err != nil {
			t.Fatal(err)
		}
		if b := c.sub(bob.ID); b.Status != Active || !b.ConfirmedAt.Equal(c.at(chours(5))) || !b.UnsubscribedAt.IsZero() {
			t.Errorf("back: got %s, want active, confirmed again, no unsubscription", sprint(b))
		}
		if err := c.UpdateSubscriber(ctx, cy.ID, chours(6), func(s *Subscriber) { s.Frequency = Daily }); err != nil {
			t.Fatal(err)
		}
		if y := c.sub(cy.ID); !y.LastDigestAt.Equal(c.at(chours(6))) {
			t.Errorf("a switch to a digest: got last digest %v, want the switch's time", y.LastDigestAt)
		}
		if err := c.UpdateSubscriber(ctx, cy.ID, at, func(s *Subscriber) { s.Email = "BOB@example.com" }); !errors.Is(err, ErrExists) {
			t.Errorf("renaming to another's address: got %v, want ErrExists", err)
		}
		if err := c.UpdateSubscriber(ctx, 999, at, func(*Subscriber) {}); !errors.Is(err, ErrNotFound) {
			t.Errorf("updating an unknown subscriber: got %v, want ErrNotFound", err)
		}

		subs, err := c.Subscribers(ctx, Active)
		if err != nil {
			t.Fatal(err)
		}
		var emails []string
		for _, s := range subs {
			emails = append(emails, s.Email)
		}
		sameStrings(t, "active subscribers", emails, []string{"Ann@Example.COM", "bob@example.com", "cy@example.com"})
		if all, err := c.Subscribers(ctx, ""); err != nil || len(all) != 4 {
			t.Errorf("all subscribers: got %d, %v, want 4", len(all), err)
		}
		if _, err := c.Subscribers(ctx, "gone"); err == nil {
			t.Error("Subscribers of an unknown status: got no error")
		}
	})
}

func TestContractSignUps(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		web := func(email string, at time.Time) Subscriber {
			return c.add(Subscriber{Email: email, ConsentSource: FromWeb, ConsentAt: at, CreatedAt: at}, at)
		}
		old := web("old@example.com", chours(0))
		fresh := web("fresh@example.com", chours(2))
		left := web("left@example.com", chours(0))
		if err := c.UpdateSubscriber(ctx, left.ID, chours(0.5), func(s *Subscriber) { s.Status = Unsubscribed }); err != nil {
			t.Fatal(err)
		}
		if err := c.UpdateSubscriber(ctx, left.ID, chours(0.6), func(s *Subscriber) { s.Status = Pending }); err != nil {
			t.Fatal(err)
		}
		n, err := c.DeleteExpiredPending(ctx, chours(1))
		if err != nil || n != 1 {
			t.Errorf("DeleteExpiredPending: got %d, %v, want 1", n, err)
		}
		if _, err := c.Subscriber(ctx, old.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("an expired sign-up: got %v, want it deleted", err)
		}
		if l := c.sub(left.ID); l.Status != Unsubscribed {
			t.Errorf("an expired sign-up of someone who had left: got %s, want unsubscribed again", l.Status)
		}
		// DeleteUnsentSignUp matches the consent time exactly, as the caller had it (nanoseconds and all).
		if ok, err := c.DeleteUnsentSignUp(ctx, fresh.ID, chours(2).Add(time.Second)); err != nil || ok {
			t.Errorf("DeleteUnsentSignUp with another consent time: got %v, %v, want false", ok, err)
		}
		if ok, err := c.DeleteUnsentSignUp(ctx, fresh.ID, chours(2)); err != nil || !ok {
			t.Errorf("DeleteUnsentSignUp: got %v, %v, want true", ok, err)
		}
		if _, err := c.Subscriber(ctx, fresh.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("after DeleteUnsentSignUp: got %v, want it deleted", err)
		}
	})
}

// ledgerSite is a store with a baseline and three subscribers: ann immediate, dan daily, pat pending.
func ledgerSite(t *testing.T, c *cstore) (ann, dan, pat Subscriber) {
	c.record(&Run{Started: chours(0), Command: "publish", Baseline: true}, Item{ID: "old", URL: "u", Hash: "h"})
	ann = c.add(Subscriber{Email: "ann@example.com", Status: Active}, chours(1))
	dan = c.add(Subscriber{Email: "dan@example.com", Status: Active, Frequency: Daily}, chours(1))
	pat = c.add(Subscriber{Email: "pat@example.com"}, chours(1))
	return ann, dan, pat
}

func post(id string, at time.Time, sendable bool) Item {
	return Item{ID: id, URL: "https://x/" + id, Title: id, Date: at, Hash: id, Sendable: sendable}
}

func TestContractPlanAndSend(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		ann, dan, pat := ledgerSite(t, c)
		c.plan(chours(1.5), 0) // nothing new
		c.record(&Run{Started: chours(2), Command: "publish"}, Item{ID: "old", URL: "u", Hash: "h"},
			post("p1", chours(1.8), true), post("p2", chours(1.9), true))
		c.plan(chours(2), 2) // ann, one each; dan's digest waits for the next day; pat is pending
		c.plan(chours(2), 0)
		got, ds := c.due(chours(2), 10)
		sameStrings(t, "due", got, []string{fmt.Sprint(ann.ID, ":p1"), fmt.Sprint(ann.ID, ":p2")})
		if got, _ := c.due(chours(2), 1); len(got) != 1 {
			t.Errorf("Due with limit 1: got %d", len(got))
		}
		if after, err := c.DueAfter(ctx, chours(2), ds[0].ID, 10); err != nil || len(after) != 1 || after[0].ID != ds[1].ID {
			t.Errorf("DueAfter the first: got %v, %v, want the second", brieflyAll(after), err)
		}

		// Sending, then its outcome; a second Sending of it is skipped; a Message-ID sticks.
		skipped, err := c.Sending(ctx, []Attempt{{DeliveryID: ds[0].ID, MessageID: "<1@x>"}}, chours(2.1))
		if err != nil || len(skipped) != 0 {
			t.Fatalf("Sending: got skipped %v, %v", skipped, err)
		}
		if got, _ := c.due(chours(2.1), 10); len(got) != 1 {
			t.Errorf("a delivery being sent is still due: %v", got)
		}
		if skipped, err := c.Sending(ctx, []Attempt{{DeliveryID: ds[0].ID, MessageID: "<1@x>"}}, chours(2.1)); err != nil || !slices.Equal(skipped, []int64{ds[0].ID}) {
			t.Errorf("a second Sending: got skipped %v, %v, want it skipped", skipped, err)
		}
		if err := c.Finish(ctx, []Outcome{{DeliveryID: ds[0].ID, Status: Deferred, Error: "451 later", NextAttempt: chours(3), At: chours(2.2)}}); err != nil {
			t.Fatal(err)
		}
		if d := c.delivery(ann.ID, ds[0].ID); d.Status != Deferred || d.Attempts != 1 || d.LastError != "451 later" ||
			!d.NextAttemptAt.Equal(c.at(chours(3))) || d.MessageID != "<1@x>" || !d.SendingAt.Equal(c.at(chours(2.1))) {
			t.Errorf("deferred: got %+v", d)
		}
		if got, _ := c.due(chours(2.9), 10); len(got) != 1 {
			t.Errorf("a deferred delivery is due before its time: %v", got)
		}
		if got, _ := c.due(chours(3), 10); len(got) != 2 {
			t.Errorf("a deferred delivery is not due at its time: %v", got)
		}
		if _, err := c.Sending(ctx, []Attempt{{DeliveryID: ds[0].ID, MessageID: "<other@x>"}}, chours(3)); err == nil {
			t.Error("sending again with another Message-ID: got no error")
		}
		// Commit: one outcome and the next attempt together.
		if _, err := c.Sending(ctx, []Attempt{{DeliveryID: ds[0].ID, MessageID: "<1@x>"}}, chours(3)); err != nil {
			t.Fatal(err)
		}
		skipped, err = c.Commit(ctx, []Outcome{{DeliveryID: ds[0].ID, Status: Sent, At: chours(3.1)}},
			[]Attempt{{DeliveryID: ds[1].ID, MessageID: "<2@x>"}}, chours(3.1))
		if err != nil || len(skipped) != 0 {
			t.Fatalf("Commit: %v, %v", skipped, err)
		}
		if d := c.delivery(ann.ID, ds[0].ID); d.Status != Sent || !d.SentAt.Equal(c.at(chours(3.1))) || d.Attempts != 2 || d.LastError != "" {
			t.Errorf("sent: got %+v", d)
		}
		if d := c.delivery(ann.ID, ds[1].ID); d.Status != Sending || d.MessageID != "<2@x>" {
			t.Errorf("marked sending by Commit: got %+v", d)
		}
		// A Finish of what is not being sent records nothing, the rest of its batch included.
		if err := c.Finish(ctx, []Outcome{{DeliveryID: ds[1].ID, Status: Sent, At: chours(3.2)},
			{DeliveryID: ds[0].ID, Status: Failed, At: chours(3.2)}}); err == nil {
			t.Error("Finish of a delivery already sent: got no error")
		}
		if d := c.delivery(ann.ID, ds[1].ID); d.Status != Sending {
			t.Errorf("a rejected batch recorded an outcome: got %s", d.Status)
		}
		if err := c.Finish(ctx, []Outcome{{DeliveryID: ds[1].ID, Status: "lost", At: chours(3.2)}}); err == nil {
			t.Error("Finish with an unknown status: got no error")
		}

		// The next day dan gets his digest of both posts, newest first; pat nothing.
		c.plan(chours(24), 1)
		got, _ = c.due(chours(24), 10)
		sameStrings(t, "the digest", got, []string{fmt.Sprint(dan.ID, ":p2,p1")})
		c.plan(chours(25), 0)
		if ds, err := c.SubscriberDeliveries(ctx, pat.ID); err != nil || len(ds) != 0 {
			t.Errorf("a pending subscriber's deliveries: got %v, %v, want none", ds, err)
		}
		dc, err := c.DeliveryCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{Sent: 1, Sending: 1, Queued: 1}; fmt.Sprint(dc) != fmt.Sprint(want) {
			t.Errorf("DeliveryCounts: got %v, want %v", dc, want)
		}
		if n := c.counts(); n.Deliveries != 3 || n.Subscribers != 3 {
			t.Errorf("Counts: got %+v, want 3 deliveries, 3 subscribers", n)
		}
	})
}

// TestContractOnePostOnce: a post that moves to another id, or leaves and comes back, reaches each
// subscriber once; one that leaves before it is sent leaves the queue.
func TestContractOnePostOnce(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ann, _, _ := ledgerSite(t, c)
		base := Item{ID: "old", URL: "u", Hash: "h"}
		c.record(&Run{Started: chours(2), Command: "publish"}, base, post("p1", chours(1.8), true))
		c.plan(chours(2), 1)
		_, ds := c.due(chours(2), 10)
		if _, err := c.Commit(t.Context(), nil, []Attempt{{DeliveryID: ds[0].ID, MessageID: "<p1@x>"}}, chours(2)); err != nil {
			t.Fatal(err)
		}
		if err := c.Finish(t.Context(), []Outcome{{DeliveryID: ds[0].ID, Status: Sent, At: chours(2)}}); err != nil {
			t.Fatal(err)
		}
		// p1 re-dated: its id changes, carried on.
		moved := post("p1-new", chours(1.8), true)
		moved.Continues = "p1"
		c.record(&Run{Started: chours(3), Command: "publish"}, base, moved)
		c.plan(chours(3), 0)
		// p2 new, then gone before it is sent: it leaves the queue; back later, it is planned again.
		c.record(&Run{Started: chours(4), Command: "publish"}, base, moved, post("p2", chours(3.5), true))
		c.plan(chours(4), 1)
		c.record(&Run{Started: chours(5), Command: "publish"}, base, moved)
		if got, _ := c.due(chours(5), 10); len(got) != 0 {
			t.Errorf("a post taken off the site is still due: %v", got)
		}
		c.record(&Run{Started: chours(6), Command: "publish"}, base, moved, post("p2", chours(3.5), true))
		c.plan(chours(6), 1)
		got, _ := c.due(chours(6), 10)
		sameStrings(t, "due after p2 came back", got, []string{fmt.Sprint(ann.ID, ":p2")})
		c.plan(chours(7), 0)
	})
}

func TestContractUnsubscribeAndBounce(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		ann, _, _ := ledgerSite(t, c)
		bea := c.add(Subscriber{Email: "bea@example.com", Status: Active}, chours(1))
		base := Item{ID: "old", URL: "u", Hash: "h"}
		c.record(&Run{Started: chours(2), Command: "publish"}, base, post("p1", chours(1.8), true), post("p2", chours(1.9), true))
		c.plan(chours(2), 4)
		if err := c.UpdateSubscriber(ctx, ann.ID, chours(2.5), func(s *Subscriber) { s.Status = Unsubscribed }); err != nil {
			t.Fatal(err)
		}
		got, ds := c.due(chours(3), 10)
		sameStrings(t, "due after ann left", got, []string{fmt.Sprint(bea.ID, ":p1"), fmt.Sprint(bea.ID, ":p2")})
		if dc, _ := c.DeliveryCounts(ctx); dc[Cancelled] != 2 {
			t.Errorf("ann's deliveries: got counts %v, want 2 cancelled", dc)
		}
		// Two 5.1.1 replies make bea bounced, and cancel what waits for her.
		for _, d := range ds[:1] {
			if _, err := c.Sending(ctx, []Attempt{{DeliveryID: d.ID, MessageID: "<b@x>"}}, chours(3)); err != nil {
				t.Fatal(err)
			}
			if err := c.Finish(ctx, []Outcome{{DeliveryID: d.ID, Status: Failed, Error: "550 5.1.1 no such user", EnhancedCode: "5.1.1", At: chours(3)}}); err != nil {
				t.Fatal(err)
			}
		}
		if b := c.sub(bea.ID); b.Status != Active || b.HardBounces != 1 {
			t.Errorf("after one bounce: got %s, %d bounces, want active, 1", b.Status, b.HardBounces)
		}
		if _, err := c.Sending(ctx, []Attempt{{DeliveryID: ds[1].ID, MessageID: "<b2@x>"}}, chours(3)); err != nil {
			t.Fatal(err)
		}
		c.record(&Run{Started: chours(4), Command: "publish"}, base, post("p1", chours(1.8), true), post("p2", chours(1.9), true), post("p3", chours(3.9), true))
		c.plan(chours(4), 1)
		if err := c.Finish(ctx, []Outcome{{DeliveryID: ds[1].ID, Status: Failed, EnhancedCode: "5.1.1", At: chours(4)}}); err != nil {
			t.Fatal(err)
		}
		if b := c.sub(bea.ID); b.Status != Bounced || b.HardBounces != 2 {
			t.Errorf("after two bounces: got %s, %d bounces, want bounced, 2", b.Status, b.HardBounces)
		}
		if got, _ := c.due(chours(5), 10); len(got) != 0 {
			t.Errorf("due after every subscriber left: %v", got)
		}
		if dc, _ := c.DeliveryCounts(ctx); dc[Cancelled] != 3 || dc[Failed] != 2 {
			t.Errorf("delivery counts: got %v, want 3 cancelled, 2 failed", dc)
		}
	})
}

func TestContractRecover(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		ann, _, _ := ledgerSite(t, c)
		c.record(&Run{Started: chours(2), Command: "publish"}, Item{ID: "old", URL: "u", Hash: "h"},
			post("p1", chours(1.8), true), post("p2", chours(1.9), true))
		c.plan(chours(2), 2)
		_, ds := c.due(chours(2), 10)
		if _, err := c.Sending(ctx, []Attempt{{DeliveryID: ds[0].ID, MessageID: "<r@x>"}}, chours(2)); err != nil {
			t.Fatal(err)
		}
		// The run dies here; the next one recovers.
		if n, err := c.Recover(ctx); err != nil || n != 1 {
			t.Fatalf("Recover: got %d, %v, want 1", n, err)
		}
		if n, err := c.Recover(ctx); err != nil || n != 0 {
			t.Errorf("Recover again: got %d, %v, want 0", n, err)
		}
		d := c.delivery(ann.ID, ds[0].ID)
		if d.Status != Unknown || d.Attempts != 1 || d.LastError == "" {
			t.Errorf("recovered: got %+v, want unknown after 1 attempt, with why", d)
		}
		if got, _ := c.due(chours(3), 10); len(got) != 1 {
			t.Errorf("an unknown delivery is due: %v", got)
		}
		// Only what was first tried at since or later, when since is set (its first attempt was at 2).
		if n, err := c.RetryUnknown(ctx, chours(2.5)); err != nil || n != 0 {
			t.Fatalf("RetryUnknown since after its first attempt: got %d, %v, want 0", n, err)
		}
		if n, err := c.RetryUnknown(ctx, chours(2)); err != nil || n != 1 {
			t.Fatalf("RetryUnknown: got %d, %v, want 1", n, err)
		}
		_, ds2 := c.due(chours(3), 10)
		if len(ds2) != 2 || ds2[0].ID != ds[0].ID || ds2[0].MessageID != "<r@x>" {
			t.Fatalf("after RetryUnknown: got %+v, want it queued with its Message-ID", ds2)
		}
		// A retried delivery, which may have reached the server, stays in the queue when its post leaves,
		// deferred or not; one never tried leaves it.
		if _, err := c.Sending(ctx, []Attempt{{DeliveryID: ds[0].ID, MessageID: "<r@x>"}}, chours(3.5)); err != nil {
			t.Fatal(err)
		}
		if err := c.Finish(ctx, []Outcome{{DeliveryID: ds[0].ID, Status: Deferred, Error: "451", NextAttempt: chours(6), At: chours(3.5)}}); err != nil {
			t.Fatal(err)
		}
		c.record(&Run{Started: chours(4), Command: "publish"}, Item{ID: "old", URL: "u", Hash: "h"})
		got, _ := c.due(chours(6), 10)
		sameStrings(t, "due after both posts left", got, []string{fmt.Sprint(ann.ID, ":p1")})

		// FailOld: deferred since its first attempt (at 2) longer than the age.
		if n, err := c.FailOld(ctx, chours(6), 5*time.Hour); err != nil || n != 0 {
			t.Errorf("FailOld before its age: got %d, %v, want 0", n, err)
		}
		if n, err := c.FailOld(ctx, chours(7.1), 5*time.Hour); err != nil || n != 1 {
			t.Errorf("FailOld: got %d, %v, want 1", n, err)
		}
		if d := c.delivery(ann.ID, ds[0].ID); d.Status != Failed || !strings.Contains(d.LastError, "451") {
			t.Errorf("failed for its age: got %+v", d)
		}
	})
}

func TestContractDeleteSubscriber(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ann, _, _ := ledgerSite(t, c)
		c.record(&Run{Started: chours(2), Command: "publish"}, Item{ID: "old", URL: "u", Hash: "h"}, post("p1", chours(1.8), true))
		c.plan(chours(2), 1)
		if err := c.DeleteSubscriber(t.Context(), ann.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Subscriber(t.Context(), ann.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("a deleted subscriber: got %v, want ErrNotFound", err)
		}
		if n := c.counts(); n.Deliveries != 0 || n.Subscribers != 2 {
			t.Errorf("after the erasure got counts %+v, want no deliveries, 2 subscribers", n)
		}
		if err := c.DeleteSubscriber(t.Context(), ann.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting again: got %v, want ErrNotFound", err)
		}
		// ann's address may sign up again as someone new.
		if again := c.add(Subscriber{Email: "ann@example.com"}, chours(3)); again.ID == ann.ID {
			t.Errorf("a new subscriber got the erased one's id %d", ann.ID)
		}
	})
}

func TestContractLock(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		other := c.open(t)
		host, _ := os.Hostname()
		l, err := c.Lock(t.Context(), "publish")
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]Store{"the same store": c.Store, "another store": other} {
			start := time.Now()
			_, err := s.Lock(t.Context(), "send")
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("%s: a second Lock took %v, want it to fail at once", name, took)
			}
			var le *LockedError
			if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
				t.Fatalf("%s: got %v, want a *LockedError", name, err)
			}
			if le.PID != os.Getpid() || le.Host != host || le.Command != "publish" || time.Since(le.Since) > time.Minute {
				t.Errorf("%s: got holder %+v, want pid %d on %s, publish, since just now", name, le, os.Getpid(), host)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
				t.Errorf("%s: got error %q, want it to say who holds the lock", name, err)
			}
		}
		// Reads and writes do not wait for the run lock.
		c.record(&Run{Started: chours(0), Command: "publish"}, Item{ID: "a", URL: "u", Hash: "h"})
		if _, err := other.Items(t.Context()); err != nil {
			t.Errorf("read while locked: %v", err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(); err != nil {
			t.Errorf("a second Unlock: %v", err)
		}
		l2, err := other.Lock(t.Context(), "send")
		if err != nil {
			t.Fatalf("Lock after Unlock: %v", err)
		}
		// Closing the store releases what it holds.
		if err := other.Close(); err != nil {
			t.Fatal(err)
		}
		l3, err := c.Lock(t.Context(), "publish")
		if err != nil {
			t.Fatalf("Lock after the holder's store was closed: %v", err)
		}
		l3.Unlock()
		l2.Unlock() // after Close: does nothing harmful
	})
}

// TestContractConcurrentWriters: runs, plans and subscribers written at once through two stores on the
// same storage (two processes) all succeed, one after the other, and leave one delivery per post and
// subscriber.
func TestContractConcurrentWriters(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		other := c.open(t)
		c.record(&Run{Started: chours(0), Command: "publish", Baseline: true}, Item{ID: "old", URL: "u", Hash: "h"})
		const n = 20
		errs := make(chan error, 6*n) // every call of both stores
		var wg sync.WaitGroup
		for w, s := range []Store{c.Store, other} {
			wg.Go(func() { // each store records the whole site with one more post of its own each time
				seen := []Item{{ID: "old", URL: "u", Hash: "h"}}
				for i := range n {
					seen = append(seen, post(fmt.Sprintf("w%d-%d", w, i), chours(1), true))
					errs <- s.Record(t.Context(), &Run{Started: chours(1 + float64(i)/100), Command: "publish"}, seen)
				}
			})
			wg.Go(func() {
				for i := range n {
					_, err := s.AddSubscriber(t.Context(), Subscriber{Email: fmt.Sprintf("s%d-%d@example.com", w, i), Status: Active}, chours(0.5))
					errs <- err
					_, err = s.Plan(t.Context(), chours(2))
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		c.Plan(t.Context(), chours(2))
		c.plan(chours(2), 0)
		if got := c.counts(); got.Runs != 1+2*n || got.Subscribers != 2*n {
			t.Errorf("got counts %+v, want %d runs and %d subscribers", got, 1+2*n, 2*n)
		}
		// The site is what the last run saw: one writer's posts, all of them.
		var on []string
		for id, it := range c.items() {
			if !it.Removed && id != "old" {
				on = append(on, id)
			}
		}
		slices.Sort(on)
		if len(on) != n || !strings.HasPrefix(on[0], "w") || !strings.HasPrefix(on[n-1], on[0][:3]) {
			t.Errorf("got on the site %q, want the %d posts of one writer", on, n)
		}
		// Each subscriber has at most one delivery of each post.
		subs, err := c.Subscribers(t.Context(), Active)
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range subs {
			ds, err := c.SubscriberDeliveries(t.Context(), sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			had := map[string]bool{}
			for _, d := range ds {
				for _, id := range d.ItemIDs {
					if had[id] {
						t.Errorf("%s got %s twice", sub.Email, id)
					}
					had[id] = true
				}
			}
		}
	})
}

// TestContractServeState: herald serve's sign-up queue, limit counts and write check.
func TestContractServeState(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		in := []QueuedSignUp{
			{Email: "Ann@Example.com", Name: "Ann", Frequency: Weekly, IP: "192.0.2.1", At: chours(0)},
			{Email: "bob@example.com", IP: "2001:db8::1", At: chours(1)},
		}
		for _, q := range in {
			if err := c.QueueSignUp(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		qs, err := c.QueuedSignUps(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) != 2 || qs[0].ID == 0 || qs[1].ID <= qs[0].ID {
			t.Fatalf("got queue %+v, want both, oldest first", qs)
		}
		for i, q := range qs {
			got, want := q, in[i]
			sameAt := got.At.Equal(c.at(want.At))
			got.At, want.At, want.ID = time.Time{}, time.Time{}, got.ID
			if got != want || !sameAt {
				t.Errorf("queued sign-up %d: got %+v, want %+v", i, q, in[i])
			}
		}
		if one, err := c.QueuedSignUps(ctx, 1); err != nil || len(one) != 1 || one[0].ID != qs[0].ID {
			t.Errorf("QueuedSignUps(1): got %+v, %v, want the oldest", one, err)
		}
		if err := c.DequeueSignUp(ctx, qs[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := c.DequeueSignUp(ctx, qs[0].ID); err != nil {
			t.Errorf("dequeue again: %v, want no error", err)
		}
		if left, err := c.QueuedSignUps(ctx, 10); err != nil || len(left) != 1 || left[0].ID != qs[1].ID {
			t.Errorf("after a dequeue: got %+v, %v, want the second alone", left, err)
		}

		take := func(key string, n int, at time.Time, want int) {
			t.Helper()
			got, err := c.TakeLimit(ctx, key, n, time.Hour, at)
			if err != nil || got != want {
				t.Errorf("TakeLimit(%s, %d) at %s: got %d, %v, want %d", key, n, at.Format("15:04:05.000000000"), got, err, want)
			}
		}
		take("a", 2, chours(0), 1)
		take("a", 2, chours(0.5), 2)
		take("a", 2, chours(0.9), 0) // full
		take("b", 2, chours(0.9), 1)
		take("a", 2, chours(1).Add(-time.Microsecond), 0)
		take("a", 2, chours(1), 1) // its window ended: a new one
		take("c", 0, chours(1), 0)
		if n, err := c.PruneLimits(ctx, chours(1.95)); err != nil || n != 1 {
			t.Errorf("PruneLimits: got %d, %v, want 1 (b's window ended)", n, err)
		}
		take("b", 2, chours(1.95), 1)
		for _, at := range []time.Time{chours(2), chours(3)} {
			if err := c.CheckWrite(ctx, at); err != nil {
				t.Errorf("CheckWrite: %v", err)
			}
		}
	})
}

// TestContractAliasesThenRecord: a run that read the aliases (Aliases, as a publish does to diff) and then
// records them sees what another process recorded in between: here b removed and c new, so that b is back
// and c is known, with its post, when this run records a, b and c.
func TestContractAliasesThenRecord(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		day := time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)
		a := Item{ID: "a", URL: "https://x/a", Title: "A", Date: day, Hash: "ha"}
		b := Item{ID: "b", URL: "https://x/b", Title: "B", Date: day, Hash: "hb"}
		cc := Item{ID: "c", URL: "https://x/c", Title: "C", Date: day, Hash: "hc", Sendable: true}
		c.record(&Run{Started: chours(0), Command: "publish", Baseline: true}, a, b)
		if _, err := c.Aliases(t.Context()); err != nil {
			t.Fatal(err)
		}
		other := &cstore{Store: c.open(t), t: t, b: c.b, open: c.open}
		r2 := other.record(&Run{Started: chours(1), Command: "publish"}, a, cc)
		if err := c.Record(t.Context(), &Run{Started: chours(2), Command: "publish"}, []Item{a, b, cc}); err != nil {
			t.Fatalf("record after another process recorded: %v", err)
		}
		m := c.items()
		if m["b"].Removed || m["a"].Removed || m["c"].Removed {
			t.Errorf("after the third run: got %+v, want a, b and c on the site", m)
		}
		if m["c"].FirstRun != r2.ID || !m["c"].Sendable {
			t.Errorf("c: got %+v, want first seen by the other process's run %d, sendable", m["c"], r2.ID)
		}
		if n := c.counts(); n.Items != 3 || n.Removed != 0 {
			t.Errorf("got counts %+v, want 3 items, none removed", n)
		}
	})
}
