package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/store"
)

// Mailgun signs each webhook request in its body: signature.signature is the hex HMAC-SHA256, keyed with
// the account's HTTP webhook signing key, of signature.timestamp followed by signature.token
// (https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks). A request
// whose signature does not match is refused with 403; one signed more than MaxAge ago too, as that page
// advises (with the token, which a replay repeats, kept in the store as part of the event's id).
//
// event-data is one event (https://documentation.mailgun.com/docs/mailgun/user-manual/events/events):
// delivered; failed, permanent or temporary by its severity; complained. Mailgun sends Herald's own MIME
// (messages.mime), so message.headers.message-id is the Message-ID Herald wrote, without its brackets.
type mailgunRequest struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData struct {
		ID        string  `json:"id"`
		Event     string  `json:"event"`
		Severity  string  `json:"severity"`
		Timestamp float64 `json:"timestamp"`
		Recipient string  `json:"recipient"`
		Reason    string  `json:"reason"`
		Message   struct {
			Headers struct {
				MessageID string `json:"message-id"`
			} `json:"headers"`
		} `json:"message"`
		DeliveryStatus struct {
			Code        int    `json:"code"`
			Message     string `json:"message"`
			Description string `json:"description"`
		} `json:"delivery-status"`
	} `json:"event-data"`
}

func (h *hooks) mailgun(r *http.Request, body []byte) ([]store.Event, error) {
	var m mailgunRequest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: not a Mailgun webhook: %v", errForged, err)
	}
	s := m.Signature
	mac := hmac.New(sha256.New, []byte(h.o.MailgunKey))
	mac.Write([]byte(s.Timestamp + s.Token))
	want := hex.EncodeToString(mac.Sum(nil))
	if s.Token == "" || !equal(want, s.Signature) {
		return nil, fmt.Errorf("%w: bad Mailgun signature", errForged)
	}
	ts, err := strconv.ParseInt(s.Timestamp, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: Mailgun timestamp %q", errForged, s.Timestamp)
	}
	if err := fresh(time.Unix(ts, 0), h.o.Now()); err != nil {
		return nil, err
	}
	d := m.EventData
	var kind string
	switch {
	case d.Event == "delivered":
		kind = store.EventDelivered
	case d.Event == "failed" && d.Severity == "permanent":
		kind = store.EventHardBounce
	case d.Event == "failed":
		kind = store.EventSoftBounce
	case d.Event == "complained":
		kind = store.EventComplaint
	default:
		return nil, nil // opened, clicked, unsubscribed (Mailgun's own list), accepted: not Herald's
	}
	if d.ID == "" {
		return nil, fmt.Errorf("%w: Mailgun event without an id", errBadEvent)
	}
	sec, frac := math.Modf(d.Timestamp)
	detail := d.DeliveryStatus.Description
	if detail == "" {
		detail = d.DeliveryStatus.Message
	}
	if d.DeliveryStatus.Code != 0 {
		detail = strconv.Itoa(d.DeliveryStatus.Code) + " " + detail
	}
	return []store.Event{{ProviderEventID: d.ID, Kind: kind, At: time.Unix(int64(sec), int64(frac*1e9)).UTC(),
		Detail: detail, MessageID: d.Message.Headers.MessageID, Recipient: d.Recipient}}, nil
}
