package mailer

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// Job is one message to deliver; ID is its delivery's id in the ledger.
type Job struct {
	ID      int64
	Message *Message
}

// Result is what became of a Job.
type Result struct {
	ID      int64
	Outcome Outcome
	Reason  string // Classify's reason; "" when sent
	At      time.Time
}

// Ledger records durably what the engine does, before it matters: a job is marked sending before its
// DATA begins, and its result right after. Commit must do both lists in as few transactions as it can
// (the engine groups the work of all its connections into one call). It returns the ids of started jobs
// that must not be sent after all (their subscriber left in the meantime).
type Ledger interface {
	Commit(ctx context.Context, started []Job, done []Result) (skip map[int64]bool, err error)
}

// Engine delivers jobs over several connections at once. Each connection sends one message at a time and
// records it in the ledger around each send, so that a crash leaves at most one message per connection
// whose fate is unknown; the ledger writes of all connections are grouped into shared transactions so that
// durability costs little throughput.
type Engine struct {
	Dial          func(ctx context.Context) (Sender, error) // opens one connection (or an Outbox)
	Ledger        Ledger
	Connections   int           // default 4
	PerConnection int           // messages per connection before reconnecting; default 50
	Rate          float64       // messages per second over all connections; 0 for no limit
	Retries       int           // further attempts in this run of a deferred message; default 2
	Backoff       time.Duration // before the first retry, doubled each time, with jitter; default 1 s
	Progress      func(Result)  // called for each result, from one goroutine at a time; may be nil
}

// ErrConnect wraps a failure to open a connection at the start of a run: a wrong host, a refused login, a
// TLS problem. The run stops and every job stays queued.
var ErrConnect = errors.New("mailer: cannot connect")

// Run delivers the jobs from jobs until it is closed or ctx is done; on cancellation the messages in
// flight finish (or are abandoned by their connection) and are recorded. It returns the results counted
// by outcome.
func (e *Engine) Run(ctx context.Context, jobs <-chan Job) (map[Outcome]int, error) {
	n := e.Connections
	if n <= 0 {
		n = 4
	}
	gc := newGroupCommit(e.Ledger)
	defer gc.close()
	var limiter <-chan time.Time
	if e.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / e.Rate))
		defer t.Stop()
		limiter = t.C
	}
	// The first connection is opened before any job is taken: a configuration error stops the run with
	// nothing marked as sending.
	first, err := e.Dial(ctx)
	if err != nil {
		return nil, errors.Join(ErrConnect, err)
	}
	counts := map[Outcome]int{}
	var mu sync.Mutex
	var runErr error
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		conn := Sender(nil)
		if i == 0 {
			conn = first
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.worker(ctx, conn, jobs, gc, limiter, func(r Result) {
				mu.Lock()
				counts[r.Outcome]++
				if e.Progress != nil {
					e.Progress(r)
				}
				mu.Unlock()
			})
			if err != nil {
				mu.Lock()
				if runErr == nil {
					runErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counts, runErr
}

// worker is one connection's loop. Its result for a job is recorded together with the start of its
// next job (or alone at the end).
func (e *Engine) worker(ctx context.Context, conn Sender, jobs <-chan Job, gc *groupCommit, limiter <-chan time.Time, report func(Result)) error {
	per := e.PerConnection
	if per <= 0 {
		per = 50
	}
	retries := e.Retries
	if retries == 0 {
		retries = 2
	}
	backoff := e.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var pending []Result // recorded with the next commit
	sent := 0
	for {
		var job Job
		var ok bool
		select {
		case job, ok = <-jobs:
		case <-ctx.Done():
		}
		if !ok {
			if len(pending) == 0 {
				return nil
			}
			if _, err := gc.commit(context.WithoutCancel(ctx), nil, pending); err != nil {
				return err
			}
			for _, r := range pending {
				report(r)
			}
			return nil
		}
		skip, err := gc.commit(context.WithoutCancel(ctx), []Job{job}, pending)
		if err != nil {
			return err
		}
		for _, r := range pending {
			report(r)
		}
		pending = nil
		if skip[job.ID] {
			continue
		}
		var r Result
		for attempt := 0; ; attempt++ {
			if limiter != nil {
				select {
				case <-limiter:
				case <-ctx.Done():
				}
			}
			if conn == nil || sent >= per {
				if conn != nil {
					conn.Close()
				}
				sent = 0
				if conn, err = e.Dial(ctx); err != nil {
					conn = nil
					r = Result{ID: job.ID, Outcome: Deferred, Reason: "cannot connect: " + err.Error()}
				}
			}
			if conn != nil {
				err = conn.Send(ctx, job.Message)
				sent++
				r.ID = job.ID
				r.Outcome, r.Reason = Classify(err)
			}
			if r.Outcome != Deferred || attempt >= retries || ctx.Err() != nil {
				break
			}
			// A 4xx or a dropped connection: start afresh on a new connection after a pause with jitter
			// (go-mail does not reconnect by itself).
			if conn != nil {
				conn.Close()
				conn = nil
			}
			d := backoff << attempt
			d += time.Duration(rand.Int64N(int64(d)/2 + 1))
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		r.At = time.Now()
		pending = append(pending, r)
	}
}

// groupCommit gathers the ledger writes of all connections into shared transactions: while one commit
// runs, the requests that arrive wait and then go together in the next.
type groupCommit struct {
	ledger Ledger
	reqs   chan *commitReq
	done   chan struct{}
}

type commitReq struct {
	ctx     context.Context
	started []Job
	done    []Result
	reply   chan commitReply
}

type commitReply struct {
	skip map[int64]bool
	err  error
}

func newGroupCommit(l Ledger) *groupCommit {
	g := &groupCommit{ledger: l, reqs: make(chan *commitReq), done: make(chan struct{})}
	go g.loop()
	return g
}

func (g *groupCommit) commit(ctx context.Context, started []Job, done []Result) (map[int64]bool, error) {
	r := &commitReq{ctx: ctx, started: started, done: done, reply: make(chan commitReply, 1)}
	g.reqs <- r
	rep := <-r.reply
	return rep.skip, rep.err
}

func (g *groupCommit) close() { close(g.reqs); <-g.done }

func (g *groupCommit) loop() {
	defer close(g.done)
	for first := range g.reqs {
		batch := []*commitReq{first}
	gather:
		for {
			select {
			case r, ok := <-g.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			default:
				break gather
			}
		}
		var started []Job
		var done []Result
		for _, r := range batch {
			started = append(started, r.started...)
			done = append(done, r.done...)
		}
		skip, err := g.ledger.Commit(first.ctx, started, done)
		for _, r := range batch {
			r.reply <- commitReply{skip, err}
		}
	}
}
