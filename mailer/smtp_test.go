package mailer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testCert is a self-signed certificate for 127.0.0.1 and localhost, and a pool that trusts it.
type testCert struct {
	cert            tls.Certificate
	pool            *x509.CertPool
	certPEM, keyPEM []byte
}

var (
	certOnce   sync.Once
	sharedCert testCert
)

func selfSignedCert(t *testing.T) testCert {
	t.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "herald test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:     []string{"localhost"},
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			panic(err)
		}
		sharedCert.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		sharedCert.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
		sharedCert.cert, err = tls.X509KeyPair(sharedCert.certPEM, sharedCert.keyPEM)
		if err != nil {
			panic(err)
		}
		sharedCert.pool = x509.NewCertPool()
		sharedCert.pool.AppendCertsFromPEM(sharedCert.certPEM)
	})
	return sharedCert
}

// received is one message as the test server stored it.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

// testServer is a real SMTP server (go-smtp) on a loopback port, with hooks to make it misbehave.
type testServer struct {
	addr string
	port int

	// Hooks, set before the first connection. A nil hook accepts.
	mail func(c *smtp.Conn, from string) error
	rcpt func(c *smtp.Conn, to string) error
	data func(c *smtp.Conn, data []byte) error // after the message is stored
	// content is called once the first bytes of a message's content have come in after DATA.
	content func(to []string)

	users map[string]string // enables AUTH PLAIN, and requires it

	// maxOpen > 0 refuses a connection (451 to its EHLO) while maxOpen others are open, as providers
	// that limit concurrent connections do.
	maxOpen int
	open    int

	healed atomic.Bool // turns the hooks off

	mu    sync.Mutex
	msgs  []received
	conns int
}

type serverOption func(*smtp.Server, *testServer)

func withSTARTTLS(t *testing.T) serverOption {
	return func(s *smtp.Server, _ *testServer) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSignedCert(t).cert}}
	}
}

func withUsers(users map[string]string) serverOption {
	return func(_ *smtp.Server, ts *testServer) { ts.users = users }
}

// startServer starts a server; implicit makes it speak TLS from the first byte.
func startServer(t *testing.T, implicit bool, setup func(*testServer), opts ...serverOption) *testServer {
	t.Helper()
	ts := &testServer{}
	if setup != nil {
		setup(ts)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if ts.maxOpen > 0 && ts.open >= ts.maxOpen {
			return nil, errors.New("too many concurrent connections")
		}
		ts.conns++
		ts.open++
		return &testSession{ts: ts, c: c}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	for _, o := range opts {
		o(s, ts)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{selfSignedCert(t).cert}})
	}
	ts.addr = l.Addr().String()
	ts.port = l.Addr().(*net.TCPAddr).Port
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return ts
}

func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

func (ts *testServer) connections() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.conns
}

func (ts *testServer) config() SMTPConfig {
	return SMTPConfig{Host: "127.0.0.1", Port: ts.port, TLS: TLSNone, HELO: "herald.test", Timeout: 5 * time.Second}
}

type testSession struct {
	ts   *testServer
	c    *smtp.Conn
	user string
	msg  received
}

func (s *testSession) AuthMechanisms() []string {
	if s.ts.users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if p, ok := s.ts.users[username]; !ok || p != password {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.users != nil && s.user == "" {
		return smtp.ErrAuthRequired
	}
	if s.ts.mail != nil && !s.ts.healed.Load() {
		if err := s.ts.mail(s.c, from); err != nil {
			return err
		}
	}
	s.msg = received{from: from, user: s.user}
	_, s.msg.tls = s.c.TLSConnectionState()
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.ts.rcpt != nil && !s.ts.healed.Load() {
		if err := s.ts.rcpt(s.c, to); err != nil {
			return err
		}
	}
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	if s.ts.content != nil {
		br := bufio.NewReader(r)
		if _, err := br.Peek(1); err == nil {
			s.ts.content(s.msg.to)
		}
		r = br
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = b
	s.ts.mu.Lock()
	s.ts.msgs = append(s.ts.msgs, s.msg)
	s.ts.mu.Unlock()
	if s.ts.data != nil && !s.ts.healed.Load() {
		return s.ts.data(s.c, b)
	}
	return nil
}

func (s *testSession) Reset() { s.msg = received{} }
func (s *testSession) Logout() error {
	s.ts.mu.Lock()
	s.ts.open--
	s.ts.mu.Unlock()
	return nil
}

// reply421 answers 421 and hangs up, as a server going down does.
func reply421(c *smtp.Conn) error {
	fmt.Fprint(c.Conn(), "421 4.3.2 Service shutting down\r\n")
	c.Conn().Close()
	return errors.New("closed")
}

// testMessages composes n messages to different recipients.
func testMessages(t *testing.T, n int) []*Message {
	t.Helper()
	p, err := newTestComposer(t, testOptions()).PreparePost(testPosts()[0])
	if err != nil {
		t.Fatal(err)
	}
	var ms []*Message
	for i := range n {
		r := testRecipient()
		r.Email = fmt.Sprintf("reader%d@example.org", i)
		m, err := p.Message(r, fmt.Sprintf("post/a/%d", i), sendDate)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

func dial(t *testing.T, c SMTPConfig) *SMTPSender {
	t.Helper()
	s, err := DialSMTP(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func checkOutcome(t *testing.T, err error, want Outcome, wantReason string) {
	t.Helper()
	got, reason := Classify(err)
	if got != want {
		t.Errorf("outcome %v (%q, error %v), want %v", got, reason, err, want)
	}
	if !strings.Contains(reason, wantReason) {
		t.Errorf("reason %q does not say %q", reason, wantReason)
	}
	if strings.Contains(reason, "@example.org") || err != nil && strings.Contains(err.Error(), "@example.org") {
		t.Errorf("the reason or the error names the recipient: %q / %v", reason, err)
	}
}

// TestSMTPSend sends several messages over one plaintext connection and checks what the server got.
func TestSMTPSend(t *testing.T) {
	ts := startServer(t, false, nil)
	s := dial(t, ts.config())
	ms := testMessages(t, 3)
	for _, m := range ms {
		err := s.Send(t.Context(), m)
		checkOutcome(t, err, Sent, "")
		if m.ServerReply() == "" {
			t.Error("no server reply recorded")
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	got := ts.messages()
	if len(got) != len(ms) {
		t.Fatalf("the server got %d messages, want %d", len(got), len(ms))
	}
	for i, m := range ms {
		if got[i].from != "jane@blog.example.com" {
			t.Errorf("MAIL FROM %s, want jane@blog.example.com", got[i].from)
		}
		if len(got[i].to) != 1 || got[i].to[0] != m.To {
			t.Errorf("RCPT TO %v, want %s", got[i].to, m.To)
		}
		if want := messageBytes(t, m); !bytes.Equal(got[i].data, want) {
			t.Errorf("message %d differs from its bytes:\n%s", i, firstDiff(got[i].data, want))
		}
	}
	if n := ts.connections(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestSMTPStartTLSAuth(t *testing.T) {
	users := map[string]string{"ann": "s3cr3t-pw"}
	ts := startServer(t, false, nil, withSTARTTLS(t), withUsers(users))
	cert := selfSignedCert(t)
	good := SMTPConfig{Host: "127.0.0.1", Port: ts.port, Username: "ann", Password: "s3cr3t-pw",
		TLSConfig: &tls.Config{RootCAs: cert.pool}, Timeout: 5 * time.Second}

	for _, auth := range []string{"", "plain"} {
		c := good
		c.Auth = auth
		s := dial(t, c)
		checkOutcome(t, s.Send(t.Context(), testMessages(t, 1)[0]), Sent, "")
		s.Close()
	}
	for _, m := range ts.messages() {
		if !m.tls || m.user != "ann" {
			t.Errorf("message went without TLS (%v) or AUTH (user %q)", m.tls, m.user)
		}
	}

	tests := []struct {
		name    string
		change  func(*SMTPConfig)
		wantErr string
	}{
		{"wrong password", func(c *SMTPConfig) { c.Password = "wrong-s3cr3t" }, "535"},
		{"untrusted certificate", func(c *SMTPConfig) { c.TLSConfig = nil }, "certificate"},
		{"certificate for another name", func(c *SMTPConfig) { c.TLSConfig = &tls.Config{RootCAs: cert.pool, ServerName: "mail.example.com"} }, "certificate"},
		{"no username", func(c *SMTPConfig) { c.Username, c.Password = "", "" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			s, err := DialSMTP(t.Context(), c)
			if tt.wantErr == "" {
				// The server takes the connection but refuses mail without AUTH: Failed, 5xx.
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				checkOutcome(t, s.Send(t.Context(), testMessages(t, 1)[0]), Failed, "MAIL FROM: 502")
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("DialSMTP succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestSMTPStartTLSRequired(t *testing.T) {
	ts := startServer(t, false, nil) // no STARTTLS offered
	c := ts.config()
	c.TLS = "" // the default: STARTTLS, required
	s, err := DialSMTP(t.Context(), c)
	if err == nil {
		s.Close()
		t.Fatal("DialSMTP went on without STARTTLS")
	}
	for _, want := range []string{"STARTTLS", "smtps://", "tls=none"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(ts.messages()) != 0 {
		t.Error("a message went out")
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	users := map[string]string{"ann": "s3cr3t-pw"}
	ts := startServer(t, true, nil, withUsers(users))
	s := dial(t, SMTPConfig{Host: "127.0.0.1", Port: ts.port, TLS: TLSImplicit, Username: "ann", Password: "s3cr3t-pw",
		TLSConfig: &tls.Config{RootCAs: selfSignedCert(t).pool}, Timeout: 5 * time.Second})
	checkOutcome(t, s.Send(t.Context(), testMessages(t, 1)[0]), Sent, "")
	if got := ts.messages(); len(got) != 1 || !got[0].tls || got[0].user != "ann" {
		t.Errorf("got %+v, want one message over TLS from ann", got)
	}
}

// TestSMTPFaults makes the server fail at each stage and checks what Classify makes of it, and whether
// the connection can carry the next message.
func TestSMTPFaults(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*testServer)
		timeout    time.Duration
		want       Outcome
		wantReason string
		stored     int  // messages the server has after the first Send
		usable     bool // the same sender delivers the next message
		code       int
		enhanced   string
	}{
		{
			name: "451 at end of DATA",
			setup: func(ts *testServer) {
				ts.data = once(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"})
			},
			want: Deferred, wantReason: "end of DATA: 451 4.3.0 Try again later", stored: 1, usable: true, code: 451, enhanced: "4.3.0",
		},
		{
			name: "554 at end of DATA",
			setup: func(ts *testServer) {
				ts.data = once(&smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Content rejected"})
			},
			want: Failed, wantReason: "end of DATA: 554 5.6.0", stored: 1, usable: true, code: 554, enhanced: "5.6.0",
		},
		{
			name: "550 on RCPT",
			setup: func(ts *testServer) {
				ts.rcpt = func(_ *smtp.Conn, to string) error {
					if to == "reader0@example.org" {
						return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
					}
					return nil
				}
			},
			want: Failed, wantReason: "RCPT TO: 550 5.1.1 No such user", usable: true, code: 550, enhanced: "5.1.1",
		},
		{
			name: "450 on RCPT",
			setup: func(ts *testServer) {
				ts.rcpt = func(_ *smtp.Conn, to string) error {
					if to == "reader0@example.org" {
						return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Greylisted"}
					}
					return nil
				}
			},
			want: Deferred, wantReason: "RCPT TO: 450 4.2.0 Greylisted", usable: true, code: 450, enhanced: "4.2.0",
		},
		{
			name:  "421 on MAIL FROM",
			setup: func(ts *testServer) { ts.mail = func(c *smtp.Conn, _ string) error { return reply421(c) } },
			want:  Deferred, wantReason: "MAIL FROM: 421 4.3.2 Service shutting down", code: 421, enhanced: "4.3.2",
		},
		{
			name:  "421 at end of DATA",
			setup: func(ts *testServer) { ts.data = func(c *smtp.Conn, _ []byte) error { return reply421(c) } },
			want:  Deferred, wantReason: "end of DATA: 421", stored: 1, code: 421, enhanced: "4.3.2",
		},
		{
			name: "connection dropped after the message was stored",
			setup: func(ts *testServer) {
				ts.data = func(c *smtp.Conn, _ []byte) error { c.Conn().Close(); return errors.New("dropped") }
			},
			want: Unknown, wantReason: "connection lost after the message was sent", stored: 1,
		},
		{
			name: "connection dropped at RCPT",
			setup: func(ts *testServer) {
				ts.rcpt = func(c *smtp.Conn, _ string) error { c.Conn().Close(); return errors.New("dropped") }
			},
			want: Deferred, wantReason: "RCPT TO:",
		},
		{
			name: "reply slower than the timeout after DATA",
			setup: func(ts *testServer) {
				ts.data = func(*smtp.Conn, []byte) error { time.Sleep(time.Second); return nil }
			},
			timeout: 300 * time.Millisecond,
			want:    Unknown, wantReason: "timeout", stored: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, false, tt.setup)
			c := ts.config()
			if tt.timeout > 0 {
				c.Timeout = tt.timeout
			}
			s := dial(t, c)
			ms := testMessages(t, 2)
			err := s.Send(t.Context(), ms[0])
			checkOutcome(t, err, tt.want, tt.wantReason)
			if code, enhanced := SMTPStatus(err); code != tt.code || enhanced != tt.enhanced {
				t.Errorf("SMTPStatus: %d %q, want %d %q", code, enhanced, tt.code, tt.enhanced)
			}
			if n := len(ts.messages()); n != tt.stored {
				t.Errorf("the server stored %d messages, want %d", n, tt.stored)
			}

			err = s.Send(t.Context(), ms[1])
			if tt.usable {
				checkOutcome(t, err, Sent, "")
				return
			}
			// The connection is gone: the sender says so at once, and a new one delivers.
			checkOutcome(t, err, Deferred, "the connection was gone")
			if err := s.Close(); err != nil {
				t.Errorf("Close after a lost connection: %v", err)
			}
			ts.healed.Store(true)
			s2 := dial(t, ts.config())
			checkOutcome(t, s2.Send(t.Context(), ms[1]), Sent, "")
		})
	}
}

// once returns a data hook that fails the first message with err.
func once(err error) func(*smtp.Conn, []byte) error {
	var mu sync.Mutex
	done := false
	return func(*smtp.Conn, []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return nil
		}
		done = true
		return err
	}
}

// TestSMTPCancel cancels the context while the server sits on the end of DATA: Send returns at once,
// and the message, which the server has whole, is Unknown.
func TestSMTPCancel(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, false, func(ts *testServer) {
		ts.data = func(*smtp.Conn, []byte) error { <-release; return nil }
	})
	defer close(release)
	s := dial(t, ts.config())
	m := testMessages(t, 1)[0] // before the clock starts: composing is slow under the race detector
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err := s.Send(ctx, m)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v after the cancel", d)
	}
	checkOutcome(t, err, Unknown, "connection lost after the message was sent")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}

	done, cancelDone := context.WithCancel(t.Context())
	cancelDone()
	checkOutcome(t, s.Send(done, testMessages(t, 1)[0]), Deferred, "")
}

func TestDialSMTPErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now

	tests := []struct {
		name    string
		c       SMTPConfig
		wantErr string
	}{
		{"refused", SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone, Timeout: time.Second}, "refused"},
		{"no host", SMTPConfig{}, "no host"},
		{"bad TLS mode", SMTPConfig{Host: "h", TLS: "ssl"}, "TLS mode"},
		{"auth without user", SMTPConfig{Host: "h", Auth: "plain"}, "username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := DialSMTP(t.Context(), tt.c)
			if err == nil {
				s.Close()
				t.Fatal("DialSMTP succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
		})
	}

	// A server that accepts the connection and never greets: the timeout ends the wait.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	s, err := DialSMTP(t.Context(), SMTPConfig{Host: "127.0.0.1", Port: silent.Addr().(*net.TCPAddr).Port, TLS: TLSNone, Timeout: 300 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("DialSMTP to a silent server succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("DialSMTP took %v, want about the timeout", d)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Outcome
	}{
		{"nil", nil, Sent},
		{"network error at end of DATA", &smtpError{stage: stageDataEnd, err: io.ErrUnexpectedEOF}, Unknown},
		{"wrapped", fmt.Errorf("x: %w", errors.Join(&smtpError{stage: stageDataEnd, err: io.EOF})), Unknown},
		{"refusal at end of DATA", &smtpError{stage: stageDataEnd, err: &textproto.Error{Code: 554, Msg: "5.6.0 no"}}, Failed},
		{"network error while writing", &smtpError{stage: stageWrite, err: io.ErrUnexpectedEOF}, Deferred},
		{"network error at MAIL", &smtpError{stage: stageMail, err: io.EOF}, Deferred},
		{"451 at RCPT", &smtpError{stage: stageRcpt, err: &textproto.Error{Code: 451, Msg: "4.3.0 later"}}, Deferred},
		{"no connection", &smtpError{stage: stageConn, err: os.ErrClosed}, Deferred},
		{"no sender", &smtpError{stage: stageEnvelope, err: errors.New("no FROM address set")}, Failed},
		{"cancelled", context.Canceled, Deferred},
		{"something else", os.ErrClosed, Deferred},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, reason := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v (%q), want %v", tt.err, got, reason, tt.want)
			}
		})
	}
	for _, err := range []error{nil, context.Canceled, &smtpError{stage: stageDataEnd, err: io.EOF}} {
		if code, enhanced := SMTPStatus(err); code != 0 || enhanced != "" {
			t.Errorf("SMTPStatus(%v) = %d %q, want 0 \"\"", err, code, enhanced)
		}
	}
	// go-mail found the enhanced code anywhere in the reply of a server that announced
	// ENHANCEDSTATUSCODES; the rest put it first, or it is not one.
	late := &textproto.Error{Code: 550, Msg: "Requested action not taken: mailbox unavailable (5.1.1)"}
	for _, tt := range []struct {
		err  *smtpError
		want string
	}{
		{&smtpError{stage: stageRcpt, err: late, enhanced: true}, "5.1.1"},
		{&smtpError{stage: stageRcpt, err: late}, ""},
		{&smtpError{stage: stageRcpt, err: &textproto.Error{Code: 550, Msg: "5.1.1 no such user"}}, "5.1.1"},
		{&smtpError{stage: stageRcpt, err: &textproto.Error{Code: 550, Msg: "rejected by 4.2.0 filter"}, enhanced: true}, ""},
	} {
		if code, enhanced := SMTPStatus(tt.err); code != 550 || enhanced != tt.want {
			t.Errorf("SMTPStatus(%v, announced %v) = %d %q, want 550 %q", tt.err, tt.err.enhanced, code, enhanced, tt.want)
		}
	}
	for o, want := range map[Outcome]string{Sent: "sent", Deferred: "deferred", Failed: "failed", Unknown: "unknown", 0: "outcome(0)"} {
		if o.String() != want {
			t.Errorf("Outcome(%d).String() = %s, want %s", int(o), o, want)
		}
	}
}

// BenchmarkSMTPSend sends composed messages over one loopback connection to a go-smtp server that
// keeps only a count; it measures the transport (go-mail and both ends of SMTP), not composing.
func BenchmarkSMTPSend(b *testing.B) {
	ts := startServerB(b)
	s, err := DialSMTP(b.Context(), SMTPConfig{Host: "127.0.0.1", Port: ts.port, TLS: TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := NewComposer(testOptions())
	if err != nil {
		b.Fatal(err)
	}
	m, err := c.Post(testRecipient(), testPosts()[0], "post/bench", sendDate)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Send(b.Context(), m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// startServerB is startServer for benchmarks: a server that discards what it gets.
func startServerB(b *testing.B) *testServer {
	ts := &testServer{}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &discardSession{}, nil
	}))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ts.port = l.Addr().(*net.TCPAddr).Port
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	return ts
}

type discardSession struct{}

func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (discardSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discardSession) Reset()        {}
func (discardSession) Logout() error { return nil }

// TestDialWrongTLSMode: smtp:// to a server that speaks TLS from the start, and smtps:// to one that
// does not, each say which to use instead.
func TestDialWrongTLSMode(t *testing.T) {
	implicit := startServer(t, true, nil)
	cfg := implicit.config()
	cfg.TLS, cfg.Timeout = TLSStartTLS, 300*time.Millisecond
	if _, err := DialSMTP(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "use smtps://") {
		t.Errorf("STARTTLS to an implicit TLS server: got %v, want advice to use smtps://", err)
	}
	plain := startServer(t, false, nil)
	cfg = plain.config()
	cfg.TLS = TLSImplicit
	if _, err := DialSMTP(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "use smtp://") {
		t.Errorf("implicit TLS to a plain server: got %v, want advice to use smtp://", err)
	}
}

// TestExplainDialTimeout: a connection that cannot be made in time (a firewall dropping the port) is not
// taken for a server that waits for TLS: only a timeout after connecting gets the smtps:// advice.
func TestExplainDialTimeout(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	if err := explainDialError(dial, TLSStartTLS); strings.Contains(err.Error(), "smtps://") {
		t.Errorf("a dial timeout: got %v", err)
	}
	read := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	if err := explainDialError(read, TLSStartTLS); !strings.Contains(err.Error(), "smtps://") {
		t.Errorf("a read timeout: got %v", err)
	}
}
