package pgtest

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

var pg Cluster

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

// tables counts the tables in db's public schema, and checks that the connection is to db.
func tables(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDB(t *testing.T) {
	a := pg.DB(t)
	b := pg.DB(t)
	if a == b {
		t.Fatalf("two tests' databases have the same URL %s", a)
	}
	ua, _ := url.Parse(a)
	pg.Exec(t, ua.Path[1:], "CREATE TABLE t (x int)")
	if n := tables(t, a); n != 1 {
		t.Errorf("got %d tables in the first database, want 1", n)
	}
	if n := tables(t, b); n != 0 {
		t.Errorf("got %d tables in a fresh database, want 0", n)
	}
}

func TestPasswordNeeded(t *testing.T) {
	u, err := url.Parse(pg.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(User)
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", os.DevNull)
	conn, err := pgx.Connect(t.Context(), u.String())
	if err == nil {
		conn.Close(context.Background())
		t.Fatal("connected over TCP without a password; want the server to ask for one")
	}
}

func TestDropped(t *testing.T) {
	var name string
	t.Run("make", func(t *testing.T) {
		u, _ := url.Parse(pg.DB(t))
		name = u.Path[1:]
	})
	conn, err := pgx.Connect(t.Context(), pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s is still there after its test ended", name)
	}
}

// TestCollation: the databases sort text as people do, not as bytes.
func TestCollation(t *testing.T) {
	conn, err := pgx.Connect(t.Context(), pg.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var got string
	if err := conn.QueryRow(t.Context(), "SELECT string_agg(x, ' ' ORDER BY x) FROM unnest(ARRAY['B', 'a', 'b']) x").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "a b B" {
		t.Errorf("got %q, want %q", got, "a b B")
	}
}

// TestMissing: without PostgreSQL a test that needs it is skipped with the reason, and fails under
// CI=true. It runs this test binary again (TestMissingChild) with the binaries' folder pointed at an
// empty one.
func TestMissing(t *testing.T) {
	empty := t.TempDir()
	for _, ci := range []string{"", "true"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingChild$", "-test.v")
		cmd.Env = append(os.Environ(), "HERALD_PGTEST_CHILD=1", BinDirEnv+"="+empty, "CI="+ci)
		out, err := cmd.CombinedOutput()
		switch {
		case ci == "" && (err != nil || !strings.Contains(string(out), "--- SKIP: TestMissingChild") || !strings.Contains(string(out), "PostgreSQL not found (no initdb in")):
			t.Errorf("without CI: got %v and\n%s\nwant the test skipped with the reason", err, out)
		case ci == "true" && (err == nil || !strings.Contains(string(out), "--- FAIL: TestMissingChild") || !strings.Contains(string(out), "missing under CI=true")):
			t.Errorf("under CI=true: got %v and\n%s\nwant the test failed", err, out)
		}
	}
}

func TestMissingChild(t *testing.T) {
	if os.Getenv("HERALD_PGTEST_CHILD") != "1" {
		return // run by TestMissing
	}
	var c Cluster
	c.DB(t)
	t.Error("DB returned without PostgreSQL")
}
