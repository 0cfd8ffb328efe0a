package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func TestRegistrableDomain(t *testing.T) {
	tests := []struct{ name, key, want string }{
		{"plain", "ann@example.com", "example.com"},
		{"subdomain", "ann@mail.example.com", "example.com"},
		{"deep subdomain", "ann@a.b.c.example.co.uk", "example.co.uk"},
		{"unknown top-level domain", "ann@d7.example", "d7.example"},
		{"a site under a public suffix", "ann@x.blog.github.io", "blog.github.io"},
		{"a public suffix itself", "ann@co.uk", "co.uk"},
		{"trailing dot", "ann@mail.example.com.", "example.com"},
		{"Unicode", "ann@mail.bücher.example", "xn--bcher-kva.example"},
		{"punycode", "ann@xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"gmail, through addressKey", addressKey("A.nn+x@GoogleMail.com"), "gmail.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := registrableDomain(tt.key); got != tt.want {
				t.Errorf("registrableDomain(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// attack signs up new addresses (made by addr) from each source in turn, from each of its peers until
// they are refused, as an attacker with that many sources would to send as many as possible, and
// returns how many were taken.
func (e *env) attack(sources [][]string, addr func(n int) string) int {
	e.t.Helper()
	taken, n := 0, 0
	for _, peers := range sources {
		for _, peer := range peers {
			e.peer = peer
			for refused := 0; refused < 3; n++ {
				w := e.do("POST", "/subscribe", url.Values{"email": {addr(n)}}, nil)
				switch w.Code {
				case http.StatusOK:
					taken++
				case http.StatusTooManyRequests:
					refused++
				default:
					e.t.Fatalf("got status %d:\n%s", w.Code, w.Body)
				}
			}
		}
	}
	e.s.flush()
	return taken
}

// TestDomainLimit: sign-ups to one registrable domain are capped, its subdomains and spellings counted
// together, each from a source of its own; other domains still sign up, and the domain again the next
// hour. (A catch-all domain took as many as the global cap, 200 an hour.)
func TestDomainLimit(t *testing.T) {
	e := newEnv(t, nil)
	if want := (Limit{N: 50, Window: time.Hour}); e.s.limits.domain != want {
		t.Fatalf("the domain limit is %+v, want %+v", e.s.limits.domain, want)
	}
	domains := []string{"catchall.example", "mail.catchall.example", "CatchAll.Example", "a.b.CATCHALL.example"}
	signUp := func(i int, domain string) *http.Response {
		t.Helper()
		e.peer = fmt.Sprintf("198.51.%d.%d:1", i/200, i%200+1) // a reader each, as far as the other limits go
		return e.do("POST", "/subscribe", url.Values{"email": {fmt.Sprintf("u%d@%s", i, domain)}}, nil).Result()
	}
	for i := range 50 {
		if r := signUp(i, domains[i%len(domains)]); r.StatusCode != http.StatusOK {
			t.Fatalf("sign-up %d: got %s, want 200", i+1, r.Status)
		}
	}
	if r := signUp(50, "other.catchall.example"); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("the 51st sign-up at the domain: got %s (Retry-After %q), want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	if r := signUp(51, "elsewhere.example"); r.StatusCode != http.StatusOK {
		t.Errorf("a sign-up at another domain: got %s, want 200", r.Status)
	}
	e.s.flush()
	if n := len(e.conf.all()); n != 51 {
		t.Errorf("got %d confirmations, want 51 (50 to the domain, 1 elsewhere)", n)
	}
	e.now = e.now.Add(time.Hour)
	if r := signUp(52, "catchall.example"); r.StatusCode != http.StatusOK {
		t.Errorf("an hour later: got %s, want 200", r.Status)
	}
}

// TestSharedLimitsDegradeBySource: a few sources that sign up all they can no longer use up the global
// cap, or a domain's, and shut every reader out for the hour: once the cap is half used they get only a
// fair share, and a reader from another network still signs up.
func TestSharedLimitsDegradeBySource(t *testing.T) {
	ipv4 := func(n int) [][]string {
		var s [][]string
		for i := range n {
			s = append(s, []string{fmt.Sprintf("203.0.113.%d:1", i+1)})
		}
		return s
	}
	var four48s [][]string // each walks three /64s: 3 × 20 reaches its /48's 60
	for i := range 4 {
		var peers []string
		for j := range 3 {
			peers = append(peers, fmt.Sprintf("[2001:db8:%x:%x::1]:1", i+1, j+1))
		}
		four48s = append(four48s, peers)
	}
	tests := []struct {
		name    string
		sources [][]string
		domain  func(n int) string
		taken   int // what the attack gets: five IPs fill half of 200, the others 3 each; ...
	}{
		{"ten IPs, the global cap", ipv4(10), func(n int) string { return fmt.Sprintf("d%d.example", n) }, 100 + 5*3},
		{"four IPv6 /48s, the global cap", four48s, func(n int) string { return fmt.Sprintf("d%d.example", n) }, 100 + 2*3},
		{"ten IPs, one domain", ipv4(10), func(int) string { return "catchall.example" }, 25 + 8*3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			taken := e.attack(tt.sources, func(n int) string { return fmt.Sprintf("x%d@%s", n, tt.domain(n)) })
			if taken != tt.taken {
				t.Errorf("the attack got %d sign-ups, want %d", taken, tt.taken)
			}
			// A reader from another network gets in, and the attackers still do not.
			e.peer = "192.0.2.77:1"
			wantStatus(t, e.signUp("reader@"+tt.domain(-1), nil), http.StatusOK, "Check your inbox")
			e.peer = tt.sources[0][0]
			wantStatus(t, e.signUp("again@"+tt.domain(-2), nil), http.StatusTooManyRequests, "Too many")
			if got := len(e.conf.all()); got != tt.taken+1 {
				t.Errorf("got %d confirmations, want %d", got, tt.taken+1)
			}
		})
	}
}

// TestLimitsSurviveRestart: the limits' counts are in the store: a server started again on the same
// store file goes on counting where the last one stopped.
func TestLimitsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	start := func() (*Server, *recordingConfirmer, func()) {
		t.Helper()
		st, err := store.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		conf := &recordingConfirmer{}
		s, err := New(Options{Store: st, Confirmer: conf, Secret: secret, BaseURL: baseURL,
			IPLimit: Limit{N: 2, Window: time.Hour}, DomainLimit: Limit{N: 3, Window: time.Hour},
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return s, conf, func() {
			if err := s.Close(t.Context()); err != nil {
				t.Error(err)
			}
			if err := st.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	signUp := func(s *Server, peer, email string) int {
		t.Helper()
		e := &env{t: t, s: s, h: s.Handler(), peer: peer}
		return e.do("POST", "/subscribe", url.Values{"email": {email}}, nil).Code
	}

	s, _, stop := start()
	for _, email := range []string{"a@one.example", "b@two.example"} {
		if got := signUp(s, "203.0.113.1:1", email); got != http.StatusOK {
			t.Fatalf("%s: got %d, want 200", email, got)
		}
	}
	for _, email := range []string{"c@two.example", "d@two.example"} {
		if got := signUp(s, "203.0.113.2:1", email); got != http.StatusOK {
			t.Fatalf("%s: got %d, want 200", email, got)
		}
	}
	stop()

	s, conf, stop := start()
	defer stop()
	if got := signUp(s, "203.0.113.1:1", "e@three.example"); got != http.StatusTooManyRequests {
		t.Errorf("the IP at its limit before the restart: got %d, want 429", got)
	}
	if got := signUp(s, "203.0.113.3:1", "f@two.example"); got != http.StatusTooManyRequests {
		t.Errorf("the domain at its limit before the restart: got %d, want 429", got)
	}
	if got := signUp(s, "203.0.113.3:1", "g@three.example"); got != http.StatusOK {
		t.Errorf("another IP and domain: got %d, want 200", got)
	}
	s.flush()
	if n := len(conf.all()); n != 1 {
		t.Errorf("the second server sent %d confirmations, want 1", n)
	}
}

// stuckConfirmer cannot reach the mail server until its context ends, and then says the email did not go.
type stuckConfirmer struct{ started chan struct{} }

func (c *stuckConfirmer) SendConfirmation(ctx context.Context, sub store.Subscriber, u string, expires time.Time) error {
	close(c.started)
	<-ctx.Done()
	return fmt.Errorf("dial: %w: %w", ErrNotSent, ctx.Err())
}

// TestQueueSurvivesRestart: a sign-up is stored before it is answered, so one answered and not handled
// when the server stops is handled by the next server on the store.
func TestQueueSurvivesRestart(t *testing.T) {
	stuck := &stuckConfirmer{started: make(chan struct{})}
	e := newEnv(t, func(o *Options) { o.Confirmer = stuck })
	wantStatus(t, e.do("POST", "/subscribe", url.Values{"email": {"ann@example.com"}, "name": {"Ann"}, "frequency": {"weekly"}}, nil),
		http.StatusOK, "Check your inbox")
	<-stuck.started
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no time left: the server stops at once
	if err := e.s.Close(ctx); err == nil {
		t.Errorf("Close said every sign-up was handled")
	}
	if _, err := e.st.SubscriberByEmail(t.Context(), "ann@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the sign-up whose link did not go was kept: %v", err)
	}

	conf := &recordingConfirmer{}
	o := e.s.o
	o.Confirmer = conf
	s2, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	s2.flush()
	if err := s2.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	all := conf.all()
	if len(all) != 1 || all[0].sub.Email != "ann@example.com" {
		t.Fatalf("the next server sent %+v, want a confirmation to ann@example.com", all)
	}
	if got := e.sub("ann@example.com"); got.Status != store.Pending || got.Name != "Ann" || got.Frequency != store.Weekly ||
		!got.ConsentAt.Equal(e.now) || got.ConsentIP != "203.0.113.9" {
		t.Errorf("got %+v, want the sign-up as it was answered", got)
	}
	if qs, err := e.st.QueuedSignUps(t.Context(), 10); err != nil || len(qs) != 0 {
		t.Errorf("left queued: %+v, %v", qs, err)
	}
}

// fullStore is the real store whose writes fail while full is set, as with its disk full.
type fullStore struct {
	Store
	mu    sync.Mutex
	full  bool
	which string // the writes that fail besides /healthz's check: "limits", "queue", "" for every one
}

var errFull = errors.New("store: database or disk is full (13)")

func (f *fullStore) fails(what string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.full && (f.which == "" || f.which == what || what == "check")
}

func (f *fullStore) set(full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.full = full
}

func (f *fullStore) TakeLimit(ctx context.Context, key string, n int, window time.Duration, now time.Time) (int, error) {
	if f.fails("limits") {
		return 0, errFull
	}
	return f.Store.TakeLimit(ctx, key, n, window, now)
}

func (f *fullStore) QueueSignUp(ctx context.Context, q store.QueuedSignUp) error {
	if f.fails("queue") {
		return errFull
	}
	return f.Store.QueueSignUp(ctx, q)
}

func (f *fullStore) CheckWrite(ctx context.Context, now time.Time) error {
	if f.fails("check") {
		return errFull
	}
	return f.Store.CheckWrite(ctx, now)
}

// wantNotTaken checks the answer to a sign-up that could not be stored: 503 with Retry-After, a page
// that says to try again, never "check your inbox"; and that nothing was stored or sent.
func wantNotTaken(t *testing.T, e *env, w *http.Response, body, email string) {
	t.Helper()
	if w.StatusCode != http.StatusServiceUnavailable || w.Header.Get("Retry-After") == "" {
		t.Errorf("got %s (Retry-After %q), want 503 with Retry-After", w.Status, w.Header.Get("Retry-After"))
	}
	if strings.Contains(body, "Check your inbox") || !strings.Contains(body, "try again in a minute") {
		t.Errorf("the page:\n%s", body)
	}
	if qs, err := e.st.QueuedSignUps(t.Context(), 10); err != nil || len(qs) != 0 {
		t.Errorf("queued: %+v, %v", qs, err)
	}
	if _, err := e.st.SubscriberByEmail(t.Context(), email); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the sign-up was stored: %v", err)
	}
	for _, c := range e.conf.all() {
		if c.sub.Email == email {
			t.Errorf("a confirmation went to %s", email)
		}
	}
}

func healthz(e *env) (int, string) {
	w := e.do("GET", "/healthz", nil, nil)
	return w.Code, w.Body.String()
}

// TestStoreCannotBeWritten: a sign-up that cannot be stored, whichever write fails, is answered 503
// with Retry-After and a page that says to try again, never "check your inbox", and /healthz says the
// store cannot be written; once it can again, both work.
func TestStoreCannotBeWritten(t *testing.T) {
	for _, which := range []string{"", "limits", "queue"} {
		t.Run("fails: "+cmp.Or(which, "every write"), func(t *testing.T) {
			full := &fullStore{which: which}
			e := newEnv(t, func(o *Options) { full.Store = o.Store; o.Store = full })
			full.set(true)
			w := e.signUp("ann@example.com", nil)
			wantNotTaken(t, e, w.Result(), w.Body.String(), "ann@example.com")
			if code, body := healthz(e); code != http.StatusServiceUnavailable || body != "store cannot be written\n" {
				t.Errorf("healthz: got %d %q, want 503 store cannot be written", code, body)
			}
			if !strings.Contains(e.logs.String(), "disk is full") || strings.Contains(e.logs.String(), "ann@example.com") {
				t.Errorf("want the error logged without the address:\n%s", e.logs)
			}

			full.set(false)
			if code, body := healthz(e); code != http.StatusOK || body != "ok\n" {
				t.Errorf("healthz once the store takes writes: got %d %q", code, body)
			}
			wantStatus(t, e.signUp("ann@example.com", nil), http.StatusOK, "Check your inbox")
			if n := len(e.conf.all()); n != 1 {
				t.Errorf("got %d confirmations, want 1", n)
			}
		})
	}
	t.Run("healthz alone", func(t *testing.T) {
		// No sign-up has failed: /healthz's own write finds out.
		full := &fullStore{which: "check"}
		e := newEnv(t, func(o *Options) { full.Store = o.Store; o.Store = full })
		if code, _ := healthz(e); code != http.StatusOK {
			t.Fatalf("healthz: got %d, want 200", code)
		}
		e.s.health.mu.Lock()
		e.s.health.ok = time.Time{} // no write vouches for the store any more
		e.s.health.mu.Unlock()
		full.set(true)
		if code, body := healthz(e); code != http.StatusServiceUnavailable || body != "store cannot be written\n" {
			t.Errorf("healthz: got %d %q, want 503 store cannot be written", code, body)
		}
	})
}
