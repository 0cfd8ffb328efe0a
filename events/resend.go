package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/store"
)

// Resend's webhooks are sent by Svix (https://resend.com/docs/webhooks/verify-webhooks-requests), and
// verified as Svix documents (https://docs.svix.com/receiving/verifying-payloads/how-manual): the
// secret is "whsec_" and the base64 of the key; the signed content is svix-id, ".", svix-timestamp
// (seconds), ".", the raw body; svix-signature lists space-separated "v1,BASE64" HMAC-SHA256 signatures,
// one of which must match (several while a secret is rotated). A request signed more than MaxAge ago,
// or ahead of now as much, is refused, as Svix advises against replays; svix-id, the same for the
// retries of one message, is the event's id.
//
// The payload is {type, created_at, data} (https://resend.com/docs/webhooks/introduction); data names
// Resend's email_id and the recipients (to), and the headers Herald sent when Resend includes them:
// an event is matched by the Message-ID among them, else by its recipient.
type resendEvent struct {
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      struct {
		EmailID string   `json:"email_id"`
		To      []string `json:"to"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
		Bounce struct {
			Type    string `json:"type"`
			SubType string `json:"subType"`
			Message string `json:"message"`
		} `json:"bounce"`
	} `json:"data"`
}

// resendKey reads a Resend signing secret.
func resendKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(secret), "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(key) == 0 {
		return nil, errors.New("events: the Resend signing secret is not whsec_ and base64, as Resend shows it")
	}
	return key, nil
}

func (h *hooks) resend(r *http.Request, body []byte, key []byte) ([]store.Event, error) {
	id, ts, sigs := r.Header.Get("svix-id"), r.Header.Get("svix-timestamp"), r.Header.Get("svix-signature")
	if id == "" || ts == "" || sigs == "" {
		return nil, fmt.Errorf("%w: no svix-id, svix-timestamp or svix-signature", errForged)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	ok := false
	for _, s := range strings.Fields(sigs) {
		if v, sig, found := strings.Cut(s, ","); found && v == "v1" && equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: bad svix-signature", errForged)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: svix-timestamp %q", errForged, ts)
	}
	if err := fresh(time.Unix(sec, 0), h.o.Now()); err != nil {
		return nil, err
	}
	var p resendEvent
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: Resend event: %v", errBadEvent, err)
	}
	var kind, detail string
	switch p.Type {
	case "email.delivered":
		kind = store.EventDelivered
	case "email.bounced":
		// Resend sends email.bounced when the receiving server refused the message for good
		// (https://resend.com/docs/webhooks/emails/bounced); its bounce.type says so too.
		kind, detail = store.EventHardBounce, strings.TrimSpace(p.Data.Bounce.Type+" "+p.Data.Bounce.SubType+": "+p.Data.Bounce.Message)
		if p.Data.Bounce.Type == "Transient" {
			kind = store.EventSoftBounce
		}
	case "email.delivery_delayed":
		kind = store.EventSoftBounce
	case "email.complained":
		kind = store.EventComplaint
	default:
		return nil, nil // sent, opened, clicked, contacts, domains: not Herald's
	}
	var mid string
	for _, h := range p.Data.Headers {
		if strings.EqualFold(h.Name, "Message-ID") {
			mid = h.Value
		}
	}
	var evs []store.Event
	for i, to := range p.Data.To {
		eid := id
		if len(p.Data.To) > 1 {
			eid = fmt.Sprintf("%s/%d", id, i)
		}
		evs = append(evs, store.Event{ProviderEventID: eid, Kind: kind, At: p.CreatedAt, Detail: detail, MessageID: mid, Recipient: to})
	}
	return evs, nil
}
