package store

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The tests of Copy: a store with every kind of row copied SQLite → PostgreSQL → SQLite keeps every row
// of every table (dumped without copy.go's model), its id counters and what the Store API answers; a
// target that is not empty is refused; a copy that fails or is killed half-way leaves the target empty.

// copyLeftOut are the tables Copy leaves out on purpose (see copyTables), and sqlite_sequence, whose
// counters copyDump reads on their own.
var copyLeftOut = []string{"herald_meta", "run_lock", "sqlite_sequence", "write_checks"}

// copyLeftOutColumns are the columns Copy leaves out on purpose (see copyTables), as table.column.
var copyLeftOutColumns = []string{"deliveries.claimed_by"}

// TestCopyModel: copyTables names every table of both backends' schemas but those left out, with every
// column, in the schema's order, of the kind the PostgreSQL schema's type says (and SQLite's too: INTEGER
// for numbers and booleans, TEXT for text and times).
func TestCopyModel(t *testing.T) {
	model := map[string][]column{}
	for _, tb := range copyTables {
		model[tb.name] = tb.cols
	}
	check := func(t *testing.T, got map[string][]column) {
		t.Helper()
		for name, cols := range got {
			cols = slices.DeleteFunc(cols, func(c column) bool { return slices.Contains(copyLeftOutColumns, name+"."+c.name) })
			want, ok := model[name]
			switch {
			case slices.Contains(copyLeftOut, name):
			case !ok:
				t.Errorf("table %s is not in copyTables: copy it, or say in copy.go why not and add it to copyLeftOut", name)
			case !slices.Equal(cols, want):
				t.Errorf("table %s: the schema has columns %v, copyTables %v", name, cols, want)
			}
		}
		for name := range model {
			if _, ok := got[name]; !ok {
				t.Errorf("copyTables has %s, which the schema does not", name)
			}
		}
	}

	t.Run("sqlite", func(t *testing.T) {
		s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
		sqliteType := map[kind]string{kText: "TEXT", kInt: "INTEGER", kBool: "INTEGER", kTime: "TEXT"}
		got := map[string][]column{}
		rows, err := s.db.QueryContext(t.Context(), `SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p
			WHERE m.type = 'table' ORDER BY m.name, p.cid`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var table, col, typ string
			if err := rows.Scan(&table, &col, &typ); err != nil {
				t.Fatal(err)
			}
			// SQLite's types do not tell a bool from an int, nor a time from text: the model's kind, when
			// its column there has this type.
			k := kind(-1)
			if m := model[table]; len(got[table]) < len(m) && sqliteType[m[len(got[table])].kind] == typ {
				k = m[len(got[table])].kind
			}
			got[table] = append(got[table], column{col, k})
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		check(t, got)
	})

	t.Run("postgres", func(t *testing.T) {
		s := pgOpen(t, pg.DB(t))
		kinds := map[string]kind{"text": kText, "bigint": kInt, "integer": kInt, "boolean": kBool, "timestamp with time zone": kTime}
		rows, err := s.pool.Query(t.Context(), `SELECT table_name, column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]column{}
		var table, col, typ string
		_, err = pgx.ForEachRow(rows, []any{&table, &col, &typ}, func() error {
			k, ok := kinds[typ]
			if !ok {
				return fmt.Errorf("%s.%s has type %s, which copy.go has no kind for", table, col, typ)
			}
			got[table] = append(got[table], column{col, k})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		check(t, got)
	})
}

// copyDump is every row of every table of the store (but copyLeftOut's), sorted, and the id counters of
// the tables whose ids are never reused, read without copy.go: times to the microsecond, the one
// precision both backends keep, booleans as 0 and 1.
func copyDump(t *testing.T, s Store) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	switch s := s.(type) {
	case *sqliteStore:
		var tables []string
		rows, err := s.db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name string
			rows.Scan(&name)
			tables = append(tables, name)
		}
		rows.Close()
		for _, table := range tables {
			if slices.Contains(copyLeftOut, table) {
				continue
			}
			cols, rows := scanAll(t, s, "SELECT * FROM "+table)
			var lines []string
			for _, vals := range rows {
				lines = append(lines, dumpRow(table, cols, vals))
			}
			slices.Sort(lines)
			fmt.Fprintf(&b, "%s (%d):\n%s", table, len(lines), strings.Join(lines, ""))
		}
		for _, table := range []string{"runs", "posts", "subscribers", "deliveries"} {
			var n sql.NullInt64
			if err := s.db.QueryRowContext(ctx, "SELECT seq FROM sqlite_sequence WHERE name = ?", table).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "counter %s: %d\n", table, n.Int64)
		}
	case *pgStore:
		rows, err := s.pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			if slices.Contains(copyLeftOut, table) {
				continue
			}
			rows, err := s.pool.Query(ctx, "SELECT * FROM "+pgx.Identifier{table}.Sanitize())
			if err != nil {
				t.Fatal(err)
			}
			var cols []string
			for _, f := range rows.FieldDescriptions() {
				cols = append(cols, f.Name)
			}
			var lines []string
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					t.Fatal(err)
				}
				lines = append(lines, dumpRow(table, cols, vals))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			slices.Sort(lines)
			fmt.Fprintf(&b, "%s (%d):\n%s", table, len(lines), strings.Join(lines, ""))
		}
		for _, table := range []string{"runs", "posts", "subscribers", "deliveries"} {
			var seq string
			var n int64
			if err := s.pool.QueryRow(ctx, "SELECT pg_get_serial_sequence($1, 'id')", table).Scan(&seq); err != nil {
				t.Fatal(err)
			}
			if err := s.pool.QueryRow(ctx, "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM "+seq).Scan(&n); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "counter %s: %d\n", table, n)
		}
	default:
		t.Fatalf("a %T", s)
	}
	return b.String()
}

// dumpRow is one row of table as "col=value" pairs, sorted by column, without copyLeftOutColumns.
func dumpRow(table string, cols []string, vals []any) string {
	pairs := make([]string, 0, len(cols))
	for i, v := range vals {
		if slices.Contains(copyLeftOutColumns, table+"."+cols[i]) {
			continue
		}
		var s string
		switch x := v.(type) {
		case nil:
			s = "NULL"
		case bool:
			s = "0"
			if x {
				s = "1"
			}
		case time.Time:
			s = x.UTC().Truncate(time.Microsecond).Format(timeLayout)
		case string:
			s = fmt.Sprintf("%q", x)
			if tm, ok := parseLayout(x); ok {
				s = tm.Truncate(time.Microsecond).Format(timeLayout)
			}
		default:
			s = fmt.Sprint(x)
		}
		pairs = append(pairs, cols[i]+"="+s)
	}
	slices.Sort(pairs)
	return "  " + strings.Join(pairs, " ") + "\n"
}

// copyView is what the Store API answers about s at now, as text, with times to the microsecond.
func copyView(t *testing.T, s Store, now time.Time) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	show := func(what string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		fmt.Fprintf(&b, "%s: %+v\n", what, v)
	}
	its, err := s.Items(ctx)
	show("items", its, err)
	rs, err := s.Runs(ctx, 0)
	show("runs", rs, err)
	c, err := s.Counts(ctx)
	show("counts", c, err)
	subs, err := s.Subscribers(ctx, "")
	show("subscribers", subs, err)
	for _, sub := range subs {
		ds, err := s.SubscriberDeliveries(ctx, sub.ID)
		show(fmt.Sprintf("deliveries of %d", sub.ID), ds, err)
	}
	dc, err := s.DeliveryCounts(ctx)
	show("delivery counts", dc, err)
	due, err := s.Due(ctx, now, 1000)
	show("due", due, err)
	qs, err := s.QueuedSignUps(ctx, 100)
	show("queued sign-ups", qs, err)
	evs, err := s.Events(ctx, time.Time{})
	show("events", evs, err)
	pe, err := s.PostEvents(ctx, time.Time{})
	show("events by post", pe, err)
	return nanos.ReplaceAllString(b.String(), "$1 ")
}

// nanos matches the digits below the microsecond of a time as fmt prints it.
var nanos = regexp.MustCompile(`(:\d\d\.\d{6})\d+ `)

// fillForCopy fills s, through the API, with every kind of row: a baseline and later runs; posts with
// several ids, one of them removed, and a post removed; subscribers of every status and frequency (and
// one deleted, the last added); deliveries of every status, digests among them; queued sign-ups; limit
// counts; a write check; providers' events. It returns the time it ends at.
func fillForCopy(t *testing.T, s Store) time.Time {
	t.Helper()
	c := &cstore{Store: s, t: t}
	ctx := t.Context()
	c.record(&Run{Started: chours(0), Finished: chours(0.01), Command: "publish", ConfigHash: "c1", Items: 2, Baseline: true},
		post("old-1", chours(-48), false), post("old-2", time.Time{}, false))
	ann := c.add(Subscriber{Email: "ann@example.com", Name: "Ann", Status: Active}, chours(1))
	dan := c.add(Subscriber{Email: "dan@example.com", Status: Active, Frequency: Daily}, chours(1))
	c.add(Subscriber{Email: "wes@example.com", Status: Active, Frequency: Weekly}, chours(1))
	c.add(Subscriber{Email: "pat@example.com", Tags: MakeTags("go"), Lang: "fr"}, chours(1))
	c.add(Subscriber{Email: "Web@Example.COM", ConsentSource: FromWeb, ConsentIP: "192.0.2.1", ConsentAt: chours(0.5)}, chours(1))
	uma := c.add(Subscriber{Email: "uma@example.com", Status: Active}, chours(1))
	bob := c.add(Subscriber{Email: "bob@example.com", Status: Active}, chours(1))
	if _, err := s.ImportSubscribers(ctx, []Subscriber{{Email: "ivy@example.com", Name: "Ivy"}}, chours(1.2)); err != nil {
		t.Fatal(err)
	}
	ivy, err := s.SubscriberByEmail(ctx, "ivy@example.com")
	if err != nil {
		t.Fatal(err)
	}
	zed := c.add(Subscriber{Email: "zed@example.com", Status: Active}, chours(1.3))
	if err := s.DeleteSubscriber(ctx, zed.ID); err != nil {
		t.Fatal(err)
	}

	c.record(&Run{Started: chours(2), Finished: chours(2.01), Command: "publish", ConfigHash: "c2", Items: 6, New: 4},
		post("old-1", chours(-48), false), post("old-2", time.Time{}, false),
		post("p1", chours(1.5), true), post("p2", chours(1.6), true), post("p3", chours(1.7), true),
		Item{ID: "p4", URL: "https://x/p4", Title: "p4", Date: chours(1.8), Hash: "p4", Sendable: true, Tags: MakeTags("go", "news"), Lang: "en"})
	c.plan(chours(2), 16) // ann, uma, bob, ivy: p1 to p4 each

	of := func(sub Subscriber, item string) int64 {
		t.Helper()
		ds, err := s.SubscriberDeliveries(ctx, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if slices.Contains(d.ItemIDs, item) {
				return d.ID
			}
		}
		t.Fatalf("subscriber %d has no delivery of %s", sub.ID, item)
		return 0
	}
	send := func(sub Subscriber, item string, at float64, o Outcome) {
		t.Helper()
		id := of(sub, item)
		if _, err := s.Sending(ctx, []Attempt{{DeliveryID: id, MessageID: fmt.Sprintf("<%d@example.com>", id)}}, chours(at)); err != nil {
			t.Fatal(err)
		}
		if o.Status == "" {
			return
		}
		o.DeliveryID, o.At = id, chours(at+0.01)
		if err := s.Finish(ctx, []Outcome{o}); err != nil {
			t.Fatal(err)
		}
	}
	mustN := func(n int, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// ivy's p1 is unknown, then queued again (maybe_sent); ann's p4 stays unknown.
	send(ivy, "p1", 2.1, Outcome{})
	mustN(s.Recover(ctx))
	mustN(s.RetryUnknown(ctx, time.Time{}))
	send(ann, "p4", 2.2, Outcome{})
	mustN(s.Recover(ctx))
	send(ann, "p1", 2.3, Outcome{Status: Sent})
	send(ann, "p2", 2.4, Outcome{Status: Deferred, Error: "451 4.7.1 later", EnhancedCode: "4.7.1", NextAttempt: chours(5)})
	send(ann, "p3", 2.5, Outcome{Status: Failed, Error: "550 5.7.1 refused", EnhancedCode: "5.7.1"})
	// bob bounces twice: bounced, the rest of his cancelled.
	send(bob, "p1", 2.6, Outcome{Status: Failed, Error: "550 5.1.1 no such user", EnhancedCode: "5.1.1"})
	send(bob, "p2", 2.7, Outcome{Status: Failed, Error: "550 5.1.1 no such user", EnhancedCode: "5.1.1"})
	if err := s.UpdateSubscriber(ctx, uma.ID, chours(2.8), func(s *Subscriber) { s.Status = Unsubscribed }); err != nil {
		t.Fatal(err)
	}

	// p2 moves to another id and then a third, p3 leaves the site, p5 is new.
	// The next day, dan's daily digest, sent.
	c.plan(chours(24), 1)
	send(dan, "p1", 24.5, Outcome{Status: Sent})

	c.record(&Run{Started: chours(30), Command: "publish", ConfigHash: "c2", Items: 6, New: 1, Updated: 1, Removed: 1},
		post("old-1", chours(-48), false), post("old-2", time.Time{}, false), post("p1", chours(1.5), true),
		Item{ID: "p2-moved", URL: "https://x/p2-moved", Title: "p2", Date: chours(1.6), Hash: "p2", Continues: "p2"},
		post("p4", chours(1.8), true), post("p5", chours(29), true))
	c.record(&Run{Started: chours(31), Command: "build --record", Items: 6, Updated: 1, Forced: true},
		post("old-1", chours(-48), false), post("old-2", time.Time{}, false), post("p1", chours(1.5), true),
		Item{ID: "p2-third", URL: "https://x/p2-third", Title: "p2", Date: chours(1.6), Hash: "p2", Continues: "p2-moved"},
		post("p4", chours(1.8), true), post("p5", chours(29), true))
	// The next Monday: dan's digest, wes's weekly one, p5 to ann and ivy.
	c.plan(chours(7*24+1), 4)
	send(ivy, "p4", 7*24+1.5, Outcome{}) // left sending

	for i, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if err := s.QueueSignUp(ctx, QueuedSignUp{Email: e, Name: "N", Frequency: []string{"", Daily, Weekly}[i], IP: "198.51.100.7", At: chours(7*24 + float64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	qs, err := s.QueuedSignUps(ctx, 10)
	if err != nil || len(qs) != 3 {
		t.Fatalf("queued sign-ups: %v, %v", qs, err)
	}
	if err := s.DequeueSignUp(ctx, qs[1].ID); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ip:1", "ip:1", "domain:example.com"} {
		mustN(s.TakeLimit(ctx, k, 10, time.Hour, chours(7*24+2)))
	}
	if err := s.CheckWrite(ctx, chours(7*24+2)); err != nil {
		t.Fatal(err)
	}
	// The providers' events: ann's p1 delivered (by its Message-ID), a soft bounce of dan's digest, a
	// complaint of uma, who has left (by her address), and one about nobody Herald knows.
	for _, e := range []Event{
		{Provider: "ses", ProviderEventID: "e1", Kind: EventDelivered, MessageID: fmt.Sprintf("%d@example.com", of(ann, "p1"))},
		{Provider: "mailgun", ProviderEventID: "e2", Kind: EventSoftBounce, Detail: "452 mailbox full", MessageID: fmt.Sprintf("<%d@example.com>", of(dan, "p1"))},
		{Provider: "postmark", ProviderEventID: "e3", Kind: EventComplaint, Recipient: "UMA@example.com"},
		{Provider: "resend", ProviderEventID: "e4", Kind: EventHardBounce, Recipient: "nobody@example.com"},
	} {
		e.At, e.ReceivedAt = chours(7*24+2.1), chours(7*24+2.2)
		if _, err := s.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	dc, err := s.DeliveryCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{Queued, Sending, Sent, Deferred, Failed, Unknown, Cancelled} {
		if dc[st] == 0 {
			t.Errorf("the source has no delivery %s (%v): fillForCopy must make every kind", st, dc)
		}
	}
	subs, err := s.Subscribers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, sub := range subs {
		kinds[sub.Status] = true
		kinds[sub.Frequency] = true
	}
	for _, k := range []string{Pending, Active, Unsubscribed, Bounced, Immediate, Daily, Weekly} {
		if !kinds[k] {
			t.Errorf("the source has no subscriber %s", k)
		}
	}
	return chours(7*24 + 3)
}

// pgStoreFor opens a PostgreSQL store on a new database, closed when the test ends.
func pgStoreFor(t testing.TB) *pgStore {
	t.Helper()
	s, err := openPostgres(t.Context(), pg.DB(t), Options{}, len(migrations))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCopy(t *testing.T, dst, src Store) []Copied {
	t.Helper()
	got, err := Copy(t.Context(), dst, src)
	if err != nil {
		t.Fatalf("copy %s to %s: %v", storeName(src), storeName(dst), err)
	}
	return got
}

// TestCopy: SQLite → PostgreSQL → SQLite keeps every row, every id and counter, and what the API answers;
// and the copies go on as the source does.
func TestCopy(t *testing.T) {
	src := openStore(t, filepath.Join(t.TempDir(), "source.db"))
	now := fillForCopy(t, src)
	mid := pgStoreFor(t)
	copied := mustCopy(t, mid, src)
	dst := openStore(t, filepath.Join(t.TempDir(), "copy.db"))
	if again := mustCopy(t, dst, mid); !slices.Equal(again, copied) {
		t.Errorf("copied %v from PostgreSQL, want %v as from SQLite", again, copied)
	}
	rows := map[string]int{}
	for _, c := range copied {
		rows[c.Table] = c.Rows
	}
	for _, tb := range copyTables {
		if rows[tb.name] == 0 {
			t.Errorf("copied no rows of %s (%v): fillForCopy must fill every table", tb.name, copied)
		}
	}

	stores := []struct {
		name string
		s    Store
	}{{"source", src}, {"PostgreSQL copy", mid}, {"SQLite copy of it", dst}}
	compare := func(what string, f func(s Store) string) {
		t.Helper()
		want := f(src)
		for _, c := range stores[1:] {
			if got := f(c.s); got != want {
				t.Errorf("%s of the %s differs from the source's:\n%s", what, c.name, lineDiff(got, want))
			}
		}
	}
	compare("the tables", func(s Store) string { return copyDump(t, s) })
	compare("what the API says", func(s Store) string { return copyView(t, s, now) })
	if !strings.Contains(copyDump(t, mid), "counter subscribers: 9\n") {
		t.Errorf("the PostgreSQL copy's subscriber counter is not the source's (9, the deleted subscriber's id):\n%s", copyDump(t, mid))
	}

	// What each does next is the same: a new subscriber's id comes after the deleted one's, a run and
	// its plan, a sign-up queued, a delivery sent.
	for _, c := range stores {
		s := c.s
		sub, err := s.AddSubscriber(t.Context(), Subscriber{Email: "new@example.com", Status: Active}, now)
		if err != nil {
			t.Fatal(err)
		}
		if sub.ID != 10 {
			t.Errorf("%s: a new subscriber got id %d, want 10 (after the deleted 9)", c.name, sub.ID)
		}
		if err := s.QueueSignUp(t.Context(), QueuedSignUp{Email: "d@example.com", At: now}); err != nil {
			t.Errorf("%s: queue a sign-up: %v", c.name, err)
		}
		r := &Run{Started: now.Add(time.Hour), Command: "publish", Items: 7, New: 1}
		its, err := s.Items(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var seen []Item
		for _, it := range its {
			if !it.Removed {
				seen = append(seen, it)
			}
		}
		if err := s.Record(t.Context(), r, append(seen, post("p6", now, true))); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n, err := s.Plan(t.Context(), now.Add(time.Hour)); err != nil || n != 3 {
			t.Errorf("%s: Plan: got %d, %v, want 3 (p6 to ann, ivy and new)", c.name, n, err)
		}
		due, err := s.Due(t.Context(), now.Add(time.Hour), 1)
		if err != nil || len(due) != 1 {
			t.Fatalf("%s: Due: %v, %v", c.name, due, err)
		}
		if _, err := s.Commit(t.Context(), nil, []Attempt{{DeliveryID: due[0].ID, MessageID: cmp.Or(due[0].MessageID, "<next@example.com>")}}, now.Add(time.Hour)); err != nil {
			t.Errorf("%s: Commit: %v", c.name, err)
		}
	}
	compare("the tables after a run", func(s Store) string { return copyDump(t, s) })
	compare("what the API says after a run", func(s Store) string { return copyView(t, s, now.Add(2*time.Hour)) })
	checkModel(t, src)
	checkModel(t, dst)
	pgCheckModel(t, mid)
}

// lineDiff shows the lines of got and want that differ.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "line %d:\n got  %s\n want %s\n", i+1, gl, wl)
		}
		if b.Len() > 6000 {
			b.WriteString("...\n")
			break
		}
	}
	return b.String()
}

// TestCopyBothWays: PostgreSQL → PostgreSQL and SQLite → SQLite keep the tables too.
func TestCopyBothWays(t *testing.T) {
	src := pgStoreFor(t)
	fillForCopy(t, src)
	dst := pgStoreFor(t)
	mustCopy(t, dst, src)
	if got, want := copyDump(t, dst), copyDump(t, src); got != want {
		t.Errorf("PostgreSQL → PostgreSQL:\n%s", lineDiff(got, want))
	}
	// The copy leaves the planner's statistics: a table never analyzed has reltuples -1.
	var tuples float64
	if err := dst.pool.QueryRow(t.Context(), "SELECT reltuples FROM pg_class WHERE relname = 'deliveries'").Scan(&tuples); err != nil {
		t.Fatal(err)
	}
	if tuples <= 0 {
		t.Errorf("deliveries has reltuples %v after the copy, want the rows counted (ANALYZE)", tuples)
	}
	lite := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	fillForCopy(t, lite)
	lite2 := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	mustCopy(t, lite2, lite)
	// SQLite to SQLite keeps nanoseconds: compare the files' rows as they are.
	for _, tb := range copyTables {
		q := "SELECT * FROM " + tb.name + " ORDER BY " + tb.key
		if got, want := rawRows(t, lite2, q), rawRows(t, lite, q); got != want {
			t.Errorf("SQLite → SQLite, %s:\n%s", tb.name, lineDiff(got, want))
		}
	}
}

func rawRows(t *testing.T, s *sqliteStore, q string) string {
	t.Helper()
	_, rows := scanAll(t, s, q)
	var b strings.Builder
	for _, vals := range rows {
		fmt.Fprintf(&b, "%v\n", vals)
	}
	return b.String()
}

// scanAll runs q on s and returns its columns and rows, each value as the driver gives it.
func scanAll(t *testing.T, s *sqliteStore, q string) (cols []string, all [][]any) {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ = rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		all = append(all, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, all
}

// TestCopyRefusesNotEmpty: a target holding anything (here a subscriber, or only a queued sign-up) is
// refused by name, without its password, and left as it was; an empty one (schema only) is not.
func TestCopyRefusesNotEmpty(t *testing.T) {
	src := openStore(t, filepath.Join(t.TempDir(), "source.db"))
	fillForCopy(t, src)
	for _, b := range backends {
		for name, fill := range map[string]func(s Store) error{
			"a subscriber": func(s Store) error {
				_, err := s.AddSubscriber(t.Context(), Subscriber{Email: "x@example.com"}, chours(0))
				return err
			},
			"a queued sign-up": func(s Store) error {
				return s.QueueSignUp(t.Context(), QueuedSignUp{Email: "x@example.com", At: chours(0)})
			},
		} {
			t.Run(b.name+" with "+name, func(t *testing.T) {
				dst := b.fresh(t)(t)
				if err := fill(dst); err != nil {
					t.Fatal(err)
				}
				before := copyDump(t, dst)
				_, err := Copy(t.Context(), dst, src)
				if !errors.Is(err, ErrNotEmpty) {
					t.Fatalf("got %v, want an error wrapping ErrNotEmpty", err)
				}
				if want := "store " + storeName(dst) + " is not empty"; !strings.Contains(err.Error(), want) {
					t.Errorf("got %q, want it to contain %q", err, want)
				}
				if !strings.Contains(err.Error(), "empty PostgreSQL database") {
					t.Errorf("got %q, want it to say what to do", err)
				}
				if p, ok := dst.(*pgStore); ok {
					if pw := pg.Password(); strings.Contains(err.Error(), pw) {
						t.Errorf("the error shows the password: %q", err)
					}
					if u, _ := url.Parse(p.name); u.User != nil {
						t.Errorf("the store's name has a user: %q", p.name)
					}
				}
				if after := copyDump(t, dst); after != before {
					t.Errorf("the target changed:\n%s", lineDiff(after, before))
				}
			})
		}
	}
	t.Run("onto itself", func(t *testing.T) {
		if _, err := Copy(t.Context(), src, src); err == nil || !strings.Contains(err.Error(), "onto itself") {
			t.Errorf("got %v, want a refusal", err)
		}
	})
}

// TestCopyFailsWhole: a copy stopped half-way, by an error or a cancelled context, leaves the target as it
// was (empty, and usable: a second copy succeeds), and both run locks free.
func TestCopyFailsWhole(t *testing.T) {
	src := openStore(t, filepath.Join(t.TempDir(), "source.db"))
	fillForCopy(t, src)
	for _, b := range backends {
		for _, how := range []string{"error", "cancel"} {
			t.Run(b.name+" "+how, func(t *testing.T) {
				dst := b.fresh(t)(t)
				empty := copyDump(t, dst)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				boom := errors.New("boom")
				var tables []string
				_, err := copyStore(ctx, dst, src, func(table string) error {
					tables = append(tables, table)
					if table != "deliveries" {
						return nil
					}
					if how == "cancel" {
						cancel()
						return nil
					}
					return boom
				})
				want := boom
				if how == "cancel" {
					want = context.Canceled
				}
				if !errors.Is(err, want) {
					t.Fatalf("got %v, want %v", err, want)
				}
				if !slices.Contains(tables, "subscribers") {
					t.Fatalf("stopped before subscribers were copied (%v): the test tests nothing", tables)
				}
				if got := copyDump(t, dst); got != empty {
					t.Errorf("the target is not as it was:\n%s", lineDiff(got, empty))
				}
				for _, s := range []Store{src, dst} {
					l, err := s.Lock(t.Context(), "publish")
					if err != nil {
						t.Fatalf("the run lock after the failed copy: %v", err)
					}
					l.Unlock()
				}
				mustCopy(t, dst, src)
				if got, want := copyDump(t, dst), copyDump(t, src); got != want {
					t.Errorf("the copy after a failed one:\n%s", lineDiff(got, want))
				}
			})
		}
	}
}

// TestCopyLocked: a copy does not start while a run holds either store's lock.
func TestCopyLocked(t *testing.T) {
	src := openStore(t, filepath.Join(t.TempDir(), "source.db"))
	dst := pgStoreFor(t)
	for _, s := range []Store{src, dst} {
		l, err := s.Lock(t.Context(), "publish")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Copy(t.Context(), dst, src)
		if !errors.Is(err, ErrLocked) {
			t.Errorf("with %s locked: got %v, want ErrLocked", storeName(s), err)
		}
		l.Unlock()
	}
	mustCopy(t, dst, src)
}

// BenchmarkCopy20k copies a store of a blog with a long history: 20,000 subscribers, 1,000 posts, 10 of
// them mailed to everyone (200,000 deliveries and as many delivery_items rows), SQLite → PostgreSQL and
// PostgreSQL → SQLite (the test server runs without fsync).
func BenchmarkCopy20k(b *testing.B) {
	src := openStore(b, filepath.Join(b.TempDir(), "source.db"))
	start := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	posts := site(1000, 0)
	if err := src.Record(b.Context(), &Run{Started: start, Command: "publish", Baseline: true}, posts); err != nil {
		b.Fatal(err)
	}
	if _, err := src.ImportSubscribers(b.Context(), benchSubscribers(20000, Immediate, start), start); err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		now := start.Add(time.Duration(i+1) * time.Hour)
		posts = append(posts, Item{ID: fmt.Sprintf("new-%d", i), URL: "https://example.com/new", Title: "New", Date: now, Hash: "h", Sendable: true})
		if err := src.Record(b.Context(), &Run{Started: now, Command: "publish"}, posts); err != nil {
			b.Fatal(err)
		}
		if _, err := src.Plan(b.Context(), now); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("sqlite to postgres", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dst := pgStoreFor(b)
			b.StartTimer()
			if _, err := Copy(b.Context(), dst, src); err != nil {
				b.Fatal(err)
			}
		}
	})
	mid := pgStoreFor(b)
	if _, err := Copy(b.Context(), mid, src); err != nil {
		b.Fatal(err)
	}
	b.Run("postgres to sqlite", func(b *testing.B) {
		i := 0
		for b.Loop() {
			b.StopTimer()
			i++
			dst := openStore(b, filepath.Join(b.TempDir(), fmt.Sprintf("copy%d.db", i)))
			b.StartTimer()
			if _, err := Copy(b.Context(), dst, mid); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// copyHelperEnv, when set, makes TestCopyHelperProcess copy the SQLite store it names into the store
// HERALD_COPY_TO names (a file or a URL), stop inside the copy's transaction once deliveries are written,
// say "copying", and wait to be killed.
const copyHelperEnv = "HERALD_COPY_FROM"

func TestCopyHelperProcess(t *testing.T) {
	from := os.Getenv(copyHelperEnv)
	if from == "" {
		return
	}
	ctx := context.Background()
	err := func() error {
		src, err := open(ctx, from, len(migrations))
		if err != nil {
			return err
		}
		to := os.Getenv("HERALD_COPY_TO")
		var dst Store
		if IsPostgres(to) {
			dst, err = openPostgres(ctx, to, Options{}, len(migrations))
		} else {
			dst, err = open(ctx, to, len(migrations))
		}
		if err != nil {
			return err
		}
		_, err = copyStore(ctx, dst, src, func(table string) error {
			if table == "deliveries" {
				fmt.Println("copying")
				io.Copy(io.Discard, os.Stdin) // until killed
			}
			return nil
		})
		return err
	}()
	fmt.Println("error:", err)
	os.Exit(1)
}

// TestCopyKilled: a copy killed with SIGKILL inside its transaction leaves the target as it was, and its
// run locks with it: the next copy succeeds.
func TestCopyKilled(t *testing.T) {
	srcPath := filepath.Join(t.TempDir(), "source.db")
	src := openStore(t, srcPath)
	fillForCopy(t, src)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			var to string
			var dst Store
			if b.name == "postgres" {
				to = pg.DB(t)
				dst = pgOpen(t, to)
			} else {
				to = filepath.Join(t.TempDir(), "copy.db")
				dst = openStore(t, to)
			}
			empty := copyDump(t, dst)

			cmd := exec.Command(os.Args[0], "-test.run=^TestCopyHelperProcess$")
			cmd.Env = append(os.Environ(), copyHelperEnv+"="+srcPath, "HERALD_COPY_TO="+to)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || line != "copying\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the helper said %q, %v; want copying", line, err)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if got := copyDump(t, dst); got != empty {
				t.Errorf("the killed copy changed the target:\n%s", lineDiff(got, empty))
			}
			// The server notices the dead session a moment later: until then its lock may hold.
			var copyErr error
			for range 100 {
				if _, copyErr = Copy(t.Context(), dst, src); !errors.Is(copyErr, ErrLocked) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if copyErr != nil {
				t.Fatalf("the copy after the killed one: %v", copyErr)
			}
			if got, want := copyDump(t, dst), copyDump(t, src); got != want {
				t.Errorf("the copy after the killed one:\n%s", lineDiff(got, want))
			}
		})
	}
}
