package mailer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The API transports (Amazon SES, Postmark, Mailgun, Resend) send one message per HTTP request, and each
// sender is one "connection" of the Engine: it sends one message at a time, and the ledger marks the message
// sending before its request starts, as it does before SMTP's DATA. So a crash leaves at most one unknown
// message per connection, as over SMTP. The providers' batch endpoints (Postmark's /email/batch, Resend's
// /emails/batch, SES's SendBulkEmail) are not used: a batch of 100 in flight would leave up to 100 messages
// unknown per connection, and Postmark and Resend answer a batch with one status for the whole request.
//
// Each provider's answer is reported as the SMTP reply that means the same to the ledger, so that Classify,
// the Engine's retries and its bounce rule treat SMTP and the APIs alike, from one model:
//
//   - accepted (2xx): sent;
//   - throttled (429, SES's TooManyRequests) or the provider's own failure (5xx): a 451 reply, deferred and
//     tried again with backoff;
//   - a refused recipient (an address the provider will not send to): 550 5.1.1 at RCPT TO, failed, and a
//     second one marks the subscriber bounced;
//   - a refused message (a validation error, a message too large): 554 5.6.0, failed;
//   - a refused sender or key (401, 403, an unverified From domain, a suspended account): 530 5.7.0, which
//     stops the run and keeps the message deferred, as a refused MAIL FROM does;
//   - no answer: deferred when the request had not been written whole (the provider cannot have it), unknown
//     when it had (it may have it), like a connection lost before or after SMTP's final ".". A transport
//     whose requests carry an idempotency key (Resend) reports both as deferred: sending the same request
//     again cannot make a second message.

// The stages of an API transport's errors, as Classify's reasons show them.
const stageAPI = "API request"

// httpCall is one request of an API transport, as sendHTTP makes it.
type httpCall struct {
	provider string // "Postmark", for errors
	client   *http.Client
	req      *http.Request
	timeout  time.Duration
	// idempotent: sending the request again cannot make a second message, so that a request whose answer
	// was lost is deferred (and tried again) rather than unknown.
	idempotent bool
}

// DefaultAPITimeout bounds each request of an API transport.
const DefaultAPITimeout = 30 * time.Second

// sendHTTP makes the request and returns the response's status, headers and body (at most 1 MiB of it).
// A failure to get an answer is returned as the error Classify calls deferred or unknown (see above).
func sendHTTP(ctx context.Context, c httpCall) (int, http.Header, []byte, error) {
	timeout := c.timeout
	if timeout <= 0 {
		timeout = DefaultAPITimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	written := false
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		mu.Lock()
		written = i.Err == nil
		mu.Unlock()
	}}
	req := c.req.WithContext(httptrace.WithClientTrace(ctx, trace))
	resp, err := c.client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	if err != nil {
		mu.Lock()
		w := written
		mu.Unlock()
		return 0, nil, nil, lostAnswer(c.provider, w && !c.idempotent, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// lostAnswer is the error of a request that got no answer: unknown when the provider may have the message.
func lostAnswer(provider string, mayHave bool, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the method and URL it adds say nothing the provider's name does not
	}
	detail := fmt.Errorf("%s: %w", provider, err)
	if mayHave {
		// What Classify calls unknown: no reply after the whole message went out.
		return &smtpError{stage: stageDataEnd, err: detail}
	}
	return &smtpError{stage: stageAPI, err: detail}
}

// verdict is what a provider's refusal means for the message, in the terms of the list above.
type verdict int

const (
	retryLater       verdict = iota // throttled, or the provider failed: deferred
	refusedRecipient                // the address: failed, counts towards bounced
	refusedMessage                  // this message: failed
	refusedSender                   // every message would be refused: the run stops
)

// apiRefusal is the error of a provider's answer other than success: the SMTP reply of the same meaning,
// with the provider's own status and message in its text.
func apiRefusal(provider string, v verdict, status int, detail string) error {
	detail = strings.Join(strings.Fields(detail), " ")
	if len(detail) > 300 {
		detail = detail[:300] + "..."
	}
	text := fmt.Sprintf("%s answered %d", provider, status)
	if detail != "" {
		text += ": " + detail
	}
	switch v {
	case refusedRecipient:
		return &smtpError{stage: stageRcpt, err: &textproto.Error{Code: 550, Msg: "5.1.1 " + text}, enhanced: true}
	case refusedMessage:
		return &smtpError{stage: stageAPI, err: &textproto.Error{Code: 554, Msg: "5.6.0 " + text}, enhanced: true}
	case refusedSender:
		return &smtpError{stage: stageAPI, err: &textproto.Error{Code: 530, Msg: "5.7.0 " + text}, enhanced: true}
	}
	return &smtpError{stage: stageAPI, err: &textproto.Error{Code: 451, Msg: "4.3.0 " + text}, enhanced: true}
}

// byStatus is the verdict of an HTTP status that a provider's documentation gives no finer meaning.
func byStatus(status int) verdict {
	switch {
	case status == http.StatusTooManyRequests || status >= 500 || status == http.StatusRequestTimeout:
		return retryLater
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return refusedSender
	}
	return refusedMessage
}

// idempotencyKey is the key of a message for providers that take one: derived from its Message-ID, which
// a delivery keeps when it is sent again, so that a retry after a crash carries the same key.
func idempotencyKey(messageID string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(messageID)))
	return "herald-" + hex.EncodeToString(sum[:])
}

// checkEndpoint checks an API base URL given instead of the provider's own: https, or http to this
// machine only (a test server, an emulator), since the key travels with every request.
func checkEndpoint(provider, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("mailer: %s: endpoint %q is not an http(s) URL", provider, s)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("mailer: %s: endpoint %q: plain http only to this machine (127.0.0.1, ::1, localhost); the key would travel in the clear", provider, s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newAPIClient is the HTTP client of an API transport: no redirects followed (a redirected POST would be
// sent again elsewhere), TLS 1.2 at least.
func newAPIClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// userAgent names Herald in every API request (Resend refuses a request without one).
const userAgent = "Herald (+https://github.com/heraldhq/herald)"

// fields is a message as the APIs that take fields rather than MIME (Postmark, Resend) want it: the parts
// and headers Herald composed, read back from the message itself so that they are what SMTP would carry.
type fields struct {
	From, To string // "Name <address>", quoted where a name needs it
	Subject  string
	Text     string
	HTML     string
	// Headers are the ones that go on as custom headers, in this order: what makes a newsletter one
	// (List-Id, List-Unsubscribe, List-Unsubscribe-Post, Precedence, X-Auto-Response-Suppress) and the
	// Message-ID. Date, MIME-Version and Content-Type are the provider's to write, as it rebuilds the MIME;
	// Herald's DKIM-Signature cannot go on (it would not match the provider's MIME): the provider signs
	// with its own key for the domain set up with it.
	Headers []header
}

type header struct{ Name, Value string }

// customHeaders are the headers fieldsOf keeps, in order.
var customHeaders = []string{"Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence", "X-Auto-Response-Suppress"}

// fieldsOf reads m's fields.
func fieldsOf(m *Message) (fields, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.raw))
	if err != nil {
		return fields{}, fmt.Errorf("mailer: read back message %s: %w", m.MessageID, err)
	}
	var f fields
	for _, name := range []string{"From", "To"} {
		a, err := msg.Header.AddressList(name)
		if err != nil || len(a) != 1 {
			return fields{}, fmt.Errorf("mailer: read back message %s: %s: want one address", m.MessageID, name)
		}
		s := a[0].Address
		if a[0].Name != "" {
			s = a[0].String() // quotes the name, or encodes it (RFC 2047) when it is not ASCII
		}
		if name == "From" {
			f.From = s
		} else {
			f.To = s
		}
	}
	f.Subject, f.Text, f.HTML = m.Subject, m.Text, m.HTML
	for _, name := range customHeaders {
		if v := msg.Header.Get(name); v != "" {
			f.Headers = append(f.Headers, header{name, v})
		}
	}
	return f, nil
}
