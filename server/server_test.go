package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

const baseURL = "https://news.example.com"

// sent is one confirmation a recordingConfirmer was asked to send.
type sent struct {
	sub     store.Subscriber
	url     string
	expires time.Time
}

type recordingConfirmer struct {
	mu   sync.Mutex
	sent []sent
	fail error
}

func (c *recordingConfirmer) SendConfirmation(_ context.Context, sub store.Subscriber, u string, expires time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.sent = append(c.sent, sent{sub, u, expires})
	return nil
}

func (c *recordingConfirmer) all() []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sent(nil), c.sent...)
}

type env struct {
	t    testing.TB
	s    *Server
	st   store.Store
	conf *recordingConfirmer
	h    http.Handler
	logs *logBuffer
	now  time.Time
	peer string // the requests' RemoteAddr
	path string // the store's file
}

// newEnv is a Server on a real store in a temp folder, with a recording Confirmer and a clock that the
// test moves.
func newEnv(t testing.TB, opts func(*Options)) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, conf: &recordingConfirmer{}, logs: &logBuffer{},
		now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), peer: "203.0.113.9:5555", path: path}
	var mu sync.Mutex
	o := Options{
		Store: st, Confirmer: e.conf, Secret: secret, BaseURL: baseURL,
		SiteTitle: "Example Weblog", SiteURL: "https://blog.example.com",
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Now:    func() time.Time { mu.Lock(); defer mu.Unlock(); return e.now },
	}
	if opts != nil {
		opts(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	e.s, e.h = s, s.Handler()
	return e
}

// logBuffer is the server's log: the worker writes to it while a test reads it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// do sends a request to the handler, as a browser on the server's own origin would unless the header
// says otherwise.
func (e *env) do(method, target string, form url.Values, header map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, baseURL+target, body)
	r.RemoteAddr = e.peer
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *env) sub(email string) store.Subscriber {
	e.t.Helper()
	sub, err := e.st.SubscriberByEmail(e.t.Context(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	return sub
}

// add puts a subscriber in the store directly.
func (e *env) add(email, status string) store.Subscriber {
	e.t.Helper()
	sub, err := e.st.AddSubscriber(e.t.Context(), store.Subscriber{Email: email, Status: status}, e.now.Add(-time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	if status == store.Unsubscribed || status == store.Bounced {
		if err := e.st.UpdateSubscriber(e.t.Context(), sub.ID, e.now, func(s *store.Subscriber) { s.Status = status }); err != nil {
			e.t.Fatal(err)
		}
	}
	return e.sub(email)
}

func (e *env) signUp(email string, extra url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	f := url.Values{"email": {email}}
	for k, v := range extra {
		f[k] = v
	}
	w := e.do("POST", "/subscribe", f, nil)
	e.s.flush()
	return w
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int, contains string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("got status %d, want %d; body:\n%s", w.Code, status, w.Body)
	}
	if !strings.Contains(w.Body.String(), contains) {
		t.Fatalf("the body does not contain %q:\n%s", contains, w.Body)
	}
}

// TestSignUpConfirm is the whole way in: the form, the stored pending subscriber with its consent
// record, the confirmation with an expiring link, the page behind the link (which changes nothing),
// and the POST that confirms.
func TestSignUpConfirm(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do("GET", "/subscribe", nil, nil)
	wantStatus(t, w, http.StatusOK, `name="email"`)
	for _, want := range []string{`<html lang="en">`, `name="viewport"`, `<label for="email">`, `id="subscribe"`, `name="website"`, "Example Weblog"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("the form has no %s", want)
		}
	}
	if n := strings.Count(w.Body.String(), "<h1"); n != 1 {
		t.Errorf("the form has %d h1, want 1", n)
	}

	w = e.signUp("ann@example.com", url.Values{"name": {"Ann\r\nSmith"}, "frequency": {"weekly"}})
	wantStatus(t, w, http.StatusOK, "Check your inbox")
	sub := e.sub("ann@example.com")
	if sub.Status != store.Pending || sub.ConsentSource != store.FromWeb || !sub.ConsentAt.Equal(e.now) ||
		sub.ConsentIP != "203.0.113.9" || sub.Name != "Ann Smith" || sub.Frequency != store.Weekly {
		t.Errorf("stored %+v", sub)
	}
	got := e.conf.all()
	if len(got) != 1 {
		t.Fatalf("got %d confirmations, want 1", len(got))
	}
	if got[0].sub.ID != sub.ID || !strings.HasPrefix(got[0].url, baseURL+"/confirm?token=") ||
		!got[0].expires.Equal(e.now.Add(7*24*time.Hour)) {
		t.Errorf("confirmation %+v", got[0])
	}
	tok := tokenOf(t, got[0].url)

	// Mail scanners follow GET links: the page must change nothing.
	w = e.do("GET", "/confirm?token="+url.QueryEscape(tok), nil, nil)
	wantStatus(t, w, http.StatusOK, `id="confirm"`)
	if !strings.Contains(w.Body.String(), `value="`+tok+`"`) {
		t.Errorf("the confirm form does not carry the token")
	}
	if got := e.sub("ann@example.com"); got.Status != store.Pending {
		t.Fatalf("GET /confirm changed the status to %s", got.Status)
	}
	if strings.Contains(e.logs.String(), tok) || strings.Contains(e.logs.String(), "ann@example.com") {
		t.Errorf("the log holds a token or an address:\n%s", e.logs)
	}

	e.now = e.now.Add(time.Hour)
	w = e.do("POST", "/confirm", url.Values{"token": {tok}}, nil)
	wantStatus(t, w, http.StatusOK, "You are subscribed")
	sub = e.sub("ann@example.com")
	if sub.Status != store.Active || !sub.ConfirmedAt.Equal(e.now) {
		t.Errorf("after confirming: %+v", sub)
	}
	// Again: harmless.
	w = e.do("POST", "/confirm", url.Values{"token": {tok}}, nil)
	wantStatus(t, w, http.StatusOK, "Already confirmed")
	w = e.do("GET", "/confirm?token="+url.QueryEscape(tok), nil, nil)
	wantStatus(t, w, http.StatusOK, "Already confirmed")
	if !strings.Contains(e.logs.String(), "path=/confirm status=200") {
		t.Errorf("no request log line:\n%s", e.logs)
	}
}

// TestConfirmShowsChoices: anyone can type a name and a frequency with anyone's address, so the page
// where the owner confirms says which the emails will use (the name escaped), beside the link to
// change them.
func TestConfirmShowsChoices(t *testing.T) {
	tests := []struct {
		name       string
		form       url.Values
		want, miss []string
	}{
		{"stranger's name", url.Values{"name": {"URGENT: verify at <b>evil.example</b>"}, "frequency": {"weekly"}},
			[]string{"a weekly digest of the new posts", "addressed to \u201cURGENT: verify at &lt;b&gt;evil.example&lt;/b&gt;\u201d", "Not your name?"},
			[]string{"<b>evil"}},
		{"no name", nil, []string{"each new post, as it is published."}, []string{"addressed to"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.signUp("ann@example.com", tt.form)
			w := e.do("POST", "/confirm", url.Values{"token": {tokenOf(t, e.conf.all()[0].url)}}, nil)
			wantStatus(t, w, http.StatusOK, "You are subscribed")
			for _, want := range tt.want {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("the page does not say %q:\n%s", want, w.Body)
				}
			}
			for _, miss := range tt.miss {
				if strings.Contains(w.Body.String(), miss) {
					t.Errorf("the page has %q:\n%s", miss, w.Body)
				}
			}
			if !strings.Contains(w.Body.String(), `id="preferences"`) {
				t.Errorf("no link to change them:\n%s", w.Body)
			}
		})
	}
}

// TestSameResponse: the sign-up page is byte for byte the same for an unknown, a pending, an active, an
// unsubscribed and a bounced address; only the unknown, pending and unsubscribed ones are mailed, and
// nobody's record changes but theirs.
func TestSameResponse(t *testing.T) {
	e := newEnv(t, nil)
	e.add("pending@example.com", store.Pending)
	active := e.add("active@example.com", store.Active)
	e.add("left@example.com", store.Unsubscribed)
	bounced := e.add("bounced@example.com", store.Bounced)
	// The page repeats the address typed, so compare the answers for addresses of the same length with
	// the address taken out.
	var first []byte
	var firstHeader http.Header
	for _, addr := range []string{"nobody@example.com", "pending@example.com", "active@example.com", "left@example.com", "bounced@example.com"} {
		w := e.signUp(addr, nil)
		body := bytes.ReplaceAll(w.Body.Bytes(), []byte(addr), []byte("ADDRESS"))
		if w.Code != http.StatusOK {
			t.Fatalf("%s: got status %d", addr, w.Code)
		}
		h := w.Header().Clone()
		h.Del("Content-Length")
		if first == nil {
			first, firstHeader = body, h
			continue
		}
		if !bytes.Equal(body, first) {
			t.Errorf("%s: the page differs:\n%s\nwant\n%s", addr, body, first)
		}
		if !equalHeaders(h, firstHeader) {
			t.Errorf("%s: the headers differ: %v, want %v", addr, h, firstHeader)
		}
	}
	var mailed []string
	for _, c := range e.conf.all() {
		mailed = append(mailed, c.sub.Email)
	}
	if want := "nobody@example.com pending@example.com left@example.com"; strings.Join(mailed, " ") != want {
		t.Errorf("mailed %v, want %s", mailed, want)
	}
	if got := e.sub("active@example.com"); got != active {
		t.Errorf("the active subscriber changed: %+v, was %+v", got, active)
	}
	if got := e.sub("bounced@example.com"); got != bounced {
		t.Errorf("the bounced subscriber changed: %+v, was %+v", got, bounced)
	}
	for _, addr := range []string{"left@example.com"} {
		if got := e.sub(addr); got.Status != store.Pending || got.ConsentSource != store.FromWeb || !got.ConsentAt.Equal(e.now) || got.ConsentIP != "203.0.113.9" {
			t.Errorf("%s after signing up again: %+v", addr, got)
		}
	}
}

// TestSignUpKnown: a stranger's sign-up of a known address does not change the person's name or
// frequency; the new consent record is written only once its confirmation has gone, and only its link
// confirms.
func TestSignUpKnown(t *testing.T) {
	e := newEnv(t, nil)
	set := func(email string, f func(*store.Subscriber)) store.Subscriber {
		t.Helper()
		sub := e.sub(email)
		if err := e.st.UpdateSubscriber(t.Context(), sub.ID, e.now, f); err != nil {
			t.Fatal(err)
		}
		return e.sub(email)
	}
	e.add("left@example.com", store.Unsubscribed)
	left := set("left@example.com", func(s *store.Subscriber) { s.Name, s.Frequency = "Ann", store.Weekly })
	e.add("pending@example.com", store.Pending)
	pending := set("pending@example.com", func(s *store.Subscriber) { s.Name, s.Frequency = "Bob", store.Daily })
	stranger := url.Values{"name": {"Buy pills at spam.example"}, "frequency": {"immediate"}}

	// The confirmation fails: nothing changes.
	e.now = e.now.Add(time.Minute)
	e.conf.fail = errors.New("smtp down")
	e.signUp("left@example.com", stranger)
	if got := e.sub("left@example.com"); got != left {
		t.Errorf("a sign-up whose confirmation failed changed %+v to %+v", left, got)
	}
	e.conf.fail = nil

	for _, before := range []store.Subscriber{left, pending} {
		oldLink := token.Sign(secret, confirmPurpose(before.ConsentAt), before.ID, time.Time{})
		e.now = e.now.Add(time.Minute)
		wantStatus(t, e.signUp(before.Email, stranger), http.StatusOK, "Check your inbox")
		got := e.sub(before.Email)
		if got.Status != store.Pending || got.Name != before.Name || got.Frequency != before.Frequency ||
			got.ConsentSource != store.FromWeb || !got.ConsentAt.Equal(e.now) || got.ConsentIP != "203.0.113.9" {
			t.Errorf("%s after a stranger's sign-up: %+v, was %+v", before.Email, got, before)
		}
		all := e.conf.all()
		if len(all) == 0 || all[len(all)-1].sub.ID != before.ID {
			t.Fatalf("%s: no confirmation sent", before.Email)
		}
		wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {oldLink}}, nil), http.StatusBadRequest, "does not work")
		fresh := tokenOf(t, all[len(all)-1].url)
		wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {fresh}}, nil), http.StatusOK, "You are subscribed")
	}
}

// TestResendAfter: a web sign-up still pending is sent no new link for a day after the last one (so the
// form cannot fill an inbox), and the answer is the one everyone gets; the link sent keeps working, and
// a day later a new one goes.
func TestResendAfter(t *testing.T) {
	e := newEnv(t, nil)
	first := e.signUp("ann@example.com", nil)
	before := e.sub("ann@example.com")
	link := tokenOf(t, e.conf.all()[0].url)
	for i, after := range []time.Duration{time.Minute, 2 * time.Hour, 23*time.Hour + 59*time.Minute} {
		e.now = before.ConsentAt.Add(after)
		e.peer = "198.51.100." + string(rune('1'+i)) + ":1" // another IP each time
		w := e.signUp("ann@example.com", nil)
		if w.Code != first.Code || !bytes.Equal(w.Body.Bytes(), first.Body.Bytes()) {
			t.Errorf("%s later: the answer differs:\n%s\nwant\n%s", after, w.Body, first.Body)
		}
		if n := len(e.conf.all()); n != 1 {
			t.Fatalf("%s later: got %d confirmations, want 1", after, n)
		}
		if got := e.sub("ann@example.com"); got != before {
			t.Errorf("%s later: the subscriber changed: %+v, was %+v", after, got, before)
		}
		wantStatus(t, e.do("GET", "/confirm?token="+link, nil, nil), http.StatusOK, `id="confirm"`)
	}
	e.now = before.ConsentAt.Add(24 * time.Hour)
	e.signUp("ann@example.com", nil)
	all := e.conf.all()
	if len(all) != 2 {
		t.Fatalf("a day later: got %d confirmations, want 2", len(all))
	}
	if got := e.sub("ann@example.com"); !got.ConsentAt.Equal(e.now) {
		t.Errorf("a day later: consent at %s, want %s", got.ConsentAt, e.now)
	}
	wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {tokenOf(t, all[1].url)}}, nil), http.StatusOK, "You are subscribed")
}

// TestExpirePending: a web sign-up still pending when its link expires is deleted, when the server
// starts and then every hour; the others stay.
func TestExpirePending(t *testing.T) {
	e := newEnv(t, nil)
	add := func(email, source string, at time.Time) {
		t.Helper()
		if _, err := e.st.AddSubscriber(t.Context(), store.Subscriber{Email: email, ConsentSource: source, ConsentAt: at}, at); err != nil {
			t.Fatal(err)
		}
	}
	week := 7 * 24 * time.Hour
	add("old@example.com", store.FromWeb, e.now.Add(-week-time.Minute))
	add("command@example.com", store.FromCommand, e.now.Add(-week-time.Minute))
	add("recent@example.com", store.FromWeb, e.now.Add(-week+time.Hour))
	left := func() string {
		subs, err := e.st.Subscribers(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sub := range subs {
			got = append(got, sub.Email)
		}
		return strings.Join(got, " ")
	}

	// A server starting on the store deletes it at once.
	o := e.s.o
	s2, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for left() != "command@example.com recent@example.com" {
		if time.Now().After(deadline) {
			t.Fatalf("left %s, want the expired sign-up deleted", left())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s2.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Later the other one has expired too.
	e.s.expire(e.now.Add(2 * time.Hour))
	if got := left(); got != "command@example.com" {
		t.Errorf("left %s, want command@example.com", got)
	}
	if strings.Count(e.logs.String(), `msg="expired sign-ups deleted" count=1`) != 2 || strings.Contains(e.logs.String(), "@example.com") {
		t.Errorf("log:\n%s", e.logs)
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\n") != strings.Join(b[k], "\n") {
			return false
		}
	}
	return true
}

// TestSameBytesWithoutEcho: with the same address typed, a known and an unknown address give exactly the
// same bytes (the second server has the address active).
func TestSameBytesWithoutEcho(t *testing.T) {
	e1 := newEnv(t, nil)
	e2 := newEnv(t, nil)
	e2.add("ann@example.com", store.Active)
	w1, w2 := e1.signUp("ann@example.com", nil), e2.signUp("ann@example.com", nil)
	if w1.Code != w2.Code || !bytes.Equal(w1.Body.Bytes(), w2.Body.Bytes()) {
		t.Errorf("unknown: %d\n%s\nactive: %d\n%s", w1.Code, w1.Body, w2.Code, w2.Body)
	}
	if n := len(e2.conf.all()); n != 0 {
		t.Errorf("the active address got %d confirmations, want 0", n)
	}
}

func TestSignUpInvalid(t *testing.T) {
	tests := []struct {
		name string
		form url.Values
	}{
		{"empty", url.Values{"email": {""}}},
		{"no at", url.Values{"email": {"ann.example.com"}}},
		{"display name", url.Values{"email": {"Ann <ann@example.com>"}}},
		{"two", url.Values{"email": {"ann@example.com, bob@example.com"}}},
		{"header injection", url.Values{"email": {"ann@example.com\r\nBcc: x@example.com"}}},
		{"too long", url.Values{"email": {strings.Repeat("a", 250) + "@example.com"}}},
		// What herald subscribers import refuses, the form refuses too.
		{"dotless domain", url.Values{"email": {"root@localhost"}}},
		{"domain literal", url.Values{"email": {"x@[10.0.0.1]"}}},
		{"line separator", url.Values{"email": {"ann\u2028x@example.com"}}},
		{"zero-width space", url.Values{"email": {"ann\u200b@example.com"}}},
		{"no-break space", url.Values{"email": {"ann\u00a0x@example.com"}}},
		{"bad frequency", url.Values{"email": {"ann@example.com"}, "frequency": {"hourly"}}},
	}
	e := newEnv(t, func(o *Options) { o.IPLimit = Limit{N: 100, Window: time.Hour} })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do("POST", "/subscribe", tt.form, nil)
			e.s.flush()
			wantStatus(t, w, http.StatusUnprocessableEntity, `role="alert"`)
			if tt.name != "bad frequency" && !strings.Contains(w.Body.String(), "That is not an email address") {
				t.Errorf("the error page does not say the address is wrong:\n%s", w.Body)
			}
			if !strings.Contains(w.Body.String(), `id="email"`) {
				t.Errorf("the error page does not show the form again")
			}
		})
	}
	if subs, _ := e.st.Subscribers(t.Context(), ""); len(subs) != 0 || len(e.conf.all()) != 0 {
		t.Errorf("stored %d subscribers and sent %d confirmations, want none", len(subs), len(e.conf.all()))
	}
}

// TestHoneypot: a bot that fills in the hidden field gets the page everyone gets, and nothing happens.
func TestHoneypot(t *testing.T) {
	e := newEnv(t, nil)
	want := e.signUp("bob@example.com", nil)
	e2 := newEnv(t, nil)
	w := e2.signUp("bob@example.com", url.Values{"website": {"http://spam.example"}})
	if w.Code != want.Code || !bytes.Equal(w.Body.Bytes(), want.Body.Bytes()) {
		t.Errorf("the honeypot's answer differs from a real sign-up's:\n%s\nwant\n%s", w.Body, want.Body)
	}
	if subs, _ := e2.st.Subscribers(t.Context(), ""); len(subs) != 0 {
		t.Errorf("the honeypot stored %d subscribers", len(subs))
	}
	if n := len(e2.conf.all()); n != 0 {
		t.Errorf("the honeypot sent %d confirmations", n)
	}
}

func TestRateLimit(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.AddressLimit = Limit{N: 2, Window: time.Hour} })
		for range 2 {
			wantStatus(t, e.signUp("ann@example.com", nil), http.StatusOK, "Check your inbox")
		}
		w := e.signUp("ANN@Example.com", nil) // the same address to the limit
		wantStatus(t, w, http.StatusTooManyRequests, "Too many")
		if w.Header().Get("Retry-After") == "" {
			t.Errorf("no Retry-After")
		}
		if n := len(e.conf.all()); n != 1 { // the second found ann pending, sent a link a moment ago
			t.Errorf("got %d confirmations, want 1", n)
		}
		wantStatus(t, e.signUp("bob@example.com", nil), http.StatusOK, "Check your inbox")
		e.now = e.now.Add(time.Hour)
		wantStatus(t, e.signUp("ann@example.com", nil), http.StatusOK, "Check your inbox")
	})
	t.Run("per address a day, Gmail dots ignored", func(t *testing.T) {
		// Each variant is a subscriber of its own, so only the limits keep one inbox from being filled.
		e := newEnv(t, nil)
		variants := []string{"victim", "v.ictim", "vi.ctim", "vic.tim", "vict.im", "victi.m", "v.i.ctim", "v.ic.tim", "victim+1", "Vic.Tim+2"}
		for i, v := range variants {
			e.peer = "198.51.100." + string(rune('1'+i%3)) + ":1" // a few IPs
			wantStatus(t, e.signUp(v+"@gmail.com", nil), http.StatusOK, "Check your inbox")
			wantStatus(t, e.signUp(v+"@googlemail.com", nil), http.StatusOK, "Check your inbox")
			e.now = e.now.Add(2 * time.Hour) // past the hourly limit every time
		}
		if n := len(e.conf.all()); n != e.s.limits.addressDay.N {
			t.Errorf("one Gmail inbox got %d confirmations in %s, want %d", n, 2*time.Duration(len(variants))*time.Hour, e.s.limits.addressDay.N)
		}
		// The address is stored as typed: the key is only the limits'.
		if got := e.sub("v.ictim@gmail.com"); got.Email != "v.ictim@gmail.com" {
			t.Errorf("stored %q, want v.ictim@gmail.com", got.Email)
		}
	})
	t.Run("per IP", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.IPLimit = Limit{N: 3, Window: time.Hour} })
		for i := range 3 {
			wantStatus(t, e.signUp("user"+string(rune('a'+i))+"@example.com", nil), http.StatusOK, "Check your inbox")
		}
		wantStatus(t, e.signUp("userz@example.com", nil), http.StatusTooManyRequests, "Too many")
		if _, err := e.st.SubscriberByEmail(t.Context(), "userz@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a limited sign-up was stored: %v", err)
		}
	})
	t.Run("per address, +tags ignored", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.AddressLimit = Limit{N: 2, Window: time.Hour} })
		wantStatus(t, e.signUp("ann+1@example.com", nil), http.StatusOK, "Check your inbox")
		wantStatus(t, e.signUp("Ann+2@EXAMPLE.com", nil), http.StatusOK, "Check your inbox")
		wantStatus(t, e.signUp("ann+3@example.com", nil), http.StatusTooManyRequests, "Too many")
		wantStatus(t, e.signUp("ann@example.com", nil), http.StatusTooManyRequests, "Too many")
		if n := len(e.conf.all()); n != 2 {
			t.Errorf("got %d confirmations, want 2", n)
		}
	})
	t.Run("per IPv6 /48", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.IPLimit = Limit{N: 1, Window: time.Hour} })
		e.s.limits.net = Limit{N: 3, Window: time.Hour}
		for i, peer := range []string{"[2001:db8:1:1::1]:1", "[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1"} {
			e.peer = peer
			wantStatus(t, e.signUp("user"+string(rune('a'+i))+"@example.com", nil), http.StatusOK, "Check your inbox")
		}
		e.peer = "[2001:db8:1:4::1]:1" // a /64 of its own, in the same /48
		wantStatus(t, e.signUp("userz@example.com", nil), http.StatusTooManyRequests, "Too many")
		e.peer = "[2001:db8:2:1::1]:1"
		wantStatus(t, e.signUp("usery@example.com", nil), http.StatusOK, "Check your inbox")
	})
	t.Run("all sign-ups", func(t *testing.T) {
		e := newEnv(t, nil)
		if want := (Limit{N: 200, Window: time.Hour}); e.s.limits.all != want {
			t.Fatalf("the global limit is %+v, want %+v", e.s.limits.all, want)
		}
		e.s.limits.all = Limit{N: 3, Window: time.Hour}
		for i := range 3 {
			e.peer = "198.51.100." + string(rune('1'+i)) + ":1"
			wantStatus(t, e.signUp("user"+string(rune('a'+i))+"@example.com", nil), http.StatusOK, "Check your inbox")
		}
		e.peer = "192.0.2.1:1" // another IP, another address: still too many
		wantStatus(t, e.signUp("userz@example.com", nil), http.StatusTooManyRequests, "Too many")
		if n := len(e.conf.all()); n != 3 {
			t.Errorf("got %d confirmations, want 3", n)
		}
	})
	t.Run("forwarded for, from an untrusted peer", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.IPLimit = Limit{N: 1, Window: time.Hour} })
		h := map[string]string{"X-Forwarded-For": "198.51.100.1"}
		wantStatus(t, e.do("POST", "/subscribe", url.Values{"email": {"a@example.com"}}, h), http.StatusOK, "inbox")
		h["X-Forwarded-For"] = "198.51.100.2"
		wantStatus(t, e.do("POST", "/subscribe", url.Values{"email": {"b@example.com"}}, h), http.StatusTooManyRequests, "Too many")
	})
}

func TestAddressKey(t *testing.T) {
	tests := []struct{ name, addr, want string }{
		{"plain", "ann@example.com", "ann@example.com"},
		{"case", "Ann@Example.COM", "ann@example.com"},
		{"tag", "ann+news@example.com", "ann@example.com"},
		{"two pluses", "ann+a+b@example.com", "ann@example.com"},
		{"plus in the domain is not a tag", "ann@ex+ample.com", "ann@ex+ample.com"},
		{"dots count elsewhere", "ann.lee@example.com", "ann.lee@example.com"},
		{"Gmail ignores dots", "Ann.Lee+news@Gmail.com", "annlee@gmail.com"},
		{"googlemail is gmail", "a.n.n@googlemail.com", "ann@gmail.com"},
		{"dots after the tag go with it", "ann+a.b@gmail.com", "ann@gmail.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := addressKey(tt.addr); got != tt.want {
				t.Errorf("addressKey(%q) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
}

func TestIPKey(t *testing.T) {
	tests := []struct {
		name, ip string
		bits     int
		want     string
	}{
		{"IPv4 is itself", "203.0.113.9", 64, "203.0.113.9"},
		{"IPv4 is itself at /48 too", "203.0.113.9", 48, "203.0.113.9"},
		{"IPv6 /64", "2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"IPv6 /48", "2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ipKey(netip.MustParseAddr(tt.ip), tt.bits); got != tt.want {
				t.Errorf("ipKey(%s, %d) = %s, want %s", tt.ip, tt.bits, got, tt.want)
			}
		})
	}
	// The hosts of a /64 share a key; the /64s of a /48 share the /48's.
	a, b, c := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9"), netip.MustParseAddr("2001:db8:1:3::1")
	if ipKey(a, 64) != ipKey(b, 64) || ipKey(a, 64) == ipKey(c, 64) || ipKey(a, 48) != ipKey(c, 48) {
		t.Errorf("the /64 and /48 grouping is wrong: %s %s %s, %s %s", ipKey(a, 64), ipKey(b, 64), ipKey(c, 64), ipKey(a, 48), ipKey(c, 48))
	}
}

func TestClientIP(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, remote, xff, real, want string
	}{
		{"direct", "203.0.113.9:1", "", "", "203.0.113.9"},
		{"direct, forged header", "203.0.113.9:1", "198.51.100.1", "198.51.100.2", "203.0.113.9"},
		{"proxy on loopback", "127.0.0.1:1", "198.51.100.1", "", "198.51.100.1"},
		{"proxy, client forged a hop", "127.0.0.1:1", "10.9.9.9, 198.51.100.1", "", "198.51.100.1"},
		{"proxy chain on loopback", "[::1]:1", "198.51.100.1, 127.0.0.1", "", "198.51.100.1"},
		{"proxy, X-Real-IP is not believed", "127.0.0.1:1", "", "198.51.100.7", "127.0.0.1"},
		{"proxy, X-Real-IP beside X-Forwarded-For", "127.0.0.1:1", "198.51.100.66, 198.51.100.1", "198.51.100.7", "198.51.100.1"},
		{"proxy, no header", "127.0.0.1:1", "", "", "127.0.0.1"},
		{"proxy, garbage", "127.0.0.1:1", "nonsense", "", "127.0.0.1"},
		{"v4 in v6", "[::ffff:203.0.113.9]:1", "", "", "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.real != "" {
				r.Header.Set("X-Real-IP", tt.real)
			}
			if got := e.s.clientIP(r).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestConfirmTokens: every bad confirm token gets a clear page and changes nothing.
func TestConfirmTokens(t *testing.T) {
	e := newEnv(t, nil)
	e.signUp("ann@example.com", nil)
	sub := e.sub("ann@example.com")
	good := tokenOf(t, e.conf.all()[0].url)
	flip := []byte(good)
	flip[len(flip)/2] ^= 1
	purpose := confirmPurpose(sub.ConsentAt)
	tests := []struct {
		name, tok string
		now       time.Time
		want      string
	}{
		{"forged with another secret", token.Sign([]byte("another-secret-0123456789"), purpose, sub.ID, e.now.Add(time.Hour)), e.now, "does not work"},
		{"tampered", string(flip), e.now, "does not work"},
		{"expired", good, e.now.Add(8 * 24 * time.Hour), "expired"},
		{"unsubscribe token", token.Sign(secret, "unsubscribe", sub.ID, time.Time{}), e.now, "does not work"},
		{"other consent time", token.Sign(secret, confirmPurpose(sub.ConsentAt.Add(-time.Second)), sub.ID, time.Time{}), e.now, "does not work"},
		{"unknown subscriber", token.Sign(secret, purpose, sub.ID+100, time.Time{}), e.now, "does not work"},
		{"empty", "", e.now, "does not work"},
		{"garbage", "%%%", e.now, "does not work"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.now = tt.now
			wantStatus(t, e.do("GET", "/confirm?token="+url.QueryEscape(tt.tok), nil, nil), http.StatusBadRequest, tt.want)
			wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {tt.tok}}, nil), http.StatusBadRequest, tt.want)
			if got := e.sub("ann@example.com"); got != sub {
				t.Errorf("the subscriber changed: %+v", got)
			}
		})
	}
}

// TestConfirmReplay: a confirm link from before an unsubscribe never brings the subscriber back, even
// after they sign up again (which sends a new link).
func TestConfirmReplay(t *testing.T) {
	e := newEnv(t, nil)
	e.signUp("ann@example.com", nil)
	old := tokenOf(t, e.conf.all()[0].url)
	wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {old}}, nil), http.StatusOK, "You are subscribed")
	sub := e.sub("ann@example.com")
	unsub := token.Sign(secret, "unsubscribe", sub.ID, time.Time{})
	e.now = e.now.Add(time.Minute)
	wantStatus(t, e.do("POST", "/unsubscribe?token="+unsub, url.Values{}, nil), http.StatusOK, "You are unsubscribed")

	// Unsubscribed: the old link does not confirm.
	wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {old}}, nil), http.StatusBadRequest, "no longer works")
	if got := e.sub("ann@example.com"); got.Status != store.Unsubscribed {
		t.Fatalf("the old link made them %s", got.Status)
	}
	// Signed up again: pending, and only the new link confirms.
	e.now = e.now.Add(time.Minute)
	e.signUp("ann@example.com", nil)
	wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {old}}, nil), http.StatusBadRequest, "does not work")
	if got := e.sub("ann@example.com"); got.Status != store.Pending {
		t.Fatalf("the old link made them %s", got.Status)
	}
	all := e.conf.all()
	fresh := tokenOf(t, all[len(all)-1].url)
	wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {fresh}}, nil), http.StatusOK, "You are subscribed")
	if got := e.sub("ann@example.com"); got.Status != store.Active {
		t.Fatalf("the new link made them %s", got.Status)
	}
}

func TestUnsubscribe(t *testing.T) {
	e := newEnv(t, nil)
	sub := e.add("ann@example.com", store.Active)
	tok := token.Sign(secret, "unsubscribe", sub.ID, time.Time{})

	w := e.do("GET", "/unsubscribe?token="+tok, nil, nil)
	wantStatus(t, w, http.StatusOK, `id="unsubscribe"`)
	if !strings.Contains(w.Body.String(), `name="token" value="`+tok+`"`) {
		t.Errorf("the form does not carry the token:\n%s", w.Body)
	}
	if got := e.sub("ann@example.com"); got.Status != store.Active {
		t.Fatalf("GET /unsubscribe made them %s", got.Status)
	}
	// The page's form posts the token in the body.
	w = e.do("POST", "/unsubscribe", url.Values{"token": {tok}}, map[string]string{"Origin": baseURL, "Sec-Fetch-Site": "same-origin"})
	wantStatus(t, w, http.StatusOK, "You are unsubscribed")
	if !strings.Contains(w.Body.String(), `href="/subscribe"`) {
		t.Errorf("no link to subscribe again:\n%s", w.Body)
	}
	got := e.sub("ann@example.com")
	if got.Status != store.Unsubscribed || !got.UnsubscribedAt.Equal(e.now) {
		t.Errorf("after unsubscribing: %+v", got)
	}
	// Idempotent.
	e.now = e.now.Add(time.Hour)
	wantStatus(t, e.do("POST", "/unsubscribe", url.Values{"token": {tok}}, nil), http.StatusOK, "You are unsubscribed")
	if again := e.sub("ann@example.com"); again != got {
		t.Errorf("a second unsubscribe changed %+v to %+v", got, again)
	}
	wantStatus(t, e.do("GET", "/unsubscribe?token="+tok, nil, nil), http.StatusOK, "You are unsubscribed")

	for _, bad := range []string{"", "x", token.Sign(secret, "preferences", sub.ID, time.Time{}), token.Sign(secret, "unsubscribe", sub.ID+9, time.Time{})} {
		wantStatus(t, e.do("GET", "/unsubscribe?token="+bad, nil, nil), http.StatusBadRequest, "does not work")
		wantStatus(t, e.do("POST", "/unsubscribe", url.Values{"token": {bad}}, nil), http.StatusBadRequest, "does not work")
	}
}

// TestOneClick: RFC 8058 as a mail provider sends it: a POST to the List-Unsubscribe URL, no cookies,
// no Origin, no Sec-Fetch-Site, urlencoded or multipart, long after the message went out.
func TestOneClick(t *testing.T) {
	e := newEnv(t, nil)
	ann := e.add("ann@example.com", store.Active)
	bob := e.add("bob@example.com", store.Active)
	e.now = e.now.Add(90 * 24 * time.Hour) // links in mail work for months

	w := e.do("POST", "/unsubscribe?token="+token.Sign(secret, "unsubscribe", ann.ID, time.Time{}),
		url.Values{"List-Unsubscribe": {"One-Click"}}, nil)
	if w.Code != http.StatusOK || w.Body.String() != "unsubscribed\n" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("got %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if got := e.sub("ann@example.com"); got.Status != store.Unsubscribed {
		t.Errorf("ann is %s", got.Status)
	}
	// Mail providers may post again: the same answer, and the log says once that she left.
	w = e.do("POST", "/unsubscribe?token="+token.Sign(secret, "unsubscribe", ann.ID, time.Time{}),
		url.Values{"List-Unsubscribe": {"One-Click"}}, nil)
	if w.Code != http.StatusOK || w.Body.String() != "unsubscribed\n" {
		t.Errorf("again: got %d %q", w.Code, w.Body)
	}
	if n := strings.Count(e.logs.String(), "subscriber unsubscribed"); n != 1 {
		t.Errorf("the log says %d times that ann unsubscribed, want once:\n%s", n, e.logs)
	}

	var body bytes.Buffer
	body.WriteString("--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b--\r\n")
	r := httptest.NewRequest("POST", baseURL+"/unsubscribe?token="+token.Sign(secret, "unsubscribe", bob.ID, time.Time{}), &body)
	r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || rec.Body.String() != "unsubscribed\n" {
		t.Errorf("multipart: got %d %q", rec.Code, rec.Body)
	}
	if got := e.sub("bob@example.com"); got.Status != store.Unsubscribed {
		t.Errorf("bob is %s", got.Status)
	}

	w = e.do("POST", "/unsubscribe?token=forged", url.Values{"List-Unsubscribe": {"One-Click"}}, nil)
	if w.Code != http.StatusBadRequest {
		t.Errorf("a forged one-click: got %d", w.Code)
	}
}

// TestCrossOrigin: a browser POST from another site is refused and changes nothing; the sign-up form
// takes posts from the blog's own pages.
func TestCrossOrigin(t *testing.T) {
	e := newEnv(t, nil)
	sub := e.add("ann@example.com", store.Active)
	tok := token.Sign(secret, "unsubscribe", sub.ID, time.Time{})
	evil := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	wantStatus(t, e.do("POST", "/unsubscribe?token="+tok, url.Values{"token": {tok}}, evil), http.StatusForbidden, "another web site")
	oldBrowser := map[string]string{"Origin": "https://evil.example"}
	wantStatus(t, e.do("POST", "/unsubscribe?token="+tok, url.Values{"token": {tok}}, oldBrowser), http.StatusForbidden, "another web site")
	if got := e.sub("ann@example.com"); got.Status != store.Active {
		t.Fatalf("a cross-origin POST made them %s", got.Status)
	}
	wantStatus(t, e.do("POST", "/subscribe", url.Values{"email": {"x@example.com"}}, evil), http.StatusForbidden, "another web site")

	blog := map[string]string{"Origin": "https://blog.example.com", "Sec-Fetch-Site": "cross-site"}
	wantStatus(t, e.do("POST", "/subscribe", url.Values{"email": {"bob@example.com"}}, blog), http.StatusOK, "Check your inbox")
	// The blog's origin is trusted for the sign-up form only.
	wantStatus(t, e.do("POST", "/unsubscribe?token="+tok, url.Values{"token": {tok}}, blog), http.StatusForbidden, "another web site")
	// Behind a proxy, Host is not the public name, but Origin is base_url's.
	r := httptest.NewRequest("POST", "http://127.0.0.1:8080/unsubscribe?token="+tok, strings.NewReader(""))
	r.Header.Set("Origin", baseURL)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	wantStatus(t, rec, http.StatusOK, "You are unsubscribed")
}

// TestOneClickCrossOrigin: a one-click unsubscribe that a webmail sends from the reader's browser, with
// its own Origin, is taken (the token in the URL authorises it); a cross-site POST of the unsubscribe
// page's form, or a "one-click" whose token is not in the URL, is still refused.
func TestOneClickCrossOrigin(t *testing.T) {
	e := newEnv(t, nil)
	ann := e.add("ann@example.com", store.Active)
	bob := e.add("bob@example.com", store.Active)
	webmail := map[string]string{"Origin": "https://mail.example.org", "Sec-Fetch-Site": "cross-site"}
	oneClick := url.Values{"List-Unsubscribe": {"One-Click"}}

	bobTok := token.Sign(secret, "unsubscribe", bob.ID, time.Time{})
	wantStatus(t, e.do("POST", "/unsubscribe", url.Values{"token": {bobTok}}, webmail), http.StatusForbidden, "another web site")
	wantStatus(t, e.do("POST", "/unsubscribe", url.Values{"token": {bobTok}, "List-Unsubscribe": {"One-Click"}}, webmail),
		http.StatusForbidden, "another web site")
	if got := e.sub("bob@example.com"); got.Status != store.Active {
		t.Fatalf("a cross-site POST without the token in the URL made bob %s", got.Status)
	}

	w := e.do("POST", "/unsubscribe?token="+token.Sign(secret, "unsubscribe", ann.ID, time.Time{}), oneClick, webmail)
	if w.Code != http.StatusOK || w.Body.String() != "unsubscribed\n" {
		t.Errorf("one-click from a webmail: got %d %q, want 200 \"unsubscribed\\n\"", w.Code, w.Body)
	}
	if got := e.sub("ann@example.com"); got.Status != store.Unsubscribed {
		t.Errorf("after one-click from a webmail, ann is %s, want unsubscribed", got.Status)
	}
	// The token still decides: a forged one changes nothing.
	w = e.do("POST", "/unsubscribe?token=forged", oneClick, webmail)
	if w.Code != http.StatusBadRequest {
		t.Errorf("a forged one-click from a webmail: got %d, want 400", w.Code)
	}
}

func TestPreferences(t *testing.T) {
	e := newEnv(t, nil)
	sub := e.add("ann@example.com", store.Active)
	tok := token.Sign(secret, "preferences", sub.ID, time.Time{})

	w := e.do("GET", "/preferences?token="+tok, nil, nil)
	wantStatus(t, w, http.StatusOK, `id="save"`)
	for _, want := range []string{`<option value="immediate" selected>`, `id="name"`, `id="unsubscribe"`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("the page has no %s", want)
		}
	}
	w = e.do("POST", "/preferences", url.Values{"token": {tok}, "frequency": {"weekly"}, "name": {" Ann  Smith "}, "action": {"save"}}, nil)
	wantStatus(t, w, http.StatusOK, "you will get a weekly digest of the new posts.")
	if got := e.sub("ann@example.com"); got.Frequency != store.Weekly || got.Name != "Ann Smith" || got.Status != store.Active {
		t.Errorf("after saving: %+v", got)
	}
	wantStatus(t, e.do("GET", "/preferences?token="+tok, nil, nil), http.StatusOK, `<option value="weekly" selected>`)

	before := e.sub("ann@example.com")
	wantStatus(t, e.do("POST", "/preferences", url.Values{"token": {tok}, "frequency": {"hourly"}}, nil), http.StatusUnprocessableEntity, "Choose how often")
	wantStatus(t, e.do("POST", "/preferences", url.Values{"token": {"bad"}, "frequency": {"daily"}}, nil), http.StatusBadRequest, "does not work")
	unsubTok := token.Sign(secret, "unsubscribe", sub.ID, time.Time{})
	wantStatus(t, e.do("POST", "/preferences", url.Values{"token": {unsubTok}, "frequency": {"daily"}}, nil), http.StatusBadRequest, "does not work")
	if got := e.sub("ann@example.com"); got != before {
		t.Errorf("a refused change changed %+v to %+v", before, got)
	}

	w = e.do("POST", "/preferences", url.Values{"token": {tok}, "frequency": {"weekly"}, "action": {"unsubscribe"}}, nil)
	wantStatus(t, w, http.StatusOK, "You are unsubscribed")
	if got := e.sub("ann@example.com"); got.Status != store.Unsubscribed {
		t.Errorf("after unsubscribing from the preferences: %s", got.Status)
	}
	wantStatus(t, e.do("GET", "/preferences?token="+tok, nil, nil), http.StatusOK, "You are unsubscribed: you get no emails")
}

func TestHealthz(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do("GET", "/healthz", nil, nil)
	if w.Code != http.StatusOK || w.Body.String() != "ok\n" {
		t.Errorf("got %d %q", w.Code, w.Body)
	}
	e.st.Close()
	if w := e.do("GET", "/healthz", nil, nil); w.Code != http.StatusServiceUnavailable {
		t.Errorf("with the store closed: got %d", w.Code)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	wantStatus(t, e.do("GET", "/nothing", nil, nil), http.StatusNotFound, "Page not found")
	if w := e.do("DELETE", "/subscribe", nil, nil); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /subscribe: got %d", w.Code)
	}
	if w := e.do("GET", "/", nil, nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/subscribe" {
		t.Errorf("GET /: got %d %s", w.Code, w.Header().Get("Location"))
	}
}

func TestFormTooLarge(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do("POST", "/subscribe", url.Values{"email": {"a@example.com"}, "name": {strings.Repeat("x", 2*maxForm)}}, nil)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("got %d, want 413", w.Code)
	}
}

// TestBasePath: with base_url under a path, the routes and the forms' actions live there.
func TestBasePath(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.BaseURL = "https://example.com/news/" })
	r := httptest.NewRequest("GET", "https://example.com/news/subscribe", nil)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	wantStatus(t, w, http.StatusOK, `action="/news/subscribe"`)
	e.signUp("ann@example.com", nil) // posts to /subscribe: not a route here
	if n := len(e.conf.all()); n != 0 {
		t.Errorf("a POST outside the base path was taken")
	}
}

// TestNewRefuses: New refuses what Check refuses, with an error that says which setting is wrong.
func TestNewRefuses(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, base, secret string
		want               error
	}{
		{"no base URL", "", string(secret), ErrBaseURL},
		{"no scheme", "news.example.com", string(secret), ErrBaseURL},
		{"a query", "https://news.example.com/?x=1", string(secret), ErrBaseURL},
		{"short secret", baseURL, "short", ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.base, []byte(tt.secret)); !errors.Is(err, tt.want) {
				t.Errorf("Check: got %v, want %v", err, tt.want)
			}
			_, err := New(Options{Store: e.st, Confirmer: e.conf, BaseURL: tt.base, Secret: []byte(tt.secret)})
			if !errors.Is(err, tt.want) {
				t.Errorf("New: got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSiteDefaults: without a site title or URL the pages say "Newsletter" and link to base_url.
func TestSiteDefaults(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SiteTitle, o.SiteURL = "", "" })
	w := e.do("GET", "/subscribe", nil, nil)
	wantStatus(t, w, http.StatusOK, "Subscribe to Newsletter")
	if !strings.Contains(w.Body.String(), `href="`+baseURL+`"`) {
		t.Errorf("the page does not link to base_url:\n%s", w.Body)
	}
}

// TestTemplateOverride: a site's pages/NAME.html replaces the default.
func TestTemplateOverride(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Templates = fstest.MapFS{"pages/subscribe.html": {Data: []byte(`{{define "content"}}<p>Our own form</p>{{end}}`)}}
	})
	wantStatus(t, e.do("GET", "/subscribe", nil, nil), http.StatusOK, "Our own form")
	if _, err := New(Options{Store: e.st, Confirmer: e.conf, Secret: secret, BaseURL: baseURL,
		Templates: fstest.MapFS{"pages/layout.html": {Data: []byte("{{")}}}); err == nil {
		t.Errorf("a broken template was accepted")
	}
}

// TestChoicesOverride: a site's pages/choices.html gives the sign-up and preferences pages their shared
// fields, each page its own frame around them.
func TestChoicesOverride(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Templates = fstest.MapFS{"pages/choices.html": {Data: []byte(`{{define "choices"}}<p id="ours">Our fields for {{.Email}}</p>{{end}}`)}}
	})
	sub := e.add("ann@example.com", store.Active)
	tok := token.Sign(secret, "preferences", sub.ID, time.Time{})
	for _, tt := range []struct{ name, target, want, frame string }{
		{"subscribe", "/subscribe", `<p id="ours">Our fields for </p>`, `id="subscribe"`},
		{"preferences", "/preferences?token=" + tok, `<p id="ours">Our fields for ann@example.com</p>`, `id="save"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do("GET", tt.target, nil, nil)
			wantStatus(t, w, http.StatusOK, tt.want)
			if body := w.Body.String(); !strings.Contains(body, tt.frame) || strings.Contains(body, `id="frequency"`) {
				t.Errorf("want the page's own %s around the site's fields only, got:\n%s", tt.frame, body)
			}
		})
	}
}

// TestConfirmerFails: a failed confirmation is logged (without the address) and the page is the same.
func TestConfirmerFails(t *testing.T) {
	e := newEnv(t, nil)
	e.conf.fail = errors.New("smtp down")
	wantStatus(t, e.signUp("ann@example.com", nil), http.StatusOK, "Check your inbox")
	if !strings.Contains(e.logs.String(), "smtp down") || strings.Contains(e.logs.String(), "ann@example.com") {
		t.Errorf("log:\n%s", e.logs)
	}
}

// TestConfirmerFailsNewAddress: a new address whose link surely did not go is not kept, so the person's
// next try sends one at once rather than a day later (TestResendAfter); one whose link may have gone is
// kept, so that the link works; someone already known is kept.
func TestConfirmerFailsNewAddress(t *testing.T) {
	e := newEnv(t, nil)
	known := e.add("known@example.com", store.Pending)
	e.conf.fail = fmt.Errorf("%w: 421 try later", ErrNotSent)
	for _, addr := range []string{"ann@example.com", "known@example.com"} {
		wantStatus(t, e.signUp(addr, nil), http.StatusOK, "Check your inbox")
	}
	e.conf.fail = errors.New("the connection died after the message")
	wantStatus(t, e.signUp("bob@example.com", nil), http.StatusOK, "Check your inbox")
	if _, err := e.st.SubscriberByEmail(t.Context(), "ann@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the address whose link never went is still there: %v", err)
	}
	if got := e.sub("known@example.com"); got != known {
		t.Errorf("a known subscriber changed from %+v to %+v", known, got)
	}
	if got := e.sub("bob@example.com"); got.Status != store.Pending {
		t.Errorf("the address whose link may have gone: got %+v, want it pending", got)
	}

	e.conf.fail = nil
	e.now = e.now.Add(time.Minute)
	wantStatus(t, e.signUp("ann@example.com", nil), http.StatusOK, "Check your inbox")
	all := e.conf.all()
	if len(all) != 1 || all[0].sub.Email != "ann@example.com" {
		t.Fatalf("a minute later: %d confirmations sent, want 1 to ann@example.com", len(all))
	}
	wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {tokenOf(t, all[0].url)}}, nil), http.StatusOK, "You are subscribed")
}

// TestLogHoldsNoAddress: when the store is broken or the mail server's reply quotes the address (in
// another case), the error logged holds no address, and the page is the one everyone gets.
func TestLogHoldsNoAddress(t *testing.T) {
	const addr = "Ann.Lee@Example.com"
	t.Run("closed store", func(t *testing.T) {
		e := newEnv(t, nil)
		e.st.Close()
		wantStatus(t, e.signUp(addr, nil), http.StatusServiceUnavailable, "Try again")
		logs := e.logs.String()
		if !strings.Contains(logs, "level=ERROR") || strings.Contains(strings.ToLower(logs), strings.ToLower(addr)) {
			t.Errorf("want an error logged without the address:\n%s", logs)
		}
	})
	t.Run("reply quotes the address", func(t *testing.T) {
		e := newEnv(t, nil)
		e.conf.fail = errors.New("RCPT TO: 550 5.1.1 <ANN.LEE@EXAMPLE.COM>: no such user")
		wantStatus(t, e.signUp(addr, nil), http.StatusOK, "Check your inbox")
		logs := e.logs.String()
		if !strings.Contains(logs, "no such user") || strings.Contains(strings.ToLower(logs), strings.ToLower(addr)) {
			t.Errorf("want the reply logged without the address:\n%s", logs)
		}
	})
}

// busyStore is the real store whose AddSubscriber fails the first fails times, as when herald send
// holds the store for longer than the busy timeout.
type busyStore struct {
	Store
	mu    sync.Mutex
	fails int
}

func (b *busyStore) AddSubscriber(ctx context.Context, sub store.Subscriber, now time.Time) (store.Subscriber, error) {
	b.mu.Lock()
	fail := b.fails > 0
	b.fails--
	b.mu.Unlock()
	if fail {
		return store.Subscriber{}, errors.New("store: database is locked")
	}
	return b.Store.AddSubscriber(ctx, sub, now)
}

// TestStoreBusy: a sign-up whose store write fails is tried again once; if that fails too, the error
// is logged without the address.
func TestStoreBusy(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fails int
		sent  int
	}{{"once", 1, 1}, {"twice", 2, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			busy := &busyStore{fails: tt.fails}
			e := newEnv(t, func(o *Options) { busy.Store = o.Store; o.Store = busy })
			e.s.retryWait = time.Millisecond
			wantStatus(t, e.signUp("Ann@example.com", nil), http.StatusOK, "Check your inbox")
			if n := len(e.conf.all()); n != tt.sent {
				t.Errorf("got %d confirmations, want %d", n, tt.sent)
			}
			logs := e.logs.String()
			if failed := strings.Contains(logs, "database is locked"); failed != (tt.sent == 0) || strings.Contains(strings.ToLower(logs), "ann@example.com") {
				t.Errorf("log:\n%s", logs)
			}
		})
	}
}

// TestCloseDrains: sign-ups queued before Close are all handled; after Close, none is taken.
func TestCloseDrains(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.IPLimit = Limit{N: 100, Window: time.Hour} })
	for i := range 20 {
		e.do("POST", "/subscribe", url.Values{"email": {"u" + strings.Repeat("x", i) + "@example.com"}}, nil)
	}
	if err := e.s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.conf.all()); n != 20 {
		t.Errorf("got %d confirmations after Close, want 20", n)
	}
	wantStatus(t, e.do("POST", "/subscribe", url.Values{"email": {"late@example.com"}}, nil), http.StatusServiceUnavailable, "Try again")
}

// slowConfirmer takes a while over each confirmation, like a slow SMTP server.
type slowConfirmer struct {
	recordingConfirmer
	delay time.Duration
}

func (c *slowConfirmer) SendConfirmation(ctx context.Context, sub store.Subscriber, u string, expires time.Time) error {
	select {
	case <-time.After(c.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.recordingConfirmer.SendConfirmation(ctx, sub, u, expires)
}

// TestServeShutdown: Serve answers on a real listener; when its context ends it stops taking
// connections and returns only after the queued confirmations went out.
func TestServeShutdown(t *testing.T) {
	slow := &slowConfirmer{delay: 200 * time.Millisecond}
	e := newEnv(t, func(o *Options) { o.Confirmer = slow })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	for _, addr := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		resp, err := http.PostForm(base+"/subscribe", url.Values{"email": {addr}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", addr, resp.Status)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if n := len(slow.all()); n != 3 {
		t.Errorf("got %d confirmations sent before Serve returned, want 3", n)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("the server still answers after shutdown")
	}
}

// expiringStore deletes every subscriber's row just before an update, as the expiry sweep does when it
// runs between a confirm's token check and its write.
type expiringStore struct{ store.Store }

func (s expiringStore) UpdateSubscriber(ctx context.Context, id int64, at time.Time, change func(*store.Subscriber)) error {
	if err := s.Store.DeleteSubscriber(ctx, id); err != nil {
		return err
	}
	return s.Store.UpdateSubscriber(ctx, id, at, change)
}

// TestConfirmDeletedMeanwhile: a sign-up deleted by the expiry sweep after its token was checked gets
// the expired-link page, not a server error.
func TestConfirmDeletedMeanwhile(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Store = expiringStore{o.Store.(store.Store)} })
	e.signUp("ann@example.com", nil)
	good := tokenOf(t, e.conf.all()[0].url)
	wantStatus(t, e.do("POST", "/confirm", url.Values{"token": {good}}, nil), http.StatusBadRequest, "expired")
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Errorf("logged as an error:\n%s", e.logs)
	}
}
