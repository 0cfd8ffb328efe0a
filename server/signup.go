package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

// A sign-up is stored in the store's queue (the same INSERT for every address) before the form is
// answered, and handled by the worker. Everything that depends on whether the address is known
// happens there, after the response has gone: its bytes and its timing are the same for a stranger, a
// pending, an active and an unsubscribed address. The queue is in the store, so a sign-up answered is
// never lost to a crash or a restart.

// wakeWorker tells the worker that a sign-up was queued.
func (s *Server) wakeWorker() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is pending already: the worker reads the whole queue
	}
}

// Settings of the worker.
const (
	expireEvery = time.Hour   // how often the worker deletes expired sign-ups and old limit counts
	drainBatch  = 16          // queued sign-ups read at a time
	drainRetry  = time.Minute // how soon the worker reads the queue again after the store failed
)

// worker handles the queued sign-ups, those left from before the server started first; then each as it
// is queued. It deletes the expired sign-ups and the limits' old counts at start (as of start) and then
// every expireEvery. Once Close is called it handles what is queued and stops.
func (s *Server) worker(start time.Time) {
	defer close(s.done)
	s.expire(start)
	tick := time.NewTicker(expireEvery)
	defer tick.Stop()
	for {
		var retry <-chan time.Time
		if !s.drain() {
			retry = time.After(drainRetry)
		}
		select {
		case <-s.wake:
		case <-retry:
		case <-tick.C:
			s.expire(s.o.Now())
		case <-s.closing:
			s.drain()
			return
		case <-s.work.Done():
			return
		}
	}
}

// drain handles the queued sign-ups, oldest first, until there are none, taking each out of the queue
// once handled, whatever came of it (a failure is logged). false: it stopped at an error of the store,
// and the queue is to be read again later. A sign-up being handled when the server stops stays queued
// and is handled again at the next start, which sends no second link to an address just sent one
// (resendAfter).
func (s *Server) drain() bool {
	for s.work.Err() == nil {
		qs, err := s.o.Store.QueuedSignUps(s.work, drainBatch)
		if err != nil {
			if s.work.Err() == nil {
				s.log.Error("read the queued sign-ups", "err", err)
			}
			return false
		}
		if len(qs) == 0 {
			return true
		}
		for _, q := range qs {
			err := s.handleSignup(s.work, q)
			if s.work.Err() != nil {
				s.log.Warn("server stopped while handling a sign-up: it stays queued for the next start")
				return true
			}
			if err != nil {
				s.log.Error("sign-up", "err", redact(err.Error(), q.Email))
			}
			began := time.Now()
			err = s.o.Store.DequeueSignUp(s.work, q.ID)
			s.wrote(began, err)
			if err != nil {
				s.log.Error("take a handled sign-up out of the queue", "err", err)
				return false
			}
		}
	}
	return true
}

// expire deletes the web sign-ups still pending at now after their confirmation link expired (the
// address's owner never consented, so it is not kept), and the limits' counts whose window has ended.
func (s *Server) expire(now time.Time) {
	if s.work.Err() != nil {
		return
	}
	n, err := s.o.Store.DeleteExpiredPending(s.work, now.Add(-confirmExpiry))
	if err != nil {
		s.log.Error("delete expired sign-ups", "err", err)
	} else if n > 0 {
		s.log.Info("expired sign-ups deleted", "count", n)
	}
	if _, err := s.o.Store.PruneLimits(s.work, now); err != nil {
		s.log.Error("delete the sign-up limits' old counts", "err", err)
	}
}

// redact takes addr out of msg, in any case: a mail server's reply may quote it, and addresses stay
// out of the logs but at debug level.
func redact(msg, addr string) string {
	return regexp.MustCompile("(?i)"+regexp.QuoteMeta(addr)).ReplaceAllLiteralString(msg, "<address>")
}

// confirmPurpose binds a confirm token to the subscriber's consent record: a link from before they
// unsubscribed (or before they signed up again) no longer verifies.
func confirmPurpose(consentAt time.Time) string {
	return token.Confirm + ":" + strconv.FormatInt(consentAt.UnixNano(), 10)
}

// handleSignup makes a queued sign-up a subscriber, or a new consent record of one, and sends the
// confirmation.
//
// A stranger is added as pending, with the form's name and frequency. Someone pending or unsubscribed
// is sent a link for a new consent record, which is written (pending, this time and IP) only once the
// confirmation has gone: their name and frequency stay theirs, whatever the form said (they can change
// them in the preferences once confirmed), and the older links stop working. A bounced address is
// never mailed from the form, and an active subscriber gets nothing, so the form cannot be used to mail
// them over and over. For the same reason a web sign-up still pending gets no new link until
// resendAfter has passed since the last one: the consent time of a pending web sign-up is when its
// link was sent, and that link still works. A new address's row is written before its link is sent (the
// link names the row), and deleted again when the link surely did not go (ErrNotSent).
func (s *Server) handleSignup(ctx context.Context, j store.QueuedSignUp) error {
	st := s.o.Store
	for range 2 { // a second try when the address was added between the look-up and the insert
		var sub store.Subscriber
		err := s.retry(ctx, func() (err error) {
			sub, err = st.SubscriberByEmail(ctx, j.Email)
			return err
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			freq := j.Frequency
			if freq == "" {
				freq = store.Immediate
			}
			err = s.retry(ctx, func() (err error) {
				sub, err = st.AddSubscriber(ctx, store.Subscriber{Email: j.Email, Name: j.Name, Frequency: freq,
					Tags: j.Tags, Lang: j.Lang, Status: store.Pending, ConsentSource: store.FromWeb, ConsentAt: j.At, ConsentIP: j.IP}, j.At)
				return err
			})
			if errors.Is(err, store.ErrExists) {
				continue
			}
			if err != nil {
				return err
			}
			err := s.sendConfirmation(ctx, sub, j.At)
			if errors.Is(err, ErrNotSent) {
				// No link went: forget the address, or resendAfter would hold off the person's next try.
				// Even when the server is stopping (ctx ended, which may be why the send failed).
				ctx := context.WithoutCancel(ctx)
				if derr := s.retry(ctx, func() error {
					_, err := st.DeleteUnsentSignUp(ctx, sub.ID, j.At)
					return err
				}); derr != nil {
					return errors.Join(err, derr)
				}
			}
			return err
		case err != nil:
			return err
		case sub.Status == store.Active || sub.Status == store.Bounced:
			s.log.Debug("sign-up of a subscriber who is "+sub.Status+": nothing sent", "subscriber", sub.ID, "email", j.Email)
			return nil
		case sub.Status == store.Pending && sub.ConsentSource == store.FromWeb && j.At.Sub(sub.ConsentAt) < resendAfter:
			s.log.Debug("sign-up of a subscriber sent a link recently: nothing sent", "subscriber", sub.ID, "email", j.Email)
			return nil
		}
		if err := s.sendConfirmation(ctx, sub, j.At); err != nil {
			return err
		}
		was := sub.Status
		err = s.retry(ctx, func() error {
			return st.UpdateSubscriber(ctx, sub.ID, j.At, func(u *store.Subscriber) {
				if u.Status != was {
					return // changed meanwhile: leave it
				}
				u.Status = store.Pending
				u.ConsentSource, u.ConsentAt, u.ConsentIP = store.FromWeb, j.At, j.IP
			})
		})
		if err != nil {
			return fmt.Errorf("confirmation sent to subscriber %d, but its link will not work: %w", sub.ID, err)
		}
		return nil
	}
	return errors.New("sign-up: the address keeps changing")
}

// retryWait is how long the worker waits before trying a failed store operation again: the person
// was told to check their inbox already, and a store busy with herald send is usually free again soon.
const retryWait = 2 * time.Second

// retry runs f, and once more after s.retryWait if it failed for any reason but a missing or existing
// subscriber.
func (s *Server) retry(ctx context.Context, f func() error) error {
	err := f()
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) {
		return err
	}
	t := time.NewTimer(s.retryWait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return err
	}
	return f()
}

// sendConfirmation mails sub a link bound to the consent record of time consentAt.
func (s *Server) sendConfirmation(ctx context.Context, sub store.Subscriber, consentAt time.Time) error {
	expires := consentAt.Add(confirmExpiry)
	u := token.Links{Base: s.o.BaseURL}.With(token.Confirm, token.Sign(s.o.Secret, confirmPurpose(consentAt), sub.ID, expires))
	if err := s.o.Confirmer.SendConfirmation(ctx, sub, u, expires); err != nil {
		return err
	}
	s.log.Info("confirmation sent", "subscriber", sub.ID)
	s.log.Debug("confirmation sent", "subscriber", sub.ID, "email", sub.Email)
	return nil
}
