package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
	"github.com/schollz/progressbar/v3"
)

// Mail is how messages are made and where they go, built from the configuration by the caller.
type Mail struct {
	Composer *mailer.Composer
	Dial     func(ctx context.Context) (mailer.Sender, error)
	Where    string      // "smtp.example.com:587" or the outbox folder, for messages
	Links    token.Links // the signed links of herald serve's pages; zero without base_url
	// ReturnPath, when set, gives each delivery's message its own envelope sender (a VERP address that
	// names the delivery: see package inbox); nil: the From address.
	ReturnPath func(deliveryID int64) string
}

// SendOptions tune Send.
type SendOptions struct {
	Connections, PerConnection int     // SMTP connections at once, messages per connection
	Rate                       float64 // messages per second, 0 for no limit
	DeferredMaxAge             time.Duration
	RetryUnknown               bool              // send again what a stopped run may have handed over
	RetryUnknownSince          time.Time         // with RetryUnknown, only what was first tried at or after it; zero: all
	Ledger                     mailer.Ledger     // nil: the store; a benchmark passes one that records nothing
	RetryNow                   bool              // deferred messages are due at once, whatever their next attempt
	Result                     *SendResult       // filled in with what the run did, when not nil
	Debug                      *slog.Logger      // each message's outcome, at debug level (herald --verbose); nil: none
	Plan                       store.PlanOptions // when digests fall due, and the site's default language (PlanOptions)
	Out                        io.Writer         // the summary
	Log                        io.Writer         // warnings and the progress bar
}

// SendResult is what a Send did: its messages by outcome, and the deliveries it skipped (they wait, or
// were closed). Where is where the messages went ("" when nothing was due).
type SendResult struct {
	Where                                    string
	Sent, Deferred, Failed, Unknown, Skipped int
}

// endOfTime is when every deferred message is due: with RetryNow, Send claims them at once.
var endOfTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Sender is what sending needs of the store.
type Sender interface {
	Recover(ctx context.Context) (int, error)
	RetryUnknown(ctx context.Context, since time.Time) (int, error)
	FailOld(ctx context.Context, now time.Time, maxAge time.Duration) (int, error)
	PlanWith(ctx context.Context, now time.Time, o store.PlanOptions) (int, error)
	Due(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error)
	ClaimAfter(ctx context.Context, now time.Time, after int64, limit int) ([]store.Delivery, error)
	Items(ctx context.Context) ([]store.Item, error)
	Subscriber(ctx context.Context, id int64) (store.Subscriber, error)
	SubscribersByID(ctx context.Context, ids []int64) (map[int64]store.Subscriber, error)
	Sending(ctx context.Context, atts []store.Attempt, now time.Time) ([]int64, error)
	Finish(ctx context.Context, outs []store.Outcome) error
	Commit(ctx context.Context, outs []store.Outcome, atts []store.Attempt, now time.Time) ([]int64, error)
	DeliveryCounts(ctx context.Context) (map[string]int, error)
}

// Send plans and sends what is due (the caller holds the store's LockSend): the posts that publish recorded as
// new, to the subscribers who should get them, and the messages deferred before. mail is called only when
// something is due, so that a site with nothing to send needs no mail settings.
func Send(ctx context.Context, site *posts.Site, st Sender, mail func() (*Mail, error), o SendOptions) error {
	now := time.Now()
	if n, err := st.Recover(ctx); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(o.Log, "herald: %s left by a run that stopped: their fate is unknown (see --retry-unknown)\n", Plural(n, "message was", "messages were"))
	}
	if o.RetryUnknown {
		if _, err := st.RetryUnknown(ctx, o.RetryUnknownSince); err != nil {
			return err
		}
	}
	if _, err := st.FailOld(ctx, now, o.DeferredMaxAge); err != nil {
		return err
	}
	if _, err := st.PlanWith(ctx, now, o.Plan); err != nil {
		return err
	}
	dueAt := now
	if o.RetryNow {
		dueAt = endOfTime
	}
	due, err := st.Due(ctx, dueAt, 1)
	if err != nil {
		return err
	}
	if len(due) == 0 {
		fmt.Fprintln(o.Out, "mail: nothing to send")
		return nil
	}
	m, err := mail()
	if err != nil {
		return err
	}
	recorded, err := st.Items(ctx)
	if err != nil {
		return err
	}
	var ledger mailer.Ledger = &storeLedger{st: st, backoff: 15 * time.Minute}
	if o.Ledger != nil {
		ledger = o.Ledger
	}
	eng := &mailer.Engine{
		Dial: m.Dial, Ledger: ledger,
		Connections: o.Connections, PerConnection: o.PerConnection, Rate: o.Rate,
	}
	p := &producer{site: site, st: st, mail: m, prepared: newPrepared(m.Composer), now: now, dueAt: dueAt, log: o.Log, posts: byID(site), rendered: map[string]bool{},
		recordedHash: make(map[string]string, len(recorded)), removed: map[string]bool{}}
	for _, it := range recorded {
		p.recordedHash[it.ID] = it.Hash
		p.removed[it.ID] = it.Removed
	}
	jobs := make(chan mailer.Job)
	// The producer stops when the engine does: after a run stopped early, composing the rest is waste.
	pctx, stopProducer := context.WithCancel(ctx)
	defer stopProducer()
	var prodErr error
	go func() {
		defer close(jobs)
		prodErr = p.run(pctx, jobs)
	}()
	bar := progressBar(ctx, st, o.Log)
	eng.Progress = progressFunc(bar, o.Debug)
	counts, err := eng.Run(ctx, jobs)
	bar.done() // its line ends before the summary
	stopProducer()
	for range jobs { // let the producer see it
	}
	if err == nil {
		err = prodErr
	}
	fmt.Fprintf(o.Out, "mail (%s): sent %d, deferred %d, failed %d, unknown %d, skipped %d\n", m.Where,
		counts[mailer.Sent], counts[mailer.Deferred], counts[mailer.Failed], counts[mailer.Unknown], p.skipped)
	if o.Result != nil {
		*o.Result = SendResult{Where: m.Where, Sent: counts[mailer.Sent], Deferred: counts[mailer.Deferred],
			Failed: counts[mailer.Failed], Unknown: counts[mailer.Unknown], Skipped: p.skipped}
	}
	if err == nil && ctx.Err() != nil {
		err = errors.New("interrupted: what was not sent stays queued for the next run")
	}
	return err
}

// producer turns the due deliveries into messages for the engine, a page at a time.
type producer struct {
	site         *posts.Site
	st           Sender
	mail         *Mail
	prepared     *prepared
	now          time.Time
	dueAt        time.Time // what is due at it is claimed: now, or the end of time with RetryNow
	log          io.Writer
	posts        map[string]*posts.Post // the site's posts by id
	recordedHash map[string]string      // what publish recorded of each id
	removed      map[string]bool        // the ids publish recorded gone
	rendered     map[string]bool
	skipped      int // deliveries that wait, or were closed
}

func (p *producer) run(ctx context.Context, jobs chan<- mailer.Job) error {
	var after int64 // page by id: what a run has taken is never taken again, whatever became of it
	for ctx.Err() == nil {
		fresh, err := p.st.ClaimAfter(ctx, p.dueAt, after, 200) // other senders may share the queue
		if err != nil {
			return err
		}
		if len(fresh) == 0 {
			return nil
		}
		for _, d := range fresh {
			after = max(after, d.ID)
		}
		if err := p.render(ctx, fresh); err != nil {
			return err
		}
		page, err := p.page(ctx, fresh)
		if err != nil {
			return err
		}
		for _, d := range fresh {
			job, ok, err := p.job(ctx, page, d)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			select {
			case jobs <- job:
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

// render renders the posts of deliveries not rendered yet.
func (p *producer) render(ctx context.Context, ds []store.Delivery) error {
	var need []*posts.Post
	for _, d := range ds {
		for _, id := range d.ItemIDs {
			if post := p.posts[id]; post != nil && !p.rendered[id] {
				p.rendered[id] = true
				need = append(need, post)
				if h, ok := p.recordedHash[id]; ok && h != post.Hash {
					fmt.Fprintf(p.log, "warning: %s changed since herald publish recorded it; the mail carries the version on disk now (run herald publish first to record it)\n", post.Path)
				}
			}
		}
	}
	warns, err := p.site.Render(ctx, need)
	if err != nil {
		return err
	}
	for _, w := range warns {
		fmt.Fprintln(p.log, "warning:", w)
	}
	return nil
}

// page loads the subscribers of a page of deliveries in one query, rather than one query a message.
func (p *producer) page(ctx context.Context, ds []store.Delivery) (pageSubscribers, error) {
	ids := make([]int64, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.SubscriberID)
	}
	subs, err := p.st.SubscribersByID(ctx, ids)
	return pageSubscribers{Sender: p.st, subs: subs}, err
}

// pageSubscribers is the store with the subscribers of a page of deliveries at hand: compose asks it for
// each delivery's subscriber. One missing from the page (none is, short of a bug) is asked of the store.
type pageSubscribers struct {
	Sender
	subs map[int64]store.Subscriber
}

func (ps pageSubscribers) Subscriber(ctx context.Context, id int64) (store.Subscriber, error) {
	if sub, ok := ps.subs[id]; ok {
		return sub, nil
	}
	return ps.Sender.Subscriber(ctx, id)
}

// job makes the message of d, its subscriber from page; ok is false when d waits or can never be sent
// (and was closed).
func (p *producer) job(ctx context.Context, page pageSubscribers, d store.Delivery) (job mailer.Job, ok bool, err error) {
	if waits(d, p.posts, p.removed) {
		// A post of it left the site since herald publish recorded it: the delivery waits. The next
		// publish records the post gone and takes it out of the queue (a digest goes without it), or
		// the post is back.
		p.skipped++
		fmt.Fprintf(p.log, "herald: delivery %d waits: a post of it is not on the site now (herald publish records that)\n", d.ID)
		return job, false, nil
	}
	msg, err := composer(ctx, page, p.mail, p.prepared, d, p.posts, p.now, "")
	if errors.Is(err, errPostGone) {
		// Every post of it recorded gone (a delivery publish kept, as a server may have it): it can
		// never be sent, so close it.
		p.skipped++
		if err := closeDelivery(ctx, p.st, d, err.Error()); err != nil {
			return job, false, err
		}
		fmt.Fprintf(p.log, "herald: delivery %d not sent: %v\n", d.ID, err)
		return job, false, nil
	}
	if err != nil {
		return job, false, err
	}
	return mailer.Job{ID: d.ID, Compose: msg}, true, nil
}

// waits tells whether a post of d is neither on the site nor recorded gone: publish has yet to see it leave.
func waits(d store.Delivery, onSite map[string]*posts.Post, removed map[string]bool) bool {
	return slices.ContainsFunc(d.ItemIDs, func(id string) bool { return onSite[id] == nil && !removed[id] })
}

func byID(site *posts.Site) map[string]*posts.Post {
	m := make(map[string]*posts.Post, len(site.Posts))
	for _, p := range site.Posts {
		m[p.ID] = p
	}
	return m
}

// progress is the progress bar of a send on a terminal: messages sent of those due, the rate, and the
// time left (github.com/schollz/progressbar, which draws it well).
type progress struct {
	w    io.Writer
	bar  *progressbar.ProgressBar
	seen int
	last time.Time
}

// progressFunc is what the engine calls with each result: the bar's add, and the debug log; nil for neither.
func progressFunc(bar *progress, debug *slog.Logger) func(mailer.Result) {
	if bar == nil && debug == nil {
		return nil
	}
	return func(r mailer.Result) {
		if bar != nil {
			bar.add(r)
		}
		if debug != nil {
			debug.Debug("message", "delivery", r.ID, "outcome", r.Outcome.String(), "reason", r.Reason)
		}
	}
}

// progressBar returns a bar when w is a terminal and more than a few messages are to go; else nil.
func progressBar(ctx context.Context, st Sender, w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	c, err := st.DeliveryCounts(ctx)
	if err != nil || c[store.Queued]+c[store.Deferred] <= 10 {
		return nil
	}
	return newProgress(w, c[store.Queued]+c[store.Deferred])
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("sending"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("msg"),
		progressbar.OptionSetPredictTime(true),
	)}
}

// add counts a message, and draws the bar at most every 100 ms.
func (p *progress) add(mailer.Result) {
	p.seen++
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.bar.Set(p.seen) //nolint:errcheck // a bar that cannot draw is no reason to stop sending
	}
}

// done draws the bar as it stands and ends its line; nil does nothing.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.bar.Set(p.seen) //nolint:errcheck // as in add
	p.bar.Exit()      //nolint:errcheck // as in add
	fmt.Fprintln(p.w)
}

// Plural says "1 post is" or "3 posts are".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
