//go:build unix

package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests here run a second Herald-like process: this test binary again, running TestHelperProcess,
// which does what HERALD_STORE_HELPER says to the store at HERALD_STORE_PATH and talks over stdin and
// stdout.
const helperEnv = "HERALD_STORE_HELPER"

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	err := helper(mode, os.Getenv("HERALD_STORE_PATH"), bufio.NewReader(os.Stdin))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func helper(mode, path string, in *bufio.Reader) error {
	ctx := context.Background()
	switch mode {
	case "open": // report what Open says
		s, err := Open(ctx, path)
		if err != nil {
			fmt.Printf("open: permission=%t: %v\n", errors.Is(err, fs.ErrPermission), err)
			return nil
		}
		fmt.Println("open: ok")
		return s.Close()

	case "lock": // take the lock, say so, and unlock when told to; then wait for stdin to close
		s, err := Open(ctx, path)
		if err != nil {
			return err
		}
		l, err := s.Lock(ctx, "publish")
		if err != nil {
			return err
		}
		fmt.Println("locked")
		if line, _ := in.ReadString('\n'); line == "unlock\n" {
			if err := l.Unlock(); err != nil {
				return err
			}
			fmt.Println("unlocked")
		}
		io.Copy(io.Discard, in)
		return s.Close()

	case "record-stage": // record generation 3 and stop at a stage inside the transaction, waiting to be killed
		stage := os.Getenv("HERALD_STORE_STAGE")
		st, err := Open(ctx, path)
		if err != nil {
			return err
		}
		s := st.(*sqliteStore)
		// One connection with a small page cache: SQLite spills the transaction's pages into the WAL
		// before it commits, so the kill leaves uncommitted frames there for the next Open to ignore.
		s.db.SetMaxOpenConns(1)
		if _, err := s.db.ExecContext(ctx, "PRAGMA cache_size = 16"); err != nil {
			return err
		}
		s.hook = func(at string) {
			if at == stage {
				fmt.Println("at", at)
				time.Sleep(time.Hour)
			}
		}
		r, seen := generation(3, killSize)
		return s.Record(ctx, r, seen)

	case "send": // mark the due deliveries sending, record the first as sent, and wait to be killed
		s, err := Open(ctx, path)
		if err != nil {
			return err
		}
		now := time.Now()
		due, err := s.Due(ctx, now, 100)
		if err != nil {
			return err
		}
		var batch []Attempt
		for _, d := range due {
			batch = append(batch, Attempt{DeliveryID: d.ID, MessageID: fmt.Sprintf("%d.kill@example.com", d.ID)})
		}
		if skipped, err := s.Sending(ctx, batch, now); err != nil || len(skipped) > 0 {
			return fmt.Errorf("sending: skipped %v, %v", skipped, err)
		}
		if err := s.Finish(ctx, []Outcome{{DeliveryID: due[0].ID, Status: Sent, At: now}}); err != nil {
			return err
		}
		fmt.Println("sending", len(due))
		time.Sleep(time.Hour)
		return nil

	case "record-loop": // record generation after generation, saying which committed
		s, err := Open(ctx, path)
		if err != nil {
			return err
		}
		for g := 1; ; g++ {
			r, seen := generation(g, killSize)
			if err := s.Record(ctx, r, seen); err != nil {
				return err
			}
			fmt.Println("committed", g)
		}
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// killSize is how many posts the kill tests' runs see: enough that a Record takes a while.
const killSize = 5000

// helperProcess starts the helper in mode on the store at path, and a reader of its stdout lines.
type helperProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func startHelper(t *testing.T, mode, path string, env ...string) *helperProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), append(env, helperEnv+"="+mode, "HERALD_STORE_PATH="+path)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helperProcess{cmd: cmd, stdin: stdin, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return h
}

// expect waits for the helper's next line, which must start with prefix.
func (h *helperProcess) expect(t *testing.T, prefix string) string {
	t.Helper()
	select {
	case line, ok := <-h.lines:
		if !ok {
			t.Fatalf("the helper ended; want a line %q", prefix)
		}
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("got line %q from the helper, want %q", line, prefix)
		}
		return line
	case <-time.After(60 * time.Second):
		t.Fatalf("no line %q from the helper after a minute", prefix)
	}
	return ""
}

// kill ends the helper with SIGKILL, as kill -9 would.
func (h *helperProcess) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := h.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("got %v from the helper, want it killed by SIGKILL", err)
	}
}

func TestLockProcess(t *testing.T) {
	for _, end := range []string{"unlock", "kill -9"} {
		t.Run(end, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.db")
			s := openStore(t, path)
			r, seen := generation(1, 100)
			record(t, s, r, seen)

			h := startHelper(t, "lock", path)
			h.expect(t, "locked")
			start := time.Now()
			_, err := s.Lock(t.Context(), "send")
			if took := time.Since(start); took > time.Second {
				t.Errorf("Lock took %v, want it to fail at once", took)
			}
			var le *LockedError
			if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
				t.Fatalf("got %v, want a *LockedError wrapping ErrLocked", err)
			}
			if le.PID != h.cmd.Process.Pid || le.Command != "publish" {
				t.Errorf("got holder %+v, want pid %d running publish", le, h.cmd.Process.Pid)
			}
			if want := fmt.Sprintf("pid %d", h.cmd.Process.Pid); !strings.Contains(err.Error(), want) {
				t.Errorf("got error %q, want one containing %q", err, want)
			}
			if got := len(items(t, s)); got != len(seen) {
				t.Errorf("got %d items while another process holds the lock, want %d", got, len(seen))
			}
			if _, err := s.Counts(t.Context()); err != nil {
				t.Errorf("counts while another process holds the lock: %v", err)
			}

			if end == "unlock" {
				io.WriteString(h.stdin, "unlock\n")
				h.expect(t, "unlocked") // and it lives on, with the store open
			} else {
				h.kill(t)
			}
			l, err := s.Lock(t.Context(), "send")
			if err != nil {
				t.Fatalf("Lock after the holder's %s: %v", end, err)
			}
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkConsistent opens the store after a kill and checks that it holds exactly the first g generations
// for some g in [lo, hi], and returns g.
func checkConsistent(t *testing.T, path string, lo, hi int) int {
	t.Helper()
	s := openStore(t, path)
	if got := pragma(t, s, "integrity_check"); got != "ok" {
		t.Fatalf("got integrity_check %q, want ok", got)
	}
	rs := runs(t, s)
	g := len(rs)
	if g < lo || g > hi {
		t.Fatalf("got %d runs, want from %d to %d", g, lo, hi)
	}
	// The reference: the same generations recorded by a process nobody killed.
	ref := openStore(t, filepath.Join(t.TempDir(), "ref.db"))
	for i := 1; i <= g; i++ {
		r, seen := generation(i, killSize)
		record(t, ref, r, seen)
	}
	if d := diffItems(items(t, s), items(t, ref)); d != "" {
		t.Fatalf("the items are not those of %d complete runs:\n%s", g, d)
	}
	if d := diffRuns(rs, runs(t, ref)); d != "" {
		t.Fatalf("the runs are not those of %d complete runs:\n%s", g, d)
	}
	return g
}

// TestKillDuringRecord kills a process inside Record's transaction, at each of its stages and at random
// moments of a loop of Records, and checks that the store holds the complete runs before it.
func TestKillDuringRecord(t *testing.T) {
	for _, stage := range []string{"run", "removed", "updated", "inserted"} {
		t.Run("at "+stage, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.db")
			s := openStore(t, path)
			for g := 1; g <= 2; g++ {
				r, seen := generation(g, killSize)
				record(t, s, r, seen)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			h := startHelper(t, "record-stage", path, "HERALD_STORE_STAGE="+stage)
			h.expect(t, "at "+stage)
			h.kill(t)
			if stage == "inserted" {
				fi, err := os.Stat(path + "-wal")
				if err != nil || fi.Size() < 100*4096 {
					t.Errorf("got a WAL of %v bytes (%v), want the transaction's spilled pages in it", fi.Size(), err)
				}
			}
			checkConsistent(t, path, 2, 2)
		})
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	for i := range 3 {
		t.Run("at a random moment "+strconv.Itoa(i), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.db")
			h := startHelper(t, "record-loop", path)
			committed := 0
			for committed < 2 {
				line := h.expect(t, "committed ")
				committed, _ = strconv.Atoi(strings.TrimPrefix(line, "committed "))
			}
			delay := time.Duration(rng.IntN(100)) * time.Millisecond
			time.Sleep(delay)
			h.kill(t)
			for line := range h.lines { // what it said before it died
				if n, err := strconv.Atoi(strings.TrimPrefix(line, "committed ")); err == nil {
					committed = n
				}
			}
			g := checkConsistent(t, path, committed, committed+1)
			t.Logf("killed %v after the second commit: %d runs committed (%d reported)", delay, g, committed)
		})
	}
}

// TestUnreadable opens a store file its user may not read. Root reads any file, so as root the test
// runs the Open in a helper process as the user nobody.
func TestUnreadable(t *testing.T) {
	dir, err := os.MkdirTemp("", "herald-store-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "herald.db")
	s := openStore(t, path)
	r, seen := generation(1, 10)
	record(t, s, r, seen)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := dirFiles(t, dir)
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}

	var msg string
	if os.Geteuid() != 0 {
		_, err := Open(t.Context(), path)
		if err == nil {
			t.Fatal("got no error, want permission denied")
		}
		msg = fmt.Sprintf("open: permission=%t: %v", errors.Is(err, fs.ErrPermission), err)
	} else {
		// nobody must be able to reach the folder and run the test binary.
		bin := filepath.Join(dir, "store.test")
		b, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"=open", "HERALD_STORE_PATH="+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper as nobody: %v\n%s", err, out)
		}
		msg = strings.TrimSpace(string(out))
		os.Remove(bin)
	}
	t.Log(msg)
	for _, want := range []string{"open: permission=true: ", "store " + path + " cannot be opened for reading and writing (permission denied)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("got %q, want it to contain %q", msg, want)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, dirFiles(t, dir), before)
}

// TestKillWhileSending kills a process that has deliveries marked sending (its messages in the middle of
// DATA, as far as anyone knows) and checks that the next run finds them: Recover makes them unknown,
// and the one recorded as sent stays sent.
func TestKillWhileSending(t *testing.T) {
	st, _ := queue(t, 4, Immediate)
	h := startHelper(t, "send", st.s.path)
	h.expect(t, "sending 4")
	h.kill(t)
	if got := st.due(time.Now(), 10); len(got) != 0 {
		t.Errorf("got due %v after the kill, want none: they may have been sent", got)
	}
	n, err := st.s.Recover(t.Context())
	if err != nil || n != 3 {
		t.Fatalf("Recover: got %d, %v, want 3", n, err)
	}
	st.ledger("a0@example.com post sent", "a1@example.com post unknown", "a2@example.com post unknown", "a3@example.com post unknown")
	if d := st.delivery(2); d.MessageID != "2.kill@example.com" {
		t.Errorf("got Message-ID %q, want the one the killed run sent it with", d.MessageID)
	}
}
