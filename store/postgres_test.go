package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL store's own tests: what its database may be (empty, its own, another program's, newer),
// how it is named in errors, and its run lock's session. The contract tests cover the rest.

func pgOpen(t *testing.T, raw string) *pgStore {
	t.Helper()
	s, err := openPostgres(t.Context(), raw, Options{}, len(migrations))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dbName(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// TestPostgresVersions: every SQLite migration has its PostgreSQL twin (postgres_schema.go).
func TestPostgresVersions(t *testing.T) {
	if got := pgBase + len(pgMigrations); got != len(migrations) {
		t.Fatalf("the PostgreSQL store knows up to version %d, the SQLite store %d: add the PostgreSQL twin of each new migration to pgMigrations", got, len(migrations))
	}
}

// TestPostgresExisting: Open with Existing finds no store in an empty database and makes none; after a
// plain Open has made it, it opens it.
func TestPostgresExisting(t *testing.T) {
	raw := pg.DB(t)
	_, err := OpenWith(t.Context(), raw, Options{Existing: true})
	if !errors.Is(err, ErrNoStore) {
		t.Fatalf("OpenWith(Existing) on an empty database: got %v, want ErrNoStore", err)
	}
	if strings.Contains(err.Error(), pg.Password()) {
		t.Errorf("the error shows the password: %q", err)
	}
	var tables int
	probe, err := pgx.Connect(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(context.Background())
	if err := probe.QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("OpenWith(Existing) made %d tables", tables)
	}
	s, err := OpenWith(t.Context(), raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenWith(t.Context(), raw, Options{Existing: true})
	if err != nil {
		t.Fatalf("OpenWith(Existing) on a store: %v", err)
	}
	s.Close()
}

// TestPostgresUnreachable: a server that cannot be reached is an error that names the host and database
// and never shows the password.
func TestPostgresUnreachable(t *testing.T) {
	raw := "postgres://ann:sekrit-pw@127.0.0.1:1/herald?connect_timeout=2"
	_, err := Open(t.Context(), raw)
	if err == nil {
		t.Fatal("Open of a server that is not there succeeded")
	}
	if strings.Contains(err.Error(), "sekrit-pw") {
		t.Errorf("the error shows the password: %q", err)
	}
	if !strings.Contains(err.Error(), "postgres://127.0.0.1:1/herald") {
		t.Errorf("got %q, want an error naming the store as postgres://127.0.0.1:1/herald", err)
	}
}

func TestPostgresOpen(t *testing.T) {
	raw := pg.DB(t)
	s := pgOpen(t, raw)
	var app string
	var version int
	if err := s.pool.QueryRow(t.Context(), "SELECT application, version FROM herald_meta").Scan(&app, &version); err != nil {
		t.Fatal(err)
	}
	if app != pgApplication || version != len(migrations) {
		t.Errorf("herald_meta: got %q version %d, want %q version %d", app, version, pgApplication, len(migrations))
	}
	s.Close()
	pgOpen(t, raw).Close() // again: nothing to do

	// Several first opens at once make one store.
	raw = pg.DB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := openPostgres(t.Context(), raw, Options{}, len(migrations))
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent first open: %v", err)
		}
	}
}

// TestPostgresRefuses: a database that is not a Herald store of a version this Herald knows is refused
// and left as it was.
func TestPostgresRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup []string
		kind  error
		msg   string
	}{
		{"another program's tables", []string{"CREATE TABLE accounts (id int)", "INSERT INTO accounts VALUES (1)"},
			ErrNotStore, "is a PostgreSQL database but not a Herald store (tables accounts)"},
		{"another program's herald_meta", []string{"CREATE TABLE herald_meta (application text, version int)",
			"INSERT INTO herald_meta VALUES ('other', 1)"}, ErrNotStore, `is a PostgreSQL database of another application ("other")`},
		{"a herald_meta of another shape", []string{"CREATE TABLE herald_meta (x int)"}, ErrNotStore, "has a herald_meta table that is not Herald's"},
		{"a newer store", nil, ErrNewer, "has schema version 99 but this Herald knows up to"},
		{"a store with a table dropped", []string{"DROP TABLE delivery_items", "DROP TABLE write_checks"}, ErrCorrupt,
			fmt.Sprintf("is damaged: its schema version %d has tables delivery_items, write_checks, which are missing", len(migrations))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := pg.DB(t)
			db := dbName(t, raw)
			if tt.kind != ErrNotStore {
				pgOpen(t, raw).Close()
			}
			if tt.kind == ErrNewer {
				pg.Exec(t, db, "UPDATE herald_meta SET version = 99")
			}
			pg.Exec(t, db, tt.setup...)
			before := pgDump(t, raw)
			_, err := openPostgres(t.Context(), raw, Options{}, len(migrations))
			if !errors.Is(err, tt.kind) {
				t.Fatalf("got %v, want an error wrapping %v", err, tt.kind)
			}
			if want := "store " + pgName(raw) + " " + tt.msg; !strings.Contains(err.Error(), want) {
				t.Errorf("got %q, want it to contain %q", err, want)
			}
			if after := pgDump(t, raw); after != before {
				t.Errorf("the database changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// pgDump is the tables and rows of the database's public schema, as text.
func pgDump(t *testing.T, raw string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, table := range tables {
		var rows string
		if err := conn.QueryRow(t.Context(), "SELECT COALESCE(string_agg(t::text, ';' ORDER BY t::text), '') FROM "+pgx.Identifier{table}.Sanitize()+" t").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		b.WriteString(table + ": " + rows + "\n")
	}
	return b.String()
}

// TestPostgresPassword: the password comes from the URL, or from Options when the URL has none, and no
// error shows it.
func TestPostgresPassword(t *testing.T) {
	raw := pg.DB(t)
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", "/nonexistent")
	u, _ := url.Parse(raw)
	secret, _ := u.User.Password()
	u.User = url.User(u.User.Username())
	bare := u.String()

	s, err := openPostgres(t.Context(), bare, Options{Password: secret}, len(migrations))
	if err != nil {
		t.Fatalf("the password from Options: %v", err)
	}
	s.Close()

	wrong := *u
	wrong.User = url.UserPassword(u.User.Username(), "not-the-password-x7")
	for name, tc := range map[string]struct {
		raw string
		o   Options
		pw  string
	}{
		"none":                        {bare, Options{}, secret},
		"a wrong one in Options":      {bare, Options{Password: "not-the-password-x7"}, "not-the-password-x7"},
		"a wrong one in the URL":      {wrong.String(), Options{}, "not-the-password-x7"},
		"a URL that cannot be parsed": {"postgres://ann:not-the-password-x7@db.example.com:port/herald", Options{}, "not-the-password-x7"},
		"a bad parameter":             {strings.Replace(wrong.String(), "sslmode=disable", "sslmode=sometimes", 1), Options{}, "not-the-password-x7"},
	} {
		s, err := openPostgres(t.Context(), tc.raw, tc.o, len(migrations))
		if err == nil {
			s.Close()
			t.Errorf("%s: got no error", name)
			continue
		}
		if strings.Contains(err.Error(), tc.pw) || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error shows the password: %q", name, err)
		}
		if !strings.Contains(err.Error(), "store postgres://") {
			t.Errorf("%s: got %q, want it to name the store", name, err)
		}
	}
}

// TestPostgresLockSessionDies: the run lock goes with its session, however the session ends, and the
// holder's row left behind names no one.
func TestPostgresLockSessionDies(t *testing.T) {
	raw := pg.DB(t)
	a, b := pgOpen(t, raw), pgOpen(t, raw)
	l, err := a.Lock(t.Context(), "publish")
	if err != nil {
		t.Fatal(err)
	}
	pid := l.(*pgLock).conn.PgConn().PID()
	var ended bool
	if err := b.pool.QueryRow(t.Context(), "SELECT pg_terminate_backend($1)", pid).Scan(&ended); err != nil || !ended {
		t.Fatalf("terminate the holder's session: %v, %v", ended, err)
	}
	// The server ends the session a moment later.
	var l2 Lock
	for range 100 {
		if l2, err = b.Lock(t.Context(), "send"); err == nil {
			break
		}
		var le *LockedError
		if !errors.As(err, &le) {
			t.Fatal(err)
		}
		if le.PID != 0 && le.Command != "publish" {
			t.Errorf("got holder %+v, want the dead session's, or none", le)
		}
	}
	if err != nil {
		t.Fatalf("Lock after the holder's session ended: %v", err)
	}
	// Now b holds it, and says so, with its own row.
	_, err = a.Lock(t.Context(), "publish")
	var le *LockedError
	if !errors.As(err, &le) || le.Command != "send" {
		t.Errorf("got %v, want the lock held by send", err)
	}
	l2.Unlock()
	l.Unlock() // its connection is gone: it must not panic
}

// pgCheckModel is checkModel on the PostgreSQL store: each post has an id, a post is removed exactly when
// all its ids are, whoever has a delivery of a post has the post in delivery_items, and no post id is
// above its identity's sequence (which keeps ids from being reused).
func pgCheckModel(t *testing.T, s *pgStore) {
	t.Helper()
	for what, q := range map[string]string{
		"posts without an id": `SELECT COUNT(*) FROM posts p WHERE NOT EXISTS (SELECT 1 FROM aliases a WHERE a.post_id = p.id)`,
		"posts removed with an id on the site, or not removed with none": `SELECT COUNT(*) FROM posts p
			WHERE p.removed = EXISTS (SELECT 1 FROM aliases a WHERE a.post_id = p.id AND NOT a.removed)`,
		"deliveries of a post that delivery_items does not have": `SELECT COUNT(*) FROM deliveries d WHERE d.post_id IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM delivery_items di WHERE di.subscriber_id = d.subscriber_id AND di.post_id = d.post_id)`,
		"posts above the sequence": `SELECT COUNT(*) FROM posts
			WHERE id > (SELECT COALESCE(last_value, 0) FROM pg_sequences WHERE sequencename = 'posts_id_seq' AND schemaname = current_schema())`,
	} {
		var n int
		if err := s.pool.QueryRow(context.Background(), q).Scan(&n); err != nil || n != 0 {
			t.Errorf("got %d %s (%v), want 0", n, what, err)
		}
	}
}

// TestPostgresMigrate: a store made at each earlier version is migrated on open, in one step per version,
// keeping what it holds.
func TestPostgresMigrate(t *testing.T) {
	for v := pgBase; v < len(migrations); v++ {
		t.Run(fmt.Sprintf("from version %d", v), func(t *testing.T) {
			raw := pg.DB(t)
			old, err := openPostgres(t.Context(), raw, Options{}, v)
			if err != nil {
				t.Fatal(err)
			}
			// Rows of version 7's tables, written as SQL: today's Record and AddSubscriber write today's columns.
			for _, q := range []string{
				`INSERT INTO runs (started, command, config_hash, items_count, new_count, updated_count, removed_count, baseline, forced)
					VALUES ($1, 'publish', '', 1, 1, 0, 0, FALSE, FALSE)`,
				`INSERT INTO posts (first_run, first_seen, plan_run, sendable) SELECT id, started, id, TRUE FROM runs WHERE started = $1`,
				`INSERT INTO aliases (public_id, post_id, url, title, date, hash, first_run, first_seen)
					SELECT 'p', id, 'https://x/p', 'p', $1, 'p', first_run, first_seen FROM posts`,
				`INSERT INTO subscribers (email, email_key, status, created_at, consent_source, consent_at, confirmed_at)
					VALUES ('ann@example.com', 'ann@example.com', 'active', $1, 'command', $1, $1)`,
			} {
				if _, err := old.pool.Exec(t.Context(), q, chours(0)); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			before := pgDump(t, raw)
			old.Close()

			s := pgOpen(t, raw)
			var version int
			if err := s.pool.QueryRow(t.Context(), "SELECT version FROM herald_meta").Scan(&version); err != nil || version != len(migrations) {
				t.Fatalf("got version %d, %v, want %d", version, err, len(migrations))
			}
			after := pgDump(t, raw)
			for _, line := range strings.Split(strings.TrimSuffix(before, "\n"), "\n") { // an empty table's line ends in a space
				// A row may have gained columns at its end (version 10's subscribers.complained_at), NULL.
				gained := strings.HasSuffix(line, ")") && strings.Contains(after, strings.TrimSuffix(line, ")")+",")
				if !strings.HasPrefix(line, "herald_meta:") && !strings.Contains(after, line+"\n") && !gained {
					t.Errorf("the migration changed or lost %q", line)
				}
			}
		})
	}
}

// BenchmarkPostgresRecord10k is BenchmarkRecord10k on the PostgreSQL store (the test server runs without
// fsync: the figures are the statements' cost, not the disk's).
func BenchmarkPostgresRecord10k(b *testing.B) {
	open := func(b *testing.B) *pgStore {
		s, err := openPostgres(b.Context(), pg.DB(b), Options{}, len(migrations))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	b.Run("first", func(b *testing.B) {
		items := site(10000, 0)
		for range b.N {
			b.StopTimer()
			s := open(b)
			b.StartTimer()
			if err := s.Record(b.Context(), &Run{Started: time.Now(), Command: "publish"}, items); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		s := open(b)
		items := site(10001, 0)
		if err := s.Record(b.Context(), &Run{Started: time.Now(), Command: "publish"}, items[:10000]); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			items[i%10000].Hash = fmt.Sprint("edited", i)
			if err := s.Record(b.Context(), &Run{Started: time.Now(), Command: "publish"}, items[i%2:10000+i%2]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
