package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenNew(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string) // makes what is at path before Open
	}{
		{"no file, no folder", func(*testing.T, string) {}},
		{"no file, a folder", func(t *testing.T, path string) {
			if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			path := filepath.Join(dir, "herald.db")
			tt.prepare(t, path)
			st, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			s := st.(*sqliteStore)
			if got, want := pragma(t, s, "user_version"), fmt.Sprint(len(migrations)); got != want {
				t.Errorf("got user_version %s, want %s", got, want)
			}
			if got, want := pragma(t, s, "application_id"), fmt.Sprint(appID); got != want {
				t.Errorf("got application_id %s, want %s", got, want)
			}
			if got := pragma(t, s, "journal_mode"); got != "wal" {
				t.Errorf("got journal_mode %s, want wal", got)
			}
			if got := pragma(t, s, "foreign_keys"); got != "1" {
				t.Errorf("got foreign_keys %s, want 1", got)
			}
			if got := pragma(t, s, "synchronous"); got != "2" {
				t.Errorf("got synchronous %s, want 2 (FULL)", got)
			}
			c, err := st.Counts(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if c != (Counts{}) {
				t.Errorf("got counts %+v, want zero", c)
			}
			if its := items(t, st); len(its) != 0 {
				t.Errorf("got %d items, want 0", len(its))
			}
			if rs := runs(t, st); len(rs) != 0 {
				t.Errorf("got %d runs, want 0", len(rs))
			}
			for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700 | os.ModeDir} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != want {
					t.Errorf("%s: got mode %v, want %v", p, fi.Mode(), want)
				}
			}
		})
	}
}

// fillers put rows into the tables that each schema version added: fillers[v] into those of version v+1.
// A new migration adds its filler here, so that the test migrates real rows from every version.
var fillers = []func(t *testing.T, s *sqliteStore){
	func(t *testing.T, s *sqliteStore) {
		withToday(t, s, func(s *sqliteStore) {
			for g := 1; g <= 3; g++ {
				r, seen := generation(g, 50)
				record(t, s, r, seen)
			}
		})
	},
	func(t *testing.T, s *sqliteStore) {
		_, err := s.db.ExecContext(t.Context(), `
			INSERT INTO subscribers (email, email_key, status, created_at, consent_source)
				VALUES ('Ann@Example.COM', 'Ann@example.com', 'active', '2024-05-01T08:00:00.000000000Z', 'import');
			INSERT INTO deliveries (subscriber_id, item_id, status, queued_at)
				VALUES (1, 'post-000001', 'sent', '2024-05-01T08:00:00.000000000Z');
			INSERT INTO delivery_items (subscriber_id, item_id, delivery_id) VALUES (1, 'post-000001', 1);
			INSERT INTO deliveries (subscriber_id, digest_key, status, message_id, attempts, last_error, queued_at, next_attempt_at)
				VALUES (1, 'weekly 2024-W18', 'deferred', '2.x@example.com', 1, '451 try later',
					'2024-05-01T08:00:00.000000000Z', '2024-05-01T09:00:00.000000000Z');
			INSERT INTO delivery_items (subscriber_id, item_id, delivery_id) VALUES (1, 'post-000002', 2), (1, 'post-000003', 2);
			-- The newest delivery erased: its id must not come back.
			INSERT INTO deliveries (id, subscriber_id, item_id, queued_at) VALUES (7, 1, 'post-000004', '2024-05-01T08:00:00.000000000Z');
			DELETE FROM deliveries WHERE id = 7;`)
		if err != nil {
			t.Fatal(err)
		}
	},
	func(t *testing.T, s *sqliteStore) {
		now := time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC)
		withToday(t, s, func(s *sqliteStore) {
			if _, err := s.AddSubscriber(t.Context(), Subscriber{Email: "bob@example.com", Status: Active}, now); err != nil {
				t.Fatal(err)
			}
			r, seen := generation(20, 50)
			r.Started = now.Add(time.Hour)
			seen[0].ID, seen[0].Sendable = "sendable", true
			record(t, s, r, seen)
			if n, err := s.Plan(t.Context(), now.Add(2*time.Hour)); err != nil || n != 1 {
				t.Fatalf("plan: got %d, %v, want 1 delivery", n, err)
			}
		})
		// A delivery in each status, for version 4's partial indexes to take in or leave out.
		_, err := s.db.ExecContext(t.Context(), `
			INSERT INTO deliveries (subscriber_id, item_id, status, message_id, attempts, last_error, queued_at,
					sending_at, sent_at, next_attempt_at) VALUES
				(1, 'post-000005', 'queued', NULL, 0, '', '2024-06-02T08:00:00.000000000Z', NULL, NULL, NULL),
				(1, 'post-000006', 'sending', '<6.x@example.com>', 0, '', '2024-06-02T08:00:00.000000000Z',
					'2024-06-02T08:01:00.000000000Z', NULL, NULL),
				(1, 'post-000007', 'sent', '<7.x@example.com>', 1, '', '2024-06-02T08:00:00.000000000Z',
					'2024-06-02T08:01:00.000000000Z', '2024-06-02T08:01:01.000000000Z', NULL),
				(1, 'post-000008', 'deferred', '<8.x@example.com>', 1, '451 later', '2024-06-02T08:00:00.000000000Z',
					'2024-06-02T08:01:00.000000000Z', NULL, '2024-06-02T09:00:00.000000000Z'),
				(1, 'post-000009', 'unknown', '<9.x@example.com>', 1, 'lost', '2024-06-02T08:00:00.000000000Z',
					'2024-06-02T08:01:00.000000000Z', NULL, NULL),
				(1, 'post-000010', 'cancelled', NULL, 0, 'unsubscribed', '2024-06-02T08:00:00.000000000Z', NULL, NULL, NULL);`)
		if err != nil {
			t.Fatal(err)
		}
	},
	func(t *testing.T, s *sqliteStore) {
		// Version 4 changed only indexes: send delivery 8 as today's Herald does.
		now := time.Date(2024, 7, 1, 8, 0, 0, 0, time.UTC)
		if _, err := s.Commit(t.Context(), nil, []Attempt{{DeliveryID: 8, MessageID: "<8.x@example.com>"}}, now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(t.Context(), []Outcome{{DeliveryID: 8, Status: Sent, At: now}}, nil, now); err != nil {
			t.Fatal(err)
		}
	},
	func(t *testing.T, s *sqliteStore) {
		// Version 5 writes keys in lower case.
		withToday(t, s, func(s *sqliteStore) {
			if _, err := s.AddSubscriber(t.Context(), Subscriber{Email: "Zoe@Example.org"}, time.Date(2024, 8, 1, 8, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
		})
	},
	func(t *testing.T, s *sqliteStore) {
		// Version 6 plans a post put back from the run that put it back: take one off, and put it back.
		withToday(t, s, func(s *sqliteStore) {
			seen := onSite(t, s)
			at := time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC)
			record(t, s, &Run{Started: at, Command: "publish"}, slices.Clone(seen[1:]))
			record(t, s, &Run{Started: at.Add(time.Hour), Command: "publish"}, seen)
		})
		// And the ids of one post that version 7 makes one: moved-old carried on as moved-new (cy had it
		// under the first, and bob's message waiting then went as the second); twin-old back beside
		// twin-new, both on the site; split-b, to which a Herald before version 6 moved cy's record
		// of split-a and left the delivery on split-a.
		_, err := s.db.ExecContext(t.Context(), `
			INSERT INTO runs (started, command, config_hash, items_count, new_count, updated_count, removed_count, baseline, forced)
				VALUES ('2024-09-02T08:00:00.000000000Z', 'publish', '', 4, 4, 0, 0, 0, 0),
					('2024-09-02T09:00:00.000000000Z', 'publish', '', 4, 0, 2, 2, 0, 0);
			INSERT INTO items (id, url, title, date, hash, first_run, first_seen, last_run, last_seen, removed, sendable, plan_run, lineage)
				SELECT v.column1, 'https://example.com/' || v.column1, v.column1, NULL, v.column1, r.id - 1,
					'2024-09-02T08:00:00.000000000Z', CASE v.column2 WHEN 1 THEN r.id - 1 END,
					CASE v.column2 WHEN 1 THEN '2024-09-02T08:00:00.000000000Z' END, v.column2, 1, r.id - 1, v.column3
				FROM (VALUES ('moved-old', 1, 'moved-old'), ('moved-new', 0, 'moved-old'), ('twin-old', 0, 'twin-old'),
					('twin-new', 0, 'twin-old'), ('split-a', 1, 'split-a'), ('split-b', 0, 'split-b')) v,
					(SELECT MAX(id) AS id FROM runs) r;
			INSERT INTO subscribers (email, email_key, status, frequency, created_at, consent_source, consent_at, confirmed_at,
					planned_run, start_run)
				SELECT 'cy@example.com', 'cy@example.com', 'active', 'immediate', '2024-08-01T00:00:00.000000000Z', 'command',
					'2024-08-01T00:00:00.000000000Z', '2024-08-01T00:00:00.000000000Z', MAX(id) - 2, MAX(id) - 2 FROM runs;
			INSERT INTO deliveries (subscriber_id, item_id, status, message_id, attempts, queued_at, sending_at, sent_at)
				SELECT s.id, v.column2, v.column3, CASE v.column3 WHEN 'sent' THEN '<' || v.column2 || '.' || s.id || '@x>' END,
					CASE v.column3 WHEN 'sent' THEN 1 ELSE 0 END, '2024-09-02T08:30:00.000000000Z',
					CASE v.column3 WHEN 'sent' THEN '2024-09-02T08:31:00.000000000Z' END,
					CASE v.column3 WHEN 'sent' THEN '2024-09-02T08:31:00.000000000Z' END
				FROM (VALUES ('cy@example.com', 'moved-old', 'sent'), ('bob@example.com', 'moved-new', 'queued'),
					('cy@example.com', 'twin-old', 'sent'), ('bob@example.com', 'twin-new', 'sent'),
					('cy@example.com', 'split-a', 'sent'), ('bob@example.com', 'split-b', 'sent')) v
					JOIN subscribers s ON s.email = v.column1;
			INSERT INTO delivery_items (subscriber_id, item_id, delivery_id)
				SELECT d.subscriber_id, CASE d.item_id WHEN 'split-a' THEN 'split-b' ELSE d.item_id END, d.id
				FROM deliveries d WHERE d.item_id IN ('moved-old', 'moved-new', 'twin-old', 'twin-new', 'split-a', 'split-b');`)
		if err != nil {
			t.Fatal(err)
		}
	},
	func(t *testing.T, s *sqliteStore) {
		// Version 7 keys the ledger by post: a post planned for eve, then carried on to another id.
		withToday(t, s, func(s *sqliteStore) {
			at := time.Date(2024, 10, 1, 8, 0, 0, 0, time.UTC)
			if _, err := s.AddSubscriber(t.Context(), Subscriber{Email: "eve@example.com", Status: Active}, at); err != nil {
				t.Fatal(err)
			}
			seen := append(onSite(t, s), Item{ID: "v7-old", URL: "https://example.com/v7", Title: "V7", Hash: "v7", Date: at, Sendable: true})
			record(t, s, &Run{Started: at.Add(time.Hour), Command: "publish"}, seen)
			if _, err := s.Plan(t.Context(), at.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			seen[len(seen)-1].ID, seen[len(seen)-1].Continues = "v7-new", "v7-old"
			record(t, s, &Run{Started: at.Add(2 * time.Hour), Command: "publish"}, seen)
		})
	},
	func(t *testing.T, s *sqliteStore) {
		// Version 8 keeps herald serve's limits and the sign-ups it has not handled yet.
		withToday(t, s, func(s *sqliteStore) {
			at := time.Date(2024, 11, 1, 8, 0, 0, 0, time.UTC)
			for _, key := range []string{"ip:x", "ip:x", "all:y"} {
				if n, err := s.TakeLimit(t.Context(), key, 10, time.Hour, at); err != nil || n == 0 {
					t.Fatalf("take %s: got %d, %v", key, n, err)
				}
			}
			if err := s.QueueSignUp(t.Context(), QueuedSignUp{Email: "Fay@example.com", Name: "Fay", Frequency: Weekly,
				IP: "192.0.2.8", At: at}); err != nil {
				t.Fatal(err)
			}
			if err := s.CheckWrite(t.Context(), at); err != nil {
				t.Fatal(err)
			}
		})
	},
	// 9 adds deliveries.claimed_by, which an SQLite store leaves NULL (one sender at a time): nothing to fill.
	func(t *testing.T, s *sqliteStore) {},
	func(t *testing.T, s *sqliteStore) {
		// Version 10 keeps the providers' events, and complaints: eve complains (by her address), an
		// event about nobody is kept too.
		withToday(t, s, func(s *sqliteStore) {
			at := time.Date(2024, 12, 1, 8, 0, 0, 0, time.UTC)
			for _, e := range []Event{
				{Provider: "postmark", ProviderEventID: "v10-1", Kind: EventComplaint, Recipient: "eve@example.com"},
				{Provider: "ses", ProviderEventID: "v10-2", Kind: EventDelivered, MessageID: "<nobody@example.com>"},
			} {
				e.At, e.ReceivedAt = at, at
				if _, err := s.RecordEvent(t.Context(), e); err != nil {
					t.Fatal(err)
				}
			}
		})
	},
	func(t *testing.T, s *sqliteStore) {
		// Version 11 keeps what readers choose and what the author holds back: a monthly reader of one
		// tag in French, a post with tags and a language that waits for approval.
		at := time.Date(2025, 1, 2, 8, 0, 0, 0, time.UTC)
		if _, err := s.AddSubscriber(t.Context(), Subscriber{Email: "gil@example.com", Status: Active, Frequency: Monthly,
			Tags: MakeTags("Go"), Lang: "fr"}, at); err != nil {
			t.Fatal(err)
		}
		seen := append(onSite(t, s), Item{ID: "v11", URL: "https://example.com/v11", Title: "V11", Hash: "v11", Date: at,
			Sendable: true, Tags: MakeTags("go", "news"), Lang: "fr", Held: true})
		record(t, s, &Run{Started: at.Add(time.Hour), Command: "publish"}, seen)
		if err := s.QueueSignUp(t.Context(), QueuedSignUp{Email: "hal@example.com", Frequency: Monthly, Tags: MakeTags("news"),
			Lang: "de", IP: "192.0.2.9", At: at}); err != nil {
			t.Fatal(err)
		}
	},
	func(t *testing.T, s *sqliteStore) {
		// Version 12 keeps the queued and the sending deliveries in one index: a run stopped while the
		// first queued one was being sent.
		var id int64
		if err := s.db.QueryRowContext(t.Context(), "SELECT MIN(id) FROM deliveries WHERE status = 'queued'").Scan(&id); err != nil || id == 0 {
			t.Fatalf("got queued delivery %d, %v, want one", id, err)
		}
		at := time.Date(2025, 2, 1, 8, 0, 0, 0, time.UTC)
		if skipped, err := s.Sending(t.Context(), []Attempt{{DeliveryID: id, MessageID: "<v12@example.com>"}}, at); err != nil || len(skipped) > 0 {
			t.Fatalf("sending: skipped %v, %v", skipped, err)
		}
	},
	func(t *testing.T, s *sqliteStore) {
		// Version 13 has no index of Message-IDs: an event finds the first queued delivery, once sent,
		// through its recipient's deliveries, and by a scan when it names another recipient.
		var id int64
		var email string
		if err := s.db.QueryRowContext(t.Context(), `SELECT d.id, s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
			WHERE d.id = (SELECT MIN(id) FROM deliveries WHERE status = 'queued')`).Scan(&id, &email); err != nil {
			t.Fatalf("got queued delivery %d, %v, want one", id, err)
		}
		at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		if skipped, err := s.Sending(t.Context(), []Attempt{{DeliveryID: id, MessageID: "<v13@example.com>"}}, at); err != nil || len(skipped) > 0 {
			t.Fatalf("sending: skipped %v, %v", skipped, err)
		}
		for _, rcpt := range []string{email, "forward@example.net"} {
			e := Event{Provider: "ses", ProviderEventID: "v13 " + rcpt, Kind: EventDelivered, At: at, ReceivedAt: at,
				MessageID: "v13@example.com", Recipient: rcpt}
			if _, err := s.RecordEvent(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			var got int64
			if err := s.db.QueryRowContext(t.Context(), "SELECT COALESCE(delivery_id, 0) FROM events WHERE provider_event_id = ?",
				e.ProviderEventID).Scan(&got); err != nil || got != id {
				t.Errorf("event to %s: got delivery %d, %v, want %d", rcpt, got, err, id)
			}
		}
	},
	func(t *testing.T, s *sqliteStore) {
		// Version 14 checks a delivery's status with ORs: the first queued delivery goes through the
		// ledger, every status of the model is taken, and a status of no delivery is still refused.
		var id int64
		if err := s.db.QueryRowContext(t.Context(), "SELECT MIN(id) FROM deliveries WHERE status = 'queued'").Scan(&id); err != nil || id == 0 {
			t.Fatalf("got queued delivery %d, %v, want one", id, err)
		}
		at := time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC)
		if _, err := s.Commit(t.Context(), nil, []Attempt{{DeliveryID: id, MessageID: "<v14@example.com>"}}, at); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(t.Context(), []Outcome{{DeliveryID: id, Status: Sent, At: at}}, nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		tx, err := s.db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback() //nolint:errcheck // the statuses are tried, not kept
		for _, status := range []string{Queued, Sending, Sent, Deferred, Failed, Unknown, Cancelled} {
			if _, err := tx.ExecContext(t.Context(), "UPDATE deliveries SET status = ? WHERE id = ?", status, id); err != nil {
				t.Errorf("status %s: %v", status, err)
			}
		}
		if _, err := tx.ExecContext(t.Context(), "UPDATE deliveries SET status = 'lost' WHERE id = ?", id); err == nil ||
			!strings.Contains(err.Error(), "CHECK constraint failed") {
			t.Errorf("a status of no delivery: got %v, want the CHECK to refuse it", err)
		}
	},
}

// onSite is the store's items that are on the site, as a run sees them.
func onSite(t *testing.T, s *sqliteStore) []Item {
	t.Helper()
	var seen []Item
	for _, it := range items(t, s) {
		if !it.Removed {
			seen = append(seen, Item{ID: it.ID, URL: it.URL, Title: it.Title, Date: it.Date, Hash: it.Hash})
		}
	}
	return seen
}

// withToday runs fill, which uses today's Store, on the rows of s, an older version's store: on a copy of s
// migrated to today's version. Then it puts the copy's rows back into s, in s's columns.
func withToday(t *testing.T, s *sqliteStore, fill func(*sqliteStore)) {
	t.Helper()
	refPath := filepath.Join(t.TempDir(), "today.db")
	if _, err := s.db.ExecContext(t.Context(), "VACUUM INTO ?", refPath); err != nil {
		t.Fatal(err)
	}
	ref := openStore(t, refPath)
	fill(ref)
	// The tables of version 6 and before, as views of today's: each post has one id there.
	const firstAlias = `(SELECT MIN(public_id) FROM aliases WHERE post_id = %s)`
	if _, err := ref.db.ExecContext(t.Context(), `
		CREATE VIEW old_items AS SELECT a.public_id AS id, a.url, a.title, a.date, a.hash, a.first_run, a.first_seen,
			a.last_run, a.last_seen, a.removed, p.sendable, p.plan_run, `+fmt.Sprintf(firstAlias, "a.post_id")+` AS lineage
			FROM aliases a JOIN posts p ON p.id = a.post_id;
		CREATE VIEW old_deliveries AS SELECT d.*, `+fmt.Sprintf(firstAlias, "d.post_id")+` AS item_id FROM deliveries d;
		CREATE VIEW old_delivery_items AS SELECT di.*, `+fmt.Sprintf(firstAlias, "di.post_id")+` AS item_id FROM delivery_items di;`); err != nil {
		t.Fatal(err)
	}
	if err := ref.Close(); err != nil {
		t.Fatal(err)
	}
	conn, err := s.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "ATTACH DATABASE ? AS ref", refPath); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "DETACH DATABASE ref")
	var deletes, inserts []string
	var posts bool // version 7 and after
	if err := conn.QueryRowContext(t.Context(), "SELECT COUNT(*) > 0 FROM main.sqlite_master WHERE name = 'posts'").Scan(&posts); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"runs", "items", "posts", "aliases", "subscribers", "deliveries", "delivery_items",
		"events", "signup_queue", "limit_counts", "write_checks"} {
		var cols []string
		rows, err := conn.QueryContext(t.Context(), "SELECT name FROM pragma_table_info(?, 'main')", table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		rows.Close()
		if len(cols) == 0 {
			continue // not in this version
		}
		list := strings.Join(cols, ", ")
		deletes = append([]string{"DELETE FROM main." + table}, deletes...) // children first
		from := table
		if !posts && table != "runs" && table != "subscribers" {
			from = "old_" + table
		}
		inserts = append(inserts, "INSERT INTO main."+table+" ("+list+") SELECT "+list+" FROM ref."+from)
	}
	// The inserts moved the AUTOINCREMENT counters up to the rows; the copy's may be higher (rows deleted).
	inserts = append(inserts, "DELETE FROM main.sqlite_sequence", "INSERT INTO main.sqlite_sequence SELECT * FROM ref.sqlite_sequence WHERE name IN (SELECT name FROM main.sqlite_master)")
	for _, q := range append(deletes, inserts...) {
		if _, err := conn.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// dump is the rows of the tables of a version-v store, in the columns of version v, for comparing a store
// before and after a migration. Items are read from aliases in a store of version 7 and after, and the
// ledger names each post by all its ids: before version 7, those of its item's group (its lineage, and the
// lineages that a delivery links, as migration 7 joins them).
func dump(t *testing.T, s *sqliteStore, v int) string {
	t.Helper()
	conn, err := s.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var aliases bool
	if err := conn.QueryRowContext(t.Context(), "SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'aliases'").Scan(&aliases); err != nil {
		t.Fatal(err)
	}
	items := `SELECT public_id, url, title, date, hash, first_run, first_seen, last_run, last_seen, removed FROM aliases ORDER BY public_id`
	post := `(SELECT GROUP_CONCAT(public_id, ' ' ORDER BY public_id) FROM aliases WHERE post_id = %s)`
	deliveries := `SELECT id, subscriber_id, ` + fmt.Sprintf(post, "d.post_id") + `, digest_key, status, message_id, attempts,
		last_error, queued_at, sending_at, sent_at, next_attempt_at FROM deliveries d ORDER BY id`
	deliveryItems := `SELECT subscriber_id, ` + fmt.Sprintf(post, "di.post_id") + ` AS post, delivery_id FROM delivery_items di
		ORDER BY subscriber_id, post`
	if !aliases && v >= 1 {
		items = `SELECT id, url, title, date, hash, first_run, first_seen, last_run, last_seen, removed FROM items ORDER BY id`
		lineage, links := "id", ""
		if v >= 6 {
			lineage = "lineage"
		}
		if v >= 2 {
			links = `UNION SELECT d.item_id, di.item_id FROM deliveries d JOIN delivery_items di ON di.delivery_id = d.id
					WHERE d.item_id IS NOT NULL
				UNION SELECT di.item_id, d.item_id FROM deliveries d JOIN delivery_items di ON di.delivery_id = d.id
					WHERE d.item_id IS NOT NULL`
		}
		if _, err := conn.ExecContext(t.Context(), `DROP TABLE IF EXISTS temp.dump_group;
			CREATE TEMP TABLE dump_group AS WITH RECURSIVE
				edge (x, y) AS (SELECT id, `+lineage+` FROM items UNION SELECT `+lineage+`, id FROM items `+links+`),
				reach (id, other) AS (SELECT id, id FROM items UNION SELECT r.id, e.y FROM reach r JOIN edge e ON e.x = r.other)
			SELECT id, GROUP_CONCAT(other, ' ' ORDER BY other) AS post FROM reach GROUP BY id`); err != nil {
			t.Fatal(err)
		}
		post = `(SELECT post FROM dump_group WHERE id = %s)`
		deliveries = `SELECT id, subscriber_id, ` + fmt.Sprintf(post, "d.item_id") + `, digest_key, status, message_id, attempts,
			last_error, queued_at, sending_at, sent_at, next_attempt_at FROM deliveries d ORDER BY id`
		// A post's own delivery says that its subscriber had it, as a delivery_items row does (migration 7
		// writes the row where a store before it had none).
		deliveryItems = `SELECT subscriber_id, ` + fmt.Sprintf(post, "di.item_id") + ` AS post, delivery_id FROM delivery_items di
			UNION SELECT subscriber_id, ` + fmt.Sprintf(post, "d.item_id") + `, id FROM deliveries d WHERE d.item_id IS NOT NULL
			ORDER BY subscriber_id, post`
	}
	queries := []string{
		`SELECT name, seq FROM sqlite_sequence WHERE name <> 'posts' ORDER BY name`,
		`SELECT * FROM runs ORDER BY id`,
		items,
		`SELECT id, email, email_key, name, status, frequency, created_at, consent_source, consent_at, consent_ip,
			confirmed_at, unsubscribed_at, hard_bounces, last_digest_at FROM subscribers ORDER BY id`,
		deliveries,
		deliveryItems,
	}
	switch v {
	case 0:
		queries = nil
	case 1:
		queries = queries[:3]
	}
	if v >= 8 {
		queries = append(queries, `SELECT * FROM limit_counts ORDER BY key`, `SELECT id, email, name, frequency, ip, at FROM signup_queue ORDER BY id`,
			`SELECT * FROM write_checks`)
	}
	if v >= 11 {
		queries = append(queries, `SELECT id, tags, lang, planned_run, start_run, complained_at FROM subscribers ORDER BY id`,
			`SELECT id, lang, no_email, held, wait_until FROM posts ORDER BY id`, `SELECT * FROM post_tags ORDER BY post_id, tag`)
	}
	var b strings.Builder
	for _, q := range queries {
		rows, err := conn.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

func TestMigrateFromEveryVersion(t *testing.T) {
	if len(fillers) != len(migrations) {
		t.Fatalf("got %d fillers, want one per migration (%d)", len(fillers), len(migrations))
	}
	current := schema(t, openStore(t, filepath.Join(t.TempDir(), "fresh.db")))
	for v := range len(migrations) {
		t.Run(fmt.Sprintf("from version %d", v), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.db")
			// Each filler fills the store of its own version (some in its columns), before the store is
			// migrated to the next: the rows go through every migration on the way.
			for i, fill := range fillers[:v] {
				s, err := open(t.Context(), path, i+1)
				if err != nil {
					t.Fatal(err)
				}
				fill(t, s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			old, err := open(t.Context(), path, v)
			if err != nil {
				t.Fatal(err)
			}
			if got := pragma(t, old, "user_version"); got != fmt.Sprint(v) {
				t.Fatalf("got user_version %s, want %d", got, v)
			}
			if v >= 7 {
				// A run stopped while it sent the first queued delivery (version 7's shape of deliveries on).
				if _, err := old.db.ExecContext(t.Context(), `UPDATE deliveries SET status = 'sending', sending_at = queued_at,
					message_id = '<stopped@example.com>' WHERE id = (SELECT MIN(id) FROM deliveries WHERE status = 'queued')`); err != nil {
					t.Fatal(err)
				}
			}
			var sending int // deliveries came with version 2
			if err := old.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM deliveries WHERE status = 'sending'").Scan(&sending); err != nil && v >= 2 {
				t.Fatal(err)
			}
			want := dump(t, old, v)
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}

			s := openStore(t, path)
			if got, want := pragma(t, s, "user_version"), fmt.Sprint(len(migrations)); got != want {
				t.Errorf("got user_version %s, want %s", got, want)
			}
			if got := schema(t, s); got != current {
				t.Errorf("migrated schema differs from a new store's:\ngot\n%s\nwant\n%s", got, current)
			}
			if got := dump(t, s, v); got != want {
				t.Errorf("the rows did not survive the migration:\ngot\n%s\nwant\n%s", got, want)
			}
			if got := pragma(t, s, "integrity_check"); got != "ok" {
				t.Errorf("got integrity_check %q, want ok", got)
			}
			var broken int
			if err := s.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM pragma_foreign_key_check").Scan(&broken); err != nil || broken != 0 {
				t.Errorf("got %d foreign key violations (%v), want 0", broken, err)
			}
			checkModel(t, s)
			// What was being sent is found by Recover, through the index that holds it (version 12's
			// deliveries_open, or deliveries_sending before).
			if n, err := s.Recover(t.Context()); err != nil || n != sending {
				t.Errorf("recover: got %d, %v, want %d", n, err, sending)
			}
			// Version 6: no subscriber starts after their cursor; and, for the items of the versions before,
			// Plan looks at each from its first run. Version 7: before version 6, each post had one id.
			checks := map[string]string{
				"SELECT COUNT(*) FROM subscribers WHERE start_run > planned_run": "subscribers starting after their cursor",
			}
			if v < 6 {
				checks["SELECT COUNT(*) FROM posts WHERE plan_run <> first_run"] = "posts planned from another run than their first"
				checks["SELECT COUNT(*) FROM posts p WHERE (SELECT COUNT(*) FROM aliases a WHERE a.post_id = p.id) <> 1"] = "posts with other than one id"
			}
			for q, what := range checks {
				var n int
				if err := s.db.QueryRowContext(t.Context(), q).Scan(&n); err != nil || n != 0 {
					t.Errorf("got %d %s (%v), want 0", n, what, err)
				}
			}
			if v == 6 {
				// The ids of one post are one post, and who had it under one id has it.
				got := postLedger(t, s, "moved-old", "twin-old", "split-a")
				want := []string{
					"moved-new moved-old: bob@example.com queued, cy@example.com sent",
					"split-a split-b: bob@example.com sent, cy@example.com sent",
					"twin-new twin-old: bob@example.com sent, cy@example.com sent",
				}
				if !slices.Equal(got, want) {
					t.Errorf("got posts\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
				}
			}
			if v == 1 || v == 2 { // version 3's filler records a sendable item
				its := items(t, s)
				if len(its) == 0 || slices.ContainsFunc(its, func(it Item) bool { return it.Sendable }) {
					t.Errorf("got %d items after the migration, sendable ones among them; want some, none sendable", len(its))
				}
			}
			// The migrated store works: it records a run on top of what it had, and plans and sends it.
			// The site keeps what it had (a post that left would take its waiting mail with it) and has
			// a new post.
			r := &Run{Started: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Command: "publish"}
			var seen []Item
			for _, it := range items(t, s) {
				if !it.Removed {
					seen = append(seen, Item{ID: it.ID, URL: it.URL, Title: it.Title, Date: it.Date, Hash: it.Hash})
				}
			}
			seen = append(seen, Item{ID: "new after the migration", URL: "https://example.com/new", Title: "New",
				Hash: "new", Date: r.Started, Sendable: true})
			if _, err := s.AddSubscriber(t.Context(), Subscriber{Email: "new@example.com", Status: Active}, r.Started.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			record(t, s, r, seen)
			planned := 1
			if v >= 3 {
				planned = 2 // and to the subscriber of version 3's filler
			}
			if v >= 6 {
				planned = 3 // and to cy of version 6's filler, who had each of its posts under an id
			}
			if v >= 7 {
				planned = 4 // and to eve of version 7's filler
			}
			if v >= 10 {
				planned = 3 // not to eve, who complained in version 10's filler
			}
			if n, err := s.Plan(t.Context(), r.Started.Add(time.Hour)); err != nil || n != planned {
				t.Fatalf("plan after the migration: got %d, %v, want %d deliveries", n, err, planned)
			}
			due, err := s.Due(t.Context(), r.Started.Add(time.Hour), 100)
			if err != nil {
				t.Fatal(err)
			}
			if v == 2 {
				// The deferred digest of version 2's filler comes first; the new post goes out under a
				// new id, not the erased delivery's 7.
				if len(due) != 2 || due[0].ID != 2 || due[1].ID != 8 || !slices.Equal(due[0].ItemIDs, []string{"post-000002", "post-000003"}) {
					t.Errorf("got due %+v, want deliveries 2 (with posts 2 and 3) and 8", due)
				}
			}
			if v == 3 {
				// Version 4's partial indexes hold the queued and the deferred deliveries, and no others.
				var ids []int64
				for _, d := range due {
					ids = append(ids, d.ID)
				}
				if want := []int64{2, 8, 9, 12, 15, 16}; !slices.Equal(ids, want) {
					t.Errorf("got due %v, want %v", ids, want)
				}
			}
			if v == 6 {
				// bob's message of the moved post goes under the id on the site.
				if !slices.ContainsFunc(due, func(d Delivery) bool { return slices.Equal(d.ItemIDs, []string{"moved-new"}) }) {
					t.Errorf("got due %+v, want bob's message of moved-new", due)
				}
			}
			checkModel(t, s)
			// Today's filler works on the migrated store.
			fillers[len(fillers)-1](t, s)
			checkModel(t, s)
		})
	}
}

// postLedger says, for the post of each of ids, its ids and who had it: "id id: email status, ...".
func postLedger(t *testing.T, s *sqliteStore, ids ...string) []string {
	t.Helper()
	var lines []string
	for _, id := range ids {
		var line string
		err := s.db.QueryRowContext(t.Context(), `SELECT
			(SELECT GROUP_CONCAT(public_id, ' ' ORDER BY public_id) FROM aliases WHERE post_id = a.post_id) || ': ' ||
			COALESCE((SELECT GROUP_CONCAT(s.email || ' ' || d.status, ', ' ORDER BY s.email) FROM delivery_items di
				JOIN subscribers s ON s.id = di.subscriber_id JOIN deliveries d ON d.id = di.delivery_id
				WHERE di.post_id = a.post_id), '')
			FROM aliases a WHERE a.public_id = ?`, id).Scan(&line)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return lines
}

// TestMigrateStartRun: a subscriber of version 5 imported with an old confirmation after a post was
// recorded does not get that post when it is put back after the migration (version 6 starts them at the
// last run before they were added).
func TestMigrateStartRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	old, err := open(t.Context(), path, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	const runs = `INSERT INTO runs (started, command, items_count, new_count, updated_count, removed_count, baseline, forced, config_hash)`
	rawSQL(t, path,
		runs+` VALUES ('2025-01-01T00:00:00.000000000Z', 'publish', 1, 1, 0, 0, 0, 0, ''),
			('2025-01-02T00:00:00.000000000Z', 'publish', 0, 0, 0, 1, 0, 0, '')`,
		`INSERT INTO items (id, url, title, hash, first_run, first_seen, last_run, last_seen, removed, sendable)
			VALUES ('old', 'https://example.com/old', 'Old', 'h', 1, '2025-01-01T00:00:00.000000000Z', 1,
				'2025-01-01T00:00:00.000000000Z', 1, 1)`,
		`INSERT INTO subscribers (email, email_key, status, frequency, created_at, consent_source, consent_at, confirmed_at, planned_run)
			VALUES ('imported@example.com', 'imported@example.com', 'active', 'immediate', '2025-01-03T00:00:00.000000000Z',
				'import', '2020-01-01T00:00:00.000000000Z', '2020-01-01T00:00:00.000000000Z', 1)`)
	s := openStore(t, path)
	record(t, s, &Run{Started: time.Date(2025, 1, 4, 0, 0, 0, 0, time.UTC), Command: "publish"},
		[]Item{{ID: "old", URL: "https://example.com/old", Title: "Old", Hash: "h"}}) // back
	if n, err := s.Plan(t.Context(), time.Date(2025, 1, 4, 1, 0, 0, 0, time.UTC)); err != nil || n != 0 {
		t.Errorf("plan: got %d, %v; want nothing (the post was recorded before they were added)", n, err)
	}
}

// TestMigrateDuplicates: the ids of one post (a lineage, or lineages a delivery links) that a subscriber
// had each of, in a store of version 6, leave them one row of the post: the strongest, and what else
// waited to go of it is cancelled, or leaves its digest. Nobody is planned the post again.
func TestMigrateDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	old, err := open(t.Context(), path, 6)
	if err != nil {
		t.Fatal(err)
	}
	_, err = old.db.ExecContext(t.Context(), `
		INSERT INTO runs (started, command, config_hash, items_count, new_count, updated_count, removed_count, baseline, forced)
			VALUES (?1, 'publish', '', 0, 0, 0, 0, 1, 0), (?1, 'publish', '', 0, 0, 0, 0, 0, 0), (?1, 'publish', '', 0, 0, 0, 0, 0, 0);
		INSERT INTO items (id, url, title, hash, first_run, first_seen, last_run, last_seen, removed, sendable, plan_run, lineage)
			SELECT column1, '', column1, column1, 2, ?1, CASE column2 WHEN 1 THEN 2 END, CASE column2 WHEN 1 THEN ?1 END,
				column2, column1 IN ('x', 'y'), 2, column3
			FROM (VALUES ('x', 1, 'x'), ('y', 0, 'x'), ('u', 1, 'u'), ('w', 0, 'u'), ('z', 0, 'z'),
				('m1', 1, 'm1'), ('m2', 1, 'm2'), ('m3', 0, 'm3'));
		INSERT INTO subscribers (email, email_key, status, frequency, created_at, consent_source, consent_at, confirmed_at, planned_run)
			SELECT column1, column1, 'active', column2, ?2, 'command', ?2, ?2, column3
			FROM (VALUES ('ann@example.com', 'immediate', 0), ('dan@example.com', 'daily', 0), ('eve@example.com', 'immediate', 0),
				('fay@example.com', 'immediate', 0), ('gus@example.com', 'immediate', 3), ('hal@example.com', 'immediate', 3));
		INSERT INTO deliveries (id, subscriber_id, item_id, digest_key, status, maybe_sent, queued_at)
			SELECT column1, (SELECT id FROM subscribers WHERE email = column2 || '@example.com'), column3, column4, column5, column6, ?1
			FROM (VALUES (1, 'ann', 'x', NULL, 'sent', 0), (2, 'ann', 'y', NULL, 'queued', 0),
				(3, 'dan', 'u', NULL, 'sent', 0), (4, 'dan', NULL, 'daily 2024-09-03', 'queued', 0),
				(5, 'dan', NULL, 'daily 2024-09-04', 'queued', 0), (6, 'dan', 'x', NULL, 'deferred', 0),
				(7, 'eve', 'x', NULL, 'failed', 0), (8, 'eve', 'y', NULL, 'unknown', 0),
				(9, 'fay', 'x', NULL, 'queued', 0), (10, 'fay', 'y', NULL, 'queued', 1),
				(11, 'gus', 'm1', NULL, 'sent', 0), (12, 'hal', 'm2', NULL, 'sent', 0));
		INSERT INTO delivery_items (subscriber_id, item_id, delivery_id)
			SELECT d.subscriber_id, CASE d.item_id WHEN 'm1' THEN 'm2' WHEN 'm2' THEN 'm3' ELSE d.item_id END, d.id
				FROM deliveries d WHERE d.item_id IS NOT NULL
			UNION ALL SELECT id, column1, column2 FROM (VALUES ('w', 4), ('y', 5), ('z', 5)), subscribers WHERE email = 'dan@example.com';`,
		formatTime(hours(-100)), formatTime(hours(-200)))
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path)
	checkModel(t, s)
	if got, want := postLedger(t, s, "x", "u", "z", "m1"), []string{
		"m1 m2 m3: gus@example.com sent, hal@example.com sent",
		"u w: dan@example.com sent",
		"x y: ann@example.com sent, dan@example.com deferred, eve@example.com unknown, fay@example.com queued",
		"z: dan@example.com queued",
	}; !slices.Equal(got, want) {
		t.Errorf("got posts\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	if got, want := ledgerLines(t, s), []string{
		"ann@example.com y sent", "ann@example.com y cancelled",
		"dan@example.com w sent", "dan@example.com daily 2024-09-03 [] cancelled", "dan@example.com daily 2024-09-04 [z]",
		"dan@example.com y deferred",
		"eve@example.com y failed", "eve@example.com y unknown",
		"fay@example.com y cancelled", "fay@example.com y", // the second may be in the mailbox (maybe_sent)
		"gus@example.com m3 sent", "hal@example.com m3 sent",
	}; !slices.Equal(got, want) {
		t.Errorf("got ledger\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	if d, err := s.SubscriberDeliveries(t.Context(), 1); err != nil || len(d) != 2 || !strings.Contains(d[1].LastError, "another of its ids") {
		t.Errorf("got ann's deliveries %+v, %v; want the second cancelled, saying why", d, err)
	}
	// x y is the one sendable post: everybody who had it under either id has it.
	record(t, s, &Run{Started: hours(1), Command: "publish"}, onSite(t, s))
	if n, err := s.Plan(t.Context(), hours(48)); err != nil || n != 0 {
		t.Errorf("plan after the migration: got %d, %v, want nothing", n, err)
	}
}

func TestOpenConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(t.Context(), path)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
	if got := pragma(t, openStore(t, path), "user_version"); got != fmt.Sprint(len(migrations)) {
		t.Errorf("got user_version %s, want %d", got, len(migrations))
	}
}

func TestRecordReopen(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	start := func(n int) time.Time { return time.Date(2024, 3, 1, 10, n, 0, 123456789+n, time.UTC) }
	item := func(id, title, hash string) Item {
		return Item{ID: id, URL: "https://example.com/" + id, Title: title, Hash: hash,
			Date: time.Date(2020, 7, 1, 9, 30, 0, 5, cest).AddDate(0, 0, len(id))}
	}
	a, b, c, d := item("a", "A", "ha"), item("b", "B", "hb"), item("c", "C", "hc"), item("d", "D", "hd")
	z := Item{ID: "z", URL: "https://example.com/z", Title: "No date", Hash: "hz"} // zero Date
	b2 := item("b", "B, edited", "hb2")
	b2.URL = "https://example.com/new/b" // a new permalink: the same item
	c2 := item("c", "C is back", "hc2")

	// seen makes the item as the store has it after a run.
	seen := func(it Item, first, last int, removed bool) Item {
		it.FirstRun, it.FirstSeen = int64(first), start(first)
		it.LastRun, it.LastSeen = int64(last), start(last)
		it.Removed = removed
		return it
	}
	steps := []struct {
		name string
		run  Run
		seen []Item
		want []Item // by ID
	}{
		{"baseline", Run{Command: "publish", ConfigHash: "c1", Items: 4, Baseline: true},
			[]Item{c, a, b, z},
			[]Item{seen(a, 1, 1, false), seen(b, 1, 1, false), seen(c, 1, 1, false), seen(z, 1, 1, false)}},
		{"nothing changed", Run{Command: "publish", ConfigHash: "c1", Items: 4},
			[]Item{a, b, c, z},
			[]Item{seen(a, 1, 2, false), seen(b, 1, 2, false), seen(c, 1, 2, false), seen(z, 1, 2, false)}},
		{"edited, new and removed", Run{Command: "build --record", ConfigHash: "c2", Items: 4, New: 1, Updated: 1, Removed: 1},
			[]Item{a, b2, d, z},
			[]Item{seen(a, 1, 3, false), seen(b2, 1, 3, false), seen(c, 1, 2, true), seen(d, 3, 3, false), seen(z, 1, 3, false)}},
		{"removed item comes back, another leaves", Run{Command: "publish", ConfigHash: "c2", Items: 4, Updated: 1, Removed: 1, Forced: true},
			[]Item{b2, c2, d, z},
			[]Item{seen(a, 1, 3, true), seen(b2, 1, 4, false), seen(c2, 1, 4, false), seen(d, 3, 4, false), seen(z, 1, 4, false)}},
		{"every item gone", Run{Command: "publish", ConfigHash: "c2", Removed: 4},
			nil,
			[]Item{seen(a, 1, 3, true), seen(b2, 1, 4, true), seen(c2, 1, 4, true), seen(d, 3, 4, true), seen(z, 1, 4, true)}},
		{"all back", Run{Command: "publish", ConfigHash: "c3", Items: 5},
			[]Item{a, b2, c2, d, z},
			[]Item{seen(a, 1, 6, false), seen(b2, 1, 6, false), seen(c2, 1, 6, false), seen(d, 3, 6, false), seen(z, 1, 6, false)}},
	}

	path := filepath.Join(t.TempDir(), "herald.db")
	var wantRuns []Run
	for i, step := range steps {
		ok := t.Run(step.name, func(t *testing.T) {
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			r := step.run
			r.Started = start(i + 1).In(cest) // stored in UTC, read back Equal
			r.Finished = r.Started.Add(1500 * time.Millisecond)
			record(t, s, &r, step.seen)
			if r.ID != int64(i+1) {
				t.Errorf("got run ID %d, want %d", r.ID, i+1)
			}
			wantRuns = append([]Run{r}, wantRuns...)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = openStore(t, path)
			if d := diffItems(items(t, s), step.want); d != "" {
				t.Errorf("items after reopening:\n%s", d)
			}
			if d := diffRuns(runs(t, s), wantRuns); d != "" {
				t.Errorf("runs after reopening:\n%s", d)
			}
			newest, err := s.Runs(t.Context(), 2)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffRuns(newest, wantRuns[:min(2, len(wantRuns))]); d != "" {
				t.Errorf("Runs(2):\n%s", d)
			}
			c, err := s.Counts(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			removed := 0
			for _, it := range step.want {
				if it.Removed {
					removed++
				}
			}
			if want := (Counts{Runs: i + 1, Items: len(step.want), Removed: removed}); c != want {
				t.Errorf("got counts %+v, want %+v", c, want)
			}
		})
		if !ok {
			break // the later steps build on this one
		}
	}
}

func TestRecordRejects(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		run  *Run
		seen []Item
		want string
	}{
		{"no start time", &Run{Command: "publish"}, []Item{{ID: "a"}}, "no start time"},
		{"nil run", nil, nil, "no start time"},
		{"empty id", &Run{Started: now}, []Item{{ID: "a"}, {URL: "https://example.com/x"}}, `no id (url "https://example.com/x")`},
		{"duplicate id", &Run{Started: now}, []Item{{ID: "a"}, {ID: "b"}, {ID: "a"}}, `item id "a" appears twice`},
	}
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Record(t.Context(), tt.run, tt.seen)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one saying %q", err, tt.want)
			}
			c, err := s.Counts(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if c != (Counts{}) {
				t.Errorf("got counts %+v after a rejected run, want zero", c)
			}
		})
	}
}

// TestRecordAllOrNothing stops Record at each point of its transaction (by cancelling its context) and
// checks that the store still holds exactly the previous run.
func TestRecordAllOrNothing(t *testing.T) {
	for _, stage := range []string{"run", "removed", "updated", "inserted"} {
		t.Run(stage, func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
			for g := 1; g <= 2; g++ {
				r, seen := generation(g, 300)
				record(t, s, r, seen)
			}
			want, wantRuns := items(t, s), runs(t, s)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s.hook = func(at string) {
				if at == stage {
					cancel()
				}
			}
			r, seen := generation(3, 300)
			if err := s.Record(ctx, r, seen); !errors.Is(err, context.Canceled) {
				t.Errorf("got error %v, want context.Canceled", err)
			}
			if r.ID != 0 {
				t.Errorf("got run ID %d after a failed Record, want 0", r.ID)
			}
			s.hook = nil
			if d := diffItems(items(t, s), want); d != "" {
				t.Errorf("items after a cancelled Record:\n%s", d)
			}
			if d := diffRuns(runs(t, s), wantRuns); d != "" {
				t.Errorf("runs after a cancelled Record:\n%s", d)
			}
			// And the next run records as if the failed one had never been.
			record(t, s, r, seen)
			if r.ID != 3 {
				t.Errorf("got run ID %d, want 3", r.ID)
			}
		})
	}
}

// TestReadDuringRecord reads the store from a second Open (herald diff while herald publish records)
// while a Record's transaction is open: the read does not wait, and sees the last committed run.
func TestReadDuringRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	w, r := openStore(t, path), openStore(t, path)
	r1, seen := generation(1, 500)
	record(t, w, r1, seen)
	want := items(t, r)

	read := false
	w.hook = func(stage string) {
		if stage != "inserted" {
			return
		}
		read = true
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		got, err := r.Items(ctx)
		if err != nil {
			t.Errorf("items during a Record: %v", err)
		}
		if d := diffItems(got, want); d != "" {
			t.Errorf("items during a Record:\n%s", d)
		}
		if c, err := r.Counts(ctx); err != nil || c.Runs != 1 {
			t.Errorf("got counts %+v, %v during a Record, want 1 run", c, err)
		}
	}
	r2, seen := generation(2, 500)
	record(t, w, r2, seen)
	if !read {
		t.Fatal("the hook never ran")
	}
	if got := items(t, r); len(got) == len(want) && diffItems(got, want) == "" {
		t.Error("after the Record committed, got the items from before it")
	}
}

func TestBadFiles(t *testing.T) {
	// good makes a real store at path and closes it.
	good := func(t *testing.T, path string) {
		s := openStore(t, path)
		r, seen := generation(1, 2000)
		record(t, s, r, seen)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	truncate := func(size func(n int64) int64) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			good(t, path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, size(fi.Size())); err != nil {
				t.Fatal(err)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	tests := []struct {
		name    string
		make    func(t *testing.T, path string)
		kind    error
		message string // part of the error's message, after the path
		onRead  bool   // the damage may show only when the store is read
	}{
		{"random bytes", func(t *testing.T, path string) {
			if err := os.WriteFile(path, noise(8192), 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt, "is not an SQLite database", false},
		{"text file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("store: herald.db\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt, "is not an SQLite database", false},
		{"truncated in the header", truncate(func(int64) int64 { return 50 }), ErrCorrupt, "is truncated (50 bytes", false},
		{"truncated to nothing", truncate(func(int64) int64 { return 0 }), ErrCorrupt, "is empty (0 bytes), which a Herald store never is", false},
		{"an empty file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt, "is empty (0 bytes)", false},
		{"truncated to a page boundary", truncate(func(n int64) int64 { return n / 2 / 4096 * 4096 }), ErrCorrupt, "is truncated", false},
		{"truncated inside a page", truncate(func(n int64) int64 { return n/2 + 100 }), ErrCorrupt, "is truncated", false},
		{"pages overwritten", func(t *testing.T, path string) {
			good(t, path)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := f.Stat()
			if _, err := f.WriteAt(noise(int(fi.Size())-4096), 4096); err != nil { // all but page 1
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt, "is corrupt", true},
		{"newer schema", func(t *testing.T, path string) {
			good(t, path)
			rawSQL(t, path, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1))
		}, ErrNewer, fmt.Sprintf("has schema version %d but this Herald knows up to %d; upgrade Herald", len(migrations)+1, len(migrations)), false},
		{"another program's database", func(t *testing.T, path string) {
			rawSQL(t, path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes (body) VALUES ('keep me')")
		}, ErrNotStore, "is an SQLite database but not a Herald store (tables notes)", false},
		{"another program's versioned database", func(t *testing.T, path string) {
			rawSQL(t, path, "PRAGMA application_id = 1234", "PRAGMA user_version = 1")
		}, ErrNotStore, "is an SQLite database but not a Herald store (application id 0x4d2, user_version 1)", false},
		{"a folder", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, nil, "cannot be opened", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "herald.db")
			tt.make(t, path)
			before := dirFiles(t, dir)

			s, err := Open(t.Context(), path)
			if err == nil && tt.onRead {
				_, err = s.Items(t.Context())
				if cerr := s.Close(); cerr != nil {
					t.Errorf("close: %v", cerr)
				}
			} else if err == nil {
				s.Close()
				t.Fatal("got no error, want one")
			}
			if err == nil {
				t.Fatal("got no error, want one")
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("got error %q, want one wrapping %q", err, tt.kind)
			}
			if want := "store " + path + " " + tt.message; !strings.Contains(err.Error(), want) {
				t.Errorf("got error %q, want one containing %q", err, want)
			}
			sameFiles(t, dirFiles(t, dir), before)
		})
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	a, b := openStore(t, path), openStore(t, path)
	host, _ := os.Hostname()

	la, err := a.Lock(t.Context(), "publish")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*sqliteStore{b, a} { // another Open of the store, and the same one
		start := time.Now()
		_, err = s.Lock(t.Context(), "send")
		if took := time.Since(start); took > time.Second {
			t.Errorf("a second Lock took %v, want it to fail at once", took)
		}
		var le *LockedError
		if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
			t.Fatalf("got error %v, want a *LockedError wrapping ErrLocked", err)
		}
		if le.PID != os.Getpid() || le.Command != "publish" || le.Host != host || time.Since(le.Since) > time.Minute {
			t.Errorf("got holder %+v, want pid %d, command publish, host %s, since just now", le, os.Getpid(), host)
		}
		for _, want := range []string{path, `"publish"`, fmt.Sprintf("pid %d", os.Getpid())} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("got error %q, want one containing %q", err, want)
			}
		}
	}

	// Reads, and a Record, do not wait for the run lock.
	r, seen := generation(1, 100)
	record(t, b, r, seen)
	if got := len(items(t, b)); got != len(seen) {
		t.Errorf("got %d items while locked, want %d", got, len(seen))
	}
	if c, err := b.Counts(t.Context()); err != nil || c.Runs != 1 {
		t.Errorf("got counts %+v, %v while locked, want 1 run", c, err)
	}

	if err := la.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := la.Unlock(); err != nil {
		t.Errorf("a second Unlock: got %v, want nil", err)
	}
	lb, err := b.Lock(t.Context(), "send")
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if _, err := a.Lock(t.Context(), "publish"); !errors.Is(err, ErrLocked) {
		t.Errorf("got %v, want ErrLocked", err)
	}
	// Close releases what the store holds.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lb.Unlock(); err != nil {
		t.Errorf("Unlock after Close: got %v, want nil", err)
	}
	la, err = a.Lock(t.Context(), "publish")
	if err != nil {
		t.Fatalf("Lock after the holder's Close: %v", err)
	}
	if err := la.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestTimes(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		text any
	}{
		{"zero", time.Time{}, nil},
		{"UTC with nanoseconds", time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC), "2024-02-29T23:59:59.999999999Z"},
		{"whole second", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "2024-01-01T00:00:00.000000000Z"},
		{"another zone", time.Date(2024, 1, 1, 1, 30, 0, 7, time.FixedZone("", 90*60)), "2024-01-01T00:00:00.000000007Z"},
		{"year 1", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), "0001-01-01T00:00:00.000000001Z"},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), "9999-12-31T23:59:59.000000000Z"},
		{"with a monotonic reading", time.Now(), "-"}, // "-": not compared
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := formatTime(tt.t)
			if tt.text != "-" && text != tt.text {
				t.Errorf("got %v, want %v", text, tt.text)
			}
			var ns sql.NullString
			if s, ok := text.(string); ok {
				ns = sql.NullString{String: s, Valid: true}
			}
			got, err := parseTime(ns)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.t) {
				t.Errorf("got %v back, want %v", got, tt.t)
			}
		})
	}
	// layoutString writes what Format writes.
	for _, tm := range []time.Time{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 7, 4, 5, 6, 7, 8, time.FixedZone("", -7*3600)), time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, want := layoutString(tm), tm.UTC().Format(timeLayout); got != want {
			t.Errorf("layoutString(%v) = %q, want %q", tm, got, want)
		}
	}
	// parseLayout reads what time.Parse reads, or declines.
	for _, s := range []string{
		"2024-02-30T00:00:00.000000000Z", "2024-13-01T00:00:00.000000000Z", "2024-01-01T24:00:00.000000000Z",
		"2024-01-01T00:00:00.00000000xZ", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000000000+01:00",
		"2023-02-28T12:34:56.789012345Z",
	} {
		got, ok := parseLayout(s)
		want, err := time.Parse(time.RFC3339Nano, s)
		if ok && (err != nil || !got.Equal(want)) {
			t.Errorf("parseLayout(%q) = %v, want %v, %v", s, got, want, err)
		}
		if !ok && err == nil && len(s) == len(timeLayout) && s[29] == 'Z' {
			t.Errorf("parseLayout(%q) declined a time in its layout", s)
		}
	}
}

// TestLedgerSchema checks the constraints the mail and subscriber issues will rely on.
func TestLedgerSchema(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	r, seen := generation(1, 10)
	record(t, s, r, seen)
	exec := func(q string, args ...any) error {
		_, err := s.db.ExecContext(t.Context(), q, args...)
		return err
	}
	const now = "2024-05-01T08:00:00.000000000Z"
	// inTx runs qs (each given now for its ?) in one transaction, all or nothing.
	inTx := func(qs ...string) error {
		tx, err := s.db.BeginTx(t.Context(), nil)
		if err != nil {
			return err
		}
		for _, q := range qs {
			if _, err := tx.ExecContext(t.Context(), q, now); err != nil {
				tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}
	post := func(id string) string { return "(SELECT post_id FROM aliases WHERE public_id = '" + id + "')" }
	sub := func(email, key string) error {
		return exec(`INSERT INTO subscribers (email, email_key, created_at, consent_source, consent_ip)
			VALUES (?, ?, ?, 'web', '192.0.2.1')`, email, key, now)
	}
	tests := []struct {
		name  string
		do    func() error
		fails bool
	}{
		{"a subscriber", func() error { return sub("Ann@Example.com", "Ann@example.com") }, false},
		{"another", func() error { return sub("bob@example.com", "bob@example.com") }, false},
		{"the same address in another case", func() error { return sub("Ann@EXAMPLE.com", "Ann@example.com") }, true},
		{"an unknown status", func() error {
			return exec(`UPDATE subscribers SET status = 'gone' WHERE id = 1`)
		}, true},
		{"an unknown consent source", func() error {
			return exec(`INSERT INTO subscribers (email, email_key, created_at, consent_source) VALUES ('c@x', 'c@x', ?, 'guess')`, now)
		}, true},
		{"a post to a subscriber", func() error {
			return inTx(`INSERT INTO deliveries (id, subscriber_id, post_id, queued_at) VALUES (1, 1, `+post("post-000001")+`, ?)`,
				`INSERT INTO delivery_items (subscriber_id, post_id, delivery_id) VALUES (1, `+post("post-000001")+`, 1)`)
		}, false},
		{"the same post to the same subscriber", func() error {
			return inTx(`INSERT INTO deliveries (id, subscriber_id, post_id, queued_at) VALUES (2, 1, `+post("post-000001")+`, ?)`,
				`INSERT INTO delivery_items (subscriber_id, post_id, delivery_id) VALUES (1, `+post("post-000001")+`, 2)`)
		}, true},
		{"the same post to another subscriber", func() error {
			return inTx(`INSERT INTO deliveries (id, subscriber_id, post_id, queued_at) VALUES (3, 2, `+post("post-000001")+`, ?)`,
				`INSERT INTO delivery_items (subscriber_id, post_id, delivery_id) VALUES (2, `+post("post-000001")+`, 3)`)
		}, false},
		{"a digest", func() error {
			return inTx(`INSERT INTO deliveries (id, subscriber_id, digest_key, queued_at) VALUES (10, 1, 'weekly 2024-W18', ?)`,
				`INSERT INTO delivery_items (subscriber_id, post_id, delivery_id) VALUES (1, `+post("post-000002")+`, 10), (1, `+post("post-000003")+`, 10)`)
		}, false},
		{"a post already sent alone, again in a digest", func() error {
			return exec(`INSERT INTO delivery_items (subscriber_id, post_id, delivery_id) VALUES (1, ` + post("post-000001") + `, 10)`)
		}, true},
		{"the same digest twice", func() error {
			return exec(`INSERT INTO deliveries (subscriber_id, digest_key, queued_at) VALUES (1, 'weekly 2024-W18', ?)`, now)
		}, true},
		{"a post of another subscriber's delivery", func() error {
			return exec(`INSERT INTO delivery_items (subscriber_id, post_id, delivery_id) VALUES (2, ` + post("post-000004") + `, 10)`)
		}, true},
		{"an unknown post", func() error {
			return exec(`INSERT INTO deliveries (subscriber_id, post_id, queued_at) VALUES (1, 9999, ?)`, now)
		}, true},
		{"an unknown post in a digest", func() error {
			return exec(`INSERT INTO delivery_items (subscriber_id, post_id, delivery_id) VALUES (1, 9999, 10)`)
		}, true},
		{"an id of an unknown post", func() error {
			return exec(`INSERT INTO aliases (public_id, post_id, url, title, hash, first_run, first_seen) VALUES ('x', 9999, '', '', '', 1, ?)`, now)
		}, true},
		{"an id of two posts", func() error {
			return exec(`INSERT INTO aliases (public_id, post_id, url, title, hash, first_run, first_seen)
				VALUES ('post-000001', `+post("post-000002")+`, '', '', '', 1, ?)`, now)
		}, true},
		{"neither post nor digest", func() error {
			return exec(`INSERT INTO deliveries (subscriber_id, queued_at) VALUES (1, ?)`, now)
		}, true},
		{"an unknown delivery status", func() error {
			return exec(`UPDATE deliveries SET status = 'lost' WHERE id = 1`)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.fails && err == nil {
				t.Error("got no error, want the schema to refuse it")
			}
			if !tt.fails && err != nil {
				t.Errorf("got %v, want no error", err)
			}
		})
	}
	c, err := s.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if c.Subscribers != 2 || c.Deliveries != 3 {
		t.Errorf("got %d subscribers and %d deliveries, want 2 and 3", c.Subscribers, c.Deliveries)
	}
	// Erasing a subscriber erases what was sent to them.
	if err := exec(`DELETE FROM subscribers WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.db.QueryRowContext(t.Context(), `SELECT (SELECT COUNT(*) FROM deliveries WHERE subscriber_id = 1) +
		(SELECT COUNT(*) FROM delivery_items WHERE subscriber_id = 1)`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("got %d ledger rows of an erased subscriber, want 0", left)
	}
}

// TestOpenExisting: Open with Existing finds no store where there is no file, and makes none.
func TestOpenExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.db")
	_, err := OpenWith(t.Context(), path, Options{Existing: true})
	if !errors.Is(err, ErrNoStore) {
		t.Fatalf("got %v, want ErrNoStore", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenWith(Existing) made the store's folder: %v", err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenWith(t.Context(), path, Options{Existing: true})
	if err != nil {
		t.Fatalf("OpenWith(Existing) of a store: %v", err)
	}
	s.Close()
}
