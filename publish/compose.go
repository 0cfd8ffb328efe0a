package publish

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

// errPostGone: the posts of a delivery are no longer on the site.
var errPostGone = errors.New("the post is no longer on the site")

// prepared keeps a run's prepared emails, one for each post and each digest of the same posts, so that
// each is rendered and inlined once for all its recipients. The run holds it and drops it when it ends:
// within a run the posts do not change, so a post's id (a digest's ids, in order) is key enough, with no
// hash of the content. A run sends one post or a few digests; should it meet more than maxPrepared, it
// forgets them all and starts again (each costs a few renders to make again).
type prepared struct {
	c *mailer.Composer
	m map[string]*mailer.Prepared
}

// maxPrepared bounds what a run keeps: each holds its posts' HTML and a frame per kind of recipient.
const maxPrepared = 32

func newPrepared(c *mailer.Composer) *prepared {
	return &prepared{c: c, m: make(map[string]*mailer.Prepared)}
}

// get returns the prepared email of a post (digest false) or of a digest of ps.
func (p *prepared) get(ps []*posts.Post, digest bool) (*mailer.Prepared, error) {
	var k strings.Builder
	k.WriteString(strconv.FormatBool(digest))
	for _, post := range ps {
		k.WriteString("\x00" + post.ID)
	}
	key := k.String()
	if pp := p.m[key]; pp != nil {
		return pp, nil
	}
	var pp *mailer.Prepared
	var err error
	if digest {
		pp, err = p.c.PrepareDigest(ps)
	} else {
		pp, err = p.c.PreparePost(ps[0])
	}
	if err != nil {
		return nil, err
	}
	if len(p.m) >= maxPrepared {
		clear(p.m)
	}
	p.m[key] = pp
	return pp, nil
}

// compose makes the message of one delivery; with testTo, a test copy of it for that address.
func compose(ctx context.Context, st Sender, m *Mail, prep *prepared, d store.Delivery, onSite map[string]*posts.Post, now time.Time, testTo string) (*mailer.Message, error) {
	msg, err := composer(ctx, st, m, prep, d, onSite, now, testTo)
	if err != nil {
		return nil, err
	}
	return msg(true)
}

// composer is compose up to the message itself, which the function it returns makes (with its HTML and
// Text when parts is true, see mailer.Job): the engine's connections call it, each for the message it
// sends, so that filling in and DKIM signing run on every core. What it needs of the store and of the
// run's prepared emails is read before it returns.
func composer(ctx context.Context, st Sender, m *Mail, prep *prepared, d store.Delivery, onSite map[string]*posts.Post, now time.Time, testTo string) (func(parts bool) (*mailer.Message, error), error) {
	sub, err := st.Subscriber(ctx, d.SubscriberID)
	if err != nil {
		return nil, err
	}
	r := mailer.Recipient{Email: sub.Email, Name: sub.Name}
	if m.Links.Base != "" {
		r.UnsubscribeURL = m.Links.URL(token.Unsubscribe, sub.ID)
		r.PreferencesURL = m.Links.URL(token.Preferences, sub.ID)
	}
	if testTo != "" {
		// A test copy is nobody's: it must not carry a reader's name, nor links that would unsubscribe
		// them when the author tries the footer or the mail client's unsubscribe button.
		r = mailer.Recipient{Email: testTo}
		if m.Links.Base != "" {
			r.UnsubscribeURL = m.Links.With(token.Unsubscribe, "test")
			r.PreferencesURL = m.Links.With(token.Preferences, "test")
		}
	}
	var ps []*posts.Post
	for _, id := range d.ItemIDs {
		if p := onSite[id]; p != nil {
			ps = append(ps, p) // a digest goes without a post that left the site
		}
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("%w: %s", errPostGone, strings.Join(d.ItemIDs, ", "))
	}
	// The Message-ID comes from what the message is and whom it is for, not from the store's row
	// numbers: a recreated store, or another newsletter on the same domain, never reuses one.
	key := "post/" + ps[0].ID + "/" + sub.Email
	if d.DigestKey != "" {
		key = "digest/" + d.DigestKey + "/" + sub.Email
	}
	switch {
	case testTo != "":
		// Its own Message-ID in each run: a mail provider drops a message whose Message-ID it has seen,
		// so a test copy must share one neither with the real message nor with an earlier test.
		key = "test/" + key + "/" + testTo + "/" + now.UTC().Format(time.RFC3339Nano)
	case d.MessageID != "":
		key = d.MessageID // tried before: the same Message-ID again
	}
	pp, err := prep.get(ps, d.DigestKey != "")
	if err != nil {
		return nil, err
	}
	var returnPath string
	if testTo == "" && m.ReturnPath != nil {
		returnPath = m.ReturnPath(d.ID)
	}
	return func(parts bool) (*mailer.Message, error) {
		message := pp.BytesMessage
		if parts {
			message = pp.Message
		}
		msg, err := message(r, key, now)
		if err == nil && returnPath != "" {
			err = msg.SetReturnPath(returnPath)
		}
		return msg, err
	}, nil
}

// closeDelivery records a delivery that can never be sent as failed.
func closeDelivery(ctx context.Context, st Sender, d store.Delivery, reason string) error {
	// Both writes or neither: a stop between them would leave the delivery sending, to be taken for a
	// message the server may have.
	ctx = context.WithoutCancel(ctx)
	now := time.Now()
	msgID := d.MessageID
	if msgID == "" {
		msgID = fmt.Sprintf("<unsent.%d@herald.invalid>", d.ID)
	}
	skipped, err := st.Sending(ctx, []store.Attempt{{DeliveryID: d.ID, MessageID: msgID}}, now)
	if err != nil || len(skipped) > 0 {
		return err
	}
	return st.Finish(ctx, []store.Outcome{{DeliveryID: d.ID, Status: store.Failed, Error: reason, At: now}})
}

// storeLedger records the engine's work in the store.
type storeLedger struct {
	st      Sender
	backoff time.Duration // before a deferred message is tried again by a later run
}

func (l *storeLedger) Commit(ctx context.Context, started []mailer.Job, done []mailer.Result) (map[int64]bool, error) {
	outs := make([]store.Outcome, len(done))
	for i, r := range done {
		o := store.Outcome{DeliveryID: r.ID, Error: r.Reason, At: r.At, EnhancedCode: r.Enhanced}
		switch r.Outcome {
		case mailer.Sent:
			o.Status, o.Error = store.Sent, ""
		case mailer.Deferred:
			o.Status, o.NextAttempt = store.Deferred, r.At.Add(l.backoff)
			if r.NotBefore.After(o.NextAttempt) {
				o.NextAttempt = r.NotBefore // the provider's Retry-After
			}
		case mailer.Failed:
			o.Status = store.Failed
		default:
			o.Status = store.Unknown
		}
		outs[i] = o
	}
	atts := make([]store.Attempt, len(started))
	for i, j := range started {
		atts[i] = store.Attempt{DeliveryID: j.ID, MessageID: j.Message.MessageID}
	}
	skipped, err := l.st.Commit(ctx, outs, atts, time.Now())
	if err != nil {
		return nil, err
	}
	skip := make(map[int64]bool, len(skipped))
	for _, id := range skipped {
		skip[id] = true
	}
	return skip, nil
}
