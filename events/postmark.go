package events

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/store"
)

// Postmark does not sign its webhooks: it protects them with the basic auth credentials written into
// the webhook's URL (https://postmarkapp.com/developer/webhooks/webhooks-overview, "Protecting your
// webhook"), which it sends on every request, over HTTPS. A request without them, or with others, is
// refused with 401 and read no further.
//
// The payloads (https://postmarkapp.com/developer/webhooks/bounce-webhook,
// .../delivery-webhook, .../spam-complaint-webhook) name Postmark's own MessageID, not the Message-ID
// header Herald sent; but they echo the message's Metadata, where Herald's sender puts its Message-ID
// (mailer.PostmarkMessageIDKey), so an event is matched to its delivery by it, and by its recipient's
// address when a message had none. An event carries no time signed, and is replayed under its id: a
// bounce's or complaint's ID, a delivery's MessageID.
type postmarkEvent struct {
	RecordType  string // Bounce, Delivery, SpamComplaint (and others Herald does not take)
	ID          int64  // a bounce's or complaint's
	Type        string // a bounce's: HardBounce, SoftBounce, Transient, SpamComplaint, ...
	MessageID   string // Postmark's
	Email       string // a bounce's or complaint's recipient
	Recipient   string // a delivery's
	Details     string
	Description string
	BouncedAt   time.Time
	DeliveredAt time.Time
	Metadata    map[string]string // as sent: Herald's Message-ID under postmarkMessageIDKey
}

// postmarkMessageIDKey is mailer.PostmarkMessageIDKey: the Metadata field of Herald's Message-ID.
const postmarkMessageIDKey = "herald_message_id"

func (h *hooks) postmark(r *http.Request, body []byte) ([]store.Event, error) {
	user, pass, ok := r.BasicAuth()
	if !ok || !(equal(user, h.o.PostmarkUser) && equal(pass, h.o.PostmarkPassword)) {
		return nil, fmt.Errorf("%w: Postmark's basic auth", errUnauthorized)
	}
	var p postmarkEvent
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: Postmark event: %v", errBadEvent, err)
	}
	e := store.Event{Recipient: p.Email, Detail: p.Details, At: p.BouncedAt, MessageID: p.Metadata[postmarkMessageIDKey]}
	switch p.RecordType {
	case "Delivery":
		e.Kind, e.Recipient, e.At = store.EventDelivered, p.Recipient, p.DeliveredAt
		// Postmark's MessageID is its message's, and Herald sends each to one reader: the address, which
		// the log must not show, need not be part of the id.
		e.ProviderEventID = "delivery/" + p.MessageID
	case "SpamComplaint":
		e.Kind, e.ProviderEventID = store.EventComplaint, "bounce/"+strconv.FormatInt(p.ID, 10)
	case "Bounce":
		e.Kind, e.ProviderEventID = postmarkBounce(p.Type), "bounce/"+strconv.FormatInt(p.ID, 10)
		if e.Kind == "" {
			return nil, nil // an auto-responder, a subscribe request: nothing about the address
		}
	default:
		return nil, nil // opens, clicks, subscription changes: not Herald's business
	}
	if p.ID == 0 && e.Kind != store.EventDelivered || e.ProviderEventID == "delivery/" {
		return nil, fmt.Errorf("%w: Postmark %s without an id", errBadEvent, p.RecordType)
	}
	return []store.Event{e}, nil
}

// postmarkBounce is the kind of a Postmark bounce of type t
// (https://postmarkapp.com/developer/api/bounce-api#bounce-types), "" for one that says nothing of the
// address.
func postmarkBounce(t string) string {
	switch t {
	case "HardBounce", "BadEmailAddress", "ManuallyDeactivated":
		return store.EventHardBounce
	case "SpamComplaint", "SpamNotification":
		return store.EventComplaint
	case "SoftBounce", "Transient", "DnsError", "Blocked", "Undeliverable", "Unknown", "ChallengeVerification", "VirusNotification":
		return store.EventSoftBounce
	}
	return ""
}
