package mailer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Mailgun's sending API, as its reference documents it (documentation.mailgun.com: api-reference/send/mailgun/
// messages, "Send an email in MIME format", and quickstart-guide/responses, read in December 2026):
//
//   - POST https://api.mailgun.net/v3/{domain_name}/messages.mime (https://api.eu.mailgun.net for a domain
//     in the EU region), multipart/form-data, HTTP basic authentication with the user "api" and the API key.
//     Required fields: to (the recipients) and message (the MIME, sent as a file upload). Options (o:...)
//     are limited to 16 KB in all.
//   - 200 answers {"id": "<...>", "message": "Queued. Thank you."}. 400 carries {"message": ...} saying what
//     is wrong; 401 and 403 are a wrong key or no access; 404 an unknown domain or endpoint; 413 a message
//     too large (Mailgun takes 25 MB); 429 rate limited, to be tried again; 500 Mailgun's failure, to be tried
//     again with backoff.
//
// Mailgun takes Herald's own MIME, so the message goes out byte for byte as composed, DKIM signature
// included. Mailgun takes no idempotency key: a request whose answer was lost is unknown.

// MailgunConfig says how to send through Mailgun.
type MailgunConfig struct {
	Domain   string // the sending domain, as set up in Mailgun
	Key      string // the API key; never in an error
	EU       bool   // the domain is in Mailgun's EU region
	Endpoint string // instead of Mailgun's; http only to this machine (tests)
	Timeout  time.Duration
	Client   *http.Client
}

// mailgunMaxBytes is the largest message Mailgun takes.
const mailgunMaxBytes = 25 << 20

// MailgunSender sends messages through Mailgun's messages.mime endpoint, one request per message.
// It holds only its settings and an HTTP client, so one sender serves every connection of a run at once.
type MailgunSender struct {
	c   MailgunConfig
	url string
}

// NewMailgun checks c and returns a sender.
func NewMailgun(c MailgunConfig) (*MailgunSender, error) {
	switch {
	case c.Key == "":
		return nil, errors.New("mailer: Mailgun: no API key")
	case c.Domain == "" || strings.ContainsAny(c.Domain, "/?#@ "):
		return nil, fmt.Errorf("mailer: Mailgun: %q is not a sending domain", c.Domain)
	}
	base := "https://api.mailgun.net"
	if c.EU {
		base = "https://api.eu.mailgun.net"
	}
	if c.Endpoint != "" {
		u, err := checkEndpoint("Mailgun", c.Endpoint)
		if err != nil {
			return nil, err
		}
		base = u.String()
	}
	if c.Client == nil {
		c.Client = newAPIClient()
	}
	return &MailgunSender{c: c, url: base + "/v3/" + url.PathEscape(c.Domain) + "/messages.mime"}, nil
}

// Send posts the message as Herald composed it. Tracking is off (o:tracking=no): Herald rewrites no link.
func (s *MailgunSender) Send(ctx context.Context, m *Message) error {
	if len(m.raw) > mailgunMaxBytes {
		return apiRefusal("Mailgun", refusedMessage, 0, fmt.Sprintf("not sent: the message is %d bytes, over Mailgun's limit of 25 MB", len(m.raw)))
	}
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("to", m.To)
	w.WriteField("o:tracking", "no")
	fw, err := w.CreateFormFile("message", "message.eml")
	if err == nil {
		_, err = fw.Write(m.raw)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return fmt.Errorf("mailer: Mailgun: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, s.url, &b)
	if err != nil {
		return fmt.Errorf("mailer: Mailgun: %w", err)
	}
	req.SetBasicAuth("api", s.c.Key)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	status, header, reply, err := sendHTTP(ctx, httpCall{provider: "Mailgun", client: s.c.Client, req: req, timeout: s.c.Timeout})
	if err != nil {
		return err
	}
	var r struct{ ID, Message string }
	jerr := json.Unmarshal(reply, &r)
	if status == http.StatusOK && jerr == nil && r.ID != "" {
		m.reply = "Mailgun id " + r.ID
		return nil
	}
	detail := snippet(reply)
	if jerr == nil && r.Message != "" {
		detail = r.Message
	}
	v := byStatus(status)
	if status == http.StatusNotFound || status == http.StatusPaymentRequired {
		v = refusedSender // an unknown domain or a wrong endpoint; an account that may not send
	}
	return withRetryAfter(apiRefusal("Mailgun", v, status, detail), status, header, time.Now())
}

// Close does nothing.
func (s *MailgunSender) Close() error { return nil }
