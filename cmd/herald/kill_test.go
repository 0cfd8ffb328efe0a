package main

import (
	"bufio"
	"bytes"
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
	"time"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald/internal/mailpittest"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/publish"
	"github.com/heraldhq/herald/store"
)

// pg is the throwaway PostgreSQL server of the tests that use a PostgreSQL store.
var pg pgtest.Cluster

// TestMain lets a test run herald itself as a child process (HERALD_TEST_MAIN=1), to kill it.
func TestMain(m *testing.M) {
	if os.Getenv("HERALD_TEST_MAIN") == "1" {
		main() // exits
	}
	os.Exit(pg.Run(m))
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
	return srv, serveSMTP(t, func() smtp.Session { return &countingSession{s: srv} })
}

// serveSMTP runs an SMTP server (go-smtp) on a loopback port until the test ends, with a session from
// newSession for each connection, and returns its address.
func serveSMTP(tb testing.TB, newSession func() smtp.Session) string {
	tb.Helper()
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return newSession(), nil }))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go s.Serve(l)
	tb.Cleanup(func() { s.Close() })
	return l.Addr().String()
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

// TestSendSurvivesKill kills herald send with SIGKILL again and again while it sends one post to a few
// hundred subscribers through mailpit, at points from its first connection to mid-run, then lets a run
// finish and reads back every message mailpit holds. Each subscriber has the post exactly once, except
// those whose delivery the ledger reports unknown (herald died after their DATA began: they have it once
// or not at all), and each kill left at most one unknown per connection. Then --retry-unknown gets the
// post to everybody, sending again only what was unknown, with the same Message-ID.
func TestSendSurvivesKill(t *testing.T) {
	const subscribers, conns = 300, 4
	mp := mailpittest.Start(t, "--smtp-auth-allow-insecure")
	tap := startSMTPTap(t, fmt.Sprintf("127.0.0.1:%d", mp.SMTPPort))
	dir := killSite(t, tap.addr(), subscribers, conns)

	// The counts are this run's: each run starts from what the kills before it left.
	kills := []killPoint{
		{name: "first connection opened", event: tapConnect, n: 1, hold: true},
		{name: "first DATA accepted, content not sent", event: tapData, n: 1, hold: true},
		{name: "first message stored, its 250 held", event: tapStored, n: 1, hold: true},
		{name: "30th message stored", event: tapStored, n: 30},
		{name: "7 ms after the 10th message stored", event: tapStored, n: 10, delay: 7 * time.Millisecond},
		{name: "50th DATA accepted, content not sent", event: tapData, n: 50, hold: true},
		{name: "80th message stored, its 250 held", event: tapStored, n: 80, hold: true},
	}
	left := 0 // deliveries the kills left sending: the next run turns them unknown
	var perKill []int
	for _, k := range kills {
		var stderr bytes.Buffer
		cmd := exec.Command(os.Args[0], "send", "-C", dir)
		cmd.Env = childEnv()
		cmd.Stderr = &stderr
		tap.reset()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tap.arm(k, cmd.Process)
		err := cmd.Wait()
		if !tap.disarm() {
			t.Fatalf("kill %q: herald send ended before it (%v):\n%s", k.name, err, stderr.String())
		}
		counts := deliveryCounts(t, dir)
		sending := counts[store.Sending]
		if sending > conns {
			t.Errorf("kill %q left %d deliveries sending, more than one per connection (%d)", k.name, sending, conns)
		}
		if k.hold && k.event != tapConnect && sending == 0 {
			t.Errorf("kill %q: herald died waiting for mailpit's reply in DATA, yet no delivery was left sending", k.name)
		}
		left += sending
		perKill = append(perKill, sending)
	}

	out, errOut, err := runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if n := perKill[len(perKill)-1]; n > 0 && !strings.Contains(errOut, publish.Plural(n, "message was", "messages were")+" left by a run that stopped") {
		t.Errorf("the last run does not say that the kill left %d messages unknown:\n%s", n, errOut)
	}
	ledger, got := readLedger(t, dir), byRecipient(t, mp)
	unknown, arrived, _ := checkOnce(t, ledger, got, subscribers)
	if unknown != left {
		t.Errorf("%d deliveries unknown, but the kills left %d sending", unknown, left)
	}
	if unknown > len(kills)*conns {
		t.Errorf("%d unknown after %d kills with %d connections: more than one per connection per kill", unknown, len(kills), conns)
	}
	// The messages whose 250 herald never saw are in mailpit, and unknown in the ledger.
	for _, id := range tap.held {
		var m struct{ To []struct{ Address string } }
		mp.Get(t, "/api/v1/message/"+id, &m)
		if len(m.To) != 1 || ledger[m.To[0].Address].status != store.Unknown {
			t.Errorf("mailpit stored %s for %v, whose 250 herald never saw: want its delivery unknown", id, m.To)
		}
	}
	t.Logf("%d kills left %v sending; %d unknown, %d of them in mailpit; %s", len(kills), perKill, unknown, arrived, strings.TrimSpace(out))

	// --retry-unknown sends the unknown ones again with their Message-IDs: everybody has the post, and
	// only those whose unknown message had arrived have it twice.
	out, errOut, err = runHerald(t, testEnv(), "send", "-C", dir, "--retry-unknown")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if want := fmt.Sprintf(": sent %d, deferred 0, failed 0, unknown 0,", unknown); !strings.Contains(out, want) {
		t.Errorf("herald send --retry-unknown: %q, want %q", out, want)
	}
	again := byRecipient(t, mp)
	twice := 0
	for to, d := range ledger {
		want := 1
		if d.status == store.Unknown && len(got[to]) == 1 {
			want = 2
			twice++
		}
		if n := len(again[to]); n != want {
			t.Errorf("%s (%s before the retry, %d copies then) has the post %d times, want %d", to, d.status, len(got[to]), n, want)
		}
		for _, c := range again[to] {
			if "<"+c.MessageID+">" != d.messageID {
				t.Errorf("%s got Message-ID <%s> in the retry, want %s", to, c.MessageID, d.messageID)
			}
		}
	}
	for to, d := range readLedger(t, dir) {
		if d.status != store.Sent {
			t.Errorf("%s: delivery %s after --retry-unknown", to, d.status)
		}
	}
	if out, _, err := runHerald(t, testEnv(), "send", "-C", dir); err != nil || strings.TrimSpace(out) != "mail: nothing to send" {
		t.Errorf("herald send after all that: %q, %v; want nothing to send", out, err)
	}
	t.Logf("after --retry-unknown: %d subscribers have the post twice (their unknown message had arrived)", twice)
}

// deliveryCounts opens the site's store and counts its deliveries by status.
func deliveryCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts, err := st.DeliveryCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

type ledgerEntry struct{ status, messageID string }

// readLedger reads each subscriber's delivery from the site's store.
func readLedger(t *testing.T, dir string) map[string]ledgerEntry {
	t.Helper()
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	subs, err := st.Subscribers(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	ledger := map[string]ledgerEntry{}
	for _, s := range subs {
		ds, err := st.SubscriberDeliveries(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 1 {
			t.Errorf("%s has %d deliveries of one post", s.Email, len(ds))
		}
		for _, d := range ds {
			ledger[s.Email] = ledgerEntry{d.Status, d.MessageID}
		}
	}
	return ledger
}

// childEnv is the environment of herald run as a child process of the test (see TestMain), with the
// test's PostgreSQL store when there is one.
func childEnv() []string {
	env := append(os.Environ(), "HERALD_TEST_MAIN=1", "SOURCE_DATE_EPOCH=1795000000")
	if testStore != "" {
		env = append(env, "HERALD_STORE="+testStore)
	}
	return env
}

// checkOnce checks, after a last run to the end, that each of the subscribers has one delivery in the
// ledger, sent and arrived (got: mailpit's messages by recipient) once with the Message-ID the ledger
// holds, or unknown and arrived once at most, and that no mail went to anyone else; it returns how many
// are unknown, how many of those arrived, and how many copies beyond the first arrived.
func checkOnce(t *testing.T, ledger map[string]ledgerEntry, got map[string][]mailpittest.Summary, subscribers int) (unknown, arrived, duplicates int) {
	t.Helper()
	for to := range got {
		if _, ok := ledger[to]; !ok {
			t.Errorf("mailpit has mail for %s, who has no delivery", to)
		}
	}
	for to, d := range ledger {
		copies := got[to]
		duplicates += max(len(copies)-1, 0)
		switch {
		case d.status == store.Unknown:
			unknown++
			arrived += len(copies)
			if len(copies) > 1 {
				t.Errorf("%s (unknown) got the post %d times", to, len(copies))
			}
		case d.status != store.Sent:
			t.Errorf("%s: delivery %s after a run to the end", to, d.status)
		case len(copies) != 1:
			t.Errorf("%s (sent) got the post %d times, want once", to, len(copies))
		}
		for _, c := range copies {
			if "<"+c.MessageID+">" != d.messageID {
				t.Errorf("%s got Message-ID <%s>, the ledger says %s", to, c.MessageID, d.messageID)
			}
		}
	}
	if len(ledger) != subscribers {
		t.Errorf("the ledger has deliveries for %d subscribers, want %d", len(ledger), subscribers)
	}
	return unknown, arrived, duplicates
}

// byRecipient reads every message mailpit holds and groups them by their one To address.
func byRecipient(t *testing.T, mp *mailpittest.Server) map[string][]mailpittest.Summary {
	t.Helper()
	got := map[string][]mailpittest.Summary{}
	for _, m := range mp.Messages(t) {
		if len(m.To) != 1 {
			t.Errorf("message %s has To %v, want one address", m.ID, m.To)
			continue
		}
		got[m.To[0].Address] = append(got[m.To[0].Address], m)
	}
	return got
}

// smtpTap sits between herald and mailpit, forwarding each connection byte for byte, and watches
// mailpit's replies so that a test can kill herald at an exact point of a conversation: mailpit cannot
// be made to wait, but the tap can hold a reply back, so that herald dies waiting for it.
type smtpTap struct {
	l        net.Listener
	upstream string

	mu     sync.Mutex
	counts map[tapEvent]int // this run's events so far
	kill   killPoint
	proc   *os.Process // nil: only forward
	fired  bool
	done   chan struct{} // closed when the run is over; held connections wait for it
	held   []string      // mailpit's ids of stored messages whose 250 was held back
}

type tapEvent string

const (
	tapConnect tapEvent = "connect" // herald opened a connection
	tapData    tapEvent = "354"     // mailpit accepted DATA and waits for the content
	tapStored  tapEvent = "250"     // mailpit stored a message: "250 2.0.0 Ok: queued as ID"
)

// killPoint says when to kill herald: at the nth event of a kind in the run, either holding back the
// reply that made it (herald never sees it) or, after delay, with the reply passed on.
type killPoint struct {
	name  string
	event tapEvent
	n     int
	hold  bool
	delay time.Duration
}

func startSMTPTap(t *testing.T, upstream string) *smtpTap {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &smtpTap{l: l, upstream: upstream, done: make(chan struct{})}
	close(tp.done)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go tp.relay(c)
		}
	}()
	return tp
}

func (tp *smtpTap) addr() string { return tp.l.Addr().String() }

// reset starts a run: no events yet, nothing armed.
func (tp *smtpTap) reset() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.counts, tp.proc, tp.fired, tp.done = map[tapEvent]int{}, nil, false, make(chan struct{})
}

// arm makes the run's kill point kill proc.
func (tp *smtpTap) arm(k killPoint, proc *os.Process) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.kill, tp.proc = k, proc
}

// disarm ends a run (its process has exited) and says whether the kill fired.
func (tp *smtpTap) disarm() bool {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	close(tp.done)
	tp.proc = nil
	return tp.fired
}

// event counts an event and fires the kill if it is due; it says whether to hold the reply back, and
// returns the run's done channel.
func (tp *smtpTap) event(ev tapEvent, id string) (hold bool, done chan struct{}) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.counts[ev]++
	k, proc := tp.kill, tp.proc
	if proc == nil || tp.fired || k.event != ev || tp.counts[ev] < k.n {
		return false, tp.done
	}
	tp.fired = true
	if !k.hold {
		time.AfterFunc(k.delay, func() { proc.Signal(syscall.SIGKILL) })
		return false, tp.done
	}
	proc.Signal(syscall.SIGKILL)
	if ev == tapStored {
		tp.held = append(tp.held, id)
	}
	return true, tp.done
}

func (tp *smtpTap) relay(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", tp.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	if hold, done := tp.event(tapConnect, ""); hold {
		<-done
		return
	}
	go func() {
		io.Copy(up, c)
		up.Close()
	}()
	r := bufio.NewReader(up)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		ev, id := tapEvent(""), ""
		if strings.HasPrefix(line, "354 ") {
			ev = tapData
		} else if _, after, ok := strings.Cut(line, " queued as "); ok && strings.HasPrefix(line, "250 ") {
			ev, id = tapStored, strings.TrimSpace(after)
		}
		if ev != "" {
			if hold, done := tp.event(ev, id); hold {
				<-done
				return
			}
		}
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
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
	cmd.Env = childEnv()
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
	st, err := openTestStore(t, dir)
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
