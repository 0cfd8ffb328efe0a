// Package inbox hears back from the mail servers by mail: it reads a mailbox (a Maildir folder, or an IMAP
// mailbox) that bounces, complaint reports and unsubscribe requests reach, and records what each says.
//
// The model: a message of the mailbox is one of four kinds (Parse). A bounce (a delivery status
// notification, RFC 3464) or a complaint (an ARF report, RFC 5965) is matched to the delivery it is about,
// through the VERP token of the address it came back to (see ReturnPath), else through the Message-ID of
// the message it attaches, and becomes store.Events of provider "inbox" keyed by the report's own
// Message-ID: store.RecordEvent applies them, once. An unsubscribe request unsubscribes its sender when
// the sender is a subscriber. A message so handled is then moved out of the mailbox (Source.Done), so
// that the next run does not read it again, and would change nothing if it did. A report that matches no
// delivery, an unsubscribe request from someone who is not a subscriber, and anything else are left where
// they are.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

// Provider is the events' provider: what the inbox records is kept apart from the webhooks' events.
const Provider = "inbox"

// Message is one message of a mailbox: Key is the source's name for it.
type Message struct {
	Key string
	Raw []byte
}

// Source is a mailbox: a Maildir folder or an IMAP mailbox.
type Source interface {
	// Messages yields the messages of the mailbox in a stable order, each read as it is yielded: a
	// mailbox where reports pile up is never held in memory whole. An error ends it.
	Messages(ctx context.Context) iter.Seq2[Message, error]
	// Done moves a handled message out of the mailbox, into the folder of processed messages.
	Done(ctx context.Context, m Message) error
	Close() error
}

// Store is what the inbox needs of the store.
type Store interface {
	FindDelivery(ctx context.Context, id int64, messageID, recipient string) (store.Delivery, error)
	Subscriber(ctx context.Context, id int64) (store.Subscriber, error)
	RecordEvent(ctx context.Context, e store.Event) (bool, error)
	SubscriberByEmail(ctx context.Context, email string) (store.Subscriber, error)
	UpdateSubscriber(ctx context.Context, id int64, at time.Time, change func(*store.Subscriber)) error
}

// Options configure Process.
type Options struct {
	Store Store
	// UnsubscribeAddress is the unsubscribe_mailto address ("" for none).
	UnsubscribeAddress string
	// ReturnPath is the VERP return path pattern, an address with "{token}" in its local part ("" for
	// none), and Secret the site's secret that signs the tokens.
	ReturnPath string
	Secret     []byte
	// DryRun reads and matches, and writes and moves nothing.
	DryRun bool
	Out    io.Writer // what is done, message by message; nil: nothing
	Now    func() time.Time
}

// Summary counts what Process did, by kind.
type Summary struct {
	Messages                 int
	HardBounces, SoftBounces int // events recorded (or, dry, to record)
	Delivered, Complaints    int
	Replays                  int      // events recorded by an earlier run
	Unsubscribed             int      // unsubscribe requests that unsubscribed their sender
	Unsubscribes             int      // unsubscribe requests handled (of subscribers already gone too)
	Unmatched                []string // the Message-IDs of reports and requests that matched nothing
	Other                    int      // messages that are none of Herald's
	Moved                    int
}

// Process reads every message of src and handles it (see the package comment).
func Process(ctx context.Context, src Source, o Options) (Summary, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	var s Summary
	for m, err := range src.Messages(ctx) {
		if err != nil {
			return s, err
		}
		s.Messages++
		done, err := handle(ctx, m, o, &s)
		if err != nil {
			return s, fmt.Errorf("message %s: %w", m.Key, err)
		}
		if done && !o.DryRun {
			if err := src.Done(ctx, m); err != nil {
				return s, fmt.Errorf("move message %s: %w", m.Key, err)
			}
			s.Moved++
		}
	}
	return s, nil
}

// handle handles one message and says whether it is done with.
func handle(ctx context.Context, m Message, o Options, s *Summary) (bool, error) {
	r, err := Parse(m.Raw, o.UnsubscribeAddress)
	if err != nil {
		fmt.Fprintf(o.Out, "%s: not read (%v): left\n", m.Key, err)
		s.Other++
		return false, nil
	}
	switch r.Kind {
	case KindBounce, KindComplaint:
		return report(ctx, r, o, s)
	case KindUnsubscribe:
		return unsubscribe(ctx, r, o, s)
	}
	s.Other++
	return false, nil
}

// report records the events of a bounce or a complaint, once matched to its delivery.
func report(ctx context.Context, r Report, o Options, s *Summary) (bool, error) {
	d, err := match(ctx, r, o)
	if errors.Is(err, store.ErrNotFound) {
		s.Unmatched = append(s.Unmatched, r.ID)
		fmt.Fprintf(o.Out, "%s: %s of no known delivery: left\n", r.ID, r.Kind)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	sub, err := o.Store.Subscriber(ctx, d.SubscriberID)
	if err != nil {
		return false, fmt.Errorf("subscriber of delivery %d: %w", d.ID, err)
	}
	about := aboutSubscriber(r.Recipients, sub.Email)
	if len(about) == 0 {
		s.Unmatched = append(s.Unmatched, r.ID)
		fmt.Fprintf(o.Out, "%s: %s of delivery %d names other recipients than its subscriber's: left\n", r.ID, r.Kind, d.ID)
		return false, nil
	}
	at := r.Date
	if at.IsZero() {
		at = o.Now().UTC()
	}
	for _, i := range about {
		rc := r.Recipients[i]
		e := store.Event{Provider: Provider, ProviderEventID: r.ID, Kind: rc.Kind, At: at, ReceivedAt: o.Now().UTC(),
			Detail: rc.Detail, MessageID: d.MessageID, Recipient: rc.Address}
		if i > 0 {
			e.ProviderEventID = fmt.Sprintf("%s#%d", r.ID, i+1) // a report about several recipients
		}
		recorded := true
		if !o.DryRun {
			if recorded, err = o.Store.RecordEvent(ctx, e); err != nil {
				return false, err
			}
		}
		verb := map[bool]string{true: "recorded", false: "recorded before"}[recorded]
		if o.DryRun {
			verb = "would record"
		}
		fmt.Fprintf(o.Out, "%s: %s %s of delivery %d\n", e.ProviderEventID, verb, strings.ReplaceAll(rc.Kind, "_", " "), d.ID)
		if !recorded {
			s.Replays++
			continue
		}
		switch rc.Kind {
		case store.EventHardBounce:
			s.HardBounces++
		case store.EventSoftBounce:
			s.SoftBounces++
		case store.EventDelivered:
			s.Delivered++
		case store.EventComplaint:
			s.Complaints++
		}
	}
	return true, nil
}

// aboutSubscriber returns the indexes of the recipients of a report that are about the subscriber whose
// address is email. Herald sends each message to one reader, so a report that names several recipients
// (an alias expanded, a copy forwarded) speaks of the reader's address only in the blocks that name it: a
// failed copy to another address does not bounce the reader. A report of one recipient is about the
// reader whatever its address (a forward's final recipient), as is a block with no address.
func aboutSubscriber(rs []Recipient, email string) []int {
	if len(rs) == 1 {
		return []int{0}
	}
	var out []int
	for i, rc := range rs {
		if rc.Address == "" || sameAddress(rc.Address, email) {
			out = append(out, i)
		}
	}
	return out
}

// sameAddress compares two addresses as the store finds a subscriber by one: in any case (a server may
// write the address it reports in its own).
func sameAddress(a, b string) bool { return strings.EqualFold(a, b) }

// match finds the delivery a report is about: by the VERP token of an address it went to, else by the
// Message-ID of the message it attaches. A delivery never sent is none.
func match(ctx context.Context, r Report, o Options) (store.Delivery, error) {
	if o.ReturnPath != "" {
		for _, a := range r.Addresses {
			id, ok := ReturnToken(o.ReturnPath, o.Secret, a)
			if !ok {
				continue
			}
			d, err := o.Store.FindDelivery(ctx, id, "", "")
			if err == nil && d.MessageID != "" {
				return d, nil
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return d, err
			}
		}
	}
	if r.OriginalID == "" {
		return store.Delivery{}, store.ErrNotFound
	}
	d, err := o.Store.FindDelivery(ctx, 0, r.OriginalID, firstAddress(r.Recipients))
	if err == nil && d.MessageID == "" {
		err = store.ErrNotFound
	}
	return d, err
}

// firstAddress is the address of the first recipient that has one, "" for none: the store finds a
// delivery by its Message-ID fast among that address's deliveries, and looks at every other one only when
// it is not there (a report about several recipients, or one whose address a forward rewrote).
func firstAddress(rs []Recipient) string {
	for _, rc := range rs {
		if rc.Address != "" {
			return rc.Address
		}
	}
	return ""
}

// unsubscribe unsubscribes the sender of an unsubscribe request, when they are a subscriber.
func unsubscribe(ctx context.Context, r Report, o Options, s *Summary) (bool, error) {
	sub, err := o.Store.SubscriberByEmail(ctx, r.From)
	if r.From == "" || errors.Is(err, store.ErrNotFound) {
		s.Unmatched = append(s.Unmatched, r.ID)
		fmt.Fprintf(o.Out, "%s: unsubscribe request from no subscriber: left\n", r.ID)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.Unsubscribes++
	leaves := sub.Status == store.Active || sub.Status == store.Pending
	switch {
	case !leaves:
		fmt.Fprintf(o.Out, "%s: unsubscribe request of subscriber %d, who is %s already\n", r.ID, sub.ID, sub.Status)
		return true, nil
	case stale(r, sub):
		fmt.Fprintf(o.Out, "%s: unsubscribe request of subscriber %d, older than their last consent: done with\n", r.ID, sub.ID)
		return true, nil
	case o.DryRun:
		fmt.Fprintf(o.Out, "%s: would unsubscribe subscriber %d\n", r.ID, sub.ID)
		s.Unsubscribed++
		return true, nil
	}
	at := r.Date
	if at.IsZero() {
		at = o.Now().UTC()
	}
	err = o.Store.UpdateSubscriber(ctx, sub.ID, at, func(sub *store.Subscriber) {
		if (sub.Status == store.Active || sub.Status == store.Pending) && !stale(r, *sub) {
			sub.Status = store.Unsubscribed
		}
	})
	if err != nil {
		return false, err
	}
	s.Unsubscribed++
	fmt.Fprintf(o.Out, "%s: unsubscribed subscriber %d\n", r.ID, sub.ID)
	return true, nil
}

// stale tells an unsubscribe request written before its sender's last consent (they subscribed again
// since): read again, it must not undo that. The Date is the sender's clock, so one that is off by
// minutes never makes a fresh request stale; an undated request is never stale.
func stale(r Report, sub store.Subscriber) bool {
	at := r.Date.Add(clockSkew)
	return !r.Date.IsZero() && (at.Before(sub.ConsentAt) || at.Before(sub.ConfirmedAt))
}

// clockSkew is how far a sender's clock may be behind without making their request stale.
const clockSkew = 15 * time.Minute

// tokenPurpose is what a return path's token is signed for: short, as an address's local part is at most
// 64 characters (RFC 5321) and the token takes 47 of them.
const tokenPurpose = "rp"

// ErrReturnPathLong is CheckReturnPath's error for a pattern whose addresses would be too long for SMTP.
var ErrReturnPathLong = errors.New("inbox: return path over SMTP's 64 characters before @")

// CheckReturnPath says what is wrong with a return path pattern, nil when nothing is: it is an address
// whose local part holds "{token}" once.
func CheckReturnPath(pattern string) error {
	local, domain, ok := strings.Cut(pattern, "@")
	if !ok || domain == "" || strings.Contains(domain, "@") || strings.Count(local, "{token}") != 1 ||
		!printable(pattern) || strings.ContainsAny(pattern, `<>"(),;:\[]`) {
		return fmt.Errorf("return path %q: want an address with {token} in its local part, as bounces+{token}@example.com", pattern)
	}
	if n := len(local) - len("{token}") + len(token.Sign(nil, tokenPurpose, 1, time.Time{})); n > 64 {
		return fmt.Errorf("return path %q: %w: its local part with a token is %d characters; shorten what goes before @ to %d and {token}",
			pattern, ErrReturnPathLong, n, 64-n+len(local)-len("{token}"))
	}
	return nil
}

// ReturnPath is the envelope sender of delivery id's message: pattern with {token} replaced by a token
// signed with secret. A bounce comes back to it, and ReturnToken reads the delivery from it.
func ReturnPath(pattern string, secret []byte, id int64) string {
	return strings.Replace(pattern, "{token}", token.Sign(secret, tokenPurpose, id, time.Time{}), 1)
}

// ReturnToken reads the delivery id from an address made by ReturnPath; false for any other address, or
// a token not signed with secret. The domain and the pattern's own letters compare case-insensitively;
// the token does not.
func ReturnToken(pattern string, secret []byte, addr string) (int64, bool) {
	prefix, suffix, ok := strings.Cut(pattern, "{token}")
	if !ok || len(addr) <= len(prefix)+len(suffix) ||
		!strings.EqualFold(addr[:len(prefix)], prefix) || !strings.EqualFold(addr[len(addr)-len(suffix):], suffix) {
		return 0, false
	}
	id, err := token.Verify(secret, tokenPurpose, addr[len(prefix):len(addr)-len(suffix)], time.Time{})
	return id, err == nil && id > 0
}
