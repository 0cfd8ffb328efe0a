package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

// sinkMessage is one message the sink accepted.
type sinkMessage struct {
	to      string
	confirm string // the confirm link of a confirmation; "" for a post
	at      time.Time
}

// slowSink is an SMTP server that takes a few milliseconds over each message, as a real one does, and
// holds the post for the gated recipients until the gate opens: so a send started on it lasts until the
// test says, and the gated recipients' deliveries cannot have been taken by a connection before.
type slowSink struct {
	delay time.Duration
	gated func(to string) bool
	gate  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	msgs    []sinkMessage
	posts   int
	changed chan struct{} // closed and replaced at each message
}

func startSlowSink(t *testing.T, delay time.Duration, gated func(string) bool) (*slowSink, string) {
	t.Helper()
	k := &slowSink{delay: delay, gated: gated, gate: make(chan struct{}), changed: make(chan struct{})}
	addr := serveSMTP(t, func() smtp.Session { return &slowSession{k: k} })
	t.Cleanup(k.open) // before the server closes: a held connection must not outlive the test
	return k, addr
}

func (k *slowSink) open() { k.once.Do(func() { close(k.gate) }) }

var sinkConfirmLink = regexp.MustCompile(`https://n\.example\.com/confirm\?token=[A-Za-z0-9_-]+`)

func (k *slowSink) receive(to string, raw []byte) error {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	msg := sinkMessage{to: to}
	if strings.HasPrefix(subject, "Confirm your subscription") {
		body, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		msg.confirm = string(sinkConfirmLink.Find(body))
		if msg.confirm == "" {
			return fmt.Errorf("a confirmation to %s without a confirm link", to)
		}
	}
	time.Sleep(k.delay)
	if msg.confirm == "" && k.gated(to) {
		<-k.gate
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	msg.at = time.Now() // just before the 250: whoever sent it may record it as sent from now on
	k.msgs = append(k.msgs, msg)
	if msg.confirm == "" {
		k.posts++
	}
	close(k.changed)
	k.changed = make(chan struct{})
	return nil
}

// postCount is how many posts the sink has accepted so far.
func (k *slowSink) postCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.posts
}

// waitFor waits until f, called with the messages so far, returns true.
func (k *slowSink) waitFor(ctx context.Context, f func([]sinkMessage) bool) error {
	for {
		k.mu.Lock()
		ok, changed := f(k.msgs), k.changed
		k.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// byRecipient is the messages so far, by recipient.
func (k *slowSink) byRecipient() map[string][]sinkMessage {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string][]sinkMessage{}
	for _, m := range k.msgs {
		out[m.to] = append(out[m.to], m)
	}
	return out
}

type slowSession struct {
	k  *slowSink
	to []string
}

func (s *slowSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *slowSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *slowSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(s.to) != 1 {
		return fmt.Errorf("%d recipients, want 1", len(s.to))
	}
	return s.k.receive(s.to[0], raw)
}
func (s *slowSession) Reset()        { s.to = nil }
func (s *slowSession) Logout() error { return nil }

// leaver is a subscriber who unsubscribes while the send runs, and what the store said right after the
// acknowledgment.
type leaver struct {
	email   string
	how     string    // one-click, form, preferences
	ackAt   time.Time // when the 200 came back
	readAt  time.Time // when atAck was read, after ackAt
	atAck   string    // the delivery's status then
	tailEnd bool      // behind the gate: the send cannot have taken their delivery
}

// TestServeWhileSending runs herald send as a child process, sending one new post to 500 subscribers
// through a slow SMTP sink, while herald serve, in-process on the same store, takes sign-ups and their
// confirmations, one-click and form unsubscribes and preference changes from concurrent clients. The sink
// holds back the post to the last 60 subscribers until the clients are done, so the send runs
// throughout and the last 50, who all unsubscribe, cannot have been reached. Every request succeeds; the
// send ends without error; nobody gets the post after their unsubscribe was acknowledged unless their
// delivery was already under way then; the new subscribers get only their confirmation; the ledger adds
// up with what the sink got; the store passes integrity_check.
func TestServeWhileSending(t *testing.T) {
	sqliteOnly(t)
	const (
		subscribers = 500
		conns       = 4
		gateFrom    = 440 // the post to r440 and later waits at the sink for the gate
		tailFrom    = 450 // r450 and later unsubscribe: behind the connections held at the gate
		signups     = 40
	)
	index := func(email string) int {
		var i int
		if _, err := fmt.Sscanf(email, "r%03d@example.com", &i); err != nil {
			return -1
		}
		return i
	}
	sink, addr := startSlowSink(t, 10*time.Millisecond, func(to string) bool { return index(to) >= gateFrom })
	dir := killSite(t, addr, subscribers, conns)
	db := filepath.Join(dir, ".herald", "state.db")
	const secret = "0123456789abcdef0123456789" // killSite's

	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	active, err := st.Subscribers(t.Context(), store.Active)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, s := range active {
		ids[s.Email] = s.ID
	}
	if len(ids) != subscribers {
		t.Fatalf("%d active subscribers, want %d", len(ids), subscribers)
	}
	reader, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	deliveryStatus := func(email string) (string, error) {
		var status string
		err := reader.QueryRowContext(t.Context(), `SELECT d.status FROM deliveries d JOIN subscribers s
			ON s.id = d.subscriber_id WHERE s.email = ?`, email).Scan(&status)
		return status, err
	}

	// herald serve, in-process.
	ctx, stopServe := context.WithCancel(t.Context())
	var serveOut, serveLog syncBuffer
	var serveResult error
	served := make(chan struct{})
	go func() {
		serveResult = run(ctx, []string{"serve", "-C", dir, "--listen", "127.0.0.1:0"}, testEnv(), &serveOut, &serveLog)
		close(served)
	}()
	defer func() { // on failure: the store is closed before the temp folder goes
		stopServe()
		<-served
	}()
	listening := regexp.MustCompile(`herald serve: listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	waitFor(t, "herald serve to listen", func() bool {
		select {
		case <-served:
			t.Fatalf("herald serve ended: %v\n%s", serveResult, serveLog.String())
		default:
		}
		if m := listening.FindStringSubmatch(serveOut.String()); m != nil {
			base = m[1]
		}
		return base != ""
	})

	// herald send, as a child process.
	var sendOut, sendErr syncBuffer
	send := exec.CommandContext(t.Context(), os.Args[0], "send", "-C", dir)
	send.Env = childEnv()
	send.Stdout, send.Stderr = &sendOut, &sendErr
	start := time.Now()
	if err := send.Start(); err != nil {
		t.Fatal(err)
	}
	var sendResult error
	sent := make(chan struct{})
	go func() {
		sendResult = send.Wait()
		close(sent)
	}()
	defer func() { // on failure: no child left behind
		sink.open()
		select {
		case <-sent:
		case <-time.After(30 * time.Second):
			send.Process.Kill()
			<-sent
		}
	}()
	wctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := sink.waitFor(wctx, func(ms []sinkMessage) bool { return len(ms) >= 20 }); err != nil {
		t.Fatalf("herald send sent fewer than 20 messages: %v\n%s", err, sendErr.String())
	}

	// The clients' work: sign-ups that are confirmed and then change their preferences, unsubscribes of
	// the last 50 (behind the gate) and of 29 the send may or may not have reached, preference changes
	// of others, a sign-up of someone already subscribed, health checks.
	client := &timedClient{c: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	var tasks []func() error
	var mu sync.Mutex
	var leavers []*leaver
	unsubscribe := func(email, how string, tail bool) func() error {
		l := &leaver{email: email, how: how, tailEnd: tail}
		mu.Lock()
		leavers = append(leavers, l)
		mu.Unlock()
		unsubURL := base + "/unsubscribe?token=" + token.Sign([]byte(secret), "unsubscribe", ids[email], time.Time{})
		prefTok := token.Sign([]byte(secret), "preferences", ids[email], time.Time{})
		return func() error {
			var err error
			switch how {
			case "one-click": // RFC 8058: a form post to the List-Unsubscribe URL, no cookies, no Origin
				_, err = client.call("POST", unsubURL, url.Values{"List-Unsubscribe": {"One-Click"}}, "", "unsubscribed\n")
			case "form":
				if _, err = client.call("GET", unsubURL, nil, "", `name="token"`); err == nil {
					_, err = client.call("POST", base+"/unsubscribe", url.Values{"token": {strings.TrimPrefix(unsubURL, base+"/unsubscribe?token=")}}, "", "You are unsubscribed")
				}
			case "preferences":
				_, err = client.call("POST", base+"/preferences", url.Values{"token": {prefTok}, "action": {"unsubscribe"}}, "", "You are unsubscribed")
			}
			if err != nil {
				return fmt.Errorf("unsubscribe %s (%s): %w", email, how, err)
			}
			l.ackAt = time.Now()
			l.atAck, err = deliveryStatus(email)
			l.readAt = time.Now()
			return err
		}
	}
	for i := tailFrom; i < subscribers; i++ {
		how := "one-click"
		switch {
		case i < tailFrom+5:
			how = "form"
		case i < tailFrom+10:
			how = "preferences"
		}
		tasks = append(tasks, unsubscribe(fmt.Sprintf("r%03d@example.com", i), how, true))
	}
	racing := map[int]bool{}
	for i := 100; i < gateFrom; i += 12 {
		racing[i] = true
		tasks = append(tasks, unsubscribe(fmt.Sprintf("r%03d@example.com", i), "one-click", false))
	}
	changed := map[string]bool{}
	for i := 5; i < subscribers; i += 20 {
		email := fmt.Sprintf("r%03d@example.com", i)
		if racing[i] || i >= tailFrom {
			continue
		}
		changed[email] = true
		prefURL := base + "/preferences?token=" + token.Sign([]byte(secret), "preferences", ids[email], time.Time{})
		tasks = append(tasks, func() error {
			if _, err := client.call("GET", prefURL, nil, "", `name="frequency"`); err != nil {
				return err
			}
			tok := strings.TrimPrefix(prefURL, base+"/preferences?token=")
			_, err := client.call("POST", base+"/preferences", url.Values{"token": {tok}, "frequency": {"weekly"}, "name": {"Reader " + strconv.Itoa(i)}}, "", "Preferences saved")
			return err
		})
	}
	var newcomers []string
	for i := range signups {
		email := fmt.Sprintf("new%02d@example.org", i)
		newcomers = append(newcomers, email)
		ip := fmt.Sprintf("198.51.100.%d", i+1) // as a reverse proxy on loopback says: each its own client
		tasks = append(tasks, func() error {
			if _, err := client.call("POST", base+"/subscribe", url.Values{"email": {email}, "name": {"New " + strconv.Itoa(i)}}, ip, "Check your inbox"); err != nil {
				return fmt.Errorf("sign-up of %s: %w", email, err)
			}
			var link string
			err := sink.waitFor(wctx, func(ms []sinkMessage) bool {
				for _, m := range ms {
					if m.to == email && m.confirm != "" {
						link = m.confirm
					}
				}
				return link != ""
			})
			if err != nil {
				return fmt.Errorf("no confirmation for %s: %w", email, err)
			}
			u, _ := url.Parse(link)
			tok := u.Query().Get("token")
			if _, err := client.call("GET", base+u.Path+"?"+u.RawQuery, nil, "", `id="confirm"`); err != nil {
				return fmt.Errorf("confirm page of %s: %w", email, err)
			}
			page, err := client.call("POST", base+"/confirm", url.Values{"token": {tok}}, "", "You are subscribed")
			if err != nil {
				return fmt.Errorf("confirm %s: %w", email, err)
			}
			pref := regexp.MustCompile(`/preferences\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(page)
			if pref == nil {
				return fmt.Errorf("confirm %s: no preferences link in the page", email)
			}
			_, err = client.call("POST", base+"/preferences", url.Values{"token": {pref[1]}, "frequency": {"daily"}}, "", "Preferences saved")
			return err
		})
	}
	tasks = append(tasks, func() error {
		_, err := client.call("POST", base+"/subscribe", url.Values{"email": {"r010@example.com"}}, "192.0.2.1", "Check your inbox")
		return err
	})
	for range 20 {
		tasks = append(tasks, func() error {
			_, err := client.call("GET", base+"/healthz", nil, "", "ok\n")
			return err
		})
	}
	r := rand.New(rand.NewPCG(5, 5)) // the same order every run
	r.Shuffle(len(tasks), func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })

	before := sink.postCount()
	workStart := time.Now()
	queue := make(chan func() error)
	var wg sync.WaitGroup
	var failures []error
	for range 8 {
		wg.Go(func() {
			for task := range queue {
				if err := task(); err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, task := range tasks {
		queue <- task
	}
	close(queue)
	wg.Wait()
	workTime := time.Since(workStart)
	during := sink.postCount() - before
	for _, err := range failures {
		t.Error(err)
	}
	select {
	case <-sent:
		t.Fatalf("herald send ended (%v) before the clients were done: the gate did not hold it\n%s", sendResult, sendErr.String())
	default:
	}
	if during == 0 {
		t.Errorf("the sink took no post while the clients worked (%v): nothing ran concurrently", workTime)
	}

	sink.open()
	select {
	case <-sent:
		if sendResult != nil {
			t.Fatalf("herald send: %v\n%s", sendResult, sendErr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("herald send did not finish\n%s", sendErr.String())
	}
	sendTime := time.Since(start)
	stopServe()
	if <-served; serveResult != nil {
		t.Fatalf("herald serve: %v", serveResult)
	}
	logs := serveLog.String()
	for _, bad := range []string{"status=500", "status=503", "level=ERROR", "database is locked", "SQLITE_BUSY"} {
		if strings.Contains(logs, bad) {
			t.Errorf("herald serve's log has %q:\n%s", bad, logs)
		}
	}

	// Who got what.
	got := sink.byRecipient()
	ledger := readLedger(t, dir)
	posts := func(to string) []sinkMessage {
		var ps []sinkMessage
		for _, m := range got[to] {
			if m.confirm == "" {
				ps = append(ps, m)
			}
		}
		return ps
	}
	left := map[string]bool{}
	cancelled, inFlight := 0, 0
	for _, l := range leavers {
		left[l.email] = true
		ps := posts(l.email)
		final := ledger[l.email].status
		switch {
		case l.atAck == store.Cancelled:
			cancelled++
			if final != store.Cancelled || len(ps) != 0 {
				t.Errorf("%s (%s): delivery cancelled when the unsubscribe was acknowledged, yet it is %s now and the sink got the post %d times", l.email, l.how, final, len(ps))
			}
		case l.tailEnd:
			t.Errorf("%s (%s): behind the gate, yet the delivery was %s at the acknowledgment, not cancelled", l.email, l.how, l.atAck)
		case l.atAck == store.Sending || l.atAck == store.Sent:
			// Taken by a connection before the unsubscribe: it may arrive after the acknowledgment, once.
			if final != store.Sent || len(ps) != 1 {
				t.Errorf("%s (%s): delivery %s at the acknowledgment, %s now, the sink got the post %d times; want sent, once", l.email, l.how, l.atAck, final, len(ps))
			}
			if l.atAck == store.Sent && len(ps) == 1 && ps[0].at.After(l.readAt) {
				t.Errorf("%s: the ledger said sent before the sink got it", l.email)
			}
			if len(ps) == 1 && ps[0].at.After(l.ackAt) {
				inFlight++
			}
		default:
			t.Errorf("%s (%s): delivery %s after the unsubscribe was acknowledged; want cancelled, or sending or sent already", l.email, l.how, l.atAck)
		}
	}
	for email := range ids {
		if left[email] {
			continue
		}
		if n := len(got[email]); n != 1 || len(posts(email)) != 1 || ledger[email].status != store.Sent {
			t.Errorf("%s: got %d messages, delivery %s; want the post once, sent", email, n, ledger[email].status)
		}
	}
	for _, email := range newcomers {
		if ms := got[email]; len(ms) != 1 || ms[0].confirm == "" {
			t.Errorf("%s (signed up during the send) got %d messages, want only the confirmation", email, len(ms))
		}
		if _, ok := ledger[email]; ok {
			t.Errorf("%s (signed up during the send) has a delivery of the post", email)
		}
	}
	if n := len(got["r010@example.com"]); n != 1 {
		t.Errorf("r010, active, signed up again: got %d messages, want the post only", n)
	}

	// The ledger adds up with the sink and with what herald send said.
	counts := deliveryCounts(t, dir)
	postsGot := 0
	for to := range got {
		postsGot += len(posts(to))
	}
	if counts[store.Sent]+counts[store.Cancelled] != subscribers || len(counts) > 2 {
		t.Errorf("deliveries %v: want sent + cancelled = %d and nothing else", counts, subscribers)
	}
	if counts[store.Cancelled] != cancelled || counts[store.Sent] != postsGot || counts[store.Sent] != subscribers-cancelled {
		t.Errorf("deliveries %v; %d cancelled at the acknowledgment; the sink got %d posts", counts, cancelled, postsGot)
	}
	if want := fmt.Sprintf(": sent %d, deferred 0, failed 0, unknown 0, skipped 0", postsGot); !strings.Contains(sendOut.String(), want) {
		t.Errorf("herald send said %q, want %q", sendOut.String(), want)
	}

	// The store is sound, and what the clients did holds: everyone who left has left, the newcomers are
	// active with their new frequency, the others with theirs, and a new run sends nothing (the post was
	// first seen before the newcomers confirmed).
	var check string
	if err := reader.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
	for _, s := range listJSON(t, dir) {
		email, _ := s["email"].(string)
		status, _ := s["status"].(string)
		freq, _ := s["frequency"].(string)
		want, wantFreq := "active", "immediate"
		switch {
		case left[email]:
			want, wantFreq = "unsubscribed", freq
		case changed[email]:
			wantFreq = "weekly"
		case strings.HasSuffix(email, "@example.org"):
			wantFreq = "daily"
		}
		if status != want || freq != wantFreq {
			t.Errorf("%s: %s, %s; want %s, %s", email, status, freq, want, wantFreq)
		}
	}
	out, _, err := runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil || strings.TrimSpace(out) != "mail: nothing to send" {
		t.Errorf("herald send afterwards: %q, %v; want nothing to send", out, err)
	}

	t.Logf("send %v (%s); %d requests from 8 clients in %v (the slowest %v) while the sink took %d posts; %d unsubscribed: %d cancelled, %d sent (%d of them arrived after the acknowledgment); %d signed up and confirmed; %d changed preferences",
		sendTime.Round(time.Millisecond), strings.TrimSpace(sendOut.String()), servedRequests(logs), workTime.Round(time.Millisecond), client.slowest.Round(time.Millisecond), during,
		len(leavers), cancelled, len(leavers)-cancelled, inFlight, len(newcomers), len(changed))
}

// servedRequests counts the requests in herald serve's log.
func servedRequests(logs string) int { return strings.Count(logs, "msg=request ") }

// timedClient makes requests and keeps the longest time one took.
type timedClient struct {
	c       *http.Client
	mu      sync.Mutex
	slowest time.Duration
}

// call makes a request (a form POST when form is not nil, from the client ip through the loopback proxy
// when ip is set), and wants 200 and a body that contains want.
func (c *timedClient) call(method, u string, form url.Values, ip, want string) (string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	start := time.Now()
	resp, err := c.c.Do(req)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.mu.Lock()
	c.slowest = max(c.slowest, time.Since(start))
	c.mu.Unlock()
	if err != nil {
		return "", err
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(u, "http://"), "?")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
		return "", fmt.Errorf("%s %s: %s, want 200 and %q:\n%.300s", method, path, resp.Status, want, b)
	}
	return string(b), nil
}
