package store

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEmailKey(t *testing.T) {
	tests := []struct {
		name, email, key string
		ok               bool
	}{
		{"lower-cased", "Ann.Lee@Example.COM", "ann.lee@example.com", true},
		{"only ASCII folded in the local part, as SQLite's lower()", "Élan@Example.fr", "Élan@example.fr", true},
		{"already lower case", "bob@example.com", "bob@example.com", true},
		{"@ in a quoted local part", `"a@b"@Example.org`, `"a@b"@example.org`, true},
		{"non-ASCII domain", "x@BÜCHER.de", "x@bücher.de", true},
		{"empty", "", "", false},
		{"no @", "ann.example.com", "", false},
		{"no local part", "@example.com", "", false},
		{"no domain", "ann@", "", false},
		{"a line break", "ann@example.com\r\nBcc: x@y", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, ok := emailKey(tt.email)
			if key != tt.key || ok != tt.ok {
				t.Errorf("emailKey(%q) = %q, %t, want %q, %t", tt.email, key, ok, tt.key, tt.ok)
			}
		})
	}
}

// sameSubscriber says how got differs from want, or "" (times compared with Equal).
func sameSubscriber(got, want Subscriber) string {
	g, w := got, want
	for _, p := range []*Subscriber{&g, &w} {
		p.CreatedAt, p.ConsentAt, p.ConfirmedAt, p.UnsubscribedAt, p.LastDigestAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	}
	if g != w || !got.CreatedAt.Equal(want.CreatedAt) || !got.ConsentAt.Equal(want.ConsentAt) || !got.ConfirmedAt.Equal(want.ConfirmedAt) ||
		!got.UnsubscribedAt.Equal(want.UnsubscribedAt) || !got.LastDigestAt.Equal(want.LastDigestAt) {
		return "got  " + sprint(got) + "\nwant " + sprint(want)
	}
	return ""
}

func sprint(s Subscriber) string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return strings.Join([]string{s.Email, s.Name, s.Status, s.Frequency, s.ConsentSource, s.ConsentIP,
		"created " + f(s.CreatedAt), "consent " + f(s.ConsentAt), "confirmed " + f(s.ConfirmedAt),
		"unsubscribed " + f(s.UnsubscribedAt), "digest " + f(s.LastDigestAt)}, ", ") + " bounces " + string(rune('0'+s.HardBounces))
}

func subscriber(t *testing.T, s Store, id int64) Subscriber {
	t.Helper()
	sub, err := s.Subscriber(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func TestAddSubscriber(t *testing.T) {
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	consent := t0.Add(-48 * time.Hour)
	tests := []struct {
		name string
		in   Subscriber
		want Subscriber // ID as the n-th subscriber added
		err  error      // wrapped, or nil
		msg  string     // in the error, when it is not nil
	}{
		{"defaults", Subscriber{Email: "Ann@Example.COM"},
			Subscriber{ID: 1, Email: "Ann@Example.COM", Status: Pending, Frequency: Immediate, ConsentSource: FromCommand, CreatedAt: t0, ConsentAt: t0}, nil, ""},
		{"active from the web form", Subscriber{Email: "bob@example.com", Name: "Bob", Status: Active, Frequency: Weekly,
			ConsentSource: FromWeb, ConsentIP: "192.0.2.7", ConsentAt: consent},
			Subscriber{ID: 2, Email: "bob@example.com", Name: "Bob", Status: Active, Frequency: Weekly, ConsentSource: FromWeb,
				ConsentIP: "192.0.2.7", CreatedAt: t0, ConsentAt: consent, ConfirmedAt: t0}, nil, ""},
		{"the same address, domain in another case", Subscriber{Email: "Ann@example.com"}, Subscriber{}, ErrExists, `"Ann@example.com": store: subscriber exists (subscriber 1)`},
		{"the same address, local part in another case", Subscriber{Email: "ANN@example.com"}, Subscriber{}, ErrExists, `"ANN@example.com": store: subscriber exists (subscriber 1)`},
		{"not an address", Subscriber{Email: "ann"}, Subscriber{}, nil, `"ann" is not an email address`},
		{"an unknown status", Subscriber{Email: "c@example.com", Status: "gone"}, Subscriber{}, nil, `status "gone" is not one of pending, active, unsubscribed, bounced`},
		{"an unknown frequency", Subscriber{Email: "c@example.com", Frequency: "hourly"}, Subscriber{}, nil, `frequency "hourly" is not one of`},
		{"an unknown consent source", Subscriber{Email: "c@example.com", ConsentSource: "guess"}, Subscriber{}, nil, `consent source "guess" is not one of`},
	}
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.AddSubscriber(t.Context(), tt.in, t0)
			if tt.msg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.msg) || (tt.err != nil && !errors.Is(err, tt.err)) {
					t.Fatalf("got error %v, want one saying %q (wrapping %v)", err, tt.msg, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := sameSubscriber(got, tt.want); d != "" {
				t.Errorf("AddSubscriber returned\n%s", d)
			}
			if d := sameSubscriber(subscriber(t, s, got.ID), tt.want); d != "" {
				t.Errorf("read back\n%s", d)
			}
			upper := strings.ToUpper(tt.want.Email)
			byEmail, err := s.SubscriberByEmail(t.Context(), upper)
			if err != nil || byEmail.ID != got.ID {
				t.Errorf("SubscriberByEmail(%q): got %d, %v, want %d", upper, byEmail.ID, err, got.ID)
			}
		})
	}
	if _, err := s.Subscriber(t.Context(), 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Subscriber(99): got %v, want ErrNotFound", err)
	}
	for _, email := range []string{"nobody@example.com", "ann@example.org", "not an address"} {
		if _, err := s.SubscriberByEmail(t.Context(), email); !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), email) {
			t.Errorf("SubscriberByEmail(%q): got %v, want ErrNotFound, without the address", email, err)
		}
	}
	// herald serve logs the errors: they never hold the address.
	s.Close()
	if _, err := s.SubscriberByEmail(t.Context(), "bob@example.com"); err == nil || strings.Contains(err.Error(), "bob@example.com") {
		t.Errorf("SubscriberByEmail on a closed store: got %v, want an error without the address", err)
	}
}

func TestSubscribersByStatus(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	now := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	for _, sub := range []Subscriber{{Email: "a@x", Status: Active}, {Email: "b@x"}, {Email: "c@x", Status: Active}, {Email: "d@x", Status: Bounced}} {
		if _, err := s.AddSubscriber(t.Context(), sub, now); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ status, want string }{
		{"", "a@x b@x c@x d@x"}, {Active, "a@x c@x"}, {Pending, "b@x"}, {Bounced, "d@x"}, {Unsubscribed, ""},
	}
	for _, tt := range tests {
		t.Run("status "+tt.status, func(t *testing.T) {
			subs, err := s.Subscribers(t.Context(), tt.status)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, sub := range subs {
				got = append(got, sub.Email)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := s.Subscribers(t.Context(), "gone"); err == nil || !strings.Contains(err.Error(), `status "gone"`) {
		t.Errorf("got %v, want an error about the status", err)
	}
}

func TestImportSubscribers(t *testing.T) {
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	now := t0.Add(24 * time.Hour)
	earlier := t0.Add(-365 * 24 * time.Hour)
	// known are in the store before each import (ids 1 to 5).
	known := []Subscriber{
		{Email: "Ann@Example.com", Name: "Ann", Status: Active, Frequency: Daily},
		{Email: "pending@example.com"},
		{Email: "gone@example.com", Status: Active},
		{Email: "bounced@example.com", Status: Bounced},
		{Email: "active@example.com", Status: Active},
	}
	tests := []struct {
		name    string
		import_ []Subscriber
		result  ImportResult
		want    map[string]string // sprint-like summary by email, of the subscribers to check
		msg     string            // the error, if any: then nothing changes
	}{
		{"new subscribers, active by default", []Subscriber{
			{Email: "new@example.com", Name: "New"},
			{Email: "old@example.com", ConsentAt: earlier, ConfirmedAt: earlier, Frequency: Weekly},
			{Email: "left@example.com", Status: Unsubscribed}, // a list's unsubscribed stay on record, so a later import does not add them
		}, ImportResult{Added: 3}, map[string]string{
			"new@example.com":  "6 New active immediate import created=now consent=now confirmed=now",
			"old@example.com":  "7  active weekly import created=now consent=earlier confirmed=earlier",
			"left@example.com": "8  unsubscribed immediate import created=now consent=now unsubscribed=now",
		}, ""},
		{"merged by address, the domain in any case", []Subscriber{{Email: "Ann@EXAMPLE.COM", Name: "Ann Lee"}},
			ImportResult{Updated: 1}, map[string]string{"Ann@Example.com": "1 Ann Lee active daily command created=t0 consent=t0 confirmed=t0"}, ""},
		{"merged by address, the local part in any case", []Subscriber{{Email: "ann@example.com"}},
			ImportResult{Unchanged: 1}, map[string]string{"Ann@Example.com": "1 Ann active daily command created=t0 consent=t0 confirmed=t0"}, ""},
		{"unchanged", []Subscriber{{Email: "active@example.com", Frequency: Immediate, Status: Active}},
			ImportResult{Unchanged: 1}, map[string]string{"active@example.com": "5  active immediate command created=t0 consent=t0 confirmed=t0"}, ""},
		{"unsubscribed and bounced are not brought back", []Subscriber{
			{Email: "gone@example.com", Status: Active}, {Email: "bounced@example.com"}, {Email: "GONE@example.com"},
		}, ImportResult{Skipped: 3}, map[string]string{
			"gone@example.com":    "3  unsubscribed immediate command created=t0 consent=t0 confirmed=t0 unsubscribed=t0",
			"bounced@example.com": "4  bounced immediate command created=t0 consent=t0",
		}, ""},
		{"a pending subscriber confirmed by the list", []Subscriber{{Email: "pending@example.com", ConfirmedAt: earlier}},
			ImportResult{Updated: 1}, map[string]string{"pending@example.com": "2  active immediate command created=t0 consent=t0 confirmed=earlier"}, ""},
		{"a pending one stays pending when the list says so", []Subscriber{{Email: "pending@example.com", Status: Pending}},
			ImportResult{Unchanged: 1}, map[string]string{"pending@example.com": "2  pending immediate command created=t0 consent=t0"}, ""},
		{"an active one is not made pending", []Subscriber{{Email: "active@example.com", Status: Pending}},
			ImportResult{Unchanged: 1}, map[string]string{"active@example.com": "5  active immediate command created=t0 consent=t0 confirmed=t0"}, ""},
		{"a switch to a digest starts its period", []Subscriber{{Email: "active@example.com", Frequency: Weekly}},
			ImportResult{Updated: 1}, map[string]string{"active@example.com": "5  active weekly command created=t0 consent=t0 confirmed=t0 digest=now"}, ""},
		{"the list's unsubscribe is honoured", []Subscriber{{Email: "active@example.com", Status: Unsubscribed}},
			ImportResult{Updated: 1}, map[string]string{"active@example.com": "5  unsubscribed immediate command created=t0 consent=t0 confirmed=t0 unsubscribed=now"}, ""},
		{"duplicates in the list merged", []Subscriber{
			{Email: "dup@example.com", Name: "First"}, {Email: "dup@EXAMPLE.com", Name: "Second", Frequency: Weekly}, {Email: "dup@example.com"},
		}, ImportResult{Added: 1, Updated: 1, Unchanged: 1}, map[string]string{"dup@example.com": "6 Second active weekly import created=now consent=now confirmed=now"}, ""},
		{"a bad address names its row", []Subscriber{{Email: "x@example.com"}, {Email: "nobody"}}, ImportResult{}, nil,
			`import subscriber 2: "nobody" is not an email address`},
		{"a bad status names its row", []Subscriber{{Email: "x@example.com"}, {Email: "y@example.com", Status: "gone"}}, ImportResult{}, nil,
			`import subscriber 2 (y@example.com): status "gone" is not one of`},
		{"a bad consent source names its row", []Subscriber{{Email: "x@example.com", ConsentSource: "guess"}}, ImportResult{}, nil,
			`import subscriber 1 (x@example.com): consent source "guess" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
			for _, sub := range known {
				if _, err := s.AddSubscriber(t.Context(), sub, t0); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.UpdateSubscriber(t.Context(), 3, t0, func(s *Subscriber) { s.Status = Unsubscribed }); err != nil {
				t.Fatal(err)
			}
			before := dump(t, s, 2)
			res, err := s.ImportSubscribers(t.Context(), tt.import_, now)
			if tt.msg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("got error %v, want one saying %q", err, tt.msg)
				}
				if after := dump(t, s, 2); after != before {
					t.Errorf("a failed import changed the store:\n%s\nwas\n%s", after, before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res != tt.result {
				t.Errorf("got %+v, want %+v", res, tt.result)
			}
			times := map[string]time.Time{"t0": t0, "now": now, "earlier": earlier}
			for email, want := range tt.want {
				sub, err := s.SubscriberByEmail(t.Context(), email)
				if err != nil {
					t.Fatal(err)
				}
				if got := brief(sub, times); got != want {
					t.Errorf("%s:\n got  %s\n want %s", email, got, want)
				}
			}
		})
	}
}

// brief describes a subscriber in a line, naming its times by names.
func brief(s Subscriber, names map[string]time.Time) string {
	b := []string{string(rune('0' + s.ID)), s.Name, s.Status, s.Frequency, s.ConsentSource}
	for _, tm := range []struct {
		name string
		t    time.Time
	}{{"created", s.CreatedAt}, {"consent", s.ConsentAt}, {"confirmed", s.ConfirmedAt}, {"unsubscribed", s.UnsubscribedAt}, {"digest", s.LastDigestAt}} {
		if tm.t.IsZero() {
			continue
		}
		name := tm.t.UTC().Format(time.RFC3339Nano)
		for n, v := range names {
			if v.Equal(tm.t) {
				name = n
			}
		}
		b = append(b, tm.name+"="+name)
	}
	return strings.Join(b, " ")
}

// TestImportAllOrNothing makes the database refuse a row in the middle of an import (a trigger stands
// for any constraint failing) and checks that nothing of the import is left: not the rows before it,
// not the merges.
func TestImportAllOrNothing(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	now := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	if _, err := s.AddSubscriber(t.Context(), Subscriber{Email: "ann@example.com", Status: Active}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(t.Context(), `CREATE TRIGGER refuse BEFORE INSERT ON subscribers
		WHEN NEW.email = 'refused@example.com' BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	var subs []Subscriber
	for i := range 500 { // more than one batch of inserts before the refused row
		subs = append(subs, Subscriber{Email: "s" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + "@example.com"})
	}
	subs = append(subs, Subscriber{Email: "ann@example.com", Name: "Ann", Status: Unsubscribed}, Subscriber{Email: "refused@example.com"},
		Subscriber{Email: "after@example.com"})
	before := dump(t, s, 2)
	_, err := s.ImportSubscribers(t.Context(), subs, now)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v, want the trigger's error", err)
	}
	if after := dump(t, s, 2); after != before {
		t.Errorf("a failed import changed the store:\n%s\nwas\n%s", after, before)
	}
	// Without the refused row it goes in, all of it.
	subs = append(subs[:len(subs)-2], subs[len(subs)-1])
	res, err := s.ImportSubscribers(t.Context(), subs, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ImportResult{Added: 501, Updated: 1}); res != want {
		t.Errorf("got %+v, want %+v", res, want)
	}
	if sub := subscriber(t, s, 1); sub.Status != Unsubscribed || sub.Name != "Ann" {
		t.Errorf("got %s, want Ann unsubscribed", sprint(sub))
	}
}

func TestUpdateSubscriber(t *testing.T) {
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	at := t0.Add(time.Hour)
	given := t0.Add(-time.Hour)
	times := map[string]time.Time{"t0": t0, "at": at, "given": given}
	tests := []struct {
		name   string
		start  Subscriber
		change func(*Subscriber)
		want   string // brief, with the times named
		msg    string // the error, if any
	}{
		{"confirm", Subscriber{Email: "a@example.com"}, func(s *Subscriber) { s.Status = Active },
			"1  active immediate command created=t0 consent=t0 confirmed=at", ""},
		{"confirm at a given time", Subscriber{Email: "a@example.com"}, func(s *Subscriber) { s.Status, s.ConfirmedAt = Active, given },
			"1  active immediate command created=t0 consent=t0 confirmed=given", ""},
		{"unsubscribe", Subscriber{Email: "a@example.com", Status: Active}, func(s *Subscriber) { s.Status = Unsubscribed },
			"1  unsubscribed immediate command created=t0 consent=t0 confirmed=t0 unsubscribed=at", ""},
		{"come back", Subscriber{Email: "a@example.com", Status: Unsubscribed, HardBounces: 1}, func(s *Subscriber) { s.Status = Active },
			"1  active immediate command created=t0 consent=t0 confirmed=at", ""},
		{"name and frequency", Subscriber{Email: "a@example.com", Status: Active}, func(s *Subscriber) { s.Name, s.Frequency = "A", Weekly },
			"1 A active weekly command created=t0 consent=t0 confirmed=t0 digest=at", ""}, // a digest period starts
		{"a new address", Subscriber{Email: "a@example.com"}, func(s *Subscriber) { s.Email = "A@Example.net" },
			"1  pending immediate command created=t0 consent=t0", ""},
		{"another subscriber's address", Subscriber{Email: "a@example.com"}, func(s *Subscriber) { s.Email = "other@EXAMPLE.com" },
			"", `"other@EXAMPLE.com": store: subscriber exists (subscriber 2)`},
		{"an unknown frequency", Subscriber{Email: "a@example.com"}, func(s *Subscriber) { s.Frequency = "hourly" },
			"", `frequency "hourly" is not one of`},
		{"a new id", Subscriber{Email: "a@example.com"}, func(s *Subscriber) { s.ID = 7 },
			"", "the change set its id to 7; ids never change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
			for _, sub := range []Subscriber{tt.start, {Email: "other@example.com"}} {
				if _, err := s.AddSubscriber(t.Context(), sub, t0); err != nil {
					t.Fatal(err)
				}
			}
			before := dump(t, s, 2)
			err := s.UpdateSubscriber(t.Context(), 1, at, tt.change)
			if tt.msg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("got error %v, want one saying %q", err, tt.msg)
				}
				if after := dump(t, s, 2); after != before {
					t.Errorf("a failed update changed the store:\n%s\nwas\n%s", after, before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sub := subscriber(t, s, 1)
			if got := brief(sub, times); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if sub.HardBounces != 0 {
				t.Errorf("got %d hard bounces, want 0", sub.HardBounces)
			}
		})
	}
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	if err := s.UpdateSubscriber(t.Context(), 1, at, func(*Subscriber) {}); !errors.Is(err, ErrNotFound) {
		t.Errorf("updating a subscriber that is not there: got %v, want ErrNotFound", err)
	}
}

// TestDeleteExpiredPendingSubscribers: only web sign-ups still pending from before the cut-off go.
func TestDeleteExpiredPendingSubscribers(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	cut := t0.Add(7 * 24 * time.Hour)
	for _, sub := range []Subscriber{
		{Email: "old-web@x", ConsentSource: FromWeb, ConsentAt: t0},
		{Email: "old-web-2@x", ConsentSource: FromWeb, ConsentAt: cut.Add(-time.Nanosecond)},
		{Email: "at-the-cut@x", ConsentSource: FromWeb, ConsentAt: cut},
		{Email: "new-web@x", ConsentSource: FromWeb, ConsentAt: cut.Add(time.Hour)},
		{Email: "old-command@x", ConsentSource: FromCommand, ConsentAt: t0},
		{Email: "old-import@x", ConsentSource: FromImport, Status: Pending, ConsentAt: t0},
		{Email: "active-web@x", ConsentSource: FromWeb, Status: Active, ConsentAt: t0},
		{Email: "left-web@x", ConsentSource: FromWeb, Status: Unsubscribed, ConsentAt: t0},
	} {
		if _, err := s.AddSubscriber(t.Context(), sub, t0); err != nil {
			t.Fatal(err)
		}
	}
	// Someone who had unsubscribed, and whose address a stranger typed into the form since: pending
	// again, but not to be deleted, nor confirmed by an import.
	back, err := s.AddSubscriber(t.Context(), Subscriber{Email: "came-back@x", Status: Unsubscribed}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSubscriber(t.Context(), back.ID, t0, func(u *Subscriber) {
		u.Status, u.ConsentSource, u.ConsentAt = Pending, FromWeb, t0
	}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.ImportSubscribers(t.Context(), []Subscriber{{Email: "came-back@x", Status: Active}}, t0); err != nil || res.Skipped != 1 {
		t.Fatalf("import while pending again: got %+v, %v, want it skipped", res, err)
	}
	n, err := s.DeleteExpiredPending(t.Context(), cut)
	if err != nil || n != 2 {
		t.Fatalf("got %d, %v, want 2 deleted", n, err)
	}
	if got, err := s.Subscriber(t.Context(), back.ID); err != nil || got.Status != Unsubscribed {
		t.Errorf("the one who had unsubscribed: got %s, %v, want unsubscribed again", got.Status, err)
	}
	if res, err := s.ImportSubscribers(t.Context(), []Subscriber{{Email: "came-back@x", Status: Active}}, t0); err != nil || res.Skipped != 1 {
		t.Errorf("import after the expiry: got %+v, %v, want it skipped", res, err)
	}
	subs, err := s.Subscribers(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, sub := range subs {
		left = append(left, sub.Email)
	}
	if got, want := strings.Join(left, " "), "at-the-cut@x new-web@x old-command@x old-import@x active-web@x left-web@x came-back@x"; got != want {
		t.Errorf("left %s, want %s", got, want)
	}
	if n, err := s.DeleteExpiredPending(t.Context(), cut); err != nil || n != 0 {
		t.Errorf("again: got %d, %v, want 0", n, err)
	}
}

func TestDeleteSubscriber(t *testing.T) {
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	st := newSite(t)
	ann := st.subscribe("ann@example.com", Immediate, t0)
	bob := st.subscribe("bob@example.com", Immediate, t0)
	st.publish(t0.Add(time.Hour), true, "p1", "p2")
	st.plan(t0.Add(time.Hour), 4)
	if err := st.s.DeleteSubscriber(t.Context(), ann); err != nil {
		t.Fatal(err)
	}
	if _, err := st.s.Subscriber(t.Context(), ann); !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v for an erased subscriber, want ErrNotFound", err)
	}
	st.ledger("bob@example.com p1", "bob@example.com p2")
	var left int
	if err := st.s.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM delivery_items WHERE subscriber_id <> ?", bob).Scan(&left); err != nil || left != 0 {
		t.Errorf("got %d delivery items of the erased subscriber (%v), want 0", left, err)
	}
	if err := st.s.DeleteSubscriber(t.Context(), ann); !errors.Is(err, ErrNotFound) {
		t.Errorf("erasing twice: got %v, want ErrNotFound", err)
	}
}

// TestEraseLeavesNoTrace checks that an erased address is nowhere in the store's files: not in free
// pages, not in the WAL.
func TestEraseLeavesNoTrace(t *testing.T) {
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	st := newSite(t)
	const addr = "erase.me.please@example.com"
	ann := st.subscribe(addr, Immediate, t0)
	st.subscribe("bob@example.com", Immediate, t0)
	st.publish(t0.Add(time.Hour), true, "p1", "p2")
	st.plan(t0.Add(time.Hour), 4)
	st.update(ann, t0.Add(2*time.Hour), func(s *Subscriber) { s.Name = "Erase Me" })
	files := func() string {
		t.Helper()
		var b strings.Builder
		for _, p := range []string{st.s.path, st.s.path + "-wal"} {
			data, err := os.ReadFile(p)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			b.Write(data)
		}
		return b.String()
	}
	if !strings.Contains(files(), addr) {
		t.Fatalf("the address is not in the store's files before the erase; the test would prove nothing")
	}
	if err := st.s.DeleteSubscriber(t.Context(), ann); err != nil {
		t.Fatal(err)
	}
	if got := files(); strings.Contains(got, addr) || strings.Contains(got, "Erase Me") {
		t.Errorf("the erased subscriber's address or name is still in the store's files")
	}
	if !strings.Contains(files(), "bob@example.com") {
		t.Errorf("the other subscriber is gone from the files")
	}
	st.ledger("bob@example.com p1", "bob@example.com p2")
}

// TestEraseWhileRead: a reader in another connection (herald serve) keeps the WAL from being emptied:
// the erase says so, instead of reporting success with the address still in the WAL, and once the
// reader is gone Compact finishes the job.
func TestEraseWhileRead(t *testing.T) {
	t.Parallel() // it waits out the busy timeout (10 s) before it gives up on the checkpoint
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	st := newSite(t)
	const addr = "erase.me.please@example.com"
	ann := st.subscribe(addr, Immediate, t0)
	st.subscribe("bob@example.com", Immediate, t0)

	other, err := sql.Open("sqlite", dsn(st.s.path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM subscribers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	err = st.s.DeleteSubscriber(t.Context(), ann)
	if err == nil || !strings.Contains(err.Error(), "another process is reading it") {
		t.Fatalf("erase while another connection reads: got %v, want an error saying the WAL could not be emptied", err)
	}
	tx.Rollback()
	if err := st.s.Compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{st.s.path, st.s.path + "-wal"} {
		data, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if strings.Contains(string(data), addr) {
			t.Errorf("%s still holds the erased address", p)
		}
	}
}

// TestCaseVariantsBeforeVersion5: a version-4 store could hold one address twice, with its local part in
// two cases (an import of "Ann@" after "ann@" unsubscribed). After the migration the address is one
// subscriber: the opt-out is the one found, an import brings nobody back, and nothing adds it again.
func TestCaseVariantsBeforeVersion5(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	old, err := open(t.Context(), path, 4)
	if err != nil {
		t.Fatal(err)
	}
	_, err = old.db.ExecContext(t.Context(), `INSERT INTO subscribers (email, email_key, status, created_at, consent_source,
			confirmed_at, unsubscribed_at) VALUES
		('ann@example.com', 'ann@example.com', 'unsubscribed', '2024-01-01T00:00:00.000000000Z', 'web',
			'2024-01-01T00:00:00.000000000Z', '2024-02-01T00:00:00.000000000Z'),
		('Ann@example.com', 'Ann@example.com', 'active', '2024-03-01T00:00:00.000000000Z', 'import',
			'2024-03-01T00:00:00.000000000Z', NULL),
		('Bob@example.com', 'Bob@example.com', 'active', '2024-03-01T00:00:00.000000000Z', 'import',
			'2024-03-01T00:00:00.000000000Z', NULL),
		('cy@example.com', 'cy@example.com', 'unsubscribed', '2024-01-01T00:00:00.000000000Z', 'web',
			'2024-01-01T00:00:00.000000000Z', '2024-02-01T00:00:00.000000000Z'),
		('Cy@example.com', 'Cy@example.com', 'active', '2024-03-01T00:00:00.000000000Z', 'web',
			'2024-03-01T00:00:00.000000000Z', NULL);
		INSERT INTO deliveries (subscriber_id, digest_key, status, queued_at) VALUES
			(2, 'weekly 2024-W10', 'queued', '2024-03-04T00:00:00.000000000Z'),
			(3, 'weekly 2024-W10', 'queued', '2024-03-04T00:00:00.000000000Z')`)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	s := openStore(t, path)
	ctx, now := t.Context(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	// The migration gave ann@'s opt-out to Ann@, whom an import had brought back, and cancelled their mail.
	if got := subscriber(t, s, 2); got.Status != Unsubscribed || !got.UnsubscribedAt.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Ann@ after the migration: got %s at %v, want unsubscribed as ann@", got.Status, got.UnsubscribedAt)
	}
	if got := subscriber(t, s, 3); got.Status != Active {
		t.Errorf("Bob@ after the migration: got %s, want active", got.Status)
	}
	// Cy@ signed up again on the web, and confirmed, after cy@ left: that stands.
	if got := subscriber(t, s, 5); got.Status != Active {
		t.Errorf("Cy@ after the migration: got %s, want active (confirmed after the opt-out)", got.Status)
	}
	for id, want := range map[int64]string{2: Cancelled, 3: Queued} {
		ds, err := s.SubscriberDeliveries(ctx, id)
		if err != nil || len(ds) != 1 || ds[0].Status != want {
			t.Errorf("subscriber %d's delivery: got %+v, %v, want %s", id, ds, err, want)
		}
	}

	for email, want := range map[string]int64{"ANN@example.com": 1, "ann@EXAMPLE.com": 1, "bob@example.com": 3, "CY@example.com": 5} {
		if got, err := s.SubscriberByEmail(ctx, email); err != nil || got.ID != want {
			t.Errorf("SubscriberByEmail(%q): got %d, %v, want %d", email, got.ID, err, want)
		}
	}
	res, err := s.ImportSubscribers(ctx, []Subscriber{{Email: "aNN@example.com", Status: Active}, {Email: "BOB@example.com", Name: "Bob"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ImportResult{Skipped: 1, Updated: 1}); res != want {
		t.Errorf("import: got %+v, want %+v", res, want)
	}
	if got := subscriber(t, s, 3); got.Name != "Bob" {
		t.Errorf("import: got Bob as %+v, want his name set", got)
	}
	if _, err := s.AddSubscriber(ctx, Subscriber{Email: "bob@example.com"}, now); !errors.Is(err, ErrExists) {
		t.Errorf("AddSubscriber(bob@example.com): got %v, want ErrExists", err)
	}
	// The rows of one address can each still be changed (no other row's key is taken for a clash)...
	if err := s.UpdateSubscriber(ctx, 2, now, func(sub *Subscriber) { sub.Name = "Ann" }); err != nil {
		t.Errorf("rename the second row of ann@: %v", err)
	}
	// ...but no address can be changed into another's.
	err = s.UpdateSubscriber(ctx, 3, now, func(sub *Subscriber) { sub.Email = "ANN@example.com" })
	if !errors.Is(err, ErrExists) {
		t.Errorf("change bob's address to ANN@: got %v, want ErrExists", err)
	}
	// An opt-out by one row of an address is the address's: a second active row of Bob's, added as a
	// version-4 store could have it, stops with the first.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO subscribers (email, email_key, status, created_at, consent_source, confirmed_at)
		VALUES ('BOB@example.com', 'BOB@example.com', 'active', '2024-03-01T00:00:00.000000000Z', 'import', '2024-03-01T00:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSubscriber(ctx, 3, now, func(sub *Subscriber) { sub.Status = Unsubscribed }); err != nil {
		t.Fatal(err)
	}
	if got := subscriber(t, s, 6); got.Status != Unsubscribed || !got.UnsubscribedAt.Equal(now) {
		t.Errorf("BOB@'s other row: got %s at %v, want unsubscribed with Bob", got.Status, got.UnsubscribedAt)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM subscribers").Scan(&n); err != nil || n != 6 {
		t.Errorf("got %d subscribers (%v), want 6", n, err)
	}
	var plan string
	if err := s.db.QueryRowContext(ctx, "EXPLAIN QUERY PLAN SELECT id FROM subscribers WHERE lower(email_key) = 'x'").Scan(new(int), new(int), new(int), &plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "subscribers_email_fold") {
		t.Errorf("a lookup by address does not use the index: %s", plan)
	}
}

// TestDeleteUnsentSignUp deletes only a new web sign-up still pending since the time given.
func TestDeleteUnsentSignUp(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	add := func(sub Subscriber) Subscriber {
		t.Helper()
		got, err := s.AddSubscriber(t.Context(), sub, t0)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	web := add(Subscriber{Email: "web@x", ConsentSource: FromWeb, ConsentAt: t0})
	command := add(Subscriber{Email: "command@x", ConsentSource: FromCommand, ConsentAt: t0})
	active := add(Subscriber{Email: "active@x", ConsentSource: FromWeb, Status: Active, ConsentAt: t0})
	back := add(Subscriber{Email: "back@x", Status: Unsubscribed})
	if err := s.UpdateSubscriber(t.Context(), back.ID, t0, func(u *Subscriber) {
		u.Status, u.ConsentSource, u.ConsentAt = Pending, FromWeb, t0
	}); err != nil {
		t.Fatal(err)
	}
	paris := time.FixedZone("CET", 3600)
	// In order: the last one deletes.
	for _, tt := range []struct {
		name string
		id   int64
		at   time.Time
		want bool
	}{
		{"a nanosecond later", web.ID, t0.Add(time.Nanosecond), false},
		{"not from the web", command.ID, t0, false},
		{"active", active.ID, t0, false},
		{"had unsubscribed", back.ID, t0, false},
		{"no such subscriber", 999, t0, false},
		{"new web sign-up, its time in another zone", web.ID, t0.In(paris), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := s.DeleteUnsentSignUp(t.Context(), tt.id, tt.at); err != nil || got != tt.want {
				t.Errorf("got %v, %v, want %v", got, err, tt.want)
			}
		})
	}
	c, err := s.Counts(t.Context())
	if err != nil || c.Subscribers != 3 {
		t.Errorf("got %d subscribers, %v, want 3", c.Subscribers, err)
	}
}
