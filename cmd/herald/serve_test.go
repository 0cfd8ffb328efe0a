package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/server"
	"github.com/heraldhq/herald/store"
)

// syncBuffer is a bytes.Buffer that a running command writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls f until it returns true or the time is up.
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var confirmLink = regexp.MustCompile(`https://news\.example\.com/confirm\?token=[A-Za-z0-9_-]+`)

// TestServe runs herald serve in-process on a loopback port with the outbox transport, on a site with
// a broken post (which it does not read): a sign-up
// puts a confirmation in the outbox (to the address alone, without the form's name), its link (the public host swapped for the loopback one, as a
// reverse proxy would) shows a button, the POST confirms, and the subscriber is active; cancelling the
// context stops the server cleanly.
func TestServe(t *testing.T) {
	dir := mailSite(t, "")
	// herald serve reads only the site's settings: a broken post is herald send's problem, not the pages'.
	if err := os.WriteFile(filepath.Join(dir, "_posts", "2026-01-01-broken.md"), []byte("---\ntitle: [unclosed\n---\nBody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-C", dir, "--listen", "127.0.0.1:0"}, testEnv(), &stdout, &stderr)
	}()
	listening := regexp.MustCompile(`herald serve: listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	waitFor(t, "the listening line", func() bool {
		select {
		case err := <-done:
			t.Fatalf("herald serve ended: %v\n%s", err, stderr.String())
		default:
		}
		m := listening.FindStringSubmatch(stdout.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	})

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %s", resp.Status)
	}

	resp, err = http.Get(base + "/subscribe")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Subscribe to Example Weblog") {
		t.Errorf("the form does not name the site (from _config.yml):\n%s", body)
	}

	resp, err = http.PostForm(base+"/subscribe", url.Values{"email": {"carol@example.net"}, "name": {"Carol"}, "frequency": {"daily"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Check your inbox") {
		t.Fatalf("subscribe: %s\n%s", resp.Status, body)
	}

	box := filepath.Join(dir, ".herald", "outbox", "new")
	var link, confirmation string
	waitFor(t, "the confirmation in the outbox", func() bool {
		entries, _ := os.ReadDir(box)
		for _, e := range entries {
			f, err := os.Open(filepath.Join(box, e.Name()))
			if err != nil {
				continue
			}
			raw, _ := io.ReadAll(quotedprintable.NewReader(f))
			f.Close()
			if m := confirmLink.Find(raw); m != nil {
				link, confirmation = string(m), string(raw)
			}
		}
		return link != ""
	})
	// The name is whatever a stranger typed: it must not reach the address's inbox.
	if !strings.Contains(confirmation, "To: <carol@example.net>") || strings.Contains(confirmation, "Carol") {
		t.Errorf("the confirmation carries the form's name:\n%s", confirmation)
	}
	msgs := maildir(t, filepath.Join(dir, ".herald", "outbox"))
	if len(msgs) != 1 {
		t.Fatalf("got %d messages in the outbox, want 1", len(msgs))
	}
	if h := msgs[0].Header; h.Get("List-Unsubscribe") != "" || !strings.HasPrefix(h.Get("Subject"), "Confirm your subscription") {
		t.Errorf("confirmation headers: %v", h)
	}

	u, _ := url.Parse(link)
	local := base + u.Path + "?" + u.RawQuery
	resp, err = http.Get(local)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="confirm"`) {
		t.Fatalf("confirm page: %s\n%s", resp.Status, body)
	}
	if st := subscriberStatus(t, dir, "carol@example.net"); st != "pending" {
		t.Fatalf("after the GET: %s, want pending", st)
	}
	resp, err = http.PostForm(base+"/confirm", url.Values{"token": {u.Query().Get("token")}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "You are subscribed") {
		t.Fatalf("confirm: %s\n%s", resp.Status, body)
	}
	if st := subscriberStatus(t, dir, "carol@example.net"); st != "active" {
		t.Fatalf("after confirming: %s, want active", st)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("herald serve: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("herald serve did not stop")
	}
	if !strings.Contains(stdout.String(), "herald serve: stopped") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	logs := stderr.String()
	if !strings.Contains(logs, "path=/confirm status=200") {
		t.Errorf("no request log:\n%s", logs)
	}
	if strings.Contains(logs, "carol@example.net") || strings.Contains(logs, u.Query().Get("token")) {
		t.Errorf("the log holds an address or a token:\n%s", logs)
	}
}

func subscriberStatus(t *testing.T, dir, email string) string {
	t.Helper()
	for _, s := range listJSON(t, dir) {
		if s["email"] == email {
			st, _ := s["status"].(string)
			return st
		}
	}
	return ""
}

func TestServeRefuses(t *testing.T) {
	tests := []struct {
		name, cfg, want string
	}{
		{"no base_url", "secret: 0123456789abcdef0123456789abcdef\n", "needs base_url"},
		{"no secret", "base_url: https://news.example.com\n", "needs secret"},
		{"short secret", "base_url: https://news.example.com\nsecret: short\n", "needs secret"},
		{"bad base_url", "base_url: news.example.com\nsecret: 0123456789abcdef0123456789abcdef\n", "not an http(s) URL"},
		{"bad proxy", "base_url: https://news.example.com\nsecret: 0123456789abcdef0123456789abcdef\ntrusted_proxies: [nonsense]\n", "trusted_proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copySite(t, "seed-jekyll")
			os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(tt.cfg), 0o644)
			_, _, err := runHerald(t, testEnv(), "serve", "-C", dir, "--listen", "127.0.0.1:0")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// refusingSender is a mail server that refuses every message with a reply quoting the recipient in
// upper case, as some servers do. mailpit cannot be made to refuse a recipient.
type refusingSender struct{}

func (refusingSender) Send(_ context.Context, m *mailer.Message) error {
	return errors.New("RCPT TO: 550 5.1.1 <" + strings.ToUpper(m.To) + ">: no such user")
}

func (refusingSender) Close() error { return nil }

// TestServeConfirmerRedacts: a refusal that quotes the address, in any case, is reported without it.
func TestServeConfirmerRedacts(t *testing.T) {
	c, err := mailer.NewComposer(mailer.Options{From: mail.Address{Address: "news@blog.example.com"},
		SiteTitle: "Example", SiteURL: "https://blog.example.com", PostalAddress: "1 Main Street"})
	if err != nil {
		t.Fatal(err)
	}
	mc := &mailConfirmer{composer: c, dial: func(context.Context) (mailer.Sender, error) { return refusingSender{}, nil }}
	sub := store.Subscriber{ID: 7, Email: "Ann.Lee@example.com"}
	err = mc.SendConfirmation(t.Context(), sub, "https://news.example.com/confirm?token=x", time.Now().Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "no such user") || !strings.Contains(err.Error(), "subscriber 7") ||
		strings.Contains(strings.ToLower(err.Error()), "ann.lee@example.com") {
		t.Errorf("got %v, want the refusal for subscriber 7 without the address", err)
	}
}

// faultSession is an SMTP session that refuses RCPT TO, or drops the connection once it has the whole
// message (before its reply), or accepts.
type faultSession struct {
	conn  *smtp.Conn
	fault string // "refuse", "drop" or ""
}

func (s *faultSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *faultSession) Rcpt(string, *smtp.RcptOptions) error {
	if s.fault == "refuse" {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}

func (s *faultSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	if s.fault == "drop" {
		s.conn.Conn().Close()
	}
	return err
}
func (s *faultSession) Reset()        {}
func (s *faultSession) Logout() error { return nil }

// TestServeConfirmerNotSent: a confirmation says ErrNotSent when it surely did not go (no server, or a
// refusal), and not when the server may have it (the connection died after the whole message went).
func TestServeConfirmerNotSent(t *testing.T) {
	c, err := mailer.NewComposer(mailer.Options{From: mail.Address{Address: "news@blog.example.com"},
		SiteTitle: "Example", SiteURL: "https://blog.example.com", PostalAddress: "1 Main Street"})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close() // nothing listens there now
	tests := []struct {
		name, fault string
		addr        string // "" for a server with fault
		notSent     bool
	}{
		{name: "delivered"},
		{name: "refused", fault: "refuse", notSent: true},
		{name: "dropped after the message", fault: "drop"},
		{name: "no server", addr: closed.Addr().String(), notSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr
			if addr == "" {
				s := smtp.NewServer(smtp.BackendFunc(func(conn *smtp.Conn) (smtp.Session, error) {
					return &faultSession{conn: conn, fault: tt.fault}, nil
				}))
				s.Domain, s.ErrorLog = "localhost", log.New(io.Discard, "", 0)
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				go s.Serve(l)
				t.Cleanup(func() { s.Close() })
				addr = l.Addr().String()
			}
			cfg, err := mailer.ParseSMTPURL("smtp://" + addr + "?tls=none&timeout=5s")
			if err != nil {
				t.Fatal(err)
			}
			mc := &mailConfirmer{composer: c, dial: func(ctx context.Context) (mailer.Sender, error) { return mailer.DialSMTP(ctx, cfg) }}
			err = mc.SendConfirmation(t.Context(), store.Subscriber{ID: 7, Email: "ann@example.com"},
				"https://news.example.com/confirm?token=x", time.Now().Add(time.Hour))
			switch {
			case tt.fault == "" && tt.addr == "" && err != nil:
				t.Errorf("got %v, want it sent", err)
			case (tt.fault != "" || tt.addr != "") && err == nil:
				t.Errorf("got no error")
			case errors.Is(err, server.ErrNotSent) != tt.notSent:
				t.Errorf("got %v: ErrNotSent %v, want %v", err, errors.Is(err, server.ErrNotSent), tt.notSent)
			}
		})
	}
}
