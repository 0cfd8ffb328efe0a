package mailer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Job is one message to deliver; ID is its delivery's id in the ledger.
type Job struct {
	ID      int64
	Message *Message
	// Compose, when Message is nil, makes it. The connection that sends the job calls it, before the
	// job is recorded as started: composing and DKIM signing (an RSA signature takes a millisecond) run
	// on every core, not in the one goroutine that feeds the connections. An error stops the run. parts
	// is false when the connection sends the message's bytes alone (SMTP, an outbox): its HTML and Text
	// may then be left empty, which spares a third of what composing allocates.
	Compose func(parts bool) (*Message, error)
}

// Result is what became of a Job.
type Result struct {
	ID       int64
	Outcome  Outcome
	Reason   string // Classify's reason; "" when sent
	Enhanced string // the reply's enhanced status code of a refusal at RCPT TO or end of DATA ("5.1.1")
	At       time.Time
	// NotBefore is, for a deferral whose server said when to try again (an API's Retry-After), that
	// time: no attempt, in this run or a later one, comes before it. Zero otherwise.
	NotBefore time.Time
}

// maxRetryWait is the longest a run waits to retry a deferred message in the same run: a message whose
// server asks for more is left to a later run.
const maxRetryWait = time.Minute

// Ledger records durably what the engine does, before it matters: a job is marked sending before its
// content goes out, and its result right after. Commit must do both lists in as few transactions as it can
// (the engine groups the work of all its connections into one call). It returns the ids of started jobs
// that must not be sent after all (their subscriber left in the meantime).
type Ledger interface {
	Commit(ctx context.Context, started []Job, done []Result) (skip map[int64]bool, err error)
}

// Engine delivers jobs over several connections at once. Each connection sends one message at a time and
// records it in the ledger around each send, so that a crash leaves at most one message per connection
// whose fate is unknown; the ledger writes of all connections are grouped into shared transactions, and
// over SMTP each write runs while the message's envelope goes out (its content waits for it), so that
// durability costs little throughput.
type Engine struct {
	Dial          func(ctx context.Context) (Sender, error) // opens one connection (or an Outbox)
	Ledger        Ledger
	Connections   int           // default 4
	PerConnection int           // messages per connection before reconnecting; default 50
	Rate          float64       // messages per second over all connections; 0 for no limit
	Retries       int           // further attempts in this run of a deferred message; default 2, -1 for none
	Backoff       time.Duration // before the first retry, doubled each time, with jitter; default 1 s
	Progress      func(Result)  // called for each result, from one goroutine at a time; may be nil
}

// ErrConnect wraps a failure to open a connection: a wrong host, a refused login, a TLS problem. The run
// stops; jobs not yet taken stay queued.
var ErrConnect = errors.New("mailer: cannot connect")

// ErrRejected is the server refusing the sender rather than a recipient (a 5xx to MAIL FROM, or
// authentication required): every message would fail the same way, so the run stops and the message is
// kept for a later run instead of failing for good.
var ErrRejected = errors.New("mailer: the server refuses mail from this sender")

// ErrThrottled is a provider asking to wait longer than a run waits (a 429 or 503 with a Retry-After over
// a minute): every request would be refused the same way until then, so the run stops, the message it
// refused deferred until that time and the jobs not taken still queued.
var ErrThrottled = errors.New("mailer: the provider asks to wait before sending more")

// Run delivers the jobs from jobs until it is closed or ctx is done. Messages in flight when ctx ends are
// abandoned by their connection and recorded. It returns the results counted by outcome; an error says
// why the run stopped early (the jobs it did not take are untouched).
func (e *Engine) Run(ctx context.Context, jobs <-chan Job) (map[Outcome]int, error) {
	n := e.Connections
	if n <= 0 {
		n = 4
	}
	gc := newGroupCommit(e.Ledger, n)
	defer gc.close()
	var limiter <-chan time.Time
	if e.Rate > 0 {
		t := time.NewTicker(max(time.Duration(float64(time.Second)/e.Rate), time.Microsecond))
		defer t.Stop()
		limiter = t.C
	}
	// The first connection is opened before any job is taken: a configuration error stops the run with
	// nothing marked as sending.
	first, err := e.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	counts := map[Outcome]int{}
	live := &liveCount{n: n}
	var mu sync.Mutex
	var runErr error
	stop := make(chan struct{}) // closed when a worker stops the run: the others take no more jobs
	var stopOnce sync.Once
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		conn := Sender(nil)
		if i == 0 {
			conn = first
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer gc.leave() // after the worker's last commit: it waits for each
			w := &worker{e: e, conn: conn, gc: gc, limiter: limiter, stop: stop, live: live, report: func(r Result) {
				mu.Lock()
				counts[r.Outcome]++
				if e.Progress != nil {
					e.Progress(r)
				}
				mu.Unlock()
			}}
			if err := w.run(ctx, jobs); err != nil {
				mu.Lock()
				if runErr == nil {
					runErr = err
				}
				mu.Unlock()
				stopOnce.Do(func() { close(stop) })
			}
		}()
	}
	wg.Wait()
	return counts, runErr
}

// worker is one connection.
type worker struct {
	e       *Engine
	conn    Sender
	sent    int // messages on conn
	gc      *groupCommit
	limiter <-chan time.Time
	stop    <-chan struct{}
	live    *liveCount
	report  func(Result)
	pending []Result // results not yet recorded: they go with the next commit
	silent  []Result // deferrals before a retry: recorded, but not the message's final result
}

func (w *worker) run(ctx context.Context, jobs <-chan Job) error {
	defer w.hangUp()
	for {
		// Connect before taking a job, so that a failure to connect leaves it queued.
		if w.conn == nil || w.sent >= w.per() {
			w.hangUp()
			// What the last connection did is recorded first: a crash while dialing, which can take
			// a while, must not leave its last message unknown.
			if err := w.flush(ctx); err != nil {
				return err
			}
			conn, err := w.e.Dial(ctx)
			if err != nil {
				if ctx.Err() != nil || w.live.leave() {
					return nil
				}
				return fmt.Errorf("%w: %w", ErrConnect, err)
			}
			w.conn = conn
		}
		var job Job
		ok := false
		// The rate limit is waited for before a job is taken: a job marked sending is sent at once, so
		// that a stop or a crash while waiting leaves nothing unknown.
		if w.tick(ctx) {
			select {
			case job, ok = <-jobs:
			case <-ctx.Done():
			case <-w.stop:
			}
		}
		if !ok {
			return w.flush(ctx)
		}
		// A message composed here for a sender of bytes alone is the engine's: its bytes go back to
		// the Composer once it is done with.
		composed := false
		if job.Message == nil && job.Compose != nil {
			parts := needsParts(w.conn)
			m, err := job.Compose(parts)
			if err != nil {
				// Nothing of the job was recorded: it stays queued. What this connection did before is.
				if ferr := w.flush(ctx); ferr != nil {
					return ferr
				}
				return fmt.Errorf("mailer: compose the message of delivery %d: %w", job.ID, err)
			}
			job.Message, composed = m, !parts
		}
		err := w.deliver(ctx, job)
		if composed {
			job.Message.release()
		}
		if err != nil {
			if errors.Is(err, errLeft) {
				return nil
			}
			return err
		}
	}
}

// deliver records the job as started and sends it, retrying a deferral on a new connection; its result
// joins w.pending. A job the ledger skips is not sent and has no result.
func (w *worker) deliver(ctx context.Context, job Job) error {
	retries := w.e.Retries
	if retries == 0 {
		retries = 2
	}
	backoff := w.e.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	for attempt := 0; ; attempt++ {
		var err error
		if attempt == 0 {
			var skip bool
			if skip, err = w.start(ctx, job); skip || errors.Is(err, errCommit) {
				return err
			}
		} else {
			// A message under way finishes even when the run is being stopped (its connection's
			// timeouts bound it): abandoning it after DATA would make it unknown.
			err = w.conn.Send(context.WithoutCancel(ctx), job.Message)
		}
		w.sent++
		r := Result{ID: job.ID, At: time.Now()}
		r.Outcome, r.Reason = Classify(err)
		if r.Outcome == Deferred {
			r.NotBefore = RetryAfter(err)
		}
		if r.Outcome == Failed && (strings.HasPrefix(r.Reason, "RCPT TO") || strings.HasPrefix(r.Reason, "end of DATA")) {
			_, r.Enhanced = SMTPStatus(err)
		}
		if r.Outcome != Sent {
			// A refusal can leave the SMTP transaction open, a dropped connection is unusable: start the
			// next message on a fresh connection.
			w.hangUp()
		}
		if r.Outcome == Failed && rejectsSender(err, r.Reason) {
			r.Outcome = Deferred
			w.pending = append(w.pending, r)
			if ferr := w.flush(ctx); ferr != nil {
				return ferr
			}
			return fmt.Errorf("%w: %s", ErrRejected, r.Reason)
		}
		if r.Outcome == Deferred && r.NotBefore.Sub(r.At) > maxRetryWait {
			w.pending = append(w.pending, r)
			if ferr := w.flush(ctx); ferr != nil {
				return ferr
			}
			return fmt.Errorf("%w, until %s: %s", ErrThrottled, r.NotBefore.UTC().Format(time.RFC3339), r.Reason)
		}
		if r.Outcome != Deferred || attempt >= retries || retries < 0 || ctx.Err() != nil {
			w.pending = append(w.pending, r)
			return nil
		}
		// A 4xx or a lost connection: record the deferral before waiting (a crash while waiting must not
		// leave the message "sending", which would make it unknown), then try again on a new connection.
		w.silent = append(w.silent, r)
		if _, err := w.commit(ctx, nil); err != nil {
			return err
		}
		// From here until it is started again, a stop leaves the job deferred: that is its result.
		leave := func(err error) error {
			w.report(r)
			return err
		}
		d := backoff << attempt
		d += time.Duration(rand.Int64N(int64(d)/2 + 1))
		d = max(d, time.Until(r.NotBefore))
		var conn Sender
		stopped := false
		w.gc.away(func() {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				stopped = true
				return
			case <-w.stop:
				stopped = true
				return
			}
			conn, err = w.e.Dial(ctx)
		})
		if stopped {
			return leave(nil)
		}
		if err != nil {
			if ctx.Err() != nil {
				return leave(nil)
			}
			if w.live.leave() {
				return leave(errLeft)
			}
			return leave(fmt.Errorf("%w: %w", ErrConnect, err))
		}
		w.conn, w.sent = conn, 0
		if !w.tick(ctx) {
			return leave(nil)
		}
		skip, err := w.commit(ctx, []Job{job})
		if err != nil || skip[job.ID] {
			return err
		}
	}
}

// start records the job as started and sends it. With a Pipeliner, the ledger's commit runs while the
// envelope goes out, and the message's content waits for it; with other senders the commit comes first. skip is the ledger
// skipping the job: it was not sent. An error wrapping errCommit is the ledger's; any other is the send's.
func (w *worker) start(ctx context.Context, job Job) (skip bool, err error) {
	p, ok := w.conn.(Pipeliner)
	if !ok {
		s, err := w.commit(ctx, []Job{job})
		if err != nil {
			return false, err
		}
		if s[job.ID] {
			return true, nil
		}
		return false, w.conn.Send(context.WithoutCancel(ctx), job.Message)
	}
	c := w.commitAsync(ctx, []Job{job})
	ready := func() error {
		s, err := c.wait()
		if err == nil && s[job.ID] {
			err = errSkipped
		}
		return err
	}
	sendErr := p.SendAfter(context.WithoutCancel(ctx), job.Message, ready)
	// The commit has ended before anything else is recorded, sent or told, whether or not the send
	// got as far as waiting for it.
	s, err := c.wait()
	if err != nil {
		return false, err
	}
	if s[job.ID] {
		if !errors.Is(sendErr, errSkipped) || errors.Is(sendErr, errClosed) {
			w.hangUp() // a refusal of the envelope, a failed RSET or a skip after DATA left the connection unusable
		}
		return true, nil
	}
	return false, sendErr
}

// bytesOnly is a Sender that sends a message's bytes and nothing else of it: not its HTML and Text.
type bytesOnly interface{ bytesOnly() }

func (*SMTPSender) bytesOnly() {}
func (*Outbox) bytesOnly()     {}

// needsParts tells whether s sends a message's HTML and Text (an API's request carries them). A Sender
// that does not say otherwise is taken to.
func needsParts(s Sender) bool {
	_, ok := s.(bytesOnly)
	return !ok
}

// errSkipped is the ready of a job that the ledger skipped.
var errSkipped = errors.New("mailer: skipped: the subscriber left")

// tick waits for the rate limit to allow one more message. It is false when the run is stopping.
func (w *worker) tick(ctx context.Context) bool {
	select {
	case <-w.stop: // before the select on jobs, which would pick between a job and the stop at random
		return false
	default:
	}
	if ctx.Err() != nil {
		return false
	}
	if w.limiter == nil {
		return true
	}
	select {
	case <-w.limiter:
		return true
	case <-ctx.Done():
	case <-w.stop:
	}
	return false
}

// errLeft is deliver saying that its connection could not reconnect and left the run to the others.
var errLeft = errors.New("mailer: the connection left the run")

// liveCount is how many connections a run has left. A connection that cannot reconnect leaves the run
// to the others when there are any (many providers take fewer connections at once than asked for, and
// refuse the rest); the last one stops the run instead, with the jobs it did not take still queued.
type liveCount struct {
	mu sync.Mutex
	n  int
}

// leave takes one connection out of the run if it is not the last, and says whether it did.
func (l *liveCount) leave() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n <= 1 {
		return false
	}
	l.n--
	return true
}

func (w *worker) per() int {
	if w.e.PerConnection > 0 {
		return w.e.PerConnection
	}
	return 50
}

func (w *worker) hangUp() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
	w.sent = 0
}

// commit records started jobs with the pending results.
func (w *worker) commit(ctx context.Context, started []Job) (map[int64]bool, error) {
	return w.commitAsync(ctx, started).wait()
}

// commitAsync starts recording started jobs with the pending results; wait gives the outcome.
func (w *worker) commitAsync(ctx context.Context, started []Job) *asyncCommit {
	c := &asyncCommit{w: w, report: w.pending}
	c.reply = w.gc.send(context.WithoutCancel(ctx), started, append(w.silent, w.pending...))
	w.pending, w.silent = nil, nil
	return c
}

// asyncCommit is a commit under way.
type asyncCommit struct {
	w      *worker
	report []Result // told once the commit has ended
	reply  <-chan commitReply
	got    *commitReply
}

// wait waits for the commit to end and tells its results; it may be called again.
func (c *asyncCommit) wait() (map[int64]bool, error) {
	if c.got == nil {
		r := <-c.reply
		c.got = &r
		if r.err != nil {
			c.got.err = fmt.Errorf("%w: %w", errCommit, r.err)
		} else {
			for _, res := range c.report {
				c.w.report(res)
			}
		}
	}
	return c.got.skip, c.got.err
}

// errCommit wraps the ledger's errors.
var errCommit = errors.New("mailer: record deliveries")

// flush records the pending results.
func (w *worker) flush(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	_, err := w.commit(ctx, nil)
	return err
}

// rejectsSender tells a refusal of the sender or of the session (5xx to MAIL FROM, authentication
// required) from a refusal of one recipient or one message. A 5.7.0 at the end of DATA is a verdict on
// the message (a content filter), not on the sender: taking it for one would defer the message and stop
// every later run at it.
func rejectsSender(err error, reason string) bool {
	code, enhanced := SMTPStatus(err)
	if strings.HasPrefix(reason, "MAIL FROM") || code == 530 {
		return true
	}
	return (enhanced == "5.7.0" || enhanced == "5.7.8") && !strings.HasPrefix(reason, "end of DATA")
}

// groupCommit gathers the ledger writes of all connections into shared transactions. Each commit costs
// an fsync and a few pages written whatever it holds, which on a fast server is most of what a message
// costs, so a commit does not begin at the first request: the committer waits until every connection has
// one in, or the first has waited maxGather (counted from when it was asked for, so that a request that
// came in while the last commit ran waits no longer). A connection asks for its commit before its
// envelope goes out and needs it only when the content is next, so on a server a network away the wait is hidden
// by the envelope's round trip.
type groupCommit struct {
	ledger Ledger
	n      atomic.Int64 // connections still running: no more than n requests can be under way
	reqs   chan *commitReq
	done   chan struct{}
}

// maxGather bounds how long a request waits for the other connections' (one may be dialing, or waiting
// for a retry). On loopback, 4 connections gather 3.5 messages a commit with it rather than 1.8.
const maxGather = time.Millisecond

type commitReq struct {
	ctx     context.Context
	started []Job
	done    []Result
	reply   chan commitReply
	at      time.Time // when it was asked for
}

type commitReply struct {
	skip map[int64]bool
	err  error
}

// newGroupCommit starts the committer for n connections, each with at most one commit under way.
func newGroupCommit(l Ledger, n int) *groupCommit {
	g := &groupCommit{ledger: l, reqs: make(chan *commitReq, n), done: make(chan struct{})}
	g.n.Store(int64(n))
	go g.loop()
	return g
}

// leave tells the committer that a connection has ended and sends no more requests: a commit no longer
// waits for it. Without this, once a connection has left the run (a server that takes fewer connections
// than asked for) or run out of jobs, every commit of the others waited out maxGather.
func (g *groupCommit) leave() { g.n.Add(-1) }

// away runs f, in which a connection that has no commit under way asks for none (it waits out a
// deferral's backoff, a second or more, and dials again): the others' commits do not wait for it
// meanwhile, where each waited out maxGather for as long as the backoff. A reconnection after
// PerConnection messages is not away: it is short, and waiting for it keeps the connections in step, so
// that each commit carries a message of each (away there, a send to smtp-sink on loopback ran 44% of
// smtp-source's rate against 46-48%).
func (g *groupCommit) away(f func()) {
	g.n.Add(-1)
	defer g.n.Add(1)
	f()
}

// send queues a commit; its reply comes on the channel.
func (g *groupCommit) send(ctx context.Context, started []Job, done []Result) <-chan commitReply {
	r := &commitReq{ctx: ctx, started: started, done: done, reply: make(chan commitReply, 1), at: time.Now()}
	g.reqs <- r
	return r.reply
}

func (g *groupCommit) close() { close(g.reqs); <-g.done }

func (g *groupCommit) loop() {
	defer close(g.done)
	timer := time.NewTimer(maxGather)
	timer.Stop()
	for first := range g.reqs {
		batch := g.gather(first, timer)
		var started []Job
		var done []Result
		for _, r := range batch {
			started = append(started, r.started...)
			done = append(done, r.done...)
		}
		skip, err := g.ledger.Commit(first.ctx, started, done)
		if err != nil && len(batch) > 1 {
			// One connection's bad write must not lose the others': record each request alone.
			for _, r := range batch {
				s, e := g.ledger.Commit(r.ctx, r.started, r.done)
				r.reply <- commitReply{s, e}
			}
			continue
		}
		for _, r := range batch {
			r.reply <- commitReply{skip, err}
		}
	}
}

// gather returns the requests of the next commit: first, and those that come before every connection
// has one in or first has waited maxGather; those waiting already, when it has.
func (g *groupCommit) gather(first *commitReq, timer *time.Timer) []*commitReq {
	batch := []*commitReq{first}
	wait := maxGather - time.Since(first.at)
	if wait > 0 {
		timer.Reset(wait)
		defer timer.Stop()
	}
	for int64(len(batch)) < g.n.Load() {
		var r *commitReq
		ok := false
		if wait > 0 {
			select {
			case r, ok = <-g.reqs:
			case <-timer.C:
			}
		} else {
			select {
			case r, ok = <-g.reqs:
			default:
			}
		}
		if !ok {
			return batch
		}
		batch = append(batch, r)
	}
	return batch
}
