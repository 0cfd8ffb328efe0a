package main

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

const listFixtures = "../../subscribers/testdata"

// exportJSON runs herald subscribers export with args and decodes its array.
func exportJSON(t *testing.T, dir string, args ...string) []subscriberJSON {
	t.Helper()
	out, _, err := runHerald(t, testEnv(), append([]string{"subscribers", "export", "-C", dir}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var subs []subscriberJSON
	if err := json.Unmarshal([]byte(out), &subs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return subs
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, _, err := runHerald(t, testEnv(), args...)
	if err != nil {
		t.Fatalf("herald %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func timeText(p *time.Time) string {
	if p == nil {
		return ""
	}
	return p.Format(time.RFC3339Nano)
}

// TestSubscribersImportExports imports each service's export fixture as it is, through the CLI, and
// checks what the store then holds, through export.
func TestSubscribersImportExports(t *testing.T) {
	type want struct {
		email, name, status, consent string // consent "" when the file has none (the import's time)
		confirmed, unsubscribed      string // "-" for none, "" for the import's time
		ip                           string
	}
	tests := []struct {
		file string
		want []want
	}{
		{"mailchimp_subscribed.csv", []want{
			{"ada@example.com", "Ada Lovelace", "active", "2023-04-21T11:17:30Z", "2023-04-21T11:17:30Z", "-", "203.0.113.7"},
			{"grace@Example.ORG", "Grace Hopper", "active", "2018-02-05T19:28:22Z", "2018-02-05T19:28:22Z", "-", ""},
			{"alan@example.net", "", "active", "2018-02-12T10:54:27Z", "", "-", ""},
		}},
		{"mailchimp_unsubscribed.csv", []want{
			{"edsger@example.com", "Edsger", "unsubscribed", "2018-02-12T10:54:27Z", "2018-02-12T10:54:27Z", "2018-07-23T12:19:27Z", ""},
			{"barbara@example.com", "Liskov", "unsubscribed", "2020-12-25T13:35:34Z", "2020-12-25T13:35:34Z", "2022-12-05T21:01:47Z", ""},
		}},
		{"mailchimp_cleaned.csv", []want{
			{"ken@example.com", "Ken", "bounced", "2018-02-05T19:28:23Z", "2018-02-05T19:28:23Z", "-", ""},
			{"dennis@example.com", "Dennis Ritchie", "bounced", "2020-06-04T15:28:08Z", "2020-06-04T15:28:08Z", "-", ""},
		}},
		{"substack_signups.csv", []want{
			{"paid.reader@example.com", "", "active", "2018-08-27T15:06:27.713Z", "", "-", ""},
			{"free.reader@example.com", "", "active", "2018-12-19T08:03:04.977Z", "", "-", ""},
			{"muted.reader@example.com", "", "unsubscribed", "2018-08-29T20:50:03.435Z", "-", "", ""},
			{"ömer@example.com", "", "active", "2020-08-06T10:21:25.605Z", "", "-", ""},
		}},
		{"substack_subscribers.csv", []want{
			{"paid.reader@example.com", "", "active", "", "", "-", ""},
			{"comp.reader@example.com", "", "active", "", "", "-", ""},
			{"gift.reader@example.com", "", "unsubscribed", "", "-", "", ""},
		}},
		{"buttondown.csv", []want{
			{"reader@example.com", "", "active", "2019-08-24T14:15:22Z", "", "-", ""},
			{"new.reader@example.com", "", "pending", "2024-03-01T09:30:00.123456Z", "-", "-", ""},
			{"gone@example.com", "", "unsubscribed", "2021-05-02T08:00:00Z", "-", "", ""},
			{"patron@example.com", "", "active", "2022-11-20T17:45:10Z", "", "-", ""},
		}},
		{"buttondown_api.csv", []want{
			{"Reader@Example.com", "", "active", "2024-02-10T08:00:00Z", "", "-", ""},
			{"pending.reader@example.com", "", "pending", "2024-05-01T12:30:45.5Z", "-", "-", ""},
			{"bounce@example.com", "", "bounced", "2023-11-11T11:11:11Z", "-", "-", ""},
			{"left@example.com", "", "unsubscribed", "2022-01-31T23:59:59Z", "-", "", ""},
			{"patron@example.com", "", "active", "2023-07-04T14:00:00Z", "", "-", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := siteDir(t)
			before := time.Now().UTC()
			mustRun(t, "subscribers", "import", "-C", dir, filepath.Join(listFixtures, tt.file))
			after := time.Now().UTC()
			got := exportJSON(t, dir)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d subscribers, want %d: %+v", len(got), len(tt.want), got)
			}
			// checkTime compares a time with want: "-" none, "" the import's time, else that time.
			checkTime := func(what string, p *time.Time, want string) {
				t.Helper()
				switch {
				case want == "-" && p != nil:
					t.Errorf("%s: got %s, want none", what, p)
				case want == "" && (p == nil || p.Before(before) || p.After(after)):
					t.Errorf("%s: got %v, want the import's time", what, p)
				case want != "-" && want != "" && (p == nil || !p.Equal(mustTime(t, want))):
					t.Errorf("%s: got %v, want %s", what, p, want)
				}
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Email != w.email || g.Name != w.name || g.Status != w.status || g.Frequency != "immediate" ||
					g.ConsentSource != "import" || g.ConsentIP != w.ip {
					t.Errorf("subscriber %d: got %s %q %s %s %s ip %q, want %s %q %s immediate import ip %q",
						i, g.Email, g.Name, g.Status, g.Frequency, g.ConsentSource, g.ConsentIP, w.email, w.name, w.status, w.ip)
				}
				checkTime(w.email+" consent", g.ConsentAt, w.consent)
				checkTime(w.email+" confirmed", g.ConfirmedAt, w.confirmed)
				checkTime(w.email+" unsubscribed", g.UnsubscribedAt, w.unsubscribed)
			}
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSubscribersExportRoundTrip exports a list with every status as CSV, imports it into a fresh store,
// and checks that the new store exports the same subscribers, statuses, frequencies and consent record.
func TestSubscribersExportRoundTrip(t *testing.T) {
	dir := siteDir(t)
	mustRun(t, "subscribers", "import", "-C", dir, filepath.Join(listFixtures, "mailchimp_subscribed.csv"))
	mustRun(t, "subscribers", "import", "-C", dir, filepath.Join(listFixtures, "mailchimp_cleaned.csv"))
	mustRun(t, "subscribers", "import", "-C", dir, filepath.Join(listFixtures, "buttondown.csv"))
	mustRun(t, "subscribers", "add", "-C", dir, "cy@example.net", "--name", "Cy, Jr.", "--frequency", "weekly", "--confirmed")
	mustRun(t, "subscribers", "add", "-C", dir, "dee@example.net", "--frequency", "daily") // pending
	// A name typed into the web form that a spreadsheet would run as a formula.
	const formula = `=HYPERLINK("https://evil.example","Click")`
	mustRun(t, "subscribers", "add", "-C", dir, "eve@example.net", "--name", formula, "--confirmed")
	mustRun(t, "subscribers", "remove", "-C", dir, "ada@EXAMPLE.com") // unsubscribed, confirmed before
	st, err := siteStore(t.Context(), dir, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.SubscriberByEmail(t.Context(), "cy@example.net")
	if err == nil {
		err = st.UpdateSubscriber(t.Context(), s.ID, time.Now(), func(s *store.Subscriber) {
			s.ConsentSource, s.ConsentIP = store.FromWeb, "2001:db8::7" // as herald serve records one
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	first := mustRun(t, "subscribers", "export", "-C", dir, "--format", "csv")
	if strings.Contains(first, ","+formula) || !strings.Contains(first, `'=HYPERLINK`) {
		t.Errorf("the export does not defuse the formula in a name:\n%s", first)
	}
	if again := mustRun(t, "subscribers", "export", "-C", dir, "--format", "csv"); again != first {
		t.Errorf("two exports differ:\n%s\n%s", first, again)
	}
	file := filepath.Join(t.TempDir(), "export.csv")
	if err := os.WriteFile(file, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := siteDir(t)
	out := mustRun(t, "subscribers", "import", "-C", fresh, file)
	if !strings.Contains(out, "8 added, 2 stored as unsubscribed, 2 as bounced") { // 12 rows
		t.Errorf("import of the export: %s", out)
	}

	rows := func(export string) [][]string {
		t.Helper()
		recs, err := csv.NewReader(strings.NewReader(export)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], exportColumns) {
			t.Fatalf("got header %v, want %v", recs[0], exportColumns)
		}
		return recs[1:]
	}
	want, got := rows(first), rows(mustRun(t, "subscribers", "export", "-C", fresh, "--format", "csv"))
	if len(got) != len(want) || len(want) != 12 {
		t.Fatalf("got %d subscribers, want %d (12)", len(got), len(want))
	}
	for _, sub := range listJSON(t, fresh) {
		if sub["email"] == "eve@example.net" && sub["name"] != formula {
			t.Errorf("the formula name after the round trip: got %q, want %q", sub["name"], formula)
		}
	}
	// The new store's ids, row times and consent source are its own; the rest is the same.
	kept := []string{"email", "name", "status", "frequency", "consent_at", "consent_ip", "confirmed_at", "unsubscribed_at"}
	for i := range want {
		for _, col := range kept {
			j := slices.Index(exportColumns, col)
			if got[i][j] != want[i][j] {
				t.Errorf("%s %s: got %q, want %q", want[i][1], col, got[i][j], want[i][j])
			}
		}
		if got[i][slices.Index(exportColumns, "consent_source")] != "import" {
			t.Errorf("%s: got consent source %q, want import", got[i][1], got[i][6])
		}
	}
	var statuses []string
	for _, r := range want {
		statuses = append(statuses, r[3])
	}
	if !slices.Contains(statuses, "pending") || !slices.Contains(statuses, "bounced") || !slices.Contains(statuses, "unsubscribed") {
		t.Errorf("the round trip covers only %v", statuses)
	}
}

// TestSubscribersExportOne exports one subscriber with their deliveries, then erases them and checks,
// in a fresh open of the store, that nothing of them is left.
func TestSubscribersExportOne(t *testing.T) {
	dir := siteDir(t)
	mustRun(t, "subscribers", "add", "-C", dir, "ann@example.com", "--confirmed", "--name", "Ann")
	mustRun(t, "subscribers", "add", "-C", dir, "bob@example.com", "--confirmed", "--frequency", "daily")
	mustRun(t, "subscribers", "add", "-C", dir, "cy@example.com") // pending: nothing is sent to them

	// Two new posts, planned and one of them sent, as herald publish and send would record them.
	st, err := siteStore(t.Context(), dir, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Add(time.Hour) // after the subscribers confirmed
	seen := []store.Item{
		{ID: "p1", URL: "https://example.com/p1/", Title: "First", Hash: "1", Date: now, Sendable: true},
		{ID: "p2", URL: "https://example.com/p2/", Title: "Second", Hash: "2", Date: now.Add(time.Minute), Sendable: true},
	}
	if err := st.Record(t.Context(), &store.Run{Started: now, Command: "publish"}, seen); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Plan(t.Context(), now.Add(48*time.Hour)); err != nil || n != 3 {
		t.Fatalf("plan: got %d, %v; want 3 deliveries (ann's two posts, bob's digest)", n, err)
	}
	ann, err := st.SubscriberByEmail(t.Context(), "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := st.SubscriberDeliveries(t.Context(), ann.ID)
	if err != nil || len(ds) != 2 {
		t.Fatalf("got %v, %v; want ann's two deliveries", ds, err)
	}
	sentAt := now.Add(49 * time.Hour)
	if _, err := st.Sending(t.Context(), []store.Attempt{{DeliveryID: ds[0].ID, MessageID: "m1@example.com"}}, sentAt); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(t.Context(), []store.Outcome{{DeliveryID: ds[0].ID, Status: store.Sent, At: sentAt}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if _, _, err := runHerald(t, testEnv(), "subscribers", "export", "-C", dir, "nobody@example.com"); err == nil {
		t.Errorf("export found nobody@example.com")
	}
	out := mustRun(t, "subscribers", "export", "-C", dir, "ANN@EXAMPLE.COM") // the address in any case
	var one subscriberJSON
	if err := json.Unmarshal([]byte(out), &one); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if one.Email != "ann@example.com" || one.Name != "Ann" || one.Status != "active" || one.ConsentSource != "command" ||
		one.ConfirmedAt == nil || one.Deliveries == nil || len(*one.Deliveries) != 2 {
		t.Fatalf("got %s", out)
	}
	d := (*one.Deliveries)[0]
	if d.Kind != "post" || d.Status != "sent" || len(d.Posts) != 1 || d.Posts[0] != (postJSON{"p1", "First", "https://example.com/p1/"}) ||
		d.MessageID != "m1@example.com" || d.Attempts != 1 || timeText(d.SentAt) != sentAt.Format(time.RFC3339Nano) {
		t.Errorf("got first delivery %+v, want p1 sent at %s", d, sentAt)
	}
	if d := (*one.Deliveries)[1]; d.Kind != "post" || d.Status != "queued" || d.Posts[0].ID != "p2" || d.SentAt != nil {
		t.Errorf("got second delivery %+v, want p2 queued", d)
	}
	if !strings.Contains(out, `"sent_at": "`+sentAt.Format(time.RFC3339Nano)+`"`) || strings.Contains(out, "+00:00") {
		t.Errorf("times are not RFC 3339 in UTC:\n%s", out)
	}
	if again := mustRun(t, "subscribers", "export", "-C", dir, "ann@example.com"); again != out {
		t.Errorf("two exports differ:\n%s\n%s", out, again)
	}
	out = mustRun(t, "subscribers", "export", "-C", dir, "bob@example.com")
	if !strings.Contains(out, `"kind": "digest"`) || !strings.Contains(out, `"id": "p2"`) || strings.Index(out, `"p2"`) > strings.Index(out, `"p1"`) {
		t.Errorf("bob's digest, newest post first:\n%s", out)
	}
	out = mustRun(t, "subscribers", "export", "-C", dir, "cy@example.com")
	if !strings.Contains(out, `"deliveries": []`) {
		t.Errorf("cy has no deliveries, and the export should say so:\n%s", out)
	}
	if _, _, err := runHerald(t, testEnv(), "subscribers", "export", "-C", dir, "nobody@example.com"); err == nil || !strings.Contains(err.Error(), "not on the list") {
		t.Errorf("export of an unknown address: got %v, want not on the list", err)
	}

	mustRun(t, "subscribers", "remove", "--erase", "-C", dir, "ann@example.com")
	// A fresh open of the store: the row and every delivery of theirs are gone, the others' are not.
	cfg, err := loadConfig(dir, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(t.Context(), storePath(dir, cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.SubscriberByEmail(t.Context(), "ann@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after erase: got %v, want ErrNotFound", err)
	}
	if ds, err := st.SubscriberDeliveries(t.Context(), ann.ID); err != nil || len(ds) != 0 {
		t.Errorf("after erase: got deliveries %v, %v; want none", ds, err)
	}
	if subs := exportJSON(t, dir); len(subs) != 2 || subs[0].Email != "bob@example.com" || subs[1].Email != "cy@example.com" {
		t.Errorf("after erase: got %+v, want bob and cy", subs)
	}
	db, err := sql.Open("sqlite", storePath(dir, cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"SELECT COUNT(*) FROM subscribers WHERE email LIKE 'ann@%'",
		"SELECT COUNT(*) FROM deliveries WHERE subscriber_id = ?",
		"SELECT COUNT(*) FROM delivery_items WHERE subscriber_id = ?",
	} {
		var n int
		if err := db.QueryRowContext(t.Context(), q, ann.ID).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != 0 {
			t.Errorf("%s: got %d rows, want 0", q, n)
		}
	}
	var bobs int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM delivery_items").Scan(&bobs); err != nil || bobs != 2 {
		t.Errorf("got %d delivery items left (%v), want bob's 2", bobs, err)
	}
	// Nor is the address anywhere in the files, free space and WAL included.
	for _, p := range []string{storePath(dir, cfg), storePath(dir, cfg) + "-wal"} {
		data, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "ann@example.com") || strings.Contains(string(data), "m1@example.com") {
			t.Errorf("%s still holds the erased subscriber's address or Message-ID", p)
		}
	}
	// Erasing again (after a clean-up that failed, say) compacts the store and says the address is gone.
	_, _, err = runHerald(t, testEnv(), "subscribers", "remove", "--erase", "-C", dir, "ann@example.com")
	if err == nil || !strings.Contains(err.Error(), "not on the list (the store was compacted") {
		t.Errorf("erase again: got %v, want not on the list, store compacted", err)
	}
}

func TestSubscribersUsageErrors(t *testing.T) {
	dir := siteDir(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"list bad status", []string{"list", "--status", "gone"}, `--status "gone": want pending, active, unsubscribed, bounced`},
		{"export bad status", []string{"export", "--status", "Active"}, `--status "Active": want pending, active, unsubscribed, bounced`},
		{"export bad format", []string{"export", "--format", "xml"}, `--format "xml": want json or csv`},
		{"export one as csv", []string{"export", "--format", "csv", "a@example.com"}, "--format json"},
		{"export one with a status", []string{"export", "--status", "active", "a@example.com"}, "not both"},
		{"export two", []string{"export", "a@example.com", "b@example.com"}, `unexpected argument "b@example.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"subscribers"}, tt.args...)
			_, _, err := runHerald(t, testEnv(), append(args, "-C", dir)...)
			var u errUsage
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a usage error saying %q", err, tt.want)
			}
			if code := exitCode(err, new(strings.Builder)); code != 2 {
				t.Errorf("got exit code %d, want 2", code)
			}
		})
	}
	out, _, err := runHerald(t, testEnv(), "subscribers", "--help")
	if err != nil || !strings.Contains(out, "herald subscribers export") {
		t.Errorf("herald subscribers --help: %v\n%s", err, out)
	}
}

// siteDir is an empty site's folder: a herald.yaml and nothing else (the subscriber commands make a store
// only in a site's folder).
func siteDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte("url: https://blog.example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSubscribersOutsideASite: the subscriber commands make no store in a folder that is not a site.
func TestSubscribersOutsideASite(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runHerald(t, testEnv(), "subscribers", "add", "-C", dir, "ann@example.com")
	if err == nil || !strings.Contains(err.Error(), "is not a site's folder") {
		t.Fatalf("got %v, want a refusal", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the folder holds %d entries, want none", len(entries))
	}
}
