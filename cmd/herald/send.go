package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/publish"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

// sendFlags are the flags of the commands that send mail.
type sendFlags struct {
	dryRun       string // a folder to write the messages to instead of sending them
	testTo       string // an address to send one copy of each message to instead
	retryUnknown bool
	retryNow     bool                // deferred messages go at once
	result       *publish.SendResult // filled in by the send, for --json
	approve      string              // a held post whose mail may go (see choices.go)
	ledger       mailer.Ledger       // nil: the store; a benchmark passes one that records nothing
}

func (f *sendFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.retryUnknown, "retry-unknown", false, "send again the messages whose fate is unknown (the connection died after DATA), with the same Message-ID")
}

func runSend(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("send", stderr, `Usage: herald send [flags]

Sends what is due without rebuilding the feeds: the posts that publish recorded as new, to the
subscribers who should get them (at once, or in their daily, weekly or monthly digest when it falls due,
at digest_hour in the site's time zone), and the messages deferred by an earlier run. Run it from cron
(hourly is enough for digests). With no smtp configured, the messages go to the outbox folder (a Maildir).
Prints a summary. --approve POST lets the mail of a held post go first (hold: true in herald.yaml, or in
the post's front matter).

Flags:
`)
	var bf buildFlags
	var sf sendFlags
	bf.register(fs)
	sf.register(fs)
	fs.StringVar(&sf.dryRun, "dry-run", "", "write the messages that would be sent into this `folder` (a Maildir) and change nothing")
	fs.BoolVar(&sf.retryNow, "retry-now", false, "send the deferred messages now, without waiting for their next try (herald status shows them)")
	fs.StringVar(&sf.testTo, "test-to", "", "send one copy of each message that is due to this `address`, with [TEST] in the subject, and change nothing")
	fs.StringVar(&sf.approve, "approve", "", "let the held mail of `POST` go (its file, id or slug; hold: true holds every new post's), then send what is due")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	siteDir, cfg, err := configure(bf.dir, getenv)
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
	b, err := prepare(ctx, getenv, siteDir, cfg, bf, stderr)
	if err != nil {
		return err
	}
	if sf.approve != "" {
		if err := approve(ctx, r.st, b.site, sf.approve, stdout); err != nil {
			return err
		}
	}
	return sendDue(ctx, b, r.st, getenv, sf, "", stdout, stderr)
}

// dryRunSend sends into a Maildir folder against a copy of the store, so that the real one is not
// changed and the messages are exactly those a real run would send.
func dryRunSend(ctx context.Context, getenv func(string) string, bf buildFlags, sf sendFlags, siteDir string, cfg config, stdout, stderr io.Writer) error {
	src := storePath(siteDir, cfg)
	o, err := storeOptions(cfg)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "herald-dry-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	copyPath := filepath.Join(tmp, "state.db")
	if err := store.Snapshot(ctx, src, copyPath, o); errors.Is(err, store.ErrNoStore) {
		return fmt.Errorf("nothing to send: no runs recorded yet (there is no store at %s)", store.Name(src))
	} else if err != nil {
		return err
	}
	st, err := store.Open(ctx, copyPath)
	if err != nil {
		return err
	}
	defer st.Close() // which releases the lock
	if _, err := st.LockSend(ctx, "send"); err != nil {
		return err
	}
	bf.noCache = true // a dry run writes nothing beside the real store
	b, err := prepare(ctx, getenv, siteDir, cfg, bf, stderr)
	if err != nil {
		return err
	}
	if sf.testTo != "" {
		if a, err := mail.ParseAddress(sf.testTo); err != nil || a.Address != sf.testTo {
			return errUsage{fmt.Sprintf("--test-to %q is not an email address", sf.testTo)}
		}
		test := func() (*publish.Mail, error) { return b.mail(getenv, "", true) }
		return publish.SendTest(ctx, b.site, st, test, sf.testTo, b.cfg.planOptions(b.site), stdout)
	}
	if err := sendDue(ctx, b, st, getenv, sf, sf.dryRun, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dry run: the messages are in %s; nothing was sent or recorded\n", sf.dryRun)
	return nil
}

// sendDue plans and sends what is due (the caller holds the run lock). With outbox set, messages go
// there whatever the configuration says.
func sendDue(ctx context.Context, b *build, st store.Store, getenv func(string) string, sf sendFlags, outbox string, stdout, stderr io.Writer) error {
	mail := func() (*publish.Mail, error) { return b.mail(getenv, outbox, false) }
	o := publish.SendOptions{
		Connections: b.cfg.Connections, PerConnection: b.cfg.PerConnection, Rate: b.cfg.Rate,
		DeferredMaxAge: b.cfg.deferredMaxAge(), RetryUnknown: sf.retryUnknown, Ledger: sf.ledger,
		Out: stdout, Log: stderr, Plan: b.cfg.planOptions(b.site),
	}
	o.RetryNow, o.Result = sf.retryNow, sf.result
	if logLevel(ctx) <= slog.LevelDebug {
		o.Debug = newLogger(ctx, stderr)
	}
	if !sf.retryUnknown && idempotentTransport(b.cfg.transport()) {
		// Sent again with the same key, an unknown message is not sent twice, for as long as the provider
		// keeps the key: Resend keeps it 24 hours. An older one waits for --retry-unknown, as on SMTP.
		o.RetryUnknown, o.RetryUnknownSince = true, time.Now().Add(-idempotencyWindow)
	}
	return publish.Send(ctx, b.site, st, mail, o)
}

// mail checks the mail configuration and makes the composer and the transport.
func (b *build) mail(getenv func(string) string, outbox string, test bool) (*publish.Mail, error) {
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
	ms := &publish.Mail{Links: token.Links{Base: strings.TrimRight(c.BaseURL, "/")}}
	if ms.Links.Base != "" {
		if u, err := url.Parse(ms.Links.Base); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("base_url %q in herald.yaml is not an http(s) URL; it is where herald serve answers", c.BaseURL)
		}
		if len(c.Secret) < token.MinSecret {
			return nil, fmt.Errorf("base_url is set but secret is missing or shorter than %d characters: the unsubscribe links are signed with it; herald init writes one to .herald/secret (or set HERALD_SECRET to a long random string)", token.MinSecret)
		}
		ms.Links.Secret = []byte(c.Secret)
		if u, _ := url.Parse(ms.Links.Base); u.Scheme == "http" && b.stderr != nil {
			fmt.Fprintf(b.stderr, "warning: base_url %s is http: one-click unsubscribe (RFC 8058, which Gmail and Yahoo ask of bulk senders) needs https, so the messages go without it; serve herald serve behind HTTPS and set base_url to its https:// address\n", c.BaseURL)
		}
	} else if c.UnsubscribeMailto == "" {
		return nil, mailer.ErrNoUnsubscribe
	}
	if ms.ReturnPath, err = returnPath(c); err != nil {
		return nil, err
	}
	opts := mailer.Options{
		From: *from, SiteTitle: b.site.Title, SiteURL: b.site.URL, Lang: b.site.Lang, PostalAddress: c.PostalAddress,
		Languages:         b.site.Languages,
		UnsubscribeMailto: c.UnsubscribeMailto, FullContent: c.EmailContent != "excerpt", MaxDigestPosts: c.MaxDigestPosts,
		Templates: b.site.Files("herald-templates"),
	}
	designOptions(&opts, c, b.stderr, test)
	if opts.DKIM, err = dkimKeys(b.site.Dir, c); err != nil {
		return nil, err
	}
	if ms.Composer, err = mailer.NewComposer(opts); err != nil {
		return nil, err
	}
	switch {
	case outbox != "":
		ms.Where = outbox
	case c.transport() == "":
		ms.Where = outboxPath(b.site.Dir, c)
	case isAPITransport(c.transport()):
		if err := apiTransport(ms, c.transport(), getenv); err != nil {
			return nil, err
		}
		return ms, nil
	default:
		sc, err := mailer.ParseSMTPURL(c.transport())
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
		ms.Where = fmt.Sprintf("%s:%d", sc.Host, sc.Port)
		ms.Dial = func(ctx context.Context) (mailer.Sender, error) { return mailer.DialSMTP(ctx, sc) }
		return ms, nil
	}
	dir := ms.Where
	ms.Dial = func(context.Context) (mailer.Sender, error) { return mailer.NewOutbox(dir) }
	if rel, err := filepath.Rel(b.site.Dir, dir); err == nil && !strings.HasPrefix(rel, "..") {
		ms.Where = filepath.ToSlash(rel) // as the feeds' paths are shown
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
