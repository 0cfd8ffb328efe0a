package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/server"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr, `Usage: herald serve [flags]

Runs the subscription pages: /subscribe (the sign-up form, with a confirmation email), /confirm,
/unsubscribe (also one-click, from the List-Unsubscribe header), /preferences and /healthz. Emails link
to them through base_url, so run it where base_url points, usually behind a reverse proxy that adds
HTTPS. It writes to the same store as herald send, safely while a send runs. Logs each request to
stderr; stops cleanly on Ctrl-C or SIGTERM. With a provider's webhook set in the environment
(HERALD_SES_WEBHOOK_TOPIC, HERALD_POSTMARK_WEBHOOK_KEY, HERALD_MAILGUN_WEBHOOK_KEY,
HERALD_RESEND_WEBHOOK_KEY), it also takes that provider's bounces and complaints at /webhooks/PROVIDER.

Flags:
`)
	var bf buildFlags
	siteFlag(fs, &bf.dir)
	listen := fs.String("listen", "", "the `address` to listen on (default: listen in herald.yaml, else 127.0.0.1:8080)")
	debug := fs.Bool("debug", false, "log more, subscribers' addresses included")
	printForm := fs.Bool("print-form", false, "print an HTML sign-up form to paste into the site's layout, and exit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	siteDir, cfg, err := configure(bf.dir, getenv)
	if err != nil {
		return err
	}
	// server.New checks them too; they are checked first here to say which setting to fix.
	baseURL := strings.TrimRight(cfg.BaseURL, "/")
	switch err := server.Check(baseURL, []byte(cfg.Secret)); {
	case baseURL == "":
		return errors.New("herald serve needs base_url: set it in herald.yaml (or HERALD_BASE_URL) to the public URL where herald serve answers, such as https://news.example.com")
	case errors.Is(err, server.ErrBaseURL):
		return fmt.Errorf("base_url %q in herald.yaml is not an http(s) URL; set it to where herald serve answers, such as https://news.example.com", cfg.BaseURL)
	case errors.Is(err, server.ErrSecret):
		return fmt.Errorf("herald serve needs secret, at least %d characters: herald init writes one to .herald/secret (or set HERALD_SECRET to a long random string); it signs the links in emails", token.MinSecret)
	case err != nil:
		return err
	}
	if *printForm {
		return signUpForm.Execute(stdout, baseURL)
	}
	proxies, err := trustedProxies(cfg.TrustedProxies)
	if err != nil {
		return err
	}
	addr := firstSet(*listen, firstSet(cfg.Listen, "127.0.0.1:8080"))

	// Only the site's settings: its posts are herald send's business, and a broken one must not stop
	// the pages.
	site, err := posts.LoadSite(ctx, siteOptions(siteDir, cfg))
	if err != nil {
		return err
	}
	for _, w := range site.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	b := &build{cfg: cfg, site: site, stderr: stderr}
	ms, err := b.mail(getenv, "", false)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, siteDir, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	level := logLevel(ctx) // --verbose is debug, as --debug
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	hooks, hooksOn, err := webhooks(getenv, baseURL, st, log)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		Store: st, Confirmer: &mailConfirmer{composer: ms.Composer, dial: ms.Dial}, Logger: log,
		Secret: []byte(cfg.Secret), BaseURL: baseURL,
		SiteTitle: b.site.Title, SiteURL: b.site.URL, Lang: b.site.Lang, LangNames: langNames(b.site),
		Templates:      b.site.Files("herald-templates"),
		TrustedProxies: proxies,
		Webhooks:       hooks,
	})
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		srv.Close(context.Background()) //nolint:errcheck // nothing was queued
		return fmt.Errorf("listen on %s: %w; set listen in herald.yaml or --listen to a free address", addr, err)
	}
	fmt.Fprintf(stdout, "herald serve: listening on http://%s (public URL %s, mail to %s)\n", ln.Addr(), baseURL, ms.Where)
	if len(hooksOn) > 0 {
		fmt.Fprintf(stdout, "herald serve: webhooks at %s/webhooks/{%s}\n", baseURL, strings.Join(hooksOn, ","))
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "herald serve: stopped")
	return nil
}

// trustedProxies parses trusted_proxies (addresses or CIDR prefixes); none means loopback only.
func trustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted_proxies: %q is not an IP address or a prefix such as 10.0.0.0/8", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// mailConfirmer sends confirmation emails through the configured transport (SMTP or the outbox), one
// connection per message: sign-ups are few.
type mailConfirmer struct {
	composer *mailer.Composer
	dial     func(ctx context.Context) (mailer.Sender, error)
}

func (c *mailConfirmer) SendConfirmation(ctx context.Context, sub store.Subscriber, confirmURL string, expires time.Time) error {
	// One Message-ID per link sent: a second sign-up of a pending address is a new message.
	key := "confirm/" + sub.Email + "/" + strconv.FormatInt(expires.UnixNano(), 10)
	m, err := c.composer.Confirm(mailer.Confirmation{Email: sub.Email, URL: confirmURL, Expires: expires}, key, time.Now())
	if err != nil {
		return fmt.Errorf("confirmation to subscriber %d: %w: %w", sub.ID, server.ErrNotSent, err)
	}
	s, err := c.dial(ctx)
	if err != nil {
		return fmt.Errorf("confirmation to subscriber %d: %w: %w", sub.ID, server.ErrNotSent, err)
	}
	if err := s.Send(ctx, m); err != nil {
		s.Close() //nolint:errcheck // the send's error is the one to report
		outcome, reason := mailer.Classify(err)
		// The server's reply may quote the address, in any case, which stays out of the logs.
		quoted := regexp.MustCompile("(?i)" + regexp.QuoteMeta(sub.Email))
		reason = quoted.ReplaceAllLiteralString(reason, "<address>")
		if outcome == mailer.Unknown { // the server may have it
			return fmt.Errorf("confirmation to subscriber %d: %s", sub.ID, reason)
		}
		return fmt.Errorf("confirmation to subscriber %d: %w: %s", sub.ID, server.ErrNotSent, reason)
	}
	// The server has taken the message: a failed QUIT after it changes nothing.
	s.Close() //nolint:errcheck
	return nil
}

// signUpForm is what serve --print-form prints: a sign-up form for the site's own pages, which posts to
// herald serve's /subscribe (whose cross-origin check trusts the site's origin). The answer is herald
// serve's page saying that a confirmation is on its way. The hidden field is the honeypot the page has:
// a bot fills it in, and the sign-up is dropped.
var signUpForm = template.Must(template.New("form").Parse(`<form class="herald-subscribe" method="post" action="{{.}}/subscribe">
  <label for="herald-email">Get new posts by email</label>
  <input type="email" id="herald-email" name="email" placeholder="you@example.com" required autocomplete="email" maxlength="254">
  <div style="position:absolute;left:-10000px" aria-hidden="true"><input type="text" name="website" tabindex="-1" autocomplete="off"></div>
  <button type="submit">Subscribe</button>
</form>
`))
