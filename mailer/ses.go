package mailer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Amazon SES through its v2 API and the official SDK (github.com/aws/aws-sdk-go-v2/service/sesv2):
// SendEmail with Raw content sends Herald's own message, byte for byte, DKIM signature included. The SDK's
// own retries are off: a retry of a request whose answer was lost could send the message twice, and the
// Engine retries what is safe to retry, recording each attempt. SES's documented errors for SendEmail
// (docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html) map as follows:
//
//   - TooManyRequestsException (429), LimitExceededException (a sending quota or rate), and SES's own failures
//     (5xx, InternalServiceErrorException): deferred, tried again with backoff;
//   - MessageRejected (the message is refused, for example for a virus) and BadRequestException: failed;
//   - AccountSuspendedException, SendingPausedException, MailFromDomainNotVerifiedException, NotFoundException
//     (no such configuration set or identity), and a refused key (401, 403): the run stops with the message
//     kept for later, as for a refused MAIL FROM.
//
// SES takes no idempotency key: a request whose answer was lost is unknown.

// SESConfig says how to send through Amazon SES.
type SESConfig struct {
	// AWS holds the region and credentials, from the standard AWS chain (the environment, the shared
	// config and credentials files, SSO, an instance or task role): cmd loads it.
	AWS              aws.Config
	Endpoint         string // instead of SES's (an emulator); http only to this machine
	ConfigurationSet string // optional: SES's configuration set, for its event publishing
	Timeout          time.Duration
}

// sesMaxBytes is the largest raw message SES's v2 API takes.
const sesMaxBytes = 40 << 20

// SESClient is the SES client shared by the senders of a run (the SDK's client is safe for concurrent use).
type SESClient struct {
	c      SESConfig
	client *sesv2.Client
}

// NewSES makes the SES client. It opens no connection.
func NewSES(c SESConfig) (*SESClient, error) {
	if c.AWS.Region == "" {
		return nil, errors.New("mailer: SES: no region")
	}
	var endpoint *string
	if c.Endpoint != "" {
		u, err := checkEndpoint("SES", c.Endpoint)
		if err != nil {
			return nil, err
		}
		endpoint = aws.String(u.String())
	}
	httpClient := newAPIClient()
	client := sesv2.NewFromConfig(c.AWS, func(o *sesv2.Options) {
		o.BaseEndpoint = endpoint
		o.Retryer = aws.NopRetryer{}
		o.HTTPClient = tracedClient{httpClient}
	})
	return &SESClient{c: c, client: client}, nil
}

// Sender returns a sender for one connection of the Engine.
func (s *SESClient) Sender() *SESSender { return &SESSender{s: s} }

// SESSender sends messages through SES, one request per message.
type SESSender struct{ s *SESClient }

// Send sends the message as Herald composed it.
func (w *SESSender) Send(ctx context.Context, m *Message) error {
	if len(m.raw) > sesMaxBytes {
		return apiRefusal("SES", refusedMessage, 0, fmt.Sprintf("not sent: the message is %d bytes, over SES's limit of 40 MB", len(m.raw)))
	}
	timeout := w.s.c.Timeout
	if timeout <= 0 {
		timeout = DefaultAPITimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wr := &wrote{}
	ctx = context.WithValue(ctx, wroteKey{}, wr)
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(strings.Trim(m.from, "<>")),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content:          &types.EmailContent{Raw: &types.RawMessage{Data: m.raw}},
	}
	if w.s.c.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(w.s.c.ConfigurationSet)
	}
	out, err := w.s.client.SendEmail(ctx, in)
	if err == nil {
		m.reply = "SES MessageId " + aws.ToString(out.MessageId)
		return nil
	}
	return sesError(err, wr.get())
}

// sesError maps an error of SendEmail (see the top of this file).
func sesError(err error, written bool) error {
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if !errors.As(err, &ae) {
		if status != 0 {
			return apiRefusal("SES", byStatus(status), status, err.Error())
		}
		return lostAnswer("SES", written, unwrapSDK(err))
	}
	detail := ae.ErrorCode() + ": " + ae.ErrorMessage()
	var v verdict
	switch ae.(type) {
	case *types.TooManyRequestsException, *types.LimitExceededException, *types.InternalServiceErrorException:
		v = retryLater
	case *types.MessageRejected, *types.BadRequestException:
		v = refusedMessage
	case *types.AccountSuspendedException, *types.SendingPausedException, *types.MailFromDomainNotVerifiedException, *types.NotFoundException:
		v = refusedSender
	default:
		switch ae.ErrorCode() {
		case "Throttling", "ThrottlingException", "RequestLimitExceeded":
			v = retryLater
		case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
			"SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "AccessDeniedException", "MissingAuthenticationToken":
			v = refusedSender
		default:
			v = byStatus(status)
		}
	}
	return apiRefusal("SES", v, status, detail)
}

// unwrapSDK takes the SDK's operation wrappers off a network error, which name the operation and not
// much more.
func unwrapSDK(err error) error {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	return err
}

// Close does nothing.
func (w *SESSender) Close() error { return nil }

// tracedClient is the SDK's HTTP client, telling the request's wrote (from its context) whether the whole
// request went out.
type tracedClient struct{ c *http.Client }

type wroteKey struct{}

type wrote struct {
	mu sync.Mutex
	ok bool
}

func (w *wrote) get() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ok
}

func (t tracedClient) Do(req *http.Request) (*http.Response, error) {
	if wr, ok := req.Context().Value(wroteKey{}).(*wrote); ok {
		trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
			wr.mu.Lock()
			wr.ok = i.Err == nil
			wr.mu.Unlock()
		}}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	return t.c.Do(req)
}
