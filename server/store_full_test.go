//go:build linux

package server

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestRealStoreFull: the real store, on a disk with no room left, takes no sign-up: the answer is 503
// with Retry-After, never "check your inbox", and /healthz says so; with room again, both work.
//
// A full disk is made with RLIMIT_FSIZE at 0: no write of the process to any file succeeds (EFBIG; Go
// ignores the SIGXFSZ that comes with it). A limit at the write-ahead log's size was not enough: once
// SQLite has checkpointed the log, its next write starts the log again from the beginning, within that
// size, and succeeded (4 runs in 40 under -race). The limit holds for the whole process, so the test runs
// in a process of its own.
func TestRealStoreFull(t *testing.T) {
	if os.Getenv("HERALD_TEST_STORE_FULL") != "1" {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRealStoreFull$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "HERALD_TEST_STORE_FULL=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestRealStoreFull") {
			t.Fatalf("the test's process: %v\n%s", err, out)
		}
		return
	}

	e := newEnv(t, nil)
	wantStatus(t, e.signUp("first@example.com", nil), http.StatusOK, "Check your inbox")
	var was syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &was); err != nil {
		t.Fatal(err)
	}
	full := was
	full.Cur = 0
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &full); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &was); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()

	w := e.signUp("ann@example.com", nil)
	wantNotTaken(t, e, w.Result(), w.Body.String(), "ann@example.com")
	if code, body := healthz(e); code != http.StatusServiceUnavailable || body != "store cannot be written\n" {
		t.Errorf("healthz with the disk full: got %d %q, want 503 store cannot be written", code, body)
	}
	t.Logf("log:\n%s", e.logs)

	restore()
	if code, body := healthz(e); code != http.StatusOK {
		t.Errorf("healthz with room again: got %d %q", code, body)
	}
	wantStatus(t, e.signUp("ann@example.com", nil), http.StatusOK, "Check your inbox")
	if n := len(e.conf.all()); n != 2 {
		t.Errorf("with room again: got %d confirmations, want 2", n)
	}
}
