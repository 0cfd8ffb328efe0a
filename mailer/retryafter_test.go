package mailer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestRetryAfter: a 429 or 503 with a Retry-After (seconds, or a date) is a deferral that carries its
// time, at most a day away; without the header, with one that does not parse, or on another status, it
// carries none.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		body       string
		want       time.Duration // 0: none
	}{
		{"429 in seconds", 429, "120", `{"ErrorCode":429,"Message":"Rate limit exceeded"}`, 120 * time.Second},
		{"503 as a date", 503, "DATE+90", ``, 90 * time.Second},
		{"a week is a day", 429, "604800", `{"ErrorCode":429,"Message":"Rate limit exceeded"}`, 24 * time.Hour},
		{"429 without it", 429, "", `{"ErrorCode":429,"Message":"Rate limit exceeded"}`, 0},
		{"a date past", 503, "DATE-90", ``, 0},
		{"not a number", 429, "soon", `{"ErrorCode":429,"Message":"Rate limit exceeded"}`, 0},
		{"not a deferral", 422, "120", `{"ErrorCode":300,"Message":"Invalid 'To' address"}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				v := tc.retryAfter
				if len(v) > 4 && v[:4] == "DATE" {
					d, _ := time.ParseDuration(v[4:] + "s")
					v = time.Now().Add(d).UTC().Format(http.TimeFormat)
				}
				if v != "" {
					w.Header().Set("Retry-After", v)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			s, err := NewPostmark(PostmarkConfig{Token: "t", Endpoint: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			err = s.Send(t.Context(), testMessage(t, testRecipient(), "post/1/1"))
			if out, _ := Classify(err); (out == Deferred) != (tc.status != 422) {
				t.Fatalf("%v: %s", err, out)
			}
			got := RetryAfter(err)
			if tc.want == 0 {
				if !got.IsZero() {
					t.Errorf("got %v, want none", got)
				}
				return
			}
			// An HTTP date has whole seconds.
			if got.Before(before.Add(tc.want-time.Second)) || got.After(time.Now().Add(tc.want+time.Second)) {
				t.Errorf("got %v from now, want %v", got.Sub(before), tc.want)
			}
		})
	}
}

// throttledSender answers each message's first try with a deferral that asks for wait.
type throttledSender struct {
	mu    sync.Mutex
	wait  time.Duration
	tries map[string][]time.Time
}

func (s *throttledSender) Send(_ context.Context, m *Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries[m.MessageID] = append(s.tries[m.MessageID], time.Now())
	if len(s.tries[m.MessageID]) > 1 {
		return nil
	}
	h := http.Header{"Retry-After": {strconv.Itoa(int(s.wait / time.Second))}}
	return withRetryAfter(apiRefusal("Test", retryLater, 429, "slow down"), 429, h, time.Now())
}

func (s *throttledSender) Close() error { return nil }

// TestEngineRetryAfter: the engine retries a message in the run no sooner than its server asked, and
// leaves one that asks for more than maxRetryWait to a later run, its result carrying the time.
func TestEngineRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		wait  time.Duration
		tries int
		want  Outcome
	}{
		{2 * time.Second, 2, Sent},
		{time.Hour, 1, Deferred},
	} {
		s := &throttledSender{wait: tc.wait, tries: map[string][]time.Time{}}
		l := newRecLedger(t)
		m := testMessage(t, testRecipient(), "post/1/1")
		jobs := make(chan Job, 1)
		jobs <- Job{ID: 1, Message: m}
		close(jobs)
		e := &Engine{Dial: func(context.Context) (Sender, error) { return s, nil }, Ledger: l, Connections: 1, Backoff: time.Millisecond}
		// A wait longer than a run waits stops the run (TestEngineStopsWhenToldToWait).
		if _, err := e.Run(t.Context(), jobs); (err != nil) != (tc.want == Deferred) || err != nil && !errors.Is(err, ErrThrottled) {
			t.Fatal(err)
		}
		tries := s.tries[m.MessageID]
		r := l.results[1]
		if len(tries) != tc.tries || r.Outcome != tc.want {
			t.Fatalf("wait %v: %d tries, %s; want %d, %s", tc.wait, len(tries), r.Outcome, tc.tries, tc.want)
		}
		if tc.tries == 2 && tries[1].Sub(tries[0]) < tc.wait-time.Second {
			t.Errorf("retried after %v, want at least %v", tries[1].Sub(tries[0]), tc.wait)
		}
		if tc.want == Deferred && (r.NotBefore.Sub(r.At) < tc.wait-2*time.Second || r.NotBefore.Sub(r.At) > tc.wait+2*time.Second) {
			t.Errorf("NotBefore %v after the attempt, want %v", r.NotBefore.Sub(r.At), tc.wait)
		}
	}
}
