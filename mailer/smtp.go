package mailer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Sender delivers messages: an SMTPSender (one SMTP connection) or an Outbox. Send delivers one message;
// Classify says what its error means. Neither is meant for concurrent Sends: run one Sender per worker.
type Sender interface {
	Send(ctx context.Context, m *Message) error
	Close() error
}

// A Pipeliner is a Sender that can begin a message before the ledger has recorded that it is being sent,
// so that the ledger's write overlaps the network round trips that do not depend on it. SendAfter is Send
// that sends the envelope (SMTP's MAIL FROM and RCPT TO, and DATA when pipelined) at once, then calls ready
// and sends nothing more until it returns: nothing the server could deliver goes out before ready has
// returned nil. An error from ready abandons the message before its content (the server has nothing to
// deliver), and SendAfter returns an error that wraps it. A refusal of the envelope may come back without ready having been called.
type Pipeliner interface {
	Sender
	SendAfter(ctx context.Context, m *Message, ready func() error) error
}

// The TLS modes of SMTPConfig.TLS.
const (
	TLSStartTLS = "starttls" // plaintext connection upgraded with STARTTLS, which the server must offer
	TLSImplicit = "tls"      // TLS from the first byte (smtps, usually port 465)
	TLSNone     = "none"     // no encryption at all: only when asked for by name
)

// DefaultSMTPTimeout bounds each step of a connection and each message.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig says how to reach an SMTP server. The zero TLS mode is STARTTLS, required.
type SMTPConfig struct {
	Host string
	Port int    // 0: 587 with STARTTLS, 465 with implicit TLS, 25 without TLS
	TLS  string // TLSStartTLS (the default when empty), TLSImplicit or TLSNone

	// Username and Password for SMTP AUTH; no AUTH without a username. The password never appears in
	// an error or in String.
	Username string
	Password string
	// Auth names the mechanism: "plain", "login", "cram-md5", "xoauth2" (Password is the OAuth token),
	// "scram-sha-1", "scram-sha-256", or "" for the first of PLAIN, LOGIN, SCRAM-SHA-256 and CRAM-MD5
	// that the server offers. PLAIN and LOGIN refuse to run over a plaintext connection to another
	// machine.
	Auth string

	HELO    string        // the name to greet with; default: this machine's host name
	Timeout time.Duration // default DefaultSMTPTimeout

	// TLSConfig, if set, is used for STARTTLS and implicit TLS, for example with RootCAs holding the
	// certificate of a server that signs its own. ServerName defaults to Host.
	TLSConfig *tls.Config
}

var authTypes = map[string]gomail.SMTPAuthType{
	"plain":         gomail.SMTPAuthPlain,
	"login":         gomail.SMTPAuthLogin,
	"cram-md5":      gomail.SMTPAuthCramMD5,
	"xoauth2":       gomail.SMTPAuthXOAUTH2,
	"scram-sha-1":   gomail.SMTPAuthSCRAMSHA1,
	"scram-sha-256": gomail.SMTPAuthSCRAMSHA256,
}

// String describes the configuration as an smtp:// URL, without the password.
// ErrPasswordInURL: an SMTP URL may not hold the password, which would end up in configs and logs.
var ErrPasswordInURL = errors.New("mailer: smtp URL: it holds a password; leave it out of the URL")

func (c SMTPConfig) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.port()))}
	q := url.Values{}
	switch c.tls() {
	case TLSImplicit:
		u.Scheme = "smtps"
	case TLSNone:
		q.Set("tls", TLSNone)
	}
	if c.Username != "" {
		u.User = url.User(c.Username)
	}
	if c.Auth != "" {
		q.Set("auth", c.Auth)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// GoString keeps %#v from printing the password.
func (c SMTPConfig) GoString() string { return "mailer.SMTPConfig(" + c.String() + ")" }

func (c SMTPConfig) tls() string {
	if c.TLS == "" {
		return TLSStartTLS
	}
	return c.TLS
}

func (c SMTPConfig) port() int {
	switch {
	case c.Port != 0:
		return c.Port
	case c.tls() == TLSImplicit:
		return 465
	case c.tls() == TLSNone:
		return 25
	}
	return 587
}

func (c SMTPConfig) check() error {
	switch {
	case c.Host == "":
		return errors.New("mailer: SMTP: no host")
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("mailer: SMTP: port %d out of range", c.Port)
	case c.tls() != TLSStartTLS && c.tls() != TLSImplicit && c.tls() != TLSNone:
		return fmt.Errorf("mailer: SMTP: TLS mode %q: want starttls, tls or none", c.TLS)
	case c.Auth != "" && authTypes[strings.ToLower(c.Auth)] == "":
		return fmt.Errorf("mailer: SMTP: auth %q: want plain, login, cram-md5, xoauth2, scram-sha-1 or scram-sha-256", c.Auth)
	case c.Auth != "" && c.Username == "":
		return fmt.Errorf("mailer: SMTP: auth %s needs a username", c.Auth)
	}
	return nil
}

// ParseSMTPURL reads the smtp setting: smtp://user@host:587 (STARTTLS, required), smtps://user@host:465
// (implicit TLS) or smtp://host:1025?tls=none (plaintext, only when asked for like this). Other query
// parameters: auth (see SMTPConfig.Auth), helo, timeout (a Go duration such as 10s). A password in the
// URL is refused: it belongs in the environment or a file. Errors never quote the URL.
func ParseSMTPURL(s string) (SMTPConfig, error) {
	const form = "the form is smtp://user@host:587, smtps://user@host:465 or smtp://host:25?tls=none"
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		// url.Error quotes the URL, and its inner errors can quote part of the user info.
		return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: not a valid URL (%s)", form)
	}
	// A password written without escaping can spill out of the user info (a "/" in it ends the host),
	// so with user info in the URL no error quotes a part of it.
	show := func(v string) string {
		if strings.Contains(s, "@") {
			return "(not shown)"
		}
		return strconv.Quote(v)
	}
	var c SMTPConfig
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		c.TLS = TLSStartTLS
	case "smtps":
		c.TLS = TLSImplicit
	default:
		return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: scheme %s: want smtp or smtps (%s)", show(u.Scheme), form)
	}
	if u.Opaque != "" || u.Host == "" {
		return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: no host (%s)", form)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return SMTPConfig{}, ErrPasswordInURL
		}
		c.Username = u.User.Username()
	}
	c.Host = u.Hostname()
	if c.Host == "" || strings.Contains(c.Host, ":") && net.ParseIP(c.Host) == nil || strings.ContainsAny(c.Host, "[]%/ ") {
		return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: host %s is not a host name or an IP address", show(c.Host))
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: port %s: want a number from 1 to 65535", show(p))
		}
		c.Port = n
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: unexpected path or fragment (%s)", form)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: a query parameter is not escaped right (%s)", form)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "tls":
			v = strings.ToLower(v)
			if v != TLSStartTLS && v != TLSImplicit && v != TLSNone {
				return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: tls=%s: want starttls, tls or none", show(v))
			}
			if c.TLS == TLSImplicit && v != TLSImplicit {
				return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: smtps:// is implicit TLS; tls=%s contradicts it", show(v))
			}
			c.TLS = v
		case "auth":
			c.Auth = strings.ToLower(v)
			if authTypes[c.Auth] == "" {
				return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: auth=%s: want plain, login, cram-md5, xoauth2, scram-sha-1 or scram-sha-256", show(v))
			}
		case "helo":
			c.HELO = v
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: timeout=%s: want a duration such as 30s", show(v))
			}
			c.Timeout = d
		default:
			return SMTPConfig{}, fmt.Errorf("mailer: smtp URL: unknown parameter %s (known: tls, auth, helo, timeout)", show(k))
		}
	}
	if err := c.check(); err != nil {
		return SMTPConfig{}, err
	}
	return c, nil
}

// SMTPSender sends messages over one SMTP connection, one after the other.
//
// After a message that was not delivered, the connection may be gone (a 421 reply, a network error, a
// cancelled context): Send then fails at once with an error that Classify calls Deferred, and the caller
// should Close this sender and dial a new one. go-mail does not reconnect by itself.
type SMTPSender struct {
	client  *gomail.Client
	sc      *smtp.Client
	addr    string
	timeout time.Duration

	mu     sync.Mutex
	conn   net.Conn // the TCP connection under any TLS, closed to cancel
	broken error    // why the connection is unusable, once it is

	buf []byte // the last message as written after DATA, for the next one's
}

// DialSMTP connects to the server, greets it, starts TLS as configured and authenticates. An error here
// (no connection, no STARTTLS, a bad certificate, refused credentials) means no message can go out:
// stop and say so. The password is not in any error.
func DialSMTP(ctx context.Context, c SMTPConfig) (*SMTPSender, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	tlsConfig := &tls.Config{}
	if c.TLSConfig != nil {
		tlsConfig = c.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = c.Host
	}
	if tlsConfig.MinVersion == 0 {
		tlsConfig.MinVersion = tls.VersionTLS12
	}
	s := &SMTPSender{addr: net.JoinHostPort(c.Host, strconv.Itoa(c.port())), timeout: timeout}
	implicit := c.tls() == TLSImplicit
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.conn = conn
		s.mu.Unlock()
		if !implicit {
			return conn, nil
		}
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return tc, nil
	}
	opts := []gomail.Option{
		gomail.WithPort(c.port()),
		gomail.WithTimeout(timeout),
		gomail.WithDialContextFunc(dial),
		gomail.WithTLSConfig(tlsConfig),
	}
	switch c.tls() {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default: // implicit TLS is set up by dial; none is none
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if c.HELO != "" {
		opts = append(opts, gomail.WithHELO(c.HELO))
	}
	switch {
	case c.Username == "":
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthNoAuth))
	case c.Auth == "":
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin,
			gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthCramMD5),
			gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	default:
		opts = append(opts, gomail.WithSMTPAuth(authTypes[strings.ToLower(c.Auth)]),
			gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	client, err := gomail.NewClient(c.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mailer: SMTP %s: %w", s.addr, err)
	}
	s.client = client

	stop := context.AfterFunc(ctx, s.closeConn)
	s.sc, err = client.DialToSMTPClientWithContext(ctx)
	stop()
	if err != nil {
		s.closeConn()
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, fmt.Errorf("mailer: SMTP %s: %w", s.addr, explainDialError(err, c.tls()))
	}
	return s, nil
}

// explainDialError adds what to do to the errors a user can fix.
func explainDialError(err error, mode string) error {
	msg := err.Error()
	var ne net.Error
	var op *net.OpError
	switch {
	case mode != TLSImplicit && errors.As(err, &ne) && ne.Timeout() && !(errors.As(err, &op) && op.Op == "dial"):
		// A server that speaks TLS from the first byte waits for a handshake while we wait for its greeting.
		return fmt.Errorf("no greeting from the server: if it speaks TLS from the start (port 465), use smtps://: %w", err)
	case mode == TLSImplicit && strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fmt.Errorf("the server does not speak TLS from the start: for a port that uses STARTTLS (587, 25), use smtp://: %w", err)
	case strings.Contains(msg, "does not support STARTTLS"):
		return fmt.Errorf("the server does not offer STARTTLS: use smtps:// if it speaks TLS from the start (port 465), or add ?tls=none to send in plaintext (only on a trusted network): %w", err)
	case strings.Contains(msg, "server does not support SMTP AUTH"):
		return fmt.Errorf("a username is set but the server offers no AUTH (some servers offer it only after STARTTLS): %w", err)
	}
	return err
}

func (s *SMTPSender) closeConn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
	}
}

// Send delivers one message. A cancelled ctx closes the connection, abandoning the message in flight
// (Classify then says whether the server may have it).
func (s *SMTPSender) Send(ctx context.Context, m *Message) error { return s.SendAfter(ctx, m, nil) }

// SendAfter is Send that calls ready, when it is not nil, between the envelope and the message's content
// (see Pipeliner).
func (s *SMTPSender) SendAfter(ctx context.Context, m *Message, ready func() error) error {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken != nil {
		return &sendError{msg: "mailer: send " + m.MessageID + ": the connection is gone (" + broken.Error() + "): dial again", err: errConnGone}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, s.closeConn)
	err := s.transaction(m, ready)
	cancelled := !stop()
	if err == nil {
		return nil
	}
	var nr *notReadyError
	if errors.As(err, &nr) && !cancelled {
		return err
	}
	outcome, reason := Classify(err)
	code, _ := SMTPStatus(err)
	if cancelled || code == 0 || code == 421 || outcome == Unknown {
		s.mu.Lock()
		s.broken = errors.New(reason)
		s.mu.Unlock()
		s.closeConn()
	}
	if cancelled {
		err = errors.Join(err, context.Cause(ctx))
	}
	return &sendError{msg: "mailer: send " + m.MessageID + ": " + reason, err: err}
}

// transaction is one message's SMTP transaction, each step's failure an *smtpError. go-mail's own Send
// does the same steps, but all at once, with no place to wait for the ledger before the message goes out.
// Herald checks every reply, so it sends no NOOP before a message and no RSET after one.
//
// To a server that offers PIPELINING (RFC 2920), MAIL FROM, RCPT TO and DATA go out in one write and their
// replies are read after: one round trip before the message rather than two. ready is then called with
// the server waiting for the message's content, which goes out only once ready has returned nil: the
// server can deliver nothing before it has the final ".". When ready fails there, nothing can end the
// DATA without sending a message, so the connection is closed (RFC 5321 §3.8: the server then drops the
// transaction) and SendAfter's error wraps errClosed.
func (s *SMTPSender) transaction(m *Message, ready func() error) error {
	if err := s.sc.UpdateDeadline(s.timeout); err != nil {
		return s.fail(stageConn, err)
	}
	stuffed, pipelined := s.pipelines(m)
	var err error
	if pipelined {
		err = s.pipelinedEnvelope(m)
	} else {
		err = s.envelope(m)
	}
	if err != nil {
		return s.abandon(err)
	}
	if ready != nil {
		err := ready()
		// The wait may have been long: the deadline bounds what follows, an RSET or the message.
		if derr := s.sc.UpdateDeadline(s.timeout); derr != nil {
			return s.fail(stageData, derr)
		}
		if err != nil && pipelined {
			s.drop(errors.New("the message was abandoned after DATA"))
			return &notReadyError{err: errors.Join(err, errClosed)}
		}
		if err != nil {
			return s.abandon(&notReadyError{err: err})
		}
		if pipelined {
			if err := s.gaveUp(); err != nil {
				return err
			}
		}
	}
	if pipelined {
		return s.content(m, stuffed)
	}
	return s.data(m)
}

// gaveUp is an error when the server, waiting for the content of a pipelined DATA while the ledger wrote,
// has spoken or closed the connection meanwhile: a server gives up on a client that keeps it waiting
// (Postfix under load after 10 s, with a 421; go-smtp with a 554 and then a 421; some by just closing).
// Its transaction is then gone, so the message must not go out: sent into a closed connection, it would
// get no reply and count Unknown, and the 554 of the wait would count it Failed. The error is a
// network error of DATA, which Classify calls Deferred and after which SendAfter closes the connection.
func (s *SMTPSender) gaveUp() error {
	spoke, closed := s.sc.Text.R.Buffered() > 0, false
	if !spoke {
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		spoke, closed = peekConn(conn)
	}
	switch {
	case spoke:
		return s.fail(stageData, errors.New("the server answered out of turn while the message waited for the ledger, before any of it went out"))
	case closed:
		return s.fail(stageData, errors.New("the server closed the connection while the message waited for the ledger, before any of it went out"))
	}
	return nil
}

// pipelines tells whether m's transaction can go out pipelined, and gives it dot-stuffed when it can (in
// s.buf, which it keeps for the next message): the server must offer PIPELINING, and the message end as
// appendStuffed needs.
func (s *SMTPSender) pipelines(m *Message) ([]byte, bool) {
	if ok, _ := s.sc.Extension("PIPELINING"); !ok || s.sc.Text == nil || strings.ContainsAny(m.from+m.rcpt, "\r\n") {
		return nil, false
	}
	stuffed, ok := appendStuffed(s.buf[:0], m.raw)
	if !ok {
		return nil, false
	}
	s.keep(stuffed)
	return stuffed, true
}

// keep keeps b's memory for the next message, unless it is large: a large message is rare.
func (s *SMTPSender) keep(b []byte) {
	s.buf = b
	if cap(b) > 1<<20 {
		s.buf = nil
	}
}

// pipelinedEnvelope sends MAIL FROM, RCPT TO and DATA in one write, and reads their replies. A refusal is
// the *smtpError of the first refused step; the replies of the steps after it are read too, so that they
// stay in step for the RSET that follows. A server that takes DATA though it refused the recipient gets a
// lone "." (RFC 2920 §3.1): with no recipient, that delivers nothing and ends the transaction.
func (s *SMTPSender) pipelinedEnvelope(m *Message) error {
	t := s.sc.Text
	t.W.WriteString(s.mailFrom(m) + "\r\n" + "RCPT TO:" + m.rcpt + "\r\n" + "DATA\r\n")
	if err := t.W.Flush(); err != nil {
		return s.fail(stageMail, err)
	}
	var refused *smtpError
	for _, step := range []struct {
		stage string
		code  int
	}{{stageMail, 250}, {stageRcpt, 25}, {stageData, 354}} {
		_, _, err := t.ReadResponse(step.code)
		if err == nil && step.stage == stageData && refused != nil {
			// DATA taken after a refusal: end it with nothing in it. The refusal is the result even
			// when the "." cannot go out; the connection is then closed, which drops the transaction
			// (RFC 5321 §3.8).
			t.W.WriteString(".\r\n")
			if err := t.W.Flush(); err != nil {
				s.drop(fmt.Errorf("end a DATA taken after a refused recipient: %w", err))
				return errors.Join(refused, errClosed)
			}
			t.ReadResponse(250) //nolint:errcheck // the reply to an empty message with no recipient
		}
		if err == nil || refused != nil {
			continue
		}
		refused = s.fail(step.stage, err)
		if refused.code() == 0 {
			return refused // the connection is gone: no more replies
		}
	}
	if refused != nil {
		return refused
	}
	return nil
}

// content sends the message, dot-stuffed with its final ".", after a pipelined DATA, and keeps the server's
// reply to its end in m.
func (s *SMTPSender) content(m *Message, stuffed []byte) error {
	t := s.sc.Text
	_, err := t.W.Write(stuffed)
	if err == nil {
		err = t.W.Flush()
	}
	if err != nil {
		// A write fails before its last byte has gone out: the server cannot have the final ".".
		return s.fail(stageWrite, fmt.Errorf("mailer: write message %s: %w", m.MessageID, err))
	}
	_, reply, err := t.ReadResponse(250)
	if err != nil {
		return s.fail(stageDataEnd, err)
	}
	m.reply = reply
	return nil
}

// data sends DATA and then the message, without PIPELINING, and keeps the server's reply to its end in m.
// The message is dot-stuffed in one pass and goes out with its final "." in one write: textproto's
// DotWriter, which go-mail's Data returns, takes it a byte at a time and writes it in 4 kB pieces, and each
// write is a system call that costs as much CPU as composing a message. A message that does not end in a
// line break (Herald's all do) goes through the DotWriter.
func (s *SMTPSender) data(m *Message) error {
	t := s.sc.Text
	if t == nil {
		return s.dataDotWriter(m)
	}
	stuffed, ok := appendStuffed(s.buf[:0], m.raw)
	if !ok {
		return s.dataDotWriter(m)
	}
	s.keep(stuffed)
	t.W.WriteString("DATA\r\n")
	if err := t.W.Flush(); err != nil {
		return s.fail(stageData, err)
	}
	if _, _, err := t.ReadResponse(354); err != nil {
		return s.fail(stageData, err)
	}
	return s.content(m, stuffed)
}

// dataDotWriter is data through go-mail's Data and its DotWriter.
func (s *SMTPSender) dataDotWriter(m *Message) error {
	w, err := s.sc.Data()
	if err != nil {
		return s.fail(stageData, err)
	}
	if _, err := w.Write(m.raw); err != nil {
		// The final "." has not gone out, so the server cannot have the message.
		return s.fail(stageWrite, fmt.Errorf("mailer: write message %s: %w", m.MessageID, err))
	}
	if err := w.Close(); err != nil {
		return s.fail(stageDataEnd, err)
	}
	if dc, ok := w.(*smtp.DataCloser); ok {
		m.reply = dc.ServerResponse()
	}
	return nil
}

// envelope sends MAIL FROM and RCPT TO, each failure an *smtpError of its stage, when the transaction is
// not pipelined: each command waits for the reply to the one before.
func (s *SMTPSender) envelope(m *Message) error {
	if err := s.sc.Mail(m.from); err != nil {
		return s.fail(stageMail, err)
	}
	if err := s.sc.Rcpt(m.rcpt); err != nil {
		return s.fail(stageRcpt, err)
	}
	return nil
}

// mailFrom is the MAIL FROM command of m, as go-mail's Mail writes it: BODY=8BITMIME and SMTPUTF8 when
// the server offers them.
func (s *SMTPSender) mailFrom(m *Message) string {
	mail := "MAIL FROM:" + m.from
	if ok, _ := s.sc.Extension("8BITMIME"); ok {
		mail += " BODY=8BITMIME"
	}
	if ok, _ := s.sc.Extension("SMTPUTF8"); ok {
		mail += " SMTPUTF8"
	}
	return mail
}

// appendStuffed appends what goes on the wire after DATA for the message raw, its final "." included, as
// textproto's DotWriter writes it. ok is false, and nothing appended, for a message that does not end in
// CRLF, or ends in CR CR LF: the DotWriter's state at its end is not the one appendDotStuffed ends in.
func appendStuffed(dst, raw []byte) (_ []byte, ok bool) {
	body, ok := bytes.CutSuffix(raw, []byte("\r\n"))
	if !ok || bytes.HasSuffix(body, []byte("\r")) {
		return dst, false
	}
	dst = appendDotStuffed(dst, body)
	return append(dst, "\r\n.\r\n"...), true
}

// appendDotStuffed appends b as textproto's DotWriter writes it from its first state: a "." that begins
// a line doubled, and an LF that does not end a CRLF made CRLF. Like the DotWriter, it takes an LF after
// an even run of CRs ("\r\r\n") for a bare one: each CR after a CR starts over.
func appendDotStuffed(dst, b []byte) []byte {
	for len(b) > 0 {
		if b[0] == '.' {
			dst = append(dst, '.')
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return append(dst, b...)
		}
		crs := 0
		for crs < i && b[i-1-crs] == '\r' {
			crs++
		}
		dst = append(dst, b[:i]...)
		if crs%2 == 0 {
			dst = append(dst, '\r')
		}
		dst = append(dst, '\n')
		b = b[i+1:]
	}
	return dst
}

// fail is the error of a step of a transaction.
func (s *SMTPSender) fail(stage string, err error) *smtpError {
	announced, _ := s.sc.Extension("ENHANCEDSTATUSCODES")
	return &smtpError{stage: stage, err: err, enhanced: announced}
}

// abandon ends a transaction that stopped before the message went out with an RSET, so that the
// connection can carry the next message, and returns err. After a network error there is nothing to
// reset: SendAfter closes the connection. When the RSET fails, the connection is unusable.
func (s *SMTPSender) abandon(err error) error {
	var se *smtpError
	if errors.As(err, &se) && se.code() == 0 || errors.Is(err, errClosed) {
		return err // the connection is gone already: no RSET
	}
	if rerr := s.sc.Reset(); rerr != nil {
		s.drop(fmt.Errorf("RSET after an abandoned message: %w", rerr))
		return errors.Join(err, fmt.Errorf("%w: RSET failed: %w", errClosed, rerr))
	}
	return err
}

// drop closes the connection in the middle of a transaction; why is what a later Send says of it.
func (s *SMTPSender) drop(why error) {
	s.mu.Lock()
	if s.broken == nil {
		s.broken = why
	}
	s.mu.Unlock()
	s.closeConn()
}

// errClosed is in the error of a send that left the connection closed: its RSET failed, or it was
// abandoned after DATA.
var errClosed = errors.New("mailer: connection closed")

// Close says QUIT and closes the connection; after a broken connection it just closes it.
func (s *SMTPSender) Close() error {
	s.mu.Lock()
	broken, conn := s.broken, s.conn
	s.mu.Unlock()
	if broken != nil || conn == nil {
		s.closeConn()
		return nil
	}
	// The deadline of the last message may be near.
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	err := s.sc.Quit()
	s.closeConn()
	s.mu.Lock()
	s.broken = errors.New("closed") // a second Close does nothing, a Send fails at once
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("mailer: SMTP %s: %w", s.addr, err)
	}
	return nil
}

// notReadyError is SendAfter abandoning a message because ready failed.
type notReadyError struct{ err error }

func (e *notReadyError) Error() string { return "not sent: " + e.err.Error() }
func (e *notReadyError) Unwrap() error { return e.err }

// errConnGone is what Send fails with on a sender whose connection is gone.
var errConnGone = errors.New("mailer: SMTP connection gone")

// sendError is what SMTPSender.Send returns: its text is the stage and the server's reply, without the
// recipient's address (which go-mail's error text carries); Unwrap gives go-mail's error.
type sendError struct {
	msg string
	err error
}

func (e *sendError) Error() string { return e.msg }
func (e *sendError) Unwrap() error { return e.err }
