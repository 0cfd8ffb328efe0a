package inbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

var (
	secret  = []byte("0123456789abcdef0123456789abcdef")
	t0      = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	pattern = "bounces+{token}@blog.example.com"
)

// sentSite makes a store with one post sent to each of emails, and returns it with the deliveries by
// address.
func sentSite(t *testing.T, emails ...string) (store.Store, map[string]store.Delivery) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Record(ctx, &store.Run{Started: t0, Command: "publish", Baseline: true}, []store.Item{{ID: "old", URL: "u", Hash: "h"}}); err != nil {
		t.Fatal(err)
	}
	subs := map[int64]string{}
	for _, e := range emails {
		s, err := st.AddSubscriber(ctx, store.Subscriber{Email: e, Status: store.Active}, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		subs[s.ID] = e
	}
	run := &store.Run{Started: t0.Add(time.Hour), Command: "publish"}
	if err := st.Record(ctx, run, []store.Item{{ID: "old", URL: "u", Hash: "h"},
		{ID: "p1", URL: "https://blog.example.com/p1", Title: "p1", Date: t0, Hash: "p1", Sendable: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Plan(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ds, err := st.Due(ctx, t0.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Delivery{}
	for _, d := range ds {
		d.MessageID = fmt.Sprintf("<p1.%d@blog.example.com>", d.ID)
		if _, err := st.Sending(ctx, []store.Attempt{{DeliveryID: d.ID, MessageID: d.MessageID}}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.Finish(ctx, []store.Outcome{{DeliveryID: d.ID, Status: store.Sent, At: t0.Add(time.Hour)}}); err != nil {
			t.Fatal(err)
		}
		out[subs[d.SubscriberID]] = d
	}
	if len(out) != len(emails) {
		t.Fatalf("%d deliveries for %d subscribers", len(out), len(emails))
	}
	return st, out
}

// writeMaildir makes a Maildir folder with the messages in new/, named in order.
func writeMaildir(t *testing.T, msgs ...[]byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "Maildir")
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range msgs {
		if err := os.WriteFile(filepath.Join(dir, "new", fmt.Sprintf("%03d.herald-test", i)), m, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func status(t *testing.T, st store.Store, email string) store.Subscriber {
	t.Helper()
	s, err := st.SubscriberByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProcessMaildir: a Maildir holding a hard bounce (matched by its VERP address alone: its Message-ID
// is not Herald's), a soft one and a complaint (by the Message-IDs they attach), an unsubscribe request
// and a reply saying unsubscribe, a report of an unknown message, a request from a stranger and a reply.
// What matched changes its subscriber once and moves to .Processed; the rest stays and is reported; a
// second run changes nothing.
func TestProcessMaildir(t *testing.T) {
	ctx := t.Context()
	st, ds := sentSite(t, "gone@example.org", "full.box@yahoo.com", "redacted@yahoo.com", "ann@example.org", "bea@example.org")
	verp := ReturnPath(pattern, secret, ds["gone@example.org"].ID)
	tok := strings.TrimSuffix(strings.TrimPrefix(verp, "bounces+"), "@blog.example.com")
	msgs := [][]byte{
		sample(t, "postfix-headers.eml", "<not.herald@blog.example.com>", tok),
		sample(t, "yahoo-deferred.eml", ds["full.box@yahoo.com"].MessageID, ""),
		sample(t, "yahoo-arf.eml", ds["redacted@yahoo.com"].MessageID, "no-token"),
		sample(t, "unsubscribe-mailto.eml", "", ""),
		sample(t, "unsubscribe-reply.eml", "", ""),
		sample(t, "gmail.eml", "<unknown@blog.example.com>", ""),
		[]byte(strings.ReplaceAll(string(sample(t, "unsubscribe-mailto.eml", "", "")), "ann@example.org", "stranger@example.org")),
		sample(t, "reply.eml", "", ""),
	}
	dir := writeMaildir(t, msgs...)
	// A message a mail client marked deleted is not read, though it is a bounce of gone@'s.
	if err := os.WriteFile(filepath.Join(dir, "cur", "999.trashed:2,ST"), msgs[0], 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := OpenMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := Options{Store: st, UnsubscribeAddress: "unsubscribe@blog.example.com", ReturnPath: pattern, Secret: secret,
		Out: &out, Now: func() time.Time { return t0.Add(3 * time.Hour) }}

	// A dry run first: it says what it would do, and does nothing.
	dry := o
	dry.DryRun = true
	s, err := Process(ctx, src, dry)
	if err != nil {
		t.Fatal(err)
	}
	if s.HardBounces != 1 || s.Unsubscribed != 2 || s.Moved != 0 || len(files(t, filepath.Join(dir, "new"))) != len(msgs) {
		t.Fatalf("dry run: %+v, %d left in new/", s, len(files(t, filepath.Join(dir, "new"))))
	}
	if got := status(t, st, "gone@example.org").Status; got != store.Active {
		t.Fatalf("after a dry run gone@ is %s", got)
	}
	if !strings.Contains(out.String(), "would record hard bounce of delivery") || !strings.Contains(out.String(), "would unsubscribe subscriber") {
		t.Errorf("dry run said:\n%s", out.String())
	}

	out.Reset()
	s, err = Process(ctx, src, o)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Messages: 8, HardBounces: 1, SoftBounces: 1, Complaints: 1, Unsubscribes: 2, Unsubscribed: 2,
		Unmatched: []string{"<5f1b2c3d.170a0220.abcd.1234.GMR@mx.google.com>", "<CAF=unsub.1@mail.example.org>"}, Other: 1, Moved: 5}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("summary\n got %+v\nwant %+v\n%s", s, want, out.String())
	}
	for email, want := range map[string]string{"gone@example.org": store.Bounced, "full.box@yahoo.com": store.Active,
		"redacted@yahoo.com": store.Unsubscribed, "ann@example.org": store.Unsubscribed, "bea@example.org": store.Unsubscribed} {
		if got := status(t, st, email); got.Status != want {
			t.Errorf("%s: %s, want %s", email, got.Status, want)
		}
	}
	if c := status(t, st, "redacted@yahoo.com").ComplainedAt; !c.Equal(time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("the complaint's time: %v", c)
	}
	if c := status(t, st, "ann@example.org").ComplainedAt; !c.IsZero() {
		t.Errorf("an unsubscribe request recorded a complaint at %v", c)
	}
	evs, err := st.Events(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s %s %s delivery=%d", e.Provider, e.ProviderEventID, e.Kind, e.DeliveryID))
	}
	wantEvs := []string{
		fmt.Sprintf("inbox <20261207101201.4Bz3Yq0xYbz9sVq@mail.blog.example.com> hard_bounce delivery=%d", ds["gone@example.org"].ID),
		fmt.Sprintf("inbox <1765103400.77771.yahoo@mta1012.mail.gq1.yahoo.com> soft_bounce delivery=%d", ds["full.box@yahoo.com"].ID),
		fmt.Sprintf("inbox <cfl.1765105200.42@arf.mail.yahoo.com> complaint delivery=%d", ds["redacted@yahoo.com"].ID),
	}
	if !slices.Equal(got, wantEvs) {
		t.Errorf("events\n got %q\nwant %q", got, wantEvs)
	}
	left := files(t, filepath.Join(dir, "new"))
	if !slices.Equal(left, []string{"005.herald-test", "006.herald-test", "007.herald-test"}) {
		t.Errorf("left in new/: %q", left)
	}
	moved := files(t, filepath.Join(dir, ProcessedMaildir, "cur"))
	if !slices.Equal(moved, []string{"000.herald-test:2,S", "001.herald-test:2,S", "002.herald-test:2,S", "003.herald-test:2,S", "004.herald-test:2,S"}) {
		t.Errorf("in .Processed/cur: %q", moved)
	}

	// Again: what is left is reported again and changes nothing.
	out.Reset()
	s, err = Process(ctx, src, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Messages != 3 || s.Moved != 0 || len(s.Unmatched) != 2 || s.Other != 1 {
		t.Errorf("second run: %+v", s)
	}
	// The processed messages put back (a restored backup): recorded before, nothing changes twice.
	for _, name := range moved {
		if err := os.Rename(filepath.Join(dir, ProcessedMaildir, "cur", name), filepath.Join(dir, "cur", name)); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Process(ctx, src, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Replays != 3 || s.HardBounces+s.SoftBounces+s.Complaints != 0 || s.Unsubscribed != 0 || s.Unsubscribes != 2 || s.Moved != 5 {
		t.Errorf("a replay: %+v", s)
	}
	if evs2, _ := st.Events(ctx, time.Time{}); len(evs2) != len(evs) {
		t.Errorf("a replay recorded %d events more", len(evs2)-len(evs))
	}
}

// TestReturnPath: a return path carries a token that only the site's secret makes, for one delivery.
func TestReturnPath(t *testing.T) {
	a := ReturnPath(pattern, secret, 42)
	if local, _, _ := strings.Cut(a, "@"); len(local) > 64 {
		t.Errorf("%s: a local part of %d characters, over SMTP's 64", a, len(local))
	}
	if err := CheckReturnPath(pattern); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want int64
	}{
		{a, 42},
		{strings.ToUpper(a[:8]) + a[8:len(a)-16] + strings.ToUpper(a[len(a)-16:]), 42}, // BOUNCES+...@BLOG.EXAMPLE.COM
		{ReturnPath(pattern, []byte("another secret of 32 bytes ....."), 42), 0},
		{ReturnPath("other+{token}@blog.example.com", secret, 42), 0},
		{strings.Replace(a, "+", "+x", 1), 0},
		{"bounces+@blog.example.com", 0},
		{"jane@blog.example.com", 0},
	} {
		id, ok := ReturnToken(pattern, secret, tc.addr)
		if id != tc.want || ok != (tc.want != 0) {
			t.Errorf("%s: got %d, %v; want %d", tc.addr, id, ok, tc.want)
		}
	}
	for _, bad := range []string{"bounces@example.com", "{token}", "b+{token}{token}@x", "b+{token}@", "<b+{token}@x>", "b {token}@x"} {
		if CheckReturnPath(bad) == nil {
			t.Errorf("CheckReturnPath(%q) took it", bad)
		}
	}
}

// TestFirstAddress: the store looks a delivery up by Message-ID through the first address a report names.
func TestFirstAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		rs   []Recipient
		want string
	}{
		{"none", nil, ""},
		{"one", []Recipient{{Address: "ann@example.com"}}, "ann@example.com"},
		{"the first with an address", []Recipient{{}, {Address: "bob@example.com"}, {Address: "cy@example.com"}}, "bob@example.com"},
		{"no address", []Recipient{{}, {}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := firstAddress(tc.rs); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
