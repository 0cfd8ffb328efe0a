package mailer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// recLedger records what the engine commits, checking the order the ledger depends on: a job is started
// before each of its results, and a job is started again only after a deferral.
type recLedger struct {
	t        *testing.T
	mu       sync.Mutex
	commits  int
	started  map[int64]bool // started and without a result since
	results  map[int64]Result
	skip     map[int64]bool
	inFlight int // started and not yet finished: at most one per connection
	maxIn    int
}

func (l *recLedger) Commit(_ context.Context, started []Job, done []Result) (map[int64]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.commits++
	for _, r := range done {
		if !l.started[r.ID] {
			l.t.Errorf("result for %d while it is not being sent", r.ID)
		}
		l.started[r.ID] = false
		l.results[r.ID] = r
		l.inFlight--
	}
	skip := map[int64]bool{}
	for _, j := range started {
		if prev, ok := l.results[j.ID]; l.started[j.ID] || ok && prev.Outcome != Deferred {
			l.t.Errorf("job %d started again", j.ID)
		}
		if l.skip[j.ID] {
			skip[j.ID] = true
			continue
		}
		l.started[j.ID] = true
		l.inFlight++
	}
	l.maxIn = max(l.maxIn, l.inFlight)
	return skip, nil
}

func newRecLedger(t *testing.T) *recLedger {
	return &recLedger{t: t, started: map[int64]bool{}, results: map[int64]Result{}, skip: map[int64]bool{}}
}

func TestEngine(t *testing.T) {
	var fails sync.Map // address → how often the server still says 451 to it
	ts := startServer(t, false, func(ts *testServer) {
		ts.rcpt = func(_ *smtp.Conn, to string) error {
			if to == "gone@example.com" {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			if n, ok := fails.Load(to); ok && n.(int) > 0 {
				fails.Store(to, n.(int)-1)
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
			}
			return nil
		}
	})
	fails.Store("flaky@example.com", 1)    // one 451, then fine: retried in the run
	fails.Store("stubborn@example.com", 9) // more 451s than retries: deferred
	c := newTestComposer(t, testOptions())
	l := newRecLedger(t)
	l.skip[7] = true // left between planning and sending
	var addrs []string
	for i := 0; i < 20; i++ {
		addrs = append(addrs, fmt.Sprintf("reader%02d@example.com", i))
	}
	addrs = append(addrs, "gone@example.com", "flaky@example.com", "stubborn@example.com")
	jobs := make(chan Job)
	go func() {
		defer close(jobs)
		for i, a := range addrs {
			r := testRecipient()
			r.Email = a
			m, err := c.Post(r, testPosts()[0], fmt.Sprintf("delivery/%d", i), sendDate)
			if err != nil {
				t.Error(err)
				return
			}
			jobs <- Job{ID: int64(i), Message: m}
		}
	}()
	e := &Engine{
		Dial:          func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, ts.config()) },
		Ledger:        l,
		Connections:   3,
		PerConnection: 4,
		Backoff:       time.Millisecond,
	}
	counts, err := e.Run(t.Context(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	if counts[Sent] != 20 || counts[Failed] != 1 || counts[Deferred] != 1 {
		t.Errorf("got %v, want 20 sent (21 less the skipped one, the flaky one included), 1 failed, 1 deferred", counts)
	}
	if got := len(ts.messages()); got != 20 {
		t.Errorf("the server got %d messages, want 20", got)
	}
	if _, ok := l.results[7]; ok {
		t.Errorf("the skipped job was sent")
	}
	if r := l.results[20]; r.Outcome != Failed {
		t.Errorf("550 5.1.1: got %v", r)
	}
	if l.maxIn > 3 {
		t.Errorf("%d messages were in flight at once, want at most one per connection (3)", l.maxIn)
	}
	if l.commits >= 2*len(addrs) {
		t.Logf("%d commits for %d jobs: no grouping happened (possible on a slow machine)", l.commits, len(addrs))
	}
	if ts.connections() < 6 {
		t.Errorf("got %d connections, want a new one after every 4 messages", ts.connections())
	}
}

// slowLedger takes a while to make each write durable, as a disk does.
type slowLedger struct {
	mu      sync.Mutex
	durable map[string]bool // recipients whose job is durably marked as sending
}

func (l *slowLedger) Commit(_ context.Context, started []Job, _ []Result) (map[int64]bool, error) {
	time.Sleep(5 * time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, j := range started {
		l.durable[j.Message.To] = true
	}
	return nil, nil
}

// TestEngineContentAfterLedger: with a ledger slow to write, no message's content reaches the server
// before its "sending" is durable (its DATA, pipelined with the envelope, may).
func TestEngineContentAfterLedger(t *testing.T) {
	l := &slowLedger{durable: map[string]bool{}}
	var early atomic.Int32
	ts := startServer(t, false, func(ts *testServer) {
		ts.content = func(to []string) {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, a := range to {
				if !l.durable[a] {
					early.Add(1)
				}
			}
		}
	})
	jobs := readerJobs(t, 40)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, ts.config()) }, Ledger: l, Connections: 3}
	counts, err := e.Run(t.Context(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	if counts[Sent] != cap(jobs) {
		t.Errorf("got %v, want %d sent", counts, cap(jobs))
	}
	if n := early.Load(); n > 0 {
		t.Errorf("%d messages' content came in before the ledger had them as sending", n)
	}
}

// TestEngineConnectError: a run whose first connection fails stops before any job is started.
func TestEngineConnectError(t *testing.T) {
	l := newRecLedger(t)
	jobs := make(chan Job, 1)
	jobs <- Job{ID: 1}
	close(jobs)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) {
		return DialSMTP(ctx, SMTPConfig{Host: "127.0.0.1", Port: 1, TLS: TLSNone, Timeout: time.Second})
	}, Ledger: l}
	_, err := e.Run(t.Context(), jobs)
	if err == nil {
		t.Fatal("got no error")
	}
	if len(l.started) != 0 {
		t.Errorf("jobs were started before the connection failed")
	}
}

// TestEngineSenderRejected: a 5xx to MAIL FROM would fail every message alike: the run stops, the
// message is deferred rather than failed, and the jobs not taken stay untouched.
func TestEngineSenderRejected(t *testing.T) {
	ts := startServer(t, false, func(ts *testServer) {
		ts.mail = func(*smtp.Conn, string) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender not allowed"}
		}
	})
	c := newTestComposer(t, testOptions())
	l := newRecLedger(t)
	jobs := make(chan Job, 10)
	for i := 0; i < 10; i++ {
		m, err := c.Post(testRecipient(), testPosts()[0], fmt.Sprintf("delivery/%d", i), sendDate)
		if err != nil {
			t.Fatal(err)
		}
		jobs <- Job{ID: int64(i), Message: m}
	}
	close(jobs)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, ts.config()) }, Ledger: l, Connections: 1}
	counts, err := e.Run(t.Context(), jobs)
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("got %v, want ErrRejected", err)
	}
	if counts[Failed] != 0 || counts[Deferred] != 1 {
		t.Errorf("got %v, want the one message tried deferred", counts)
	}
	if len(l.results) != 1 || len(jobs) != 9 {
		t.Errorf("%d results, %d jobs left: want 1 and 9", len(l.results), len(jobs))
	}
}

// TestMessageIDKey: a key that is a Message-ID is kept as the message's, so a retry after the From domain
// changed still goes out with the Message-ID it was first sent with.
func TestMessageIDKey(t *testing.T) {
	c := newTestComposer(t, testOptions())
	for _, tt := range []struct{ key, want string }{
		{"<herald.abc@old.example.com>", "<herald.abc@old.example.com>"},
		{"<bad\r\nX-Evil: 1@x>", ""},
		{"post/1/ann@example.com", ""},
	} {
		m, err := c.Post(testRecipient(), testPosts()[0], tt.key, sendDate)
		if err != nil {
			t.Fatal(err)
		}
		if tt.want != "" && m.MessageID != tt.want {
			t.Errorf("key %q: got Message-ID %q, want %q", tt.key, m.MessageID, tt.want)
		}
		if tt.want == "" && !strings.HasSuffix(m.MessageID, "@blog.example.com>") {
			t.Errorf("key %q: got Message-ID %q, want one made at the From domain", tt.key, m.MessageID)
		}
	}
}

// TestEngineFewerConnections: a server that takes two connections at once, and refuses more, gets
// everything over the two; a connection that cannot open leaves the run to the others.
func TestEngineFewerConnections(t *testing.T) {
	ts := startServer(t, false, func(ts *testServer) { ts.maxOpen = 2 })
	jobs := queuedJobs(t, 20)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, ts.config()) },
		Ledger: newRecLedger(t), Connections: 4, PerConnection: 3}
	counts, err := e.Run(t.Context(), jobs)
	if err != nil || counts[Sent] != cap(jobs) || len(ts.messages()) != cap(jobs) {
		t.Errorf("got %v, %v, and the server has %d messages; want all %d sent", counts, err, len(ts.messages()), cap(jobs))
	}
}

// TestEngineNoConnectionLeft: when no connection can be opened again, the run stops with ErrConnect and
// the jobs it did not take stay untouched.
func TestEngineNoConnectionLeft(t *testing.T) {
	ts := startServer(t, false, nil)
	var dials atomic.Int32
	jobs := queuedJobs(t, 10)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) {
		if dials.Add(1) > 2 { // the first two connections, then the server is gone
			return nil, errors.New("connection refused")
		}
		return DialSMTP(ctx, ts.config())
	}, Ledger: newRecLedger(t), Connections: 2, PerConnection: 2}
	counts, err := e.Run(t.Context(), jobs)
	if !errors.Is(err, ErrConnect) || counts[Sent] != 4 || len(jobs) != 6 {
		t.Errorf("got %v, %v, %d jobs left; want ErrConnect after 4 sent, 6 left", counts, err, len(jobs))
	}
}

// TestEngineStopWhileRateLimited: a stop while the connections wait for the rate limit sends nothing
// more, and leaves no message marked sending: the limit is waited for before a job is taken.
func TestEngineStopWhileRateLimited(t *testing.T) {
	ts := startServer(t, false, nil)
	l := newRecLedger(t)
	jobs := queuedJobs(t, 10)
	ctx, cancel := context.WithCancel(t.Context())
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, ts.config()) },
		Ledger: l, Connections: 4, Rate: 2} // one message every 500 ms
	time.AfterFunc(1200*time.Millisecond, cancel)
	counts, err := e.Run(ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	got := len(ts.messages())
	if got < 1 || got > 3 || counts[Sent] != got {
		t.Errorf("got %d messages at the server and %v, want the 2 or so that the limit let through in 1.2 s", got, counts)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight != 0 {
		t.Errorf("%d jobs left marked sending", l.inFlight)
	}
}

// TestEngineContentRefused: a 5.7.0 at the end of DATA refuses one message (a content filter), not the
// sender: that message fails and the others go out.
func TestEngineContentRefused(t *testing.T) {
	ts := startServer(t, false, func(ts *testServer) {
		ts.data = func(_ *smtp.Conn, data []byte) error {
			if strings.Contains(string(data), "reader3@") {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "message content rejected"}
			}
			return nil
		}
	})
	jobs := queuedJobs(t, 6)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, ts.config()) }, Ledger: newRecLedger(t), Connections: 2}
	counts, err := e.Run(t.Context(), jobs)
	if err != nil || counts[Sent] != 5 || counts[Failed] != 1 {
		t.Errorf("got %v, %v; want 5 sent and 1 failed", counts, err)
	}
}

// TestEngineStopDuringBackoff: a stop while a deferred message waits for its retry counts it deferred,
// as the ledger has it.
func TestEngineStopDuringBackoff(t *testing.T) {
	ts := startServer(t, false, func(ts *testServer) {
		ts.rcpt = func(*smtp.Conn, string) error {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
	})
	l := newRecLedger(t)
	jobs := queuedJobs(t, 6)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, ts.config()) },
		Ledger: l, Connections: 2, Backoff: 10 * time.Second}
	counts, err := e.Run(ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	deferred := 0
	for _, r := range l.results {
		if r.Outcome == Deferred {
			deferred++
		}
	}
	if deferred != 2 || counts[Deferred] != deferred {
		t.Errorf("the ledger has %d deferred, the counts %v; want 2 in both", deferred, counts)
	}
}

// queuedJobs is a closed channel holding n jobs, one message to another reader each.
func queuedJobs(t *testing.T, n int) chan Job {
	jobs := make(chan Job, n)
	for i, m := range testMessages(t, n) {
		jobs <- Job{ID: int64(i), Message: m}
	}
	close(jobs)
	return jobs
}

// TestEngineLeaveOnce: a connection that cannot reconnect after a deferral leaves the run once, and the
// other carries on with every job: it must not count as leaving twice and stop the run.
func TestEngineLeaveOnce(t *testing.T) {
	var deferred atomic.Bool
	ts := startServer(t, false, func(ts *testServer) {
		ts.rcpt = func(*smtp.Conn, string) error {
			if deferred.CompareAndSwap(false, true) {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
			}
			return nil
		}
	})
	var dials atomic.Int32
	jobs := queuedJobs(t, 20)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) {
		if n := dials.Add(1); n == 3 || n == 4 { // the deferring connection's attempts to reconnect
			return nil, errors.New("421 too many connections")
		}
		return DialSMTP(ctx, ts.config())
	}, Ledger: newRecLedger(t), Connections: 2, PerConnection: 100, Backoff: time.Millisecond}
	counts, err := e.Run(t.Context(), jobs)
	if err != nil || counts[Sent] != 19 || counts[Deferred] != 1 || len(jobs) != 0 {
		t.Errorf("got %v, %v, %d jobs untaken; want 19 sent, 1 deferred, none left", counts, err, len(jobs))
	}
}

// envelopeLedger's Commit waits, for each job it starts, until the server has that job's RCPT TO: it
// ends only when the envelope went out while the commit was under way.
type envelopeLedger struct {
	rcpt    func(to string) <-chan struct{}
	skip    map[int64]bool
	waited  atomic.Int32 // started jobs whose envelope the commit saw
	timeout atomic.Int32 // started jobs whose envelope did not come while the commit waited
}

func (l *envelopeLedger) Commit(_ context.Context, started []Job, _ []Result) (map[int64]bool, error) {
	for _, j := range started {
		select {
		case <-l.rcpt(j.Message.To):
			l.waited.Add(1)
		case <-time.After(2 * time.Second):
			l.timeout.Add(1)
		}
	}
	skip := map[int64]bool{}
	for _, j := range started {
		skip[j.ID] = l.skip[j.ID]
	}
	return skip, nil
}

// TestEnginePipelines: over SMTP, a message's envelope goes out while the ledger records it as sending
// (the content waits for the ledger: TestEngineContentAfterLedger), so the ledger's write costs no round trip.
// A job the ledger skips is abandoned: its DATA went out with the envelope, so the connection is closed
// before any of its content, and the next message goes on a new one.
func TestEnginePipelines(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]chan struct{}{}
	rcpt := func(to string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if seen[to] == nil {
			seen[to] = make(chan struct{})
		}
		return seen[to]
	}
	ts := startServer(t, false, func(ts *testServer) {
		ts.rcpt = func(_ *smtp.Conn, to string) error {
			close(rcpt(to))
			return nil
		}
	})
	l := &envelopeLedger{rcpt: func(to string) <-chan struct{} { return rcpt(to) }, skip: map[int64]bool{2: true}}
	jobs := readerJobs(t, 6)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, ts.config()) }, Ledger: l, Connections: 1}
	counts, err := e.Run(t.Context(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	if counts[Sent] != 5 || len(counts) != 1 {
		t.Errorf("got %v, want 5 sent and nothing else", counts)
	}
	if w, n := l.waited.Load(), l.timeout.Load(); w != 6 || n != 0 {
		t.Errorf("the envelope went out during %d commits and not during %d, want 6 and 0", w, n)
	}
	var got []string
	for _, m := range ts.messages() {
		got = append(got, m.to...)
	}
	if want := "reader00@example.com reader01@example.com reader03@example.com reader04@example.com reader05@example.com"; strings.Join(got, " ") != want {
		t.Errorf("the server has messages to %v, want %s", got, want)
	}
	if n := ts.connections(); n != 2 {
		t.Errorf("%d connections, want 2: the skipped job's closes the first", n)
	}
}

// readerJobs is a closed channel of n jobs, a post each to reader00@example.com and on, with ids from 0.
func readerJobs(t *testing.T, n int) chan Job {
	c := newTestComposer(t, testOptions())
	jobs := make(chan Job, n)
	for i := range n {
		r := testRecipient()
		r.Email = fmt.Sprintf("reader%02d@example.com", i)
		m, err := c.Post(r, testPosts()[0], fmt.Sprintf("delivery/%d", i), sendDate)
		if err != nil {
			t.Fatal(err)
		}
		jobs <- Job{ID: int64(i), Message: m}
	}
	close(jobs)
	return jobs
}

// slowSkipLedger takes longer than the SMTP timeout to commit job 2, which it skips.
type slowSkipLedger struct{ *recLedger }

func (l slowSkipLedger) Commit(ctx context.Context, started []Job, done []Result) (map[int64]bool, error) {
	for _, j := range started {
		if j.ID == 2 {
			time.Sleep(400 * time.Millisecond)
		}
	}
	return l.recLedger.Commit(ctx, started, done)
}

// TestEngineSkipAfterSlowCommit: a job skipped by a commit that outlasted the SMTP timeout is abandoned
// under a new deadline, and the next job goes out (it was deferred on the dead connection).
func TestEngineSkipAfterSlowCommit(t *testing.T) {
	ts := startServer(t, false, nil)
	l := slowSkipLedger{newRecLedger(t)}
	l.skip[2] = true
	cfg := ts.config()
	cfg.Timeout = 200 * time.Millisecond
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, cfg) }, Ledger: l, Connections: 1, Retries: -1}
	counts, err := e.Run(t.Context(), readerJobs(t, 6))
	if err != nil {
		t.Fatal(err)
	}
	if counts[Sent] != 5 || len(counts) != 1 {
		t.Errorf("got %v (results %v), want 5 sent and nothing else", counts, l.results)
	}
}

// nopLedger records nothing and skips nothing.
type nopLedger struct{}

func (nopLedger) Commit(context.Context, []Job, []Result) (map[int64]bool, error) { return nil, nil }

// nopSender takes every message.
type nopSender struct{}

func (nopSender) Send(context.Context, *Message) error { return nil }
func (nopSender) Close() error                         { return nil }

// TestEngineCommitWhileAway: the commits of a connection do not wait for another that waits out a
// deferral's backoff: it asks for no commit meanwhile.
func TestEngineCommitWhileAway(t *testing.T) {
	const n = 200
	var deferred atomic.Bool
	send := funcSender(func(m *Message) error {
		if m.MessageID == "<0@x>" && !deferred.Swap(true) { // job 1, the first time: it waits Backoff, a second
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	})
	var mu sync.Mutex
	sent, start := 0, time.Now()
	var took time.Duration
	e := &Engine{Ledger: nopLedger{}, Connections: 2, PerConnection: 2 * n, Backoff: time.Second, Retries: 1,
		Dial: func(context.Context) (Sender, error) { return send, nil },
		Progress: func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			if r.ID != 1 {
				if sent++; sent == n-1 {
					took = time.Since(start)
				}
			}
		}}
	jobs := make(chan Job, n)
	for i := range n {
		jobs <- Job{ID: int64(i + 1), Message: &Message{MessageID: fmt.Sprintf("<%d@x>", i)}}
	}
	close(jobs)
	counts, err := e.Run(t.Context(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	if counts[Sent] != n {
		t.Fatalf("got %v, want %d sent", counts, n)
	}
	if took == 0 || took >= n*maxGather/2 {
		t.Errorf("%d messages on one connection took %v: each commit waited for the connection in its backoff", n-1, took)
	}
}

// funcSender sends a message with itself.
type funcSender func(m *Message) error

func (f funcSender) Send(_ context.Context, m *Message) error { return f(m) }
func (funcSender) Close() error                               { return nil }

// TestEngineCommitAfterLeave: once a connection has left the run (the server took one of the four), a
// commit no longer waits for its request: the one connection left sends without waiting out maxGather
// before each message (which made 200 messages take 200 ms or more).
func TestEngineCommitAfterLeave(t *testing.T) {
	const n = 200
	var dials atomic.Int32
	e := &Engine{Ledger: nopLedger{}, Connections: 4, PerConnection: 2 * n, Dial: func(context.Context) (Sender, error) {
		if dials.Add(1) > 1 {
			return nil, errors.New("too many connections")
		}
		return nopSender{}, nil
	}}
	jobs := make(chan Job, n)
	for i := range n {
		jobs <- Job{ID: int64(i + 1), Message: &Message{MessageID: fmt.Sprintf("<%d@x>", i)}}
	}
	close(jobs)
	start := time.Now()
	counts, err := e.Run(t.Context(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	if counts[Sent] != n {
		t.Fatalf("got %v, want %d sent", counts, n)
	}
	if d := time.Since(start); d >= n*maxGather/2 {
		t.Errorf("%d messages on one connection took %v: each commit waited for the connections that left", n, d)
	}
}
