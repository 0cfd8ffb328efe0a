package store

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// openStore opens the store at path for a test, closing it when the test ends.
func openStore(tb testing.TB, path string) *sqliteStore {
	tb.Helper()
	s, err := open(tb.Context(), path, len(migrations))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func record(tb testing.TB, s Store, r *Run, seen []Item) {
	tb.Helper()
	if err := s.Record(tb.Context(), r, seen); err != nil {
		tb.Fatalf("record %s: %v", r.Command, err)
	}
}

func items(tb testing.TB, s Store) []Item {
	tb.Helper()
	its, err := s.Items(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return its
}

func runs(tb testing.TB, s Store) []Run {
	tb.Helper()
	rs, err := s.Runs(tb.Context(), 0)
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

// pragma reads one PRAGMA's value from the store.
func pragma(tb testing.TB, s *sqliteStore, name string) string {
	tb.Helper()
	var v string
	if err := s.db.QueryRowContext(tb.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		tb.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// schema is the store's DDL, by name, as SQLite keeps it.
func schema(tb testing.TB, s *sqliteStore) string {
	tb.Helper()
	rows, err := s.db.QueryContext(tb.Context(), "SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name, ddl string
		if err := rows.Scan(&typ, &name, &ddl); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s: %s\n", typ, name, ddl)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// rawSQL runs statements on the SQLite file at path through the driver alone, as another program would.
func rawSQL(tb testing.TB, path string, stmts ...string) {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(tb.Context(), q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

// dirFiles reads every file in dir (and names its folders), for checking that nothing in it changed.
func dirFiles(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			files[e.Name()+"/"] = ""
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

func sameFiles(tb testing.TB, got, want map[string]string) {
	tb.Helper()
	var names []string
	for n := range got {
		names = append(names, n)
	}
	for n := range want {
		if _, ok := got[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		g, gok := got[n]
		w, wok := want[n]
		switch {
		case !wok:
			tb.Errorf("file %s appeared (%d bytes)", n, len(g))
		case !gok:
			tb.Errorf("file %s disappeared", n)
		case g != w:
			tb.Errorf("file %s changed: got %d bytes, want the %d bytes it had", n, len(g), len(w))
		}
	}
}

// diffItems says how got differs from want, or "" if they are the same (times compared with Equal).
func diffItems(got, want []Item) string {
	var b strings.Builder
	if len(got) != len(want) {
		fmt.Fprintf(&b, "got %d items, want %d\n", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.URL != w.URL || g.Title != w.Title || !g.Date.Equal(w.Date) || g.Hash != w.Hash ||
			g.FirstRun != w.FirstRun || !g.FirstSeen.Equal(w.FirstSeen) || g.LastRun != w.LastRun ||
			!g.LastSeen.Equal(w.LastSeen) || g.Removed != w.Removed || g.Sendable != w.Sendable {
			fmt.Fprintf(&b, "item %d:\n got  %+v\n want %+v\n", i, g, w)
		}
		if b.Len() > 4000 {
			break
		}
	}
	return b.String()
}

func diffRuns(got, want []Run) string {
	var b strings.Builder
	if len(got) != len(want) {
		fmt.Fprintf(&b, "got %d runs, want %d\n", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		gs, ws := g, w
		gs.Started, gs.Finished, ws.Started, ws.Finished = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if gs != ws || !g.Started.Equal(w.Started) || !g.Finished.Equal(w.Finished) {
			fmt.Fprintf(&b, "run %d:\n got  %+v\n want %+v\n", i, g, w)
		}
	}
	return b.String()
}

// generation is the g-th run of a site of about n posts that changes on every run: some posts leave (and
// come back the run after), some are edited, a few are new. It is the same for the same g and n.
func generation(g, n int) (*Run, []Item) {
	base := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	started := base.Add(time.Duration(g) * time.Minute).Add(time.Duration(g) * time.Nanosecond)
	var seen []Item
	for i := range n + 10*g {
		if (i+g)%5 == 0 {
			continue
		}
		hash := fmt.Sprintf("h%d", i)
		if i%7 == g%7 {
			hash = fmt.Sprintf("h%d-edit%d", i, g)
		}
		seen = append(seen, Item{
			ID:    fmt.Sprintf("post-%06d", i),
			URL:   fmt.Sprintf("https://example.com/%d.html", i),
			Title: fmt.Sprintf("Post %d", i),
			Date:  base.AddDate(0, 0, -i),
			Hash:  hash,
		})
	}
	return &Run{Started: started, Finished: started.Add(time.Second), Command: "publish", ConfigHash: "cfg",
		Items: len(seen)}, seen
}

// checkModel checks what the model says of every store (see the package comment): each post has an id,
// a post is removed exactly when all its ids are, whoever has a delivery of a post has the post in
// delivery_items, and no post id is above the counter that keeps them from being reused.
func checkModel(tb testing.TB, s *sqliteStore) {
	tb.Helper()
	for what, q := range map[string]string{
		"posts without an id": `SELECT COUNT(*) FROM posts p WHERE NOT EXISTS (SELECT 1 FROM aliases a WHERE a.post_id = p.id)`,
		"posts removed with an id on the site, or not removed with none": `SELECT COUNT(*) FROM posts p
			WHERE p.removed = EXISTS (SELECT 1 FROM aliases a WHERE a.post_id = p.id AND a.removed = FALSE)`,
		"deliveries of a post that delivery_items does not have": `SELECT COUNT(*) FROM deliveries d WHERE d.post_id IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM delivery_items di WHERE di.subscriber_id = d.subscriber_id AND di.post_id = d.post_id)`,
		"posts above the counter": `SELECT COUNT(*) FROM posts
			WHERE id > COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'posts'), 0)`,
	} {
		var n int
		if err := s.db.QueryRowContext(tb.Context(), q).Scan(&n); err != nil || n != 0 {
			tb.Errorf("got %d %s (%v), want 0", n, what, err)
		}
	}
}
