package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// migrateKillEnv makes TestMigrateKillHelper open the store at its value (migrating it) and exit.
const migrateKillEnv = "HERALD_STORE_MIGRATE_KILL"

func TestMigrateKillHelper(t *testing.T) {
	path := os.Getenv(migrateKillEnv)
	if path == "" {
		return
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	s.Close()
	fmt.Println("migrated")
	os.Exit(0)
}

// TestKillDuringMigration11: version 11 makes the subscribers table anew, with foreign keys off around
// it. A Herald killed (SIGKILL) at any moment of that migration, on a store with history (every earlier
// version's fillers, and 40,000 more subscribers with deliveries so that it takes a while), leaves the
// store at version 10 or at 11, every row kept with its id, foreign keys valid; the next open migrates it.
func TestKillDuringMigration11(t *testing.T) {
	base := filepath.Join(t.TempDir(), "v10.db")
	for i, fill := range fillers[:10] {
		s, err := open(t.Context(), base, i+1)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := open(t.Context(), base, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(t.Context(), `
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)
		INSERT INTO subscribers (email, email_key, status, frequency, created_at, consent_source, confirmed_at)
		SELECT 'bulk' || i || '@example.com', 'bulk' || i || '@example.com', 'active', 'daily',
			'2025-01-01T00:00:00Z', 'import', '2025-01-01T00:00:00Z' FROM n;
		INSERT INTO deliveries (subscriber_id, digest_key, status, queued_at)
		SELECT id, 'daily 2025-01-02', 'sent', '2025-01-02T00:00:00Z' FROM subscribers WHERE email LIKE 'bulk%';`); err != nil {
		t.Fatal(err)
	}
	want := dump(t, s, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}

	// How long a whole migration takes here, from the helper's start: the kills fall within it.
	start := time.Now()
	if out, err := migrateHelper(t, filepath.Join(t.TempDir(), "whole.db"), data).CombinedOutput(); err != nil || !strings.Contains(string(out), "migrated") {
		t.Fatalf("the helper: %v\n%s", err, out)
	}
	whole := time.Since(start)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	versions := map[string]int{}
	for range 5 {
		path := filepath.Join(t.TempDir(), "herald.db")
		cmd := migrateHelper(t, path, data)
		var out strings.Builder
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := whole/4 + time.Duration(rng.Int64N(int64(whole*3/4)))
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)     //nolint:errcheck // it may have ended
		cmd.Wait()                              //nolint:errcheck // killed, or done
		old, err := open(t.Context(), path, 10) // opens without migrating
		if err != nil {
			t.Fatalf("after a kill at %v: %v", delay, err)
		}
		v := pragma(t, old, "user_version")
		versions[v]++
		if got := dump(t, old, 10); got != want {
			t.Errorf("killed at %v (version %s, %q): the rows differ from version 10's", delay, v, out.String())
		}
		var broken int
		if err := old.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM pragma_foreign_key_check").Scan(&broken); err != nil || broken != 0 {
			t.Errorf("killed at %v: %d foreign key violations (%v)", delay, broken, err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, path)
		if got := dump(t, s, 10); got != want {
			t.Errorf("killed at %v, then migrated: the rows differ from version 10's", delay)
		}
		checkModel(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("a whole migration took %v; versions found after the kills: %v", whole, versions)
}

// migrateHelper is the command that opens a copy of data at path in TestMigrateKillHelper.
func migrateHelper(t *testing.T, path string, data []byte) *exec.Cmd {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateKillHelper$")
	cmd.Env = append(os.Environ(), migrateKillEnv+"="+path)
	return cmd
}
