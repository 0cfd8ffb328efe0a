package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald/store"
)

// TestMain lets a test run herald itself as a child process (HERALD_TEST_MAIN=1), to kill it.
func TestMain(m *testing.M) {
	if os.Getenv("HERALD_TEST_MAIN") == "1" {
		main() // exits
	}
	os.Exit(m.Run())
}

// countingServer is an SMTP server that records which recipients got which Message-IDs, and calls onStore
// after each message it stores.
type countingServer struct {
	mu      sync.Mutex
	got     map[string][]string // recipient → Message-IDs
	total   int
	onStore func(total int)
}

type countingSession struct {
	s  *countingServer
	to string
}

func (c *countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (c *countingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	c.to = to
	return nil
}
func (c *countingSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	id := ""
	for _, l := range strings.Split(string(b), "\r\n") {
		if strings.HasPrefix(strings.ToLower(l), "message-id:") {
			id = strings.TrimSpace(l[len("message-id:"):])
		}
	}
	c.s.mu.Lock()
	c.s.got[c.to] = append(c.s.got[c.to], id)
	c.s.total++
	n, hook := c.s.total, c.s.onStore
	c.s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return nil
}
func (c *countingSession) Reset()        {}
func (c *countingSession) Logout() error { return nil }

// startCountingServer starts a countingServer on a loopback port and returns it with its address.
func startCountingServer(t *testing.T) (*countingServer, string) {
	t.Helper()
	srv := &countingServer{got: map[string][]string{}}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &countingSession{s: srv}, nil }))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return srv, l.Addr().String()
}

// killSite makes a site whose mail goes to addr, with n subscribers and one new post to send them.
func killSite(t *testing.T, addr string, subscribers, conns int) string {
	t.Helper()
	dir := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(fmt.Sprintf("from: \"Jane <jane@blog.example.com>\"\n"+
		"postal_address: 1 Main St\nbase_url: https://n.example.com\nsecret: 0123456789abcdef0123456789\n"+
		"smtp: smtp://%s?tls=none\nconnections: %d\nper_connection: 20\n", addr, conns)), 0o644)
	var csv strings.Builder
	csv.WriteString("email\n")
	for i := 0; i < subscribers; i++ {
		fmt.Fprintf(&csv, "r%03d@example.com\n", i)
	}
	list := filepath.Join(t.TempDir(), "list.csv")
	os.WriteFile(list, []byte(csv.String()), 0o644)
	for _, args := range [][]string{{"subscribers", "import", "-C", dir, list}, {"publish", "-C", dir}} {
		if _, _, err := runHerald(t, testEnv(), args...); err != nil {
			t.Fatal(err)
		}
	}
	addPost(t, dir, "2021-01-01-news.md", "News")
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--record"); err != nil {
		t.Fatal(err)
	}

	return dir
}

// TestSendSurvivesKill kills herald send with SIGKILL several times while it sends one post to a few
// hundred subscribers, then lets a run finish: nobody gets the post twice, and everybody gets it except
// the few messages reported unknown (at most one per connection per kill).
func TestSendSurvivesKill(t *testing.T) {
	const subscribers, conns = 300, 4
	srv, addr := startCountingServer(t)

	dir := killSite(t, addr, subscribers, conns)
	kills := 0
	for _, at := range []int{15, 90, 180} {
		cmd := exec.Command(os.Args[0], "send", "-C", dir)
		cmd.Env = append(os.Environ(), "HERALD_TEST_MAIN=1", "SOURCE_DATE_EPOCH=1795000000")
		killed := make(chan struct{})
		var once sync.Once
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		proc := cmd.Process
		srv.mu.Lock()
		srv.onStore = func(n int) {
			if n >= at {
				once.Do(func() { proc.Signal(syscall.SIGKILL); close(killed) })
			}
		}
		srv.mu.Unlock()
		err := cmd.Wait()
		select {
		case <-killed:
			kills++
		default:
			t.Logf("send finished before the kill at %d: %v", at, err)
		}
	}
	srv.mu.Lock()
	srv.onStore = nil
	srv.mu.Unlock()
	out, _, err := runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d kills: %s", kills, strings.TrimSpace(out))

	st, err := store.Open(t.Context(), filepath.Join(dir, ".herald", "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts, err := st.DeliveryCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	received := 0
	for to, ids := range srv.got {
		if len(ids) > 1 {
			t.Errorf("%s got the post %d times: %v", to, len(ids), ids)
		}
		received++
	}
	if counts[store.Queued]+counts[store.Sending]+counts[store.Deferred] != 0 {
		t.Errorf("deliveries left undone: %v", counts)
	}
	if counts[store.Sent]+counts[store.Unknown] != subscribers {
		t.Errorf("ledger: %v, want %d sent or unknown", counts, subscribers)
	}
	if counts[store.Unknown] > kills*conns {
		t.Errorf("%d unknown after %d kills with %d connections: more than one per connection per kill", counts[store.Unknown], kills, conns)
	}
	if received < counts[store.Sent] || received > subscribers {
		t.Errorf("the server has %d recipients, the ledger %d sent", received, counts[store.Sent])
	}
	t.Logf("ledger %v; the server has the post for %d of %d subscribers", counts, received, subscribers)
	if kills == 0 {
		t.Errorf("no run was killed: the test checked nothing")
	}
}

// TestSendCtrlC: SIGINT stops herald send cleanly: the messages under way finish and are recorded, the
// rest stay queued, nothing is left sending or unknown, the exit code says it was interrupted, and the
// next run sends the rest.
func TestSendCtrlC(t *testing.T) {
	const subscribers, conns = 200, 4
	srv, addr := startCountingServer(t)
	dir := killSite(t, addr, subscribers, conns)

	cmd := exec.Command(os.Args[0], "send", "-C", dir)
	cmd.Env = append(os.Environ(), "HERALD_TEST_MAIN=1", "SOURCE_DATE_EPOCH=1795000000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	proc := cmd.Process
	var once sync.Once
	srv.mu.Lock()
	srv.onStore = func(n int) {
		if n >= 40 {
			once.Do(func() { proc.Signal(os.Interrupt) })
		}
	}
	srv.mu.Unlock()
	if err := cmd.Wait(); err == nil {
		t.Fatalf("an interrupted send exited 0")
	}
	st, err := store.Open(t.Context(), filepath.Join(dir, ".herald", "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	counts, err := st.DeliveryCounts(t.Context())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if counts[store.Sending] != 0 || counts[store.Unknown] != 0 || counts[store.Queued] == 0 {
		t.Errorf("after Ctrl-C: %v, want nothing sending or unknown and some still queued", counts)
	}
	srv.mu.Lock()
	srv.onStore = nil
	srv.mu.Unlock()
	if _, _, err := runHerald(t, testEnv(), "send", "-C", dir); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.got) != subscribers {
		t.Errorf("the server has the post for %d of %d subscribers", len(srv.got), subscribers)
	}
	for to, ids := range srv.got {
		if len(ids) != 1 {
			t.Errorf("%s got the post %d times", to, len(ids))
		}
	}
}
