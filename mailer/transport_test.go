package mailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/heraldhq/herald/internal/apitest"
)

// apiSender makes a sender of kind for the stand-in srv (or for endpoint, when srv is nil).
func apiSender(t *testing.T, kind apitest.Kind, key, endpoint string, timeout time.Duration) Sender {
	t.Helper()
	var s Sender
	var err error
	switch kind {
	case apitest.Postmark:
		s, err = NewPostmark(PostmarkConfig{Token: key, Endpoint: endpoint, Timeout: timeout})
	case apitest.Mailgun:
		s, err = NewMailgun(MailgunConfig{Domain: "mg.blog.example.com", Key: key, Endpoint: endpoint, Timeout: timeout})
	case apitest.Resend:
		s, err = NewResend(ResendConfig{Key: key, Endpoint: endpoint, Timeout: timeout})
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var apiKinds = []apitest.Kind{apitest.Postmark, apitest.Mailgun, apitest.Resend}

// testMessage composes the first test post for rcpt, with a DKIM key when dkim is set.
func testMessage(t *testing.T, rcpt Recipient, key string) *Message {
	t.Helper()
	c := newTestComposer(t, testOptions())
	m, err := c.Post(rcpt, testPosts()[0], key, sendDate)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAPITransportsSend sends a post through each provider's stand-in, which checks the request against
// the provider's reference, and compares what it got with what Herald composed: the recipient, the subject,
// both parts (or, for Mailgun, the very bytes), and the headers that make a newsletter one.
func TestAPITransportsSend(t *testing.T) {
	for _, kind := range apiKinds {
		t.Run(string(kind), func(t *testing.T) {
			srv := apitest.Start(t, kind)
			s := apiSender(t, kind, srv.Key, srv.URL, 0)
			defer s.Close()
			m := testMessage(t, testRecipient(), "post/1/1")
			if err := s.Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.ServerReply(), string(kind)) && !strings.Contains(strings.ToLower(m.ServerReply()), string(kind)) {
				t.Errorf("ServerReply %q does not name the provider's id", m.ServerReply())
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("the server has %d messages, want 1", len(got))
			}
			g := got[0]
			if g.To != "ann@example.org" || g.MessageID != m.MessageID || g.Subject != m.Subject {
				t.Errorf("got to %q, Message-ID %q, subject %q; want %q, %q, %q", g.To, g.MessageID, g.Subject, "ann@example.org", m.MessageID, m.Subject)
			}
			p := parse(t, messageBytes(t, m))
			for _, h := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Precedence"} {
				want := p.header.Get(h)
				if g.Headers[h] != want || want == "" {
					t.Errorf("header %s: got %q, want %q (headers sent: %v)", h, g.Headers[h], want, g.Headers)
				}
			}
			if kind == apitest.Mailgun {
				if !bytes.Equal(g.Raw, messageBytes(t, m)) {
					t.Errorf("Mailgun got other bytes than Herald composed")
				}
				return
			}
			if g.Text != m.Text || g.HTML != m.HTML {
				t.Errorf("the parts differ from Herald's")
			}
			if _, ok := g.Headers["Date"]; ok {
				t.Errorf("Date went as a custom header: it is the provider's, and would change a retry's body")
			}
			if id := g.Metadata[PostmarkMessageIDKey]; kind == apitest.Postmark && "<"+id+">" != m.MessageID {
				t.Errorf("Postmark Metadata %v: want %s = the Message-ID", g.Metadata, PostmarkMessageIDKey)
			}
			if kind == apitest.Resend && g.Key != idempotencyKey(m.MessageID) {
				t.Errorf("Idempotency-Key %q, want %q", g.Key, idempotencyKey(m.MessageID))
			}
		})
	}
}

// TestAPIErrors answers each provider's documented error replies and checks what the ledger makes of
// them: deferred (tried again), failed (and whether it counts towards a bounce), or a refusal of the sender
// that stops the run. No error quotes the key.
func TestAPIErrors(t *testing.T) {
	const (
		deferred = "deferred"
		failed   = "failed"
		bounce   = "failed, 5.1.1"
		sender   = "sender refused"
	)
	tests := []struct {
		name   string
		kind   apitest.Kind
		status int
		body   string
		want   string
	}{
		{"postmark inactive recipient", apitest.Postmark, 422, `{"ErrorCode":406,"Message":"You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: ann@example.org. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression."}`, bounce},
		{"postmark invalid request", apitest.Postmark, 422, `{"ErrorCode":300,"Message":"Invalid 'To' address: 'ann'."}`, failed},
		{"postmark sender signature not confirmed", apitest.Postmark, 422, `{"ErrorCode":401,"Message":"Sender signature not confirmed"}`, sender},
		{"postmark not allowed to send", apitest.Postmark, 422, `{"ErrorCode":405,"Message":"Not allowed to send"}`, sender},
		{"postmark no such stream", apitest.Postmark, 422, `{"ErrorCode":1235,"Message":"The 'MessageStream' provided does not exist on this server."}`, sender},
		{"postmark rate limited", apitest.Postmark, 429, `{"ErrorCode":429,"Message":"Rate limit exceeded"}`, deferred},
		{"postmark server error", apitest.Postmark, 500, `{"ErrorCode":0,"Message":"Internal Server Error"}`, deferred},
		{"postmark maintenance", apitest.Postmark, 503, ``, deferred},
		{"postmark unauthorized", apitest.Postmark, 401, `{"ErrorCode":10,"Message":"Bad or missing API token"}`, sender},
		{"postmark too large", apitest.Postmark, 413, `Payload Too Large`, failed},
		{"resend rate limited", apitest.Resend, 429, `{"statusCode":429,"name":"rate_limit_exceeded","message":"Too many requests. Please limit the number of requests per second."}`, deferred},
		{"resend daily quota", apitest.Resend, 429, `{"statusCode":429,"name":"daily_quota_exceeded","message":"You have exceeded your daily email sending quota."}`, sender},
		{"resend domain not verified", apitest.Resend, 403, `{"statusCode":403,"name":"validation_error","message":"The blog.example.com domain is not verified. Please, add and verify your domain."}`, sender},
		{"resend invalid key", apitest.Resend, 403, `{"statusCode":403,"name":"invalid_api_key","message":"API key is invalid."}`, sender},
		{"resend validation", apitest.Resend, 400, `{"statusCode":400,"name":"validation_error","message":"Invalid ` + "`to`" + ` field."}`, failed},
		{"resend missing field", apitest.Resend, 422, `{"statusCode":422,"name":"missing_required_field","message":"Missing ` + "`from`" + ` field."}`, failed},
		{"resend concurrent key", apitest.Resend, 409, `{"statusCode":409,"name":"concurrent_idempotent_requests","message":"There is another request in progress with the same idempotency key."}`, deferred},
		{"resend key with another body", apitest.Resend, 409, `{"statusCode":409,"name":"invalid_idempotent_request","message":"This idempotency key has been used..."}`, failed},
		{"resend application error", apitest.Resend, 500, `{"statusCode":500,"name":"application_error","message":"An unexpected error occurred."}`, deferred},
		{"resend unavailable", apitest.Resend, 503, `{"statusCode":503,"name":"service_unavailable","message":"API is temporarily unavailable"}`, deferred},
		{"mailgun bad request", apitest.Mailgun, 400, `{"message":"to parameter is not a valid address. please check documentation"}`, failed},
		{"mailgun forbidden", apitest.Mailgun, 401, `Forbidden`, sender},
		{"mailgun unknown domain", apitest.Mailgun, 404, `{"message":"Domain not found: mg.blog.example.com"}`, sender},
		{"mailgun too large", apitest.Mailgun, 413, `{"message":"request entity too large"}`, failed},
		{"mailgun rate limited", apitest.Mailgun, 429, `{"message":"Too many requests"}`, deferred},
		{"mailgun server error", apitest.Mailgun, 500, `{"message":"Internal error"}`, deferred},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := apitest.Start(t, tt.kind)
			srv.Refuse(func(string, int) (int, string) { return tt.status, tt.body })
			s := apiSender(t, tt.kind, srv.Key, srv.URL, 0)
			err := s.Send(t.Context(), testMessage(t, testRecipient(), "post/1/1"))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if strings.Contains(err.Error(), srv.Key) {
				t.Errorf("the error shows the key: %v", err)
			}
			outcome, reason := Classify(err)
			_, enhanced := SMTPStatus(err)
			var got string
			switch {
			case outcome == Deferred:
				got = deferred
			case outcome == Failed && rejectsSender(err, reason):
				got = sender
			case outcome == Failed && enhanced == "5.1.1" && strings.HasPrefix(reason, "RCPT TO"):
				got = bounce
			case outcome == Failed:
				got = failed
			default:
				got = outcome.String()
			}
			if got != tt.want {
				t.Errorf("got %s (%s), want %s", got, reason, tt.want)
			}
			if !strings.Contains(reason, fmt.Sprint(tt.status)) {
				t.Errorf("the reason %q does not give the provider's status %d", reason, tt.status)
			}
			if len(srv.Messages()) != 0 {
				t.Errorf("a refused message was stored")
			}
		})
	}
}

// TestAPIWithoutAnswer: a request that never reached the provider is deferred; one the provider read whole
// and never answered is unknown, since it may have sent the message, except with Resend, whose idempotency
// key makes sending it again safe: deferred.
func TestAPIWithoutAnswer(t *testing.T) {
	// Read the whole request, then hang up without a word, or stay silent past the timeout.
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	defer hangUp.Close()
	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		<-release
	}))
	defer silent.Close()
	defer close(release)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close() // nothing listens there now: the connection is refused

	for _, kind := range apiKinds {
		afterWrite := "unknown"
		if kind == apitest.Resend {
			afterWrite = "deferred"
		}
		for _, tt := range []struct {
			name, endpoint, want string
		}{
			{"connection refused", closed, "deferred"},
			{"hung up after the request", hangUp.URL, afterWrite},
			{"no answer in time", silent.URL, afterWrite},
		} {
			t.Run(string(kind)+"/"+tt.name, func(t *testing.T) {
				s := apiSender(t, kind, "secret-key-123", tt.endpoint, 300*time.Millisecond)
				err := s.Send(t.Context(), testMessage(t, testRecipient(), "post/1/1"))
				outcome, reason := Classify(err)
				if outcome.String() != tt.want {
					t.Errorf("got %s (%s), want %s", outcome, reason, tt.want)
				}
				if err != nil && strings.Contains(err.Error(), "secret-key-123") {
					t.Errorf("the error shows the key: %v", err)
				}
			})
		}
	}
}

// TestResendIdempotent sends the same delivery twice, as a retry after a lost answer or a crash does: Resend
// recognises the key and the body, answers with the first id, and the recipient has the message once. The
// same delivery composed on a later day (another Date) is the same request.
func TestResendIdempotent(t *testing.T) {
	srv := apitest.Start(t, apitest.Resend)
	s := apiSender(t, apitest.Resend, srv.Key, srv.URL, 0)
	m1 := testMessage(t, testRecipient(), "post/1/1")
	if err := s.Send(t.Context(), m1); err != nil {
		t.Fatal(err)
	}
	c := newTestComposer(t, testOptions())
	m2, err := c.Post(testRecipient(), testPosts()[0], m1.MessageID, sendDate.Add(26*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), m2); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("the recipient has %d messages after a retry with the same key, want 1", n)
	}
	if m1.ServerReply() != m2.ServerReply() {
		t.Errorf("the retry got %q, the first send %q: want the same id", m2.ServerReply(), m1.ServerReply())
	}
	if srv.Requests() != 2 {
		t.Errorf("%d requests, want 2", srv.Requests())
	}
}

// TestAPIEngine runs the Engine over each provider's stand-in, which throttles (429) the first request to
// every tenth recipient and refuses one recipient for good: each message is sent once, the throttled ones
// after a retry in the same run, and the refused one fails.
func TestAPIEngine(t *testing.T) {
	for _, kind := range apiKinds {
		t.Run(string(kind), func(t *testing.T) {
			srv := apitest.Start(t, kind)
			throttled := map[string]bool{}
			var mu sync.Mutex
			srv.Refuse(func(to string, _ int) (int, string) {
				mu.Lock()
				defer mu.Unlock()
				if to == "r007@example.org" {
					switch kind {
					case apitest.Postmark:
						return 422, `{"ErrorCode":406,"Message":"You tried to send to recipient(s) that have been marked as inactive."}`
					case apitest.Resend:
						return 422, `{"statusCode":422,"name":"validation_error","message":"Invalid ` + "`to`" + ` field."}`
					}
					return 400, `{"message":"to parameter is not a valid address"}`
				}
				if strings.HasSuffix(to, "0@example.org") && !throttled[to] {
					throttled[to] = true
					return 429, `{"ErrorCode":429,"statusCode":429,"name":"rate_limit_exceeded","message":"Too many requests"}`
				}
				return 0, ""
			})
			const n = 60
			jobs := make(chan Job, n)
			c := newTestComposer(t, testOptions())
			pp, err := c.PreparePost(testPosts()[0])
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				r := testRecipient()
				r.Email = fmt.Sprintf("r%03d@example.org", i)
				m, err := pp.Message(r, fmt.Sprintf("post/1/%d", i), sendDate)
				if err != nil {
					t.Fatal(err)
				}
				jobs <- Job{ID: int64(i + 1), Message: m}
			}
			close(jobs)
			l := &recLedger{t: t, started: map[int64]bool{}, results: map[int64]Result{}}
			e := &Engine{Dial: func(context.Context) (Sender, error) { return apiSender(t, kind, srv.Key, srv.URL, 0), nil },
				Ledger: l, Connections: 4, Backoff: 10 * time.Millisecond}
			counts, err := e.Run(t.Context(), jobs)
			if err != nil {
				t.Fatal(err)
			}
			if counts[Sent] != n-1 || counts[Failed] != 1 {
				t.Errorf("counts %v, want %d sent and 1 failed", counts, n-1)
			}
			for to, ms := range srv.ByRecipient() {
				if len(ms) != 1 {
					t.Errorf("%s got %d messages", to, len(ms))
				}
			}
			if r := l.results[8]; r.Outcome != Failed || (kind == apitest.Postmark) != (r.Enhanced == "5.1.1") {
				t.Errorf("r007: %v %q %q; want failed, with 5.1.1 for Postmark's inactive recipient only", r.Outcome, r.Reason, r.Enhanced)
			}
		})
	}
}

// TestSESErrors maps SES's documented SendEmail errors.
func TestSESErrors(t *testing.T) {
	tests := []struct {
		err  error
		want Outcome
		stop bool
	}{
		{&types.TooManyRequestsException{Message: aws.String("Too many requests")}, Deferred, false},
		{&types.LimitExceededException{Message: aws.String("Maximum sending rate exceeded.")}, Deferred, false},
		{&types.InternalServiceErrorException{}, Deferred, false},
		{&types.MessageRejected{Message: aws.String("Email address is not verified.")}, Failed, false},
		{&types.BadRequestException{Message: aws.String("Illegal address")}, Failed, false},
		{&types.AccountSuspendedException{}, Failed, true},
		{&types.SendingPausedException{}, Failed, true},
		{&types.MailFromDomainNotVerifiedException{}, Failed, true},
		{&types.NotFoundException{}, Failed, true},
	}
	for _, tt := range tests {
		err := sesError(tt.err, true)
		o, reason := Classify(err)
		if o != tt.want || rejectsSender(err, reason) != tt.stop {
			t.Errorf("%T: got %s (%s), stops the run: %v; want %s, %v", tt.err, o, reason, rejectsSender(err, reason), tt.want, tt.stop)
		}
	}
	if o, _ := Classify(sesError(errors.New("connection reset"), true)); o != Unknown {
		t.Errorf("a lost answer after the request went out: %s, want unknown", o)
	}
	if o, _ := Classify(sesError(errors.New("connection refused"), false)); o != Deferred {
		t.Errorf("a request that never went out: %s, want deferred", o)
	}
}

// TestSESEmulator sends posts through SES's v2 API, with the official SDK, to aws-ses-v2-local, and reads
// back from its store what it received: each recipient's message once, with Herald's subject, and the
// text part with the unsubscribe link. A closed port is deferred.
func TestSESEmulator(t *testing.T) {
	emu := apitest.StartSES(t)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")}
	ses, err := NewSES(SESConfig{AWS: cfg, Endpoint: emu.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := newTestComposer(t, testOptions())
	pp, err := c.PreparePost(testPosts()[0])
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	jobs := make(chan Job, n)
	subject := ""
	for i := 0; i < n; i++ {
		r := testRecipient()
		r.Email = fmt.Sprintf("r%03d@example.org", i)
		m, err := pp.Message(r, fmt.Sprintf("post/1/%d", i), sendDate)
		if err != nil {
			t.Fatal(err)
		}
		subject = m.Subject
		jobs <- Job{ID: int64(i + 1), Message: m}
	}
	close(jobs)
	l := &recLedger{t: t, started: map[int64]bool{}, results: map[int64]Result{}}
	e := &Engine{Dial: func(context.Context) (Sender, error) { return ses.Sender(), nil }, Ledger: l, Connections: 3}
	counts, err := e.Run(t.Context(), jobs)
	if err != nil || counts[Sent] != n {
		t.Fatalf("counts %v, %v; want %d sent", counts, err, n)
	}
	got := map[string]int{}
	for _, em := range emu.Emails(t) {
		if len(em.Destination.To) != 1 {
			t.Errorf("a message to %v", em.Destination.To)
			continue
		}
		to := em.Destination.To[0]
		got[to]++
		if em.Subject != subject {
			t.Errorf("subject %q, want %q", em.Subject, subject)
		}
		if !strings.Contains(em.Body.Text, "https://blog.example.com/unsubscribe?t=abc123") {
			t.Errorf("the text part has no unsubscribe link:\n%s", em.Body.Text)
		}
		if !strings.Contains(em.From, "jane@blog.example.com") {
			t.Errorf("from %q", em.From)
		}
	}
	if len(got) != n {
		t.Errorf("the emulator has messages for %d recipients, want %d", len(got), n)
	}
	for to, k := range got {
		if k != 1 {
			t.Errorf("%s got %d messages", to, k)
		}
	}

	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l2.Addr().String()
	l2.Close()
	down, err := NewSES(SESConfig{AWS: cfg, Endpoint: closed})
	if err != nil {
		t.Fatal(err)
	}
	err = down.Sender().Send(t.Context(), testMessage(t, testRecipient(), "post/1/1"))
	if o, reason := Classify(err); o != Deferred {
		t.Errorf("SES down: %s (%s), want deferred", o, reason)
	}
}

// TestEndpointChecked: plain http goes only to this machine, which holds the key in the clear.
func TestEndpointChecked(t *testing.T) {
	if _, err := NewPostmark(PostmarkConfig{Token: "k", Endpoint: "http://api.example.com"}); err == nil {
		t.Error("plain http to another machine was accepted")
	}
	if _, err := NewResend(ResendConfig{Key: "k", Endpoint: "http://[::1]:8080"}); err != nil {
		t.Errorf("http to ::1: %v", err)
	}
	if _, err := NewMailgun(MailgunConfig{Key: "k", Domain: "a/b"}); err == nil {
		t.Error("a domain with a slash was accepted")
	}
}
