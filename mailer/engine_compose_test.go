package mailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEngineComposes: a job with Compose is composed by the connection that sends it, so that two
// connections compose at once (the first two composes wait for each other: made one after the other,
// they would never end); the server gets what Compose made. A job whose Compose fails stops the run
// without being started, and what the connections sent before it is recorded, none of it left started.
func TestEngineComposes(t *testing.T) {
	ts := startServer(t, false, nil)
	c := newTestComposer(t, testOptions())
	var both sync.WaitGroup
	both.Add(2)
	var mu sync.Mutex
	made := map[string][]byte{} // recipient → the bytes Compose made
	jobs := make(chan Job)
	go func() {
		defer close(jobs)
		for i := range 12 {
			compose := func(parts bool) (*Message, error) {
				if parts {
					t.Error("an SMTP connection asked for the HTML and Text of a message it sends as bytes")
				}
				if i < 2 {
					both.Done()
					done := make(chan struct{})
					go func() { both.Wait(); close(done) }()
					select {
					case <-done:
					case <-time.After(10 * time.Second):
						return nil, errors.New("the other connection never composed: composing is serial")
					}
				}
				if i == 9 {
					return nil, errors.New("no template")
				}
				r := testRecipient()
				r.Email = fmt.Sprintf("reader%02d@example.com", i)
				m, err := c.Post(r, testPosts()[0], fmt.Sprintf("delivery/%d", i), sendDate)
				if err == nil {
					b, _ := m.Bytes()
					mu.Lock()
					made[m.To] = b
					mu.Unlock()
				}
				return m, err
			}
			jobs <- Job{ID: int64(i), Compose: compose}
		}
	}()
	l := newRecLedger(t)
	e := &Engine{Dial: func(ctx context.Context) (Sender, error) { return DialSMTP(ctx, ts.config()) }, Ledger: l, Connections: 2}
	counts, err := e.Run(t.Context(), jobs)
	if err == nil || !strings.Contains(err.Error(), "delivery 9") || !strings.Contains(err.Error(), "no template") {
		t.Fatalf("got %v, want the compose error of delivery 9", err)
	}
	for range jobs { // the feeder may be blocked on a job nobody takes now
	}
	if _, ok := l.results[9]; ok || l.started[9] {
		t.Error("the job whose Compose failed was started")
	}
	for id, started := range l.started {
		if started {
			t.Errorf("job %d is left started without a result", id)
		}
	}
	msgs := ts.messages()
	if counts[Sent] != len(msgs) || len(msgs) < 2 {
		t.Errorf("got %v and %d messages on the server, want the same number sent, at least 2", counts, len(msgs))
	}
	for _, m := range msgs {
		if want := made[m.to[0]]; !bytes.Equal(m.data, want) {
			t.Errorf("the server got for %s other bytes than Compose made", m.to[0])
		}
	}
}
