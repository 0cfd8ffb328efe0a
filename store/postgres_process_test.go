//go:build unix

package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// pgHelperEnv, when set, makes TestPostgresHelperProcess take the run lock of the PostgreSQL store at
// that URL, say "locked", and hold it until its stdin closes or it is killed.
const pgHelperEnv = "HERALD_PG_HELPER_URL"

func TestPostgresHelperProcess(t *testing.T) {
	raw := os.Getenv(pgHelperEnv)
	if raw == "" {
		return
	}
	ctx := context.Background()
	s, err := openPostgres(ctx, raw, Options{}, len(migrations))
	if err == nil {
		_, err = s.Lock(ctx, "publish")
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// TestPostgresLockKilled: a run killed with SIGKILL while it holds the lock blocks no one after it: the
// server ends its session, and the lock with it. While it lives, a second run is told its pid.
func TestPostgresLockKilled(t *testing.T) {
	raw := pg.DB(t)
	s := pgOpen(t, raw)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresHelperProcess$")
	cmd.Env = append(os.Environ(), pgHelperEnv+"="+raw)
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
	if err != nil || strings.TrimSpace(line) != "locked" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the helper said %q, %v", line, err)
	}
	_, err = s.Lock(t.Context(), "send")
	var le *LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid || le.Command != "publish" {
		t.Errorf("while the helper holds the lock: got %v, want it held by pid %d", err, cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := s.Lock(t.Context(), "send")
		if err == nil {
			l.Unlock()
			return
		}
		if !errors.As(err, &le) || time.Now().After(deadline) {
			t.Fatalf("after the holder was killed: %v", err)
		}
		if le.PID != 0 && le.PID != cmd.Process.Pid {
			t.Errorf("got holder %+v, want the killed one or none", le)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
