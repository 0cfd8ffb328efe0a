package mailer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Resend's API, as its reference documents it (resend.com/docs/api-reference: introduction, emails/send-email,
// errors, rate-limit; and dashboard/emails/idempotency-keys, read in December 2026):
//
//   - POST https://api.resend.com/emails, JSON, Authorization: Bearer KEY, and a User-Agent (a request
//     without one is refused with 403). The body holds from, to (at most 50), subject, html, text and
//     headers (custom headers, an object).
//   - Idempotency-Key: at most 256 characters; for 24 hours the same key with the same body gets the first
//     request's answer and sends nothing again; with another body, 409 invalid_idempotent_request; while
//     the first is under way, 409 concurrent_idempotent_requests.
//   - 200 answers {"id": ...}. Errors are {statusCode, name, message}: 400 validation_error and
//     invalid_idempotency_key; 401 missing_api_key, restricted_api_key; 403 invalid_api_key, restricted or
//     suspended keys, validation_error (an unverified domain, testing only to your own address); 404
//     not_found; 405 method_not_allowed; 409 as above, and resource_locked; 422 missing_required_field,
//     invalid_parameter, invalid_attachment; 429 rate_limit_exceeded (10 requests a second by default, with
//     retry-after), daily_quota_exceeded, monthly_quota_exceeded; 500 application_error; 503
//     service_unavailable.
//
// Resend takes fields, not MIME (see fields for what is kept). The Date header is not sent: it changes from
// one run to the next, and the body of a retry must be the same as the first request's for Resend to
// recognise it. Each request carries the key idempotencyKey derives from the Message-ID, which a delivery
// keeps when it is sent again: a request whose answer was lost is deferred, and sending it again, in this run
// or after a crash, makes no second message (within Resend's 24 hours).

// ResendConfig says how to send through Resend.
type ResendConfig struct {
	Key      string // the API key; never in an error
	Endpoint string // default https://api.resend.com; http only to this machine (tests)
	Timeout  time.Duration
	Client   *http.Client
}

// ResendSender sends messages through Resend's API, one request per message, each with its idempotency key.
// It holds only its settings and an HTTP client, so one sender serves every connection of a run at once.
type ResendSender struct {
	c   ResendConfig
	url string
}

// NewResend checks c and returns a sender.
func NewResend(c ResendConfig) (*ResendSender, error) {
	if c.Key == "" {
		return nil, errors.New("mailer: Resend: no API key")
	}
	base := "https://api.resend.com"
	if c.Endpoint != "" {
		u, err := checkEndpoint("Resend", c.Endpoint)
		if err != nil {
			return nil, err
		}
		base = u.String()
	}
	if c.Client == nil {
		c.Client = newAPIClient()
	}
	return &ResendSender{c: c, url: base + "/emails"}, nil
}

type resendEmail struct {
	From    string            `json:"from"`
	To      []string          `json:"to"`
	Subject string            `json:"subject"`
	HTML    string            `json:"html,omitempty"`
	Text    string            `json:"text"`
	Headers map[string]string `json:"headers,omitempty"`
}

type resendReply struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Send posts one message with its idempotency key.
func (s *ResendSender) Send(ctx context.Context, m *Message) error {
	f, err := fieldsOf(m)
	if err != nil {
		return err
	}
	e := resendEmail{From: f.From, To: []string{f.To}, Subject: f.Subject, HTML: f.HTML, Text: f.Text, Headers: map[string]string{}}
	for _, h := range f.Headers {
		e.Headers[h.Name] = h.Value
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("mailer: Resend: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("mailer: Resend: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.c.Key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Idempotency-Key", idempotencyKey(m.MessageID))
	status, header, reply, err := sendHTTP(ctx, httpCall{provider: "Resend", client: s.c.Client, req: req, timeout: s.c.Timeout, idempotent: true})
	if err != nil {
		return err
	}
	var r resendReply
	jerr := json.Unmarshal(reply, &r)
	if status == http.StatusOK && jerr == nil && r.ID != "" {
		m.reply = "Resend id " + r.ID
		return nil
	}
	if jerr != nil || r.Name == "" {
		return withRetryAfter(apiRefusal("Resend", byStatus(status), status, snippet(reply)), status, header, time.Now())
	}
	return withRetryAfter(apiRefusal("Resend", resendVerdict(status, r.Name), status, r.Name+": "+r.Message), status, header, time.Now())
}

// resendVerdict reads Resend's error name (see the top of this file).
func resendVerdict(status int, name string) verdict {
	switch name {
	case "rate_limit_exceeded", "concurrent_idempotent_requests", "resource_locked", "application_error", "service_unavailable":
		return retryLater
	case "daily_quota_exceeded", "monthly_quota_exceeded", "missing_api_key", "restricted_api_key", "invalid_api_key",
		"suspended_api_key", "invalid_permission", "not_found", "method_not_allowed":
		return refusedSender // every message would get the same: the run stops, the message waits
	case "invalid_idempotent_request":
		// Resend holds another body under this delivery's key: a message went out under it in the last
		// 24 hours (the post was edited since). Sending it again is what the key is there to prevent.
		return refusedMessage
	case "validation_error":
		if status == http.StatusForbidden {
			return refusedSender // an unverified domain, or a testing key sending to others
		}
		return refusedMessage
	}
	return byStatus(status)
}

// Close does nothing.
func (s *ResendSender) Close() error { return nil }
