package mailer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Postmark's email API, as its reference documents it (postmarkapp.com/developer/api/email-api and
// /developer/api/overview, read in December 2026):
//
//   - POST https://api.postmarkapp.com/email, JSON, with the server token in X-Postmark-Server-Token and
//     Accept: application/json; the body holds From, To (at most 50 recipients), Subject, TextBody and/or
//     HtmlBody, Headers as a list of {Name, Value}, TrackOpens, TrackLinks, MessageStream and Metadata (at
//     most 10 fields, names of up to 20 characters, values of up to 80, echoed in the webhooks).
//   - 200 answers {To, SubmittedAt, MessageID, ErrorCode: 0, Message: "OK"}. 401: a missing or wrong token.
//     413: the request is over 10 MB. 422: the body is {ErrorCode, Message}, with the API error codes: 10 bad
//     or missing token, 100 maintenance, 300 invalid email request, 400 sender signature not found, 401 sender
//     signature not confirmed, 402 invalid JSON, 403 incompatible JSON, 405 not allowed to send (no credits),
//     406 inactive recipient (it bounced hard or complained), 409 JSON required, 411 forbidden attachment type,
//     412 account pending, 413 account may not send, 1235 no such message stream. 429: rate limited. 500:
//     Postmark's failure. 503: planned maintenance.
//
// Postmark takes fields, not MIME, over its API: Herald's parts and newsletter headers go as fields and
// custom headers (see fields); Date, the MIME structure and Herald's DKIM signature are Postmark's to make.
// Postmark takes no idempotency key, so a request whose answer was lost is unknown. Its batch endpoint is
// not used (see the top of transport.go).

// PostmarkConfig says how to send through Postmark.
type PostmarkConfig struct {
	Token    string // the server's API token; never in an error
	Stream   string // the message stream; default "broadcast", Postmark's stream for newsletters
	Endpoint string // default https://api.postmarkapp.com; http only to this machine (tests)
	Timeout  time.Duration
	Client   *http.Client // shared by the senders; default a client of its own
}

// postmarkMaxBytes is Postmark's limit on one request to its Email API.
const postmarkMaxBytes = 10 << 20

// PostmarkSender sends messages through Postmark's Email API, one request per message.
// It holds only its settings and an HTTP client, so one sender serves every connection of a run at once.
type PostmarkSender struct {
	c   PostmarkConfig
	url string
}

// NewPostmark checks c and returns a sender. It opens no connection: Postmark is first asked with the
// first message.
func NewPostmark(c PostmarkConfig) (*PostmarkSender, error) {
	if c.Token == "" {
		return nil, errors.New("mailer: Postmark: no server token")
	}
	base := "https://api.postmarkapp.com"
	if c.Endpoint != "" {
		u, err := checkEndpoint("Postmark", c.Endpoint)
		if err != nil {
			return nil, err
		}
		base = u.String()
	}
	if c.Stream == "" {
		c.Stream = "broadcast"
	}
	if c.Client == nil {
		c.Client = newAPIClient()
	}
	return &PostmarkSender{c: c, url: base + "/email"}, nil
}

type postmarkEmail struct {
	From          string
	To            string
	Subject       string
	TextBody      string           `json:",omitempty"`
	HtmlBody      string           `json:",omitempty"`
	Headers       []postmarkHeader `json:",omitempty"`
	TrackOpens    bool
	TrackLinks    string
	MessageStream string
	// Metadata is echoed back in Postmark's webhooks, which name only Postmark's own MessageID: Herald's
	// Message-ID goes there, for the events to find their delivery.
	Metadata map[string]string `json:",omitempty"`
}

// PostmarkMessageIDKey is the Metadata field that carries Herald's Message-ID, without its angle
// brackets. Postmark takes field names of up to 20 characters and values of up to 80: a longer Message-ID
// is left out, and the events are matched by address.
const PostmarkMessageIDKey = "herald_message_id"

// postmarkMetadata is a message's Metadata.
func postmarkMetadata(messageID string) map[string]string {
	id := strings.TrimSuffix(strings.TrimPrefix(messageID, "<"), ">")
	if id == "" || len(id) > 80 {
		return nil
	}
	return map[string]string{PostmarkMessageIDKey: id}
}

type postmarkHeader struct{ Name, Value string }

type postmarkReply struct {
	ErrorCode int
	Message   string
	MessageID string
}

// Send posts one message. Herald tracks nothing: TrackOpens and TrackLinks are off whatever the server's
// defaults, so that links reach readers as written.
func (s *PostmarkSender) Send(ctx context.Context, m *Message) error {
	f, err := fieldsOf(m)
	if err != nil {
		return err
	}
	e := postmarkEmail{From: f.From, To: f.To, Subject: f.Subject, TextBody: f.Text, HtmlBody: f.HTML,
		TrackLinks: "None", MessageStream: s.c.Stream, Metadata: postmarkMetadata(m.MessageID)}
	for _, h := range f.Headers {
		e.Headers = append(e.Headers, postmarkHeader{h.Name, h.Value})
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("mailer: Postmark: %w", err)
	}
	if len(body) > postmarkMaxBytes {
		return apiRefusal("Postmark", refusedMessage, 0, fmt.Sprintf("not sent: the request would be %d bytes, over Postmark's limit of 10 MB", len(body)))
	}
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("mailer: Postmark: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Postmark-Server-Token", s.c.Token)
	req.Header.Set("User-Agent", userAgent)
	status, header, reply, err := sendHTTP(ctx, httpCall{provider: "Postmark", client: s.c.Client, req: req, timeout: s.c.Timeout})
	if err != nil {
		return err
	}
	var r postmarkReply
	jerr := json.Unmarshal(reply, &r)
	if status == http.StatusOK && jerr == nil && r.ErrorCode == 0 {
		m.reply = "Postmark MessageID " + r.MessageID
		return nil
	}
	if jerr != nil {
		return withRetryAfter(apiRefusal("Postmark", byStatus(status), status, snippet(reply)), status, header, time.Now())
	}
	return withRetryAfter(apiRefusal("Postmark", postmarkVerdict(status, r.ErrorCode), status, fmt.Sprintf("ErrorCode %d: %s", r.ErrorCode, r.Message)), status, header, time.Now())
}

// postmarkVerdict reads Postmark's API error code (see the top of this file).
func postmarkVerdict(status, code int) verdict {
	switch code {
	case 406:
		return refusedRecipient
	case 100, 429:
		return retryLater
	case 10, 400, 401, 405, 412, 413, 1235:
		return refusedSender
	case 300, 402, 403, 409, 411:
		return refusedMessage
	}
	if status == http.StatusNotFound {
		return refusedSender // a wrong endpoint: every message would get the same
	}
	return byStatus(status)
}

// Close does nothing: the HTTP client's connections are shared by the senders.
func (s *PostmarkSender) Close() error { return nil }

// snippet is the start of a reply that is not the JSON expected, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
