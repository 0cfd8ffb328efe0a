package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

// sendFlags are the flags of the commands that send mail.
type sendFlags struct {
	dryRun       string // a folder to write the messages to instead of sending them
	testTo       string // an address to send one copy of each message to instead
	retryUnknown bool
	ledger       mailer.Ledger // nil: the store; a benchmark passes one that records nothing
}

func (f *sendFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.retryUnknown, "retry-unknown", false, "send again the messages whose fate is unknown (the connection died after DATA), with the same Message-ID")
}

func runSend(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("send", stderr, `Usage: herald send [flags]

Sends what is due without rebuilding the feeds: the posts that publish recorded as new, to the
subscribers who should get them (at once, or in their daily or weekly digest when it falls due), and the
messages deferred by an earlier run. Run it from cron (hourly is enough for digests). With no smtp
configured, the messages go to the outbox folder (a Maildir). Prints a summary.

Flags:
`)
	var bf buildFlags
	var sf sendFlags
	bf.register(fs)
	sf.register(fs)
	fs.StringVar(&sf.dryRun, "dry-run", "", "write the messages that would be sent into this `folder` (a Maildir) and change nothing")
	fs.StringVar(&sf.testTo, "test-to", "", "send one copy of each message that is due to this `address`, with [TEST] in the subject, and change nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	siteDir, err := filepath.Abs(bf.dir)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(siteDir, getenv)
	if err != nil {
		return err
	}
	if sf.dryRun != "" && sf.testTo != "" {
		return errUsage{"--dry-run and --test-to do not go together: pick one"}
	}
	if bf.drafts || bf.future {
		// A post recorded as published and made a draft since would go out by mail.
		return errUsage{"herald send mails what is published: --drafts and --future are for herald build alone"}
	}
	if sf.dryRun != "" || sf.testTo != "" {
		return dryRunSend(ctx, getenv, bf, sf, siteDir, cfg, stdout, stderr)
	}
	r, err := lockStore(ctx, siteDir, cfg, "send")
	if err != nil {
		return err
	}
	defer r.close()
	b, err := prepare(ctx, getenv, bf, stderr)
	if err != nil {
		return err
	}
	return sendDue(ctx, b, r.st, getenv, sf, "", stdout, stderr)
}

// dryRunSend sends into a Maildir folder against a copy of the store, so that the real one is not
// changed and the messages are exactly those a real run would send.
func dryRunSend(ctx context.Context, getenv func(string) string, bf buildFlags, sf sendFlags, siteDir string, cfg config, stdout, stderr io.Writer) error {
	src := storePath(siteDir, cfg)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("nothing to send: no runs recorded yet (%s does not exist)", src)
	}
	tmp, err := os.MkdirTemp("", "herald-dry-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	copyPath := filepath.Join(tmp, "state.db")
	if err := store.Snapshot(ctx, src, copyPath); err != nil {
		return err
	}
	st, err := store.Open(ctx, copyPath)
	if err != nil {
		return err
	}
	defer st.Close()
	bf.noCache = true // a dry run writes nothing beside the real store
	b, err := prepare(ctx, getenv, bf, stderr)
	if err != nil {
		return err
	}
	if sf.testTo != "" {
		return sendTest(ctx, b, st, getenv, sf.testTo, stdout)
	}
	if err := sendDue(ctx, b, st, getenv, sf, sf.dryRun, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dry run: the messages are in %s; nothing was sent or recorded\n", sf.dryRun)
	return nil
}

// sendTest sends one copy of each distinct message that is due (one per post, one per kind of digest) to
// addr, with [TEST] in the subject, through the configured transport. st is a copy of the store.
func sendTest(ctx context.Context, b *build, st store.Store, getenv func(string) string, addr string, stdout io.Writer) error {
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
		return errUsage{fmt.Sprintf("--test-to %q is not an email address", addr)}
	}
	now := time.Now()
	if _, err := st.Plan(ctx, now); err != nil {
		return err
	}
	due, err := st.Due(ctx, now, 1<<30)
	if err != nil {
		return err
	}
	byID := map[string]*posts.Post{}
	for _, p := range b.site.Posts {
		byID[p.ID] = p
	}
	removed, err := removedItems(ctx, st)
	if err != nil {
		return err
	}
	// What sendDue would not send: it waits for a post, or none of its posts is left.
	waiting := 0
	due = slices.DeleteFunc(due, func(d store.Delivery) bool {
		if slices.ContainsFunc(d.ItemIDs, func(id string) bool { return byID[id] == nil && !removed[id] }) {
			waiting++
			return true
		}
		return !slices.ContainsFunc(d.ItemIDs, func(id string) bool { return byID[id] != nil })
	})
	if len(due) == 0 {
		if waiting > 0 {
			fmt.Fprintf(stdout, "mail: nothing would go now, so there is nothing to test (%s for a post that is not on the site now)\n",
				plural(waiting, "message waits", "messages wait"))
			return nil
		}
		fmt.Fprintln(stdout, "mail: nothing is due, so there is nothing to test")
		return nil
	}
	ms, err := b.mailSettings(getenv, "", true)
	if err != nil {
		return err
	}
	ms.testTo = addr
	seen := map[string]bool{}
	var pick []store.Delivery
	var need []*posts.Post
	for _, d := range due {
		kind, _, _ := strings.Cut(d.DigestKey, " ")
		k := kind + "|" + strings.Join(d.ItemIDs, "|")
		if seen[k] {
			continue
		}
		seen[k] = true
		pick = append(pick, d)
		for _, id := range d.ItemIDs {
			if p := byID[id]; p != nil {
				need = append(need, p)
			}
		}
	}
	if _, err := b.site.Render(ctx, need); err != nil {
		return err
	}
	sender, err := ms.dial(ctx)
	if err != nil {
		return errors.Join(mailer.ErrConnect, err)
	}
	defer sender.Close()
	sent := 0
	for _, d := range pick {
		m, err := ms.compose(ctx, st, d, byID, now)
		if err != nil {
			return err
		}
		if err := sender.Send(ctx, m); err != nil {
			_, reason := mailer.Classify(err)
			return fmt.Errorf("test message %q: %s", m.Subject, reason)
		}
		sent++
	}
	fmt.Fprintf(stdout, "mail (%s): sent %s to %s; nothing was recorded\n", ms.where, plural(sent, "test message", "test messages"), addr)
	return nil
}

// removedItems says which items the store has recorded removed.
func removedItems(ctx context.Context, st store.Store) (map[string]bool, error) {
	items, err := st.Items(ctx)
	if err != nil {
		return nil, err
	}
	removed := make(map[string]bool, len(items))
	for _, it := range items {
		removed[it.ID] = it.Removed
	}
	return removed, nil
}

// mailSettings are the configuration the mail needs, checked.
type mailSettings struct {
	composer *mailer.Composer
	dial     func(ctx context.Context) (mailer.Sender, error)
	where    string // "smtp.example.com:587" or the outbox folder, for messages
	secret   []byte
	baseURL  string
	testTo   string // --test-to: every message goes to this address
}

// sendDue plans and sends what is due (the caller holds the run lock). With outbox set, messages go
// there whatever the configuration says.
func sendDue(ctx context.Context, b *build, st store.Store, getenv func(string) string, sf sendFlags, outbox string, stdout, stderr io.Writer) error {
	now := time.Now()
	if n, err := st.Recover(ctx); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(stderr, "herald: %s left by a run that stopped: their fate is unknown (see --retry-unknown)\n", plural(n, "message was", "messages were"))
	}
	if sf.retryUnknown {
		if _, err := st.RetryUnknown(ctx); err != nil {
			return err
		}
	}
	if _, err := st.FailOld(ctx, now, b.cfg.deferredMaxAge()); err != nil {
		return err
	}
	if _, err := st.Plan(ctx, now); err != nil {
		return err
	}
	due, err := st.Due(ctx, now, 1)
	if err != nil {
		return err
	}
	if len(due) == 0 {
		fmt.Fprintln(stdout, "mail: nothing to send")
		return nil
	}
	ms, err := b.mailSettings(getenv, outbox, false)
	if err != nil {
		return err
	}
	byID := map[string]*posts.Post{}
	for _, p := range b.site.Posts {
		byID[p.ID] = p
	}
	recorded, err := st.Items(ctx)
	if err != nil {
		return err
	}
	recordedHash := make(map[string]string, len(recorded))
	removed := map[string]bool{}
	for _, it := range recorded {
		recordedHash[it.ID] = it.Hash
		removed[it.ID] = it.Removed
	}
	rendered := map[string]bool{}
	var ledger mailer.Ledger = &storeLedger{st: st, backoff: 15 * time.Minute}
	if sf.ledger != nil {
		ledger = sf.ledger
	}
	var eng = &mailer.Engine{
		Dial: ms.dial, Ledger: ledger,
		Connections: b.cfg.Connections, PerConnection: b.cfg.PerConnection, Rate: b.cfg.Rate,
	}
	jobs := make(chan mailer.Job)
	// The producer stops when the engine does: after a run stopped early, composing the rest is waste.
	pctx, stopProducer := context.WithCancel(ctx)
	defer stopProducer()
	var prodErr error
	var skipped int
	go func() {
		defer close(jobs)
		var after int64 // page by id: what a run has taken is never taken again, whatever became of it
		for pctx.Err() == nil {
			fresh, err := st.DueAfter(pctx, now, after, 200)
			if err != nil {
				prodErr = err
				return
			}
			var need []*posts.Post
			for _, d := range fresh {
				after = max(after, d.ID)
				for _, id := range d.ItemIDs {
					if p := byID[id]; p != nil && !rendered[id] {
						rendered[id] = true
						need = append(need, p)
						if h, ok := recordedHash[id]; ok && h != p.Hash {
							fmt.Fprintf(stderr, "warning: %s changed since herald publish recorded it; the mail carries the version on disk now (run herald publish first to record it)\n", p.Path)
						}
					}
				}
			}
			if len(fresh) == 0 {
				return
			}
			warns, err := b.site.Render(pctx, need)
			if err != nil {
				prodErr = err
				return
			}
			for _, w := range warns {
				fmt.Fprintln(stderr, "warning:", w)
			}
			for _, d := range fresh {
				if slices.ContainsFunc(d.ItemIDs, func(id string) bool { return byID[id] == nil && !removed[id] }) {
					// A post of it left the site since herald publish recorded it: the delivery waits.
					// The next publish records the post gone and takes it out of the queue (a digest
					// goes without it), or the post is back.
					skipped++
					fmt.Fprintf(stderr, "herald: delivery %d waits: a post of it is not on the site now (herald publish records that)\n", d.ID)
					continue
				}
				m, err := ms.compose(pctx, st, d, byID, now)
				if errors.Is(err, errPostGone) {
					// Every post of it recorded gone (a delivery publish kept, as a server may have
					// it): it can never be sent, so close it.
					skipped++
					if err := closeDelivery(pctx, st, d, err.Error()); err != nil {
						prodErr = err
						return
					}
					fmt.Fprintf(stderr, "herald: delivery %d not sent: %v\n", d.ID, err)
					continue
				}
				if err != nil {
					prodErr = err
					return
				}
				select {
				case jobs <- mailer.Job{ID: d.ID, Message: m}:
				case <-pctx.Done():
					return
				}
			}
		}
	}()
	if bar := progressBar(ctx, st, stderr); bar != nil {
		eng.Progress = bar.add
		defer bar.done()
	}
	counts, err := eng.Run(ctx, jobs)
	stopProducer()
	for range jobs { // let the producer see it
	}
	if err == nil {
		err = prodErr
	}
	fmt.Fprintf(stdout, "mail (%s): sent %d, deferred %d, failed %d, unknown %d, skipped %d\n", ms.where,
		counts[mailer.Sent], counts[mailer.Deferred], counts[mailer.Failed], counts[mailer.Unknown], skipped)
	if err == nil && ctx.Err() != nil {
		err = errors.New("interrupted: what was not sent stays queued for the next run")
	}
	return err
}

// progress draws a one-line progress bar on a terminal.
type progress struct {
	w           io.Writer
	total, seen int
	last        time.Time
}

// progressBar returns a bar when stderr is a terminal and more than a few messages are to go; else nil.
func progressBar(ctx context.Context, st store.Store, stderr io.Writer) *progress {
	f, ok := stderr.(*os.File)
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
	return &progress{w: stderr, total: c[store.Queued] + c[store.Deferred]}
}

func (p *progress) add(mailer.Result) {
	p.seen++
	if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond || p.seen == p.total {
		p.last = now
		const width = 30
		n := min(width*p.seen/max(p.total, 1), width)
		fmt.Fprintf(p.w, "\rsending [%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(" ", width-n), p.seen, p.total)
	}
}

func (p *progress) done() { fmt.Fprintln(p.w) }

// compose makes the message of one delivery.
func (ms *mailSettings) compose(ctx context.Context, st store.Store, d store.Delivery, byID map[string]*posts.Post, now time.Time) (*mailer.Message, error) {
	sub, err := st.Subscriber(ctx, d.SubscriberID)
	if err != nil {
		return nil, err
	}
	r := mailer.Recipient{Email: sub.Email, Name: sub.Name}
	if ms.baseURL != "" {
		r.UnsubscribeURL = ms.baseURL + "/unsubscribe?token=" + token.Sign(ms.secret, "unsubscribe", sub.ID, time.Time{})
		r.PreferencesURL = ms.baseURL + "/preferences?token=" + token.Sign(ms.secret, "preferences", sub.ID, time.Time{})
	}
	if ms.testTo != "" {
		// A test copy is nobody's: it must not carry a reader's name, nor links that would unsubscribe
		// them when the author tries the footer or the mail client's unsubscribe button.
		r = mailer.Recipient{Email: ms.testTo}
		if ms.baseURL != "" {
			r.UnsubscribeURL = ms.baseURL + "/unsubscribe?token=test"
			r.PreferencesURL = ms.baseURL + "/preferences?token=test"
		}
	}
	var ps []*posts.Post
	for _, id := range d.ItemIDs {
		if p := byID[id]; p != nil {
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
	case ms.testTo != "":
		// Its own Message-ID in each run: a mail provider drops a message whose Message-ID it has seen,
		// so a test copy must share one neither with the real message nor with an earlier test.
		key = "test/" + key + "/" + ms.testTo + "/" + now.UTC().Format(time.RFC3339Nano)
	case d.MessageID != "":
		key = d.MessageID // tried before: the same Message-ID again
	}
	if d.DigestKey == "" {
		return ms.composer.Post(r, ps[0], key, now)
	}
	return ms.composer.Digest(r, ps, key, now)
}

// errPostGone: the posts of a delivery are no longer on the site.
var errPostGone = errors.New("the post is no longer on the site")

// closeDelivery records a delivery that can never be sent as failed.
func closeDelivery(ctx context.Context, st store.Store, d store.Delivery, reason string) error {
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

// mailSettings checks the mail configuration and makes the composer and the transport.
func (b *build) mailSettings(getenv func(string) string, outbox string, test bool) (*mailSettings, error) {
	c := b.cfg
	if c.From == "" {
		return nil, errors.New("there is mail to send but no sender: set from: \"Your Name <you@example.com>\" in herald.yaml (or HERALD_FROM)")
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("from %q in herald.yaml is not an address like \"Your Name <you@example.com>\": %v", c.From, err)
	}
	if c.PostalAddress == "" {
		return nil, mailer.ErrNoPostalAddress
	}
	ms := &mailSettings{baseURL: strings.TrimRight(c.BaseURL, "/")}
	if ms.baseURL != "" {
		if u, err := url.Parse(ms.baseURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("base_url %q in herald.yaml is not an http(s) URL; it is where herald serve answers", c.BaseURL)
		}
		if len(c.Secret) < token.MinSecret {
			return nil, fmt.Errorf("base_url is set but secret is missing or shorter than %d characters: the unsubscribe links are signed with it; herald init writes one to .herald/secret (or set HERALD_SECRET to a long random string)", token.MinSecret)
		}
		ms.secret = []byte(c.Secret)
	} else if c.UnsubscribeMailto == "" {
		return nil, mailer.ErrNoUnsubscribe
	}
	opts := mailer.Options{
		From: *from, SiteTitle: b.site.Title, SiteURL: b.site.URL, Lang: b.site.Lang, PostalAddress: c.PostalAddress,
		UnsubscribeMailto: c.UnsubscribeMailto, FullContent: c.EmailContent != "excerpt", MaxDigestPosts: c.MaxDigestPosts,
		Templates: b.site.Files("herald-templates"),
	}
	if test {
		opts.SubjectTemplate = "[TEST] " + mailer.DefaultSubject
		opts.DigestSubjectTemplate = "[TEST] " + mailer.DefaultDigestSubject
	}
	if c.DKIMKeyFile != "" {
		key, err := readSecretFile("dkim_key_file (HERALD_DKIM_KEY_FILE)", "the private key", c.DKIMKeyFile)
		if err != nil {
			return nil, err
		}
		opts.DKIM = &mailer.DKIM{Selector: firstSet(c.DKIMSelector, "herald"), Key: key}
	}
	if ms.composer, err = mailer.NewComposer(opts); err != nil {
		return nil, err
	}
	switch {
	case outbox != "":
		ms.where = outbox
	case c.SMTP == "":
		ms.where = firstSet(c.Outbox, filepath.Join(filepath.Dir(storePath(b.site.Dir, c)), "outbox"))
		if !filepath.IsAbs(ms.where) {
			ms.where = filepath.Join(b.site.Dir, ms.where)
		}
	default:
		sc, err := mailer.ParseSMTPURL(c.SMTP)
		if err != nil {
			return nil, err
		}
		if sc.Password, err = smtpPassword(getenv); err != nil {
			return nil, err
		}
		if sc.Username != "" && sc.Password == "" {
			// Else the server's 535 would say the password is wrong, when there is none.
			return nil, fmt.Errorf("smtp names the user %q but there is no password: set HERALD_SMTP_PASSWORD, or HERALD_SMTP_PASSWORD_FILE to a file that holds it", sc.Username)
		}
		ms.where = fmt.Sprintf("%s:%d", sc.Host, sc.Port)
		ms.dial = func(ctx context.Context) (mailer.Sender, error) { return mailer.DialSMTP(ctx, sc) }
		return ms, nil
	}
	dir := ms.where
	ms.dial = func(context.Context) (mailer.Sender, error) { return mailer.NewOutbox(dir) }
	if rel, err := filepath.Rel(b.site.Dir, dir); err == nil && !strings.HasPrefix(rel, "..") {
		ms.where = filepath.ToSlash(rel) // as the feeds' paths are shown
	}
	return ms, nil
}

// smtpPassword reads the SMTP password from HERALD_SMTP_PASSWORD or the file HERALD_SMTP_PASSWORD_FILE
// names: never from a flag or herald.yaml, where it would end up in shell histories and repositories.
func smtpPassword(getenv func(string) string) (string, error) {
	if p := getenv("HERALD_SMTP_PASSWORD"); p != "" {
		return p, nil
	}
	if f := getenv("HERALD_SMTP_PASSWORD_FILE"); f != "" {
		b, err := readSecretFile("HERALD_SMTP_PASSWORD_FILE", "the password", f)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}

// readSecretFile reads the file that setting names. Its error leaves the name out: a setting meant to
// name a file is sometimes given the secret itself, which must not end up in a terminal or a CI log.
func readSecretFile(setting, what, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: cannot read the file it names (%v); it must name a file that holds %s, not %s itself", setting, err, what, what)
	}
	return b, nil
}

// storeLedger records the engine's work in the store.
type storeLedger struct {
	st      store.Store
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
