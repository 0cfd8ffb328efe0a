package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/mailpittest"
	"github.com/heraldhq/herald/store"
)

// TestSeveralSenders runs three herald send processes against one PostgreSQL store whose queue holds one
// new post for 2,000 subscribers, sending through mailpit, and SIGKILLs a random sender at random moments,
// starting it again each time, until every sender has run out of work; then one more herald send runs to
// the end. The gaps between kills and the victims come from a seed that the test logs (HERALD_TEST_SEED
// gives the same ones again; what a kill interrupts still depends on timing). Then mailpit's messages are read back: every subscriber has the post exactly once, except those
// whose delivery the store reports unknown (a sender died after its DATA began), who have it once or not
// at all; nothing is left queued or sending; and the unknowns are at most one per connection per kill.
func TestSeveralSenders(t *testing.T) {
	const subscribers, senders, conns, maxKills = 3000, 3, 4, 12
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HERALD_TEST_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("HERALD_TEST_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("seed %d (HERALD_TEST_SEED=%d gives the same gaps between kills and the same victims)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	if !onPostgres() { // else copySite gives the site a PostgreSQL store of its own
		testStore = pg.DB(t)
		t.Cleanup(func() { testStore = "" })
	}
	mp := mailpittest.Start(t, "--smtp-auth-allow-insecure")
	dir := killSite(t, fmt.Sprintf("127.0.0.1:%d", mp.SMTPPort), subscribers, conns)
	if !strings.HasPrefix(testStore, "postgres://") {
		t.Fatalf("the site's store is %q, want a PostgreSQL one", testStore)
	}

	type sender struct {
		n      int // in the order they started
		cmd    *exec.Cmd
		stderr bytes.Buffer
		killed bool
	}
	exits := make(chan *sender)
	started := 0
	start := func() *sender {
		started++
		s := &sender{n: started, cmd: exec.Command(os.Args[0], "send", "-C", dir)}
		s.cmd.Env = childEnv()
		s.cmd.Stderr = &s.stderr
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			s.cmd.Wait()
			exits <- s
		}()
		return s
	}
	began := time.Now()
	running := map[*sender]bool{}
	for range senders {
		running[start()] = true
	}
	tries, kills := 0, 0 // SIGKILLs sent, and senders they killed (one may have ended on its own first)
	for len(running) > 0 {
		wait := time.Duration(30+rng.IntN(270)) * time.Millisecond
		select {
		case s := <-exits:
			delete(running, s)
			ws, _ := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
			switch {
			case s.killed && ws.Signaled() && ws.Signal() == syscall.SIGKILL:
				kills++
				running[start()] = true
			case !s.cmd.ProcessState.Success():
				t.Fatalf("a sender failed (%v):\n%s", s.cmd.ProcessState, s.stderr.String())
			}
		case <-time.After(wait):
			if tries == maxKills {
				continue
			}
			// The victim: a running sender picked by the seed, in the order they started (a map has none).
			var alive []*sender
			for s := range running {
				if !s.killed {
					alive = append(alive, s)
				}
			}
			if len(alive) == 0 {
				continue
			}
			slices.SortFunc(alive, func(a, b *sender) int { return a.n - b.n })
			victim := alive[rng.IntN(len(alive))]
			victim.killed = true
			victim.cmd.Process.Signal(syscall.SIGKILL)
			tries++
		}
	}
	concurrent := time.Since(began)

	counts := deliveryCounts(t, dir)
	leftSending, leftQueued := counts[store.Sending], counts[store.Queued]
	out, errOut, err := runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil {
		t.Fatalf("the final herald send: %v\n%s", err, errOut)
	}
	counts = deliveryCounts(t, dir)
	if n := counts[store.Queued] + counts[store.Sending] + counts[store.Deferred]; n > 0 {
		t.Errorf("after the final run: %v, want nothing queued, sending or deferred", counts)
	}

	got := byRecipient(t, mp)
	unknown, arrived, duplicates := checkOnce(t, readLedger(t, dir), got, subscribers)
	messages := 0
	for _, copies := range got {
		messages += len(copies)
	}
	if unknown > kills*conns {
		t.Errorf("%d unknown after %d kills with %d connections a sender: more than one per connection per kill", unknown, kills, conns)
	}
	if kills == 0 {
		t.Errorf("no sender was killed: the senders ran out of work before the first kill")
	}
	figures := fmt.Sprintf("several senders: %d senders × %d connections, %d subscribers × 1 post; %d kills (of %d SIGKILLs sent) in %v; "+
		"then %d left sending, %d queued for the final run (%s); mailpit holds %d messages; %d unknown (%d of them arrived); %d duplicates",
		senders, conns, subscribers, kills, tries, concurrent.Round(time.Millisecond), leftSending, leftQueued, strings.TrimSpace(out),
		messages, unknown, arrived, duplicates)
	t.Log(figures)
	fmt.Println(figures)
}
