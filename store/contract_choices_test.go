package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The contract tests of what a reader chooses (digests at the site's hour, weekday and time zone, monthly
// digests, tags, a language) and of the author's hold on a post's mail (email: false, email_after, hold).

func TestPeriodStartAcrossDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name      string
		o         PlanOptions
		frequency string
		now       string
		start     string // RFC 3339 with the local offset
		key       string
		next      string
	}{
		{"daily at 8 in Berlin, the morning clocks go forward", PlanOptions{Hour: 8, Location: berlin}, Daily,
			"2025-03-30T06:00:00Z", "2025-03-30T08:00:00+02:00", "daily 2025-03-30", "2025-03-31T08:00:00+02:00"},
		{"daily at 8 in Berlin, a minute before", PlanOptions{Hour: 8, Location: berlin}, Daily,
			"2025-03-30T05:59:00Z", "2025-03-29T08:00:00+01:00", "daily 2025-03-29", "2025-03-30T08:00:00+02:00"},
		{"daily at 8 in Berlin, the morning clocks go back", PlanOptions{Hour: 8, Location: berlin}, Daily,
			"2025-10-26T07:00:00Z", "2025-10-26T08:00:00+01:00", "daily 2025-10-26", "2025-10-27T08:00:00+01:00"},
		{"daily at 8 in Berlin, an hour before it after they went back", PlanOptions{Hour: 8, Location: berlin}, Daily,
			"2025-10-26T06:30:00Z", "2025-10-25T08:00:00+02:00", "daily 2025-10-25", "2025-10-26T08:00:00+01:00"},
		{"daily at 2 in Berlin, an hour the clock skips", PlanOptions{Hour: 2, Location: berlin}, Daily,
			"2025-03-30T01:00:00Z", "2025-03-30T03:00:00+02:00", "daily 2025-03-30", "2025-03-31T02:00:00+02:00"},
		{"daily at 2 in Berlin, an hour the clock passes twice: the first time", PlanOptions{Hour: 2, Location: berlin}, Daily,
			"2025-10-26T01:30:00Z", "2025-10-26T02:00:00+02:00", "daily 2025-10-26", "2025-10-27T02:00:00+01:00"},
		{"daily at 1 in New York, an hour the clock passes twice: the first time", PlanOptions{Hour: 1, Location: newYork}, Daily,
			"2025-11-02T05:30:00Z", "2025-11-02T01:00:00-04:00", "daily 2025-11-02", "2025-11-03T01:00:00-05:00"},
		{"weekly on Friday at 18 in New York, the week clocks go forward", PlanOptions{Hour: 18, Weekday: time.Friday, Location: newYork}, Weekly,
			"2025-03-14T22:30:00Z", "2025-03-14T18:00:00-04:00", "weekly 2025-W11", "2025-03-21T18:00:00-04:00"},
		{"weekly on Friday at 18 in New York, Friday morning", PlanOptions{Hour: 18, Weekday: time.Friday, Location: newYork}, Weekly,
			"2025-03-14T14:00:00Z", "2025-03-07T18:00:00-05:00", "weekly 2025-W10", "2025-03-14T18:00:00-04:00"},
		{"weekly on Sunday at 0 UTC, across the new year", PlanOptions{Weekday: time.Sunday}, Weekly,
			"2025-01-01T10:00:00Z", "2024-12-29T00:00:00Z", "weekly 2024-W52", "2025-01-05T00:00:00Z"},
		{"monthly at 8 UTC, the first", PlanOptions{Hour: 8}, Monthly,
			"2025-02-01T08:00:00Z", "2025-02-01T08:00:00Z", "monthly 2025-02", "2025-03-01T08:00:00Z"},
		{"monthly at 8 UTC, a minute before", PlanOptions{Hour: 8}, Monthly,
			"2025-02-01T07:59:00Z", "2025-01-01T08:00:00Z", "monthly 2025-01", "2025-02-01T08:00:00Z"},
		{"monthly at 8 in Berlin, into summer time", PlanOptions{Hour: 8, Location: berlin}, Monthly,
			"2025-04-15T12:00:00Z", "2025-04-01T08:00:00+02:00", "monthly 2025-04", "2025-05-01T08:00:00+02:00"},
		{"monthly in January, from December", PlanOptions{Hour: 8}, Monthly,
			"2025-01-01T07:00:00Z", "2024-12-01T08:00:00Z", "monthly 2024-12", "2025-01-01T08:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, key := tt.o.PeriodStart(tt.frequency, at(tt.now))
			if !start.Equal(at(tt.start)) || key != tt.key {
				t.Errorf("got %s %q, want %s %q", start.Format(time.RFC3339), key, tt.start, tt.key)
			}
			if next := tt.o.NextDigest(tt.frequency, at(tt.now)); !next.Equal(at(tt.next)) {
				t.Errorf("got next %s, want %s", next.Format(time.RFC3339), tt.next)
			}
		})
	}
}

func TestContractDigestSchedule(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	at8 := PlanOptions{Hour: 8, Weekday: time.Monday, Location: berlin}
	tests := []struct {
		name      string
		frequency string
		o         PlanOptions
		last      string
		now       string
		key       string // "" when not due
	}{
		// A schedule kept in UTC (06:00 UTC, 08:00 in summer) would be due an hour early in winter.
		{"daily at 8 in Berlin: due at 8 after the clocks went back", Daily, at8, "2025-10-25T06:00:00Z", "2025-10-26T07:00:00Z", "daily 2025-10-26"},
		{"daily at 8 in Berlin: not at 7 after the clocks went back", Daily, at8, "2025-10-25T06:00:00Z", "2025-10-26T06:30:00Z", ""},
		{"daily at 8 in Berlin: due at 8 after the clocks went forward", Daily, at8, "2025-03-29T07:00:00Z", "2025-03-30T06:00:00Z", "daily 2025-03-30"},
		{"daily at 8 in Berlin: not at 7 after the clocks went forward", Daily, at8, "2025-03-29T07:00:00Z", "2025-03-30T05:00:00Z", ""},
		{"weekly on Thursday at 8 in Berlin: due on Thursday", Weekly, PlanOptions{Hour: 8, Weekday: time.Thursday, Location: berlin},
			"2025-01-02T07:00:00Z", "2025-01-09T07:00:00Z", "weekly 2025-W02"},
		{"weekly on Thursday at 8 in Berlin: not on Monday", Weekly, PlanOptions{Hour: 8, Weekday: time.Thursday, Location: berlin},
			"2025-01-02T07:00:00Z", "2025-01-06T12:00:00Z", ""},
		{"monthly at 8: due on the first", Monthly, at8, "2025-01-01T07:00:00Z", "2025-02-01T07:00:00Z", "monthly 2025-02"},
		{"monthly at 8: not on the last of the month", Monthly, at8, "2025-01-01T07:00:00Z", "2025-01-31T20:00:00Z", ""},
	}
	confirmed := utc("2024-12-01T08:00:00Z")
	contract(t, func(t *testing.T, c *cstore) {
		for i, tt := range tests {
			st := &csite{cstore: c}
			id := st.subscribe(fmt.Sprintf("s%d@example.com", i), tt.frequency, confirmed)
			st.update(id, confirmed, func(s *Subscriber) { s.LastDigestAt = utc(tt.last) })
			c.record(&Run{Started: confirmed.Add(time.Second), Command: "publish"}, post(fmt.Sprint("post", i), confirmed, true))
			n, err := c.PlanWith(t.Context(), utc(tt.now), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := c.SubscriberDeliveries(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, d := range ds {
				keys = append(keys, d.DigestKey)
			}
			want := []string{tt.key}
			if tt.key == "" {
				want = nil
			}
			if !slices.Equal(keys, want) || n != len(want) {
				t.Errorf("%s: got digests %q (%d queued), want %q", tt.name, keys, n, want)
			}
			st.update(id, utc(tt.now), func(s *Subscriber) { s.Status = Unsubscribed })
		}
		if _, err := c.PlanWith(t.Context(), confirmed, PlanOptions{Hour: 24}); err == nil {
			t.Error("PlanWith at hour 24: got no error, want one")
		}
	})
}

func TestContractChoices(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		all := st.subscribe("all@example.com", Immediate, h(-10))
		goOnly := st.add(Subscriber{Email: "go@example.com", Status: Active, Tags: MakeTags(" Go ", "go")}, h(-10))
		fr := st.add(Subscriber{Email: "fr@example.com", Status: Active, Lang: "FR"}, h(-10))
		st.add(Subscriber{Email: "news-fr@example.com", Status: Active, Tags: MakeTags("News"), Lang: "fr"}, h(-10))
		st.add(Subscriber{Email: "weekly-go@example.com", Status: Active, Frequency: Weekly, Tags: MakeTags("go")}, h(-10))
		st.add(Subscriber{Email: "monthly@example.com", Status: Active, Frequency: Monthly}, h(-10))

		if got := c.sub(goOnly.ID); got.Tags != "|go|" || !slices.Equal(got.Tags.List(), []string{"go"}) {
			t.Errorf("got tags %q (%q), want |go| ([go])", got.Tags, got.Tags.List())
		}
		if got := c.sub(fr.ID); got.Lang != "fr" {
			t.Errorf("got lang %q, want fr", got.Lang)
		}
		st.posts = []Item{
			{ID: "go-en", Hash: "1", Date: h(1), Sendable: true, Tags: MakeTags("Go", "Releases"), Lang: "en"},
			{ID: "news-en", Hash: "2", Date: h(2), Sendable: true, Tags: MakeTags("news"), Lang: "en"},
			{ID: "go-fr", Hash: "3", Date: h(3), Sendable: true, Tags: MakeTags("go"), Lang: "fr"},
			{ID: "bare", Hash: "4", Date: h(4), Sendable: true},
			{ID: "gone", Hash: "5", Date: h(5), Sendable: true, Tags: MakeTags("gone"), Lang: "de"},
		}
		st.record(&Run{Started: h(6), Command: "publish"}, st.posts...)
		st.remove("gone")
		st.publish(h(7), false)
		// A multilingual site whose default language is English.
		if _, err := c.PlanWith(t.Context(), h(8), PlanOptions{Weekday: time.Monday, Lang: "en"}); err != nil {
			t.Fatal(err)
		}
		// ct0 is Monday 6 January, 09:00: the weekly digest fell due at midnight, confirmed the night
		// before; the monthly one falls due on 1 February.
		for _, at := range []time.Time{h(7 * 24), h(26*24 - 9)} {
			if _, err := c.PlanWith(t.Context(), at, PlanOptions{Weekday: time.Monday, Lang: "en"}); err != nil {
				t.Fatal(err)
			}
		}
		st.ledger(
			"all@example.com [go-en]",
			"all@example.com [news-en]",
			"all@example.com [bare]",
			"go@example.com [go-en]",
			"fr@example.com [go-fr]",
			"weekly-go@example.com weekly 2025-W02 [go-en]",
			"monthly@example.com monthly 2025-02 [bare news-en go-en]",
		)
		ch, err := c.Choices(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ch.Tags, []string{"go", "news", "releases"}) || !slices.Equal(ch.Langs, []string{"en", "fr"}) {
			t.Errorf("got choices %+v, want tags go, news, releases and languages en, fr", ch)
		}

		// A monolingual site: a reader who chose no language gets every post.
		st.update(all, h(7*24), func(s *Subscriber) { s.Tags = MakeTags("later") })
		st.publish(h(7*24+1), true, "later-a")
		st.posts[len(st.posts)-1].Tags = MakeTags("later") // not recorded: a post's tags are those first seen
		st.publish(h(7*24+2), true)
		st.posts = append(st.posts, Item{ID: "later-b", Hash: "b", Date: h(7*24 + 3), Sendable: true, Tags: MakeTags("Later"), Lang: "pt"})
		st.record(&Run{Started: h(7*24 + 3), Command: "publish"}, st.posts...)
		if _, err := c.PlanWith(t.Context(), h(7*24+4), PlanOptions{Weekday: time.Monday}); err != nil {
			t.Fatal(err)
		}
		var got []string
		ds, err := c.SubscriberDeliveries(t.Context(), all)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			got = append(got, d.ItemIDs...)
		}
		sameStrings(t, "all@'s posts", got, []string{"go-en", "news-en", "bare", "later-b"})
	})
}

func TestContractHoldAndDelay(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		st, h := &csite{cstore: c}, chours
		st.subscribe("now@example.com", Immediate, h(-10))
		st.subscribe("day@example.com", Daily, h(-10))
		st.posts = []Item{
			{ID: "off", Hash: "1", Date: h(0), Sendable: true, NoEmail: true},
			{ID: "later", Hash: "2", Date: h(0), Sendable: true, Delay: 2 * time.Hour},
			{ID: "held", Hash: "3", Date: h(0), Sendable: true, Held: true},
			{ID: "held-later", Hash: "4", Date: h(0), Sendable: true, Held: true, Delay: 5 * time.Hour},
		}
		st.record(&Run{Started: h(0), Command: "publish"}, st.posts...)
		its := c.items()
		if it := its["off"]; it.Sendable || !it.NoEmail || it.Held || !it.WaitUntil.IsZero() {
			t.Errorf("got off %+v, want not sendable, NoEmail", it)
		}
		if it := its["later"]; !it.Sendable || it.Held || !it.WaitUntil.Equal(c.at(h(2))) {
			t.Errorf("got later %+v, want sendable, waiting until %v", it, h(2))
		}
		if it := its["held"]; !it.Sendable || !it.Held || !it.WaitUntil.Equal(c.at(h(0))) {
			t.Errorf("got held %+v, want sendable, held", it)
		}
		st.plan(h(1), 0)
		// Another post goes out at once; the cursor passes the ones that wait.
		st.publish(h(1), true, "p2")
		st.plan(h(1), 1)
		st.subscribe("late@example.com", Immediate, h(1.5)) // after they were recorded: never theirs
		st.plan(h(2), 1)                                    // later
		if it := c.items()["later"]; !it.WaitUntil.IsZero() {
			t.Errorf("got later waiting until %v after it was released, want zero", it.WaitUntil)
		}
		st.plan(h(3), 0)
		for _, id := range []string{"held", "held-later"} {
			if ok, err := c.Approve(t.Context(), id); err != nil || !ok {
				t.Fatalf("approve %s: got %v, %v, want true", id, ok, err)
			}
		}
		if ok, err := c.Approve(t.Context(), "held"); err != nil || ok {
			t.Errorf("approve held again: got %v, %v, want false, nil", ok, err)
		}
		if _, err := c.Approve(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("approve nope: got %v, want ErrNotFound", err)
		}
		st.plan(h(4), 1) // held; held-later waits until 5
		st.plan(h(5), 1)
		st.plan(h(24), 1) // the day's digest
		st.plan(h(25), 0)
		st.ledger(
			"now@example.com [p2]",
			"now@example.com [later]",
			"now@example.com [held]",
			"now@example.com [held-later]",
			"day@example.com daily 2025-01-07 [p2 held held-later later]",
		)
	})
}

func TestContractChoicesRoundTrip(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		ctx := t.Context()
		s := c.add(Subscriber{Email: "ann@example.com", Status: Active, Tags: MakeTags("b", "A"), Lang: "EN-gb"}, chours(0))
		if s.Tags != "|a|b|" || s.Lang != "en-gb" {
			t.Errorf("AddSubscriber gave tags %q, lang %q; want |a|b|, en-gb", s.Tags, s.Lang)
		}
		st := &csite{cstore: c}
		st.update(s.ID, chours(1), func(s *Subscriber) { s.Tags, s.Lang, s.Frequency = "", "", Monthly })
		if got := c.sub(s.ID); got.Tags != "" || got.Lang != "" || got.Frequency != Monthly {
			t.Errorf("got %+v after the update, want no tags, no language, monthly", got)
		}
		res, err := c.ImportSubscribers(ctx, []Subscriber{
			{Email: "ann@example.com", Tags: MakeTags("c")},
			{Email: "bob@example.com", Frequency: Monthly, Tags: MakeTags("d"), Lang: "de"},
		}, chours(2))
		if err != nil || res.Added != 1 || res.Updated != 1 {
			t.Fatalf("import: got %+v, %v, want one added, one updated", res, err)
		}
		subs, err := c.Subscribers(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range subs {
			got = append(got, fmt.Sprintf("%s %s %s %q", s.Email, s.Frequency, s.Tags, s.Lang))
		}
		sameStrings(t, "subscribers", got, []string{`ann@example.com monthly |c| ""`, `bob@example.com monthly |d| "de"`})
		if err := c.QueueSignUp(ctx, QueuedSignUp{Email: "cy@example.com", Frequency: Monthly, Tags: MakeTags("X"), Lang: "Fr", IP: "192.0.2.1", At: chours(3)}); err != nil {
			t.Fatal(err)
		}
		qs, err := c.QueuedSignUps(ctx, 10)
		if err != nil || len(qs) != 1 || qs[0].Tags != "|x|" || qs[0].Lang != "fr" || qs[0].Frequency != Monthly {
			t.Errorf("got queued sign-ups %+v, %v, want cy's, monthly, |x|, fr", qs, err)
		}
	})
}

// FuzzMakeTags: whatever a form or a front matter gives, a set of tags is sorted, unique, folded, has no
// empty tag and no separator inside one, and folding it again changes nothing.
func FuzzMakeTags(f *testing.F) {
	f.Add("Go", "go ", "a|b")
	f.Add("", " ", "Ünïcode")
	f.Add("|", "||", "x")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		tags := MakeTags(a, b, c)
		list := tags.List()
		if !slices.IsSorted(list) || len(slices.Compact(slices.Clone(list))) != len(list) {
			t.Fatalf("MakeTags(%q, %q, %q) = %q: not sorted, or a tag twice", a, b, c, tags)
		}
		for _, tag := range list {
			if tag == "" || strings.Contains(tag, "|") || tag != strings.TrimSpace(tag) || !utf8.ValidString(tag) || !norm.NFC.IsNormalString(tag) {
				t.Fatalf("MakeTags(%q, %q, %q) = %q: tag %q is empty, holds |, is not trimmed, or is not valid NFC UTF-8", a, b, c, tags, tag)
			}
		}
		if again := MakeTags(list...); again != tags {
			t.Fatalf("MakeTags of %q's tags = %q, want the same", tags, again)
		}
		if (tags == "") != (len(list) == 0) {
			t.Fatalf("MakeTags(%q, %q, %q) = %q with %d tags", a, b, c, tags, len(list))
		}
	})
}
