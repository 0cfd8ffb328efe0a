package mailer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestRetryAfterForms: the header's delay-seconds of any length (RFC 9110 section 10.2.3: 1*DIGIT) asks
// for at least as long as it says, so one too large for 32 bits is a day, as a week is; a negative
// number, a fraction or a sign is no delay-seconds and asks for nothing.
func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	deferral := apiRefusal("Test", retryLater, 429, "Rate limit exceeded")
	if out, _ := Classify(deferral); out != Deferred {
		t.Fatalf("the test's error is %s, not a deferral", out)
	}
	for _, tc := range []struct {
		name, v string
		want    time.Duration // 0: none
	}{
		{"seconds", "120", 120 * time.Second},
		{"over 32 bits", "4294967296", 24 * time.Hour},
		{"over 64 bits", "99999999999999999999999", 24 * time.Hour},
		{"leading zeros", "0000000060", time.Minute},
		{"zero", "0", 0},
		{"negative", "-120", 0},
		{"signed", "+120", 0},
		{"fraction", "1.5", 0},
		{"HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"RFC 850 date", now.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second},
		{"a date past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"a date in ten years", now.AddDate(10, 0, 0).Format(http.TimeFormat), 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RetryAfter(withRetryAfter(deferral, http.StatusTooManyRequests, http.Header{"Retry-After": {tc.v}}, now))
			want := time.Time{}
			if tc.want != 0 {
				want = now.Add(tc.want)
			}
			if !got.Equal(want) {
				t.Errorf("Retry-After %q: got %v, want %v", tc.v, got, want)
			}
		})
	}
}

// alwaysThrottled answers every message with a 429 that asks for an hour.
type alwaysThrottled struct {
	mu    sync.Mutex
	sends int
}

func (s *alwaysThrottled) Send(context.Context, *Message) error {
	s.mu.Lock()
	s.sends++
	s.mu.Unlock()
	h := http.Header{"Retry-After": {"3600"}}
	return withRetryAfter(apiRefusal("Test", retryLater, 429, "rate limit"), 429, h, time.Now())
}

func (s *alwaysThrottled) Close() error { return nil }

// TestEngineStopsWhenToldToWait: a provider that asks to wait longer than a run waits (a 429 with
// Retry-After: 3600) is asked nothing more in the run: the run stops with ErrThrottled, the message it
// refused deferred until then, and the jobs not taken stay queued, rather than each of them sent to be
// refused in turn (an account that ignores its rate limit gets suspended).
func TestEngineStopsWhenToldToWait(t *testing.T) {
	s := &alwaysThrottled{}
	l := newRecLedger(t)
	const n = 50
	jobs := make(chan Job, n)
	for i := range n {
		jobs <- Job{ID: int64(i + 1), Message: testMessage(t, testRecipient(), fmt.Sprintf("post/1/%d", i+1))}
	}
	close(jobs)
	e := &Engine{Dial: func(context.Context) (Sender, error) { return s, nil }, Ledger: l, Connections: 2, Backoff: time.Millisecond}
	_, err := e.Run(t.Context(), jobs)
	if !errors.Is(err, ErrThrottled) {
		t.Errorf("got %v, want ErrThrottled", err)
	}
	if s.sends > 2 {
		t.Errorf("got %d requests, want at most one per connection", s.sends)
	}
	deferred := 0
	for _, r := range l.results {
		if r.Outcome != Deferred || r.NotBefore.IsZero() {
			t.Errorf("delivery %d: %s, not before %v; want deferred with the provider's time", r.ID, r.Outcome, r.NotBefore)
		}
		deferred++
	}
	if deferred != s.sends || len(jobs)+deferred != n {
		t.Errorf("%d deferred, %d left queued, of %d", deferred, len(jobs), n)
	}
}
