package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/token"
)

// envInboxPassword is the IMAP mailbox's password; envInboxPassword+"_FILE" names a file holding it.
const envInboxPassword = "HERALD_INBOX_PASSWORD"

func runInbox(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inbox", stderr, `Usage: herald inbox [flags]

Reads the mailbox that the inbox setting names (a Maildir folder, or imap://USER@HOST[:PORT]/MAILBOX or
imaps://..., its password in HERALD_INBOX_PASSWORD or the file HERALD_INBOX_PASSWORD_FILE names) and
handles what the mail servers and the readers sent back: a bounce (a delivery status notification)
marks its subscriber bounced when it says the address is gone for good (5.1.1, 5.1.2, 5.2.1, ...) and
is recorded when it does not (4.x.x; a refusal of the message, such as 5.7.x for DMARC or spam); a
complaint (an ARF report) unsubscribes its subscriber and records the complaint; a mail to
unsubscribe_mailto, or a reply whose subject or first line says "unsubscribe", unsubscribes its sender
when the sender is a subscriber (an automatic reply never does). A bounce or a complaint is matched to the message it is about by the
return_path token of the address it came back to, or by the Message-ID it quotes. What was handled moves
to the folder Herald/Processed (a Maildir: its .Processed folder); what matched nothing stays, and its
Message-ID is printed. Running it again does nothing twice.

Flags:
`)
	var dir string
	var dry bool
	siteFlag(fs, &dir)
	fs.BoolVar(&dry, "dry-run", false, "say what would be done, and change and move nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	siteDir, cfg, err := configure(dir, getenv)
	if err != nil {
		return err
	}
	if cfg.Inbox == "" {
		return fmt.Errorf("no mailbox to read: set inbox in %s (a Maildir folder, or imap://USER@HOST/MAILBOX) or HERALD_INBOX", configName)
	}
	if cfg.ReturnPath != "" && cfg.Secret == "" {
		return fmt.Errorf("return_path needs the secret that signs its tokens: run herald init, or set secret")
	}
	src, err := openInbox(ctx, siteDir, cfg.Inbox, getenv)
	if err != nil {
		return err
	}
	defer src.Close()
	st, ok, err := openStoreToRead(ctx, siteDir, cfg)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no state store yet: nothing was sent that could come back (herald publish and herald send make it)")
	}
	defer st.Close()
	o := inbox.Options{Store: st, UnsubscribeAddress: mailtoAddress(cfg.UnsubscribeMailto), ReturnPath: cfg.ReturnPath,
		Secret: []byte(cfg.Secret), DryRun: dry, Out: stdout}
	s, err := inbox.Process(ctx, src, o)
	printInboxSummary(stdout, s, dry)
	if err != nil {
		return err
	}
	return src.Close()
}

// openInbox opens the mailbox setting names: an IMAP URL, or a Maildir folder (relative to the site).
func openInbox(ctx context.Context, siteDir, setting string, getenv func(string) string) (inbox.Source, error) {
	if !strings.HasPrefix(setting, "imap://") && !strings.HasPrefix(setting, "imaps://") {
		dir := setting
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(siteDir, dir)
		}
		return inbox.OpenMaildir(dir)
	}
	cfg, err := inbox.ParseIMAPURL(setting)
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	cfg.Password, err = webhookKey(getenv, envInboxPassword, "IMAP mailbox's password")
	if err != nil {
		return nil, err
	}
	if cfg.Password == "" {
		return nil, fmt.Errorf("inbox needs the IMAP password: set %s, or %s_FILE to a file that holds it", envInboxPassword, envInboxPassword)
	}
	return inbox.DialIMAP(ctx, cfg)
}

// mailtoAddress is the address of unsubscribe_mailto, which may be written as a mailto: URI.
func mailtoAddress(s string) string {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "mailto:"); ok {
		s = s[len(s)-len(rest):]
		s, _, _ = strings.Cut(s, "?")
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
	}
	return strings.Trim(s, "<>")
}

func printInboxSummary(w io.Writer, s inbox.Summary, dry bool) {
	verb := "recorded"
	if dry {
		verb = "to record"
	}
	fmt.Fprintf(w, "\n%d message%s read\n", s.Messages, plural(s.Messages))
	fmt.Fprintf(w, "  hard bounces %s:   %d\n", verb, s.HardBounces)
	fmt.Fprintf(w, "  soft bounces %s:   %d\n", verb, s.SoftBounces)
	if s.Delivered > 0 {
		fmt.Fprintf(w, "  deliveries %s:     %d\n", verb, s.Delivered)
	}
	fmt.Fprintf(w, "  complaints %s:     %d\n", verb, s.Complaints)
	fmt.Fprintf(w, "  unsubscribe requests:  %d (%d unsubscribed)\n", s.Unsubscribes, s.Unsubscribed)
	if s.Replays > 0 {
		fmt.Fprintf(w, "  recorded before:       %d\n", s.Replays)
	}
	if !dry {
		fmt.Fprintf(w, "  moved to processed:    %d\n", s.Moved)
	}
	fmt.Fprintf(w, "  not Herald's, left:    %d\n", s.Other)
	fmt.Fprintf(w, "  unmatched, left:       %d\n", len(s.Unmatched))
	for _, id := range s.Unmatched {
		fmt.Fprintf(w, "    %s\n", id)
	}
}

// checkInbox checks the settings of herald inbox: bad is config.check's.
func (c *config) checkInbox(bad func(key, value, want string)) {
	if c.ReturnPath != "" {
		if err := inbox.CheckReturnPath(c.ReturnPath); errors.Is(err, inbox.ErrReturnPathLong) {
			bad("return_path", strconv.Quote(c.ReturnPath), "with its token the part before @ would be over SMTP's 64 characters: shorten it, such as bounces+{token}@example.com")
		} else if err != nil {
			bad("return_path", strconv.Quote(c.ReturnPath), "want an address with {token} in its local part, such as bounces+{token}@example.com, whose mail herald inbox reads")
		} else if t := c.Transport + c.SMTP; t != "" && !strings.HasPrefix(t, "smtp") {
			bad("return_path", strconv.Quote(c.ReturnPath), "only SMTP sends from it: the providers' APIs set their own return path; leave it out and use their webhooks")
		}
	}
	if !strings.Contains(c.Inbox, "://") {
		return
	}
	switch _, err := inbox.ParseIMAPURL(c.Inbox); {
	case errors.Is(err, inbox.ErrURLPassword):
		bad("inbox", "(a URL with a password)", "take the password out: set "+envInboxPassword+", or "+envInboxPassword+"_FILE to a file that holds it")
	case err != nil:
		bad("inbox", strconv.Quote(inbox.RedactURL(c.Inbox)), "want a Maildir folder, or imap://USER@HOST[:PORT]/MAILBOX or imaps://...")
	}
}

// returnPath makes each delivery's envelope sender from return_path (nil when it is not set): a VERP
// address whose token, signed with the secret, names the delivery, so that herald inbox matches a bounce
// sent back to it.
func returnPath(c config) (func(int64) string, error) {
	if c.ReturnPath == "" {
		return nil, nil
	}
	if len(c.Secret) < token.MinSecret {
		return nil, fmt.Errorf("return_path is set but secret is missing or shorter than %d characters: its tokens are signed with it; herald init writes one to .herald/secret (or set HERALD_SECRET to a long random string)", token.MinSecret)
	}
	pattern, secret := c.ReturnPath, []byte(c.Secret)
	return func(id int64) string { return inbox.ReturnPath(pattern, secret, id) }, nil
}
