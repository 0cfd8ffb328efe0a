// Package events hears back from the mail providers: it takes their webhooks, checks that each request
// comes from the provider as the provider documents (a signature, or credentials), and records what it
// reports about a message (delivered, bounced, complained of) in the store.
//
// The model: a provider's request is believed only once verified; a request that is not is refused
// (401 or 403) before its body is read as an event, and changes nothing. Each event it carries becomes
// one store.Event keyed by the provider's own id for it, so that a request delivered again, by the
// provider's retries or by someone who copied it, is recorded once and applied once (store.RecordEvent).
// Where the provider signs the time of the request (Mailgun, Resend), one older than MaxAge is refused
// too. What an event does to a subscriber is the store's business: this package only says what happened.
package events

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldhq/herald/store"
)

// Recorder is what the webhooks need of the store.
type Recorder interface {
	RecordEvent(ctx context.Context, e store.Event) (bool, error)
}

// Options configure the webhooks. A provider whose settings are empty has no webhook: its path answers 404.
type Options struct {
	Store  Recorder
	Logger *slog.Logger // nil: discard

	// SES takes Amazon SES's notifications through Amazon SNS; nil: none.
	SES *SNSOptions
	// PostmarkUser and PostmarkPassword are the basic auth credentials written into the webhook's URL
	// in Postmark (https://USER:PASSWORD@host/webhooks/postmark).
	PostmarkUser, PostmarkPassword string
	// MailgunKey is Mailgun's HTTP webhook signing key.
	MailgunKey string
	// ResendSecret is the Resend webhook's signing secret, "whsec_" and base64.
	ResendSecret string

	Now func() time.Time // default time.Now
}

// MaxAge is how old a signed request's time may be (Mailgun's, Resend's): an older one is a replay.
const MaxAge = 5 * time.Minute

// maxBody bounds a request's body: SNS messages are at most 256 KB, the others' events smaller.
const maxBody = 1 << 20

// Handler serves the webhooks under prefix: prefix+"/ses", "/postmark", "/mailgun" and "/resend".
func Handler(prefix string, o Options) (http.Handler, error) {
	if o.Store == nil {
		return nil, errors.New("events: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &hooks{o: o, log: o.Logger}
	mux := http.NewServeMux()
	if o.SES != nil {
		sns, err := newSNS(*o.SES)
		if err != nil {
			return nil, err
		}
		mux.Handle("POST "+prefix+"/ses", h.serve("ses", sns.verify))
	}
	if o.PostmarkUser != "" || o.PostmarkPassword != "" {
		mux.Handle("POST "+prefix+"/postmark", h.serve("postmark", h.postmark))
	}
	if o.MailgunKey != "" {
		mux.Handle("POST "+prefix+"/mailgun", h.serve("mailgun", h.mailgun))
	}
	if o.ResendSecret != "" {
		key, err := resendKey(o.ResendSecret)
		if err != nil {
			return nil, err
		}
		mux.Handle("POST "+prefix+"/resend", h.serve("resend", func(r *http.Request, body []byte) ([]store.Event, error) {
			return h.resend(r, body, key)
		}))
	}
	return mux, nil
}

type hooks struct {
	o   Options
	log *slog.Logger
}

// A verify function checks a provider's request and returns the events it carries: an error wrapping
// errForged or errUnauthorized when the request is not the provider's, errBadEvent when it is and
// cannot be read.
type verify func(r *http.Request, body []byte) ([]store.Event, error)

var (
	errUnauthorized = errors.New("no credentials or wrong ones")        // 401
	errForged       = errors.New("not signed by the provider")          // 403
	errBadEvent     = errors.New("a verified request that is no event") // 400
	errTooLarge     = errors.New("request body too large")              // 413
	errNotStored    = errors.New("the store did not record the event")  // 500
)

// serve reads the body, has verify check it, and records the events it carries, in order. It answers
// 200 once all are recorded (a replay included, which records nothing), so that the provider stops
// sending it; 500 when the store failed, so that the provider tries again.
func (h *hooks) serve(provider string, v verify) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			h.refuse(w, provider, errTooLarge)
			return
		}
		evs, err := v(r, body)
		if err != nil {
			h.refuse(w, provider, err)
			return
		}
		now := h.o.Now().UTC()
		for _, e := range evs {
			e.Provider, e.ReceivedAt = provider, now
			if e.At.IsZero() {
				e.At = now
			}
			recorded, err := h.o.Store.RecordEvent(r.Context(), e)
			if err != nil {
				h.log.Error("webhook: record event", "provider", provider, "event", e.ProviderEventID, "err", err)
				h.refuse(w, provider, errNotStored)
				return
			}
			// The address stays out of the log at info level; the event id is the provider's.
			h.log.Info("webhook: event", "provider", provider, "event", e.ProviderEventID, "kind", e.Kind, "new", recorded)
			h.log.Debug("webhook: event recipient", "provider", provider, "event", e.ProviderEventID, "recipient", e.Recipient)
		}
		w.WriteHeader(http.StatusOK)
	})
}

// refuse answers a request that was not taken. The error's words are for the log: the answer says only
// what kind of refusal it is.
func (h *hooks) refuse(w http.ResponseWriter, provider string, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, errUnauthorized):
		code = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="herald webhooks"`)
	case errors.Is(err, errForged):
		code = http.StatusForbidden
	case errors.Is(err, errBadEvent):
		code = http.StatusBadRequest
	case errors.Is(err, errTooLarge):
		code = http.StatusRequestEntityTooLarge
	}
	h.log.Warn("webhook: refused", "provider", provider, "status", code, "err", err)
	http.Error(w, http.StatusText(code), code)
}

// equal compares a secret with what a request says in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// fresh says whether a signed request time is within MaxAge of now, either way (a clock ahead as much).
func fresh(at, now time.Time) error {
	if d := now.Sub(at); d > MaxAge || d < -MaxAge {
		return fmt.Errorf("%w: signed at %s, more than %v from now", errForged, at.UTC().Format(time.RFC3339), MaxAge)
	}
	return nil
}
