// Package mailer composes Herald's emails from templates and delivers them over SMTP or into a Maildir
// outbox.
//
// A Composer turns a post (or a digest of posts) and a recipient into a Message: multipart/alternative
// with a plain-text part before an HTML part whose styles are inlined, and the headers a newsletter needs
// (List-Id, List-Unsubscribe, List-Unsubscribe-Post, Precedence: bulk, a Message-ID that depends only on
// the delivery's key). The same inputs always give the same bytes. A Prepared composes a post's emails
// once for all its recipients and fills in each one's name, address and links. A Sender delivers Messages: an
// SMTPSender over one SMTP connection, or an Outbox into a Maildir folder. Classify tells what a Send
// error means for the delivery ledger.
//
// The package knows nothing about subscribers, tokens or the ledger: the caller passes each recipient's
// address, name and links, and records what Classify says.
package mailer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	stdhtml "html"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode"

	"golang.org/x/net/idna"

	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/templates"
)

// The errors of Post and Digest that should stop a run rather than one delivery: every email needs a
// postal address and a way to unsubscribe (the law in most countries requires both in a newsletter).
var (
	ErrFooter          = errors.New("mailer: a message without its footer")
	ErrNoPostalAddress = errors.New("mailer: no postal address; the law requires it in every email")
	ErrNoUnsubscribe   = errors.New("mailer: no way to unsubscribe: each email needs an unsubscribe link or an unsubscribe mailto address")
)

// Default subject templates (text/template, with the same data as the bodies: see TemplateData).
// A digest's subject leads with its first post's title, which tells more in an inbox than a count.
const (
	DefaultSubject       = "{{.Title}}"
	DefaultDigestSubject = "{{.Title}}{{if gt .Count 1}} and {{add .Count -1}} more{{end}}"
)

// ClipBytes is about where Gmail's clipping starts to threaten: Gmail shows a message whose HTML passes
// 102 KB cut short, with a "View entire message" link (and the footer with the unsubscribe link hidden).
// A post whose HTML part, as sent, is larger is reported to Options.LargeHTML, and sent as its excerpt
// with Options.ClipExcerpt.
const ClipBytes = 90 * 1024

// Options configure a Composer. cmd/herald fills them from herald.yaml.
type Options struct {
	From      mail.Address // the author; the Message-ID's and DKIM's domain is this address's
	SiteTitle string
	SiteURL   string // absolute
	Lang      string // the HTML part's lang attribute; default "en"

	// Languages are a multilingual site's (posts.Site.Languages): an email whose posts are in one of them
	// shows that language's title and home page as the site's.
	Languages []posts.Language

	// PostalAddress is printed in every footer. Required: Post and Digest refuse without it.
	PostalAddress string

	// ListID names the list in the List-Id header (RFC 2919), as "Example Weblog <blog.example.com>" or
	// just "blog.example.com". Default: the site title and the site URL's host.
	ListID string

	// UnsubscribeMailto is an address (or a mailto: URI) that unsubscribes the sender of a mail to it:
	// the fallback in List-Unsubscribe, and the footer's link when a recipient has no UnsubscribeURL.
	UnsubscribeMailto string

	// FullContent puts each post in full into its email; otherwise the excerpt and a link to the post.
	// A post marked excerpt_only gets its excerpt either way. Digests always show excerpts.
	FullContent bool

	SubjectTemplate       string // default DefaultSubject
	DigestSubjectTemplate string // default DefaultDigestSubject

	// Templates holds the site's own templates; a file found there replaces the default of the same
	// name in templates.FS (email.html, email.txt, post.html, post.txt, digest.html, digest.txt,
	// email.css, content.css). May be nil.
	Templates fs.FS

	// DKIM are the keys that sign every message, each with a DKIM-Signature of its own (none: no
	// signature). An Ed25519 key and an RSA one, each under its own selector, is what RFC 8463 recommends.
	DKIM []DKIM

	// MaxDigestPosts caps the posts shown in a digest; the rest are counted and linked. 0: no cap.
	MaxDigestPosts int

	// Greeting starts each email with "Hi NAME," ("Hello," to a reader without a name). Off, the inbox's
	// preview line shows the preheader (the post's summary) instead.
	Greeting bool

	// ClipExcerpt sends a post whose email would pass ClipBytes of HTML as its excerpt with a link to the
	// post, rather than in full.
	ClipExcerpt bool

	// LargeHTML, when set, hears of each post whose email passes ClipBytes of HTML (size, as sent) as
	// PreparePost prepares it; excerpt tells whether ClipExcerpt made it the excerpt.
	LargeHTML func(p *posts.Post, size int, excerpt bool)
}

// DKIM is one key that signs every message (RFC 6376).
type DKIM struct {
	Selector string // default "herald"
	Domain   string // default: the From address's domain
	Key      []byte // a PEM private key: RSA (PKCS #1 or #8) or Ed25519 (PKCS #8)
}

// Recipient is one subscriber as the emails show them.
type Recipient struct {
	Email string
	Name  string // may be empty

	// UnsubscribeURL is the subscriber's own unsubscribe link (it carries their token). An https URL
	// also gets one-click unsubscribe (RFC 8058). Empty when no base_url is configured: then the
	// Options' UnsubscribeMailto must be set.
	UnsubscribeURL string
	PreferencesURL string // may be empty
}

// TemplateData is what the templates (email.*, post.*, digest.* and the subject templates) see. Every
// string is plain text, except TemplatePost.HTML; html/template escapes the rest. Besides the standard
// functions, templates have add (add $i 1) and lines (the lines of a multi-line string, such as a postal
// address written over several lines).
//
// Recipient, UnsubscribeURL and PreferencesURL are what differ between the emails of one post. Written out
// ({{.Recipient.Name}}) or tested ({{if .PreferencesURL}}), they let a post be rendered once for all its
// readers (see Prepared); a template that does more with them (printf, eq, a variable, the whole data to a
// function, any of them in a subject) has each email rendered and inlined whole, a millisecond or more each.
type TemplateData struct {
	Site struct {
		Title string
		URL   string
	}
	Lang      string // the language of the message's posts (their posts.Post.Lang), else Options.Lang
	Dir       string // the direction of Lang's script, for the dir attribute: "rtl" or "ltr"
	Recipient struct {
		Email string
		Name  string // empty when not known
	}
	Subject   string           // the rendered subject (empty while the subject is rendered)
	Title     string           // the post's title; a digest's first post's
	Preheader string           // the inbox's preview line: the post's summary, the digest's other titles
	Greeting  bool             // Options.Greeting
	CSS       htmltemplate.CSS // email.css, for a <style> element that Herald then inlines (content.css is inlined into the posts' HTML before)
	Post      *TemplatePost    // the post, in a single-post email
	Posts     []*TemplatePost  // the posts shown, in a digest
	Count     int              // the number of new posts, in a digest (shown or not)
	More      int              // the number of posts the digest leaves out (see MaxDigestPosts)

	UnsubscribeURL string // the footer's unsubscribe link: the https URL, else the mailto: URI
	PreferencesURL string // may be empty
	PostalAddress  string // may be empty in a confirmation email

	Confirm *TemplateConfirm // in a confirmation email (confirm.html, confirm.txt) only
}

// TemplateConfirm is the link of a confirmation email.
type TemplateConfirm struct {
	URL     string
	Expires time.Time // when the link stops working
}

// TemplatePost is one post as the templates see it.
type TemplatePost struct {
	Title   string
	URL     string
	Date    time.Time
	Authors []string // names
	Image   string   // absolute URL, may be empty
	Lang    string   // the post's language, else Options.Lang; and its script's direction, "rtl" or "ltr"
	Dir     string

	// HTML is the post's full content or its excerpt, with the stylesheet inlined; Text is the same as
	// plain text (links as numbered references listed below it). Both may be empty. In a digest, and in
	// an excerpt, a summary that would begin with a greeting alone ("Hello Jekyllers!") begins after it.
	HTML    htmltemplate.HTML
	Text    string
	Excerpt bool // HTML and Text are not the whole post: link to it
}

// Message is one composed email. It is not safe for concurrent use.
type Message struct {
	To        string // the recipient's address: the envelope's RCPT TO and the To header's
	MessageID string // as in the header, with the angle brackets
	Subject   string // as the recipient reads it (sanitized, not encoded)
	Date      time.Time

	// HTML and Text are the two parts as composed, before transfer encoding: what a preview shows.
	HTML, Text string

	from, rcpt string     // the envelope's addresses, as in MAIL FROM:<...> and RCPT TO:<...>
	raw        []byte     // the message as sent
	reply      string     // the server's reply to the end of DATA, once sent
	bufs       *sync.Pool // the Composer's, which release gives raw back to
}

// release gives the message's bytes back to the Composer that made it, for another message: the engine
// calls it when a message it had composed for a sender of bytes alone is done with (each is 25 to 50 kB,
// most of what a send allocates, and without this the GC runs five times as often). The message has no
// bytes after it.
func (m *Message) release() {
	if m.bufs != nil && m.raw != nil {
		b := m.raw[:0]
		m.raw = nil
		m.bufs.Put(&b)
	}
}

// buffer returns an empty slice with room for n bytes: one a released message gave back, when there is one
// large enough.
func (c *Composer) buffer(n int) []byte {
	if b, ok := c.bufs.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:0]
	}
	return make([]byte, 0, n)
}

// WriteTo writes the message as RFC 5322 bytes with CRLF line ends, exactly as it is sent.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(m.raw)
	if err != nil {
		return int64(n), fmt.Errorf("mailer: write message %s: %w", m.MessageID, err)
	}
	return int64(n), nil
}

// Bytes returns the message as WriteTo writes it.
func (m *Message) Bytes() ([]byte, error) {
	return bytes.Clone(m.raw), nil
}

// ServerReply is what the SMTP server answered when it accepted the message (often with its queue id),
// after a successful SMTPSender.Send; "" before.
func (m *Message) ServerReply() string { return m.reply }

// Composer renders messages. It is safe for concurrent use.
type Composer struct {
	o                          Options
	from                       mail.Address
	fromHeader, envelopeFrom   string // the From header's value, and the envelope's <address>
	domain                     string // of From: the Message-ID's right-hand side
	listID                     string // the List-Id header, encoded
	mailto                     string // the mailto: URI for List-Unsubscribe, "" when none
	dkim                       []*dkimKey
	feedbackHost               string // the Feedback-ID's customer: the site's host
	css, contentCSS            string // email.css, content.css
	postHTML, digestHTML       *htmltemplate.Template
	postText, digestText       *texttemplate.Template
	postSubject, digestSubject *texttemplate.Template
	confirmHTML                *htmltemplate.Template
	confirmText                *texttemplate.Template
	inliner                    *inliner

	// Whether a post's (a digest's) emails can be filled in from a frame: see Prepared.
	postFillable, digestFillable bool

	bufs sync.Pool // *[]byte: the bytes of messages sent and done with (Message.release), for the next ones
}

// NewComposer checks the options and parses the templates.
func NewComposer(o Options) (*Composer, error) {
	c := &Composer{o: o}
	if o.Lang == "" {
		c.o.Lang = "en"
	}
	from, err := plainAddress(o.From.Address)
	if err != nil {
		return nil, fmt.Errorf("mailer: from address %q: not an email address: want \"Name <address>\"", o.From.Address)
	}
	c.from = mail.Address{Name: displayName(o.From.Name), Address: from}
	c.fromHeader = c.from.String()
	c.envelopeFrom = (&mail.Address{Address: from}).String()
	// Message-IDs are ASCII (RFC 5322): a domain in Unicode goes in its A-label form (xn--). An ASCII
	// one stays as it is, whatever a strict host name check would say of it (mail_out, [192.0.2.1]).
	c.domain = domainOf(from)
	if strings.ContainsFunc(c.domain, func(r rune) bool { return r > '~' }) {
		if c.domain, err = idna.Lookup.ToASCII(c.domain); err != nil {
			return nil, fmt.Errorf("mailer: from address %q: its domain is not a domain name", from)
		}
	}
	if c.domain == "" {
		return nil, fmt.Errorf("mailer: from address %q has no domain", from)
	}
	if o.SiteURL == "" {
		return nil, errors.New("mailer: no site URL")
	}
	c.listID, err = listID(o.ListID, o.SiteTitle, o.SiteURL)
	if err != nil {
		return nil, err
	}
	if o.UnsubscribeMailto != "" {
		if c.mailto, err = unsubscribeMailto(o.UnsubscribeMailto); err != nil {
			return nil, err
		}
	}
	if c.dkim, err = parseDKIMKeys(o.DKIM, c.domain); err != nil {
		return nil, err
	}
	c.feedbackHost = feedbackField(o.SiteURL, c.domain)
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.inliner = newInliner(c.contentCSS)
	// An attribute selector could match a recipient's value (a[href^="https"]), so that the same rule
	// would style one reader's link and not another's.
	css := !strings.Contains(c.css, "[")
	c.postFillable = css && fillable(c.postSubject, c.postHTML, c.postText)
	c.digestFillable = css && fillable(c.digestSubject, c.digestHTML, c.digestText)
	return c, nil
}

func (c *Composer) parseTemplates() error {
	read := func(name string) (string, error) {
		if c.o.Templates != nil {
			b, err := fs.ReadFile(c.o.Templates, name)
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("mailer: read template %s: %w", name, err)
			}
		}
		b, err := fs.ReadFile(templates.FS, name)
		if err != nil {
			return "", fmt.Errorf("mailer: read default template %s: %w", name, err)
		}
		return string(b), nil
	}
	var err error
	if c.css, err = read("email.css"); err != nil {
		return err
	}
	if c.contentCSS, err = read("content.css"); err != nil {
		return err
	}
	// Comments are of no use in an email, and go-premailer's CSS parser spends time on them in every
	// message.
	c.css, c.contentCSS = stripCSSComments(c.css), stripCSSComments(c.contentCSS)
	funcs := map[string]any{
		"add":   func(a, b int) int { return a + b },
		"lines": func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") },
	}
	html := func(body string) (*htmltemplate.Template, error) {
		t := htmltemplate.New("email.html").Funcs(funcs).Option("missingkey=error")
		for _, name := range []string{"email.html", body} {
			src, err := read(name)
			if err != nil {
				return nil, err
			}
			tn := t
			if name != t.Name() {
				tn = t.New(name)
			}
			if _, err := tn.Parse(src); err != nil {
				return nil, fmt.Errorf("mailer: template %w", err)
			}
		}
		return t, nil
	}
	text := func(body string) (*texttemplate.Template, error) {
		t := texttemplate.New("email.txt").Funcs(funcs).Option("missingkey=error")
		for _, name := range []string{"email.txt", body} {
			src, err := read(name)
			if err != nil {
				return nil, err
			}
			tn := t
			if name != t.Name() {
				tn = t.New(name)
			}
			if _, err := tn.Parse(src); err != nil {
				return nil, fmt.Errorf("mailer: template %w", err)
			}
		}
		return t, nil
	}
	subject := func(name, src, def string) (*texttemplate.Template, error) {
		if src == "" {
			src = def
		}
		t, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
		if err != nil {
			return nil, fmt.Errorf("mailer: subject template: %w", err)
		}
		return t, nil
	}
	if c.postHTML, err = html("post.html"); err != nil {
		return err
	}
	if c.digestHTML, err = html("digest.html"); err != nil {
		return err
	}
	if c.postText, err = text("post.txt"); err != nil {
		return err
	}
	if c.digestText, err = text("digest.txt"); err != nil {
		return err
	}
	// The confirmation email stands alone: email.*'s footer offers an unsubscribe link to a list the
	// reader has not joined yet.
	src, err := read("confirm.html")
	if err != nil {
		return err
	}
	if c.confirmHTML, err = htmltemplate.New("confirm.html").Funcs(funcs).Option("missingkey=error").Parse(src); err != nil {
		return fmt.Errorf("mailer: template %w", err)
	}
	if src, err = read("confirm.txt"); err != nil {
		return err
	}
	if c.confirmText, err = texttemplate.New("confirm.txt").Funcs(funcs).Option("missingkey=error").Parse(src); err != nil {
		return fmt.Errorf("mailer: template %w", err)
	}
	if c.postSubject, err = subject("subject", c.o.SubjectTemplate, DefaultSubject); err != nil {
		return err
	}
	if c.digestSubject, err = subject("digest subject", c.o.DigestSubjectTemplate, DefaultDigestSubject); err != nil {
		return err
	}
	return nil
}

// Post composes the email that brings one post to one recipient: see Prepared.Message for key and date.
// A send to many recipients prepares the post once instead (PreparePost).
func (c *Composer) Post(r Recipient, p *posts.Post, key string, date time.Time) (*Message, error) {
	pp, err := c.PreparePost(p)
	if err != nil {
		return nil, err
	}
	return pp.Message(r, key, date)
}

// Digest composes one email with several posts (newest first, as given) for one recipient; see
// PrepareDigest and Prepared.Message.
func (c *Composer) Digest(r Recipient, ps []*posts.Post, key string, date time.Time) (*Message, error) {
	pp, err := c.PrepareDigest(ps)
	if err != nil {
		return nil, err
	}
	return pp.Message(r, key, date)
}

// data fills what every email shows, whoever it is for.
func (c *Composer) data() (TemplateData, error) {
	if strings.TrimSpace(c.o.PostalAddress) == "" {
		return TemplateData{}, ErrNoPostalAddress
	}
	d := TemplateData{Lang: c.o.Lang, Dir: c.dirOf(c.o.Lang), CSS: htmltemplate.CSS(c.css), PostalAddress: strings.TrimSpace(c.o.PostalAddress), Greeting: c.o.Greeting}
	d.Site.Title = sanitize(c.o.SiteTitle)
	d.Site.URL = c.o.SiteURL
	return d, nil
}

func (c *Composer) post(p *posts.Post, excerpt bool) *TemplatePost {
	tp := &TemplatePost{Title: sanitize(p.Title), URL: p.URL, Date: p.Date, Image: p.Image, Excerpt: excerpt, Lang: c.o.Lang}
	if l := strings.TrimSpace(p.Lang); l != "" {
		tp.Lang = l
	}
	tp.Dir = c.dirOf(tp.Lang)
	for _, a := range p.Authors {
		if n := sanitize(a.Name); n != "" {
			tp.Authors = append(tp.Authors, n)
		}
	}
	src := p.ContentHTML
	if excerpt {
		src = summaryHTML(p)
	}
	if src != "" {
		b := c.inliner.block(src)
		tp.HTML, tp.Text = htmltemplate.HTML(b.html), b.text
	}
	return tp
}

// messageID returns the Message-ID and the MIME boundary of the delivery key names.
func (c *Composer) messageID(key string) (id, boundary string) {
	sum := sha256.Sum256([]byte(key))
	id = "<herald." + hex.EncodeToString(sum[:16]) + "@" + c.domain + ">"
	if isMessageID(key) {
		id = key // a retry of a message first sent with this Message-ID keeps it
	}
	bsum := sha256.Sum256([]byte("boundary\x00" + key))
	return id, "herald-" + hex.EncodeToString(bsum[:12])
}

// footerShown checks that both parts of a message show the postal address and the unsubscribe link,
// which the law requires in every one: a site's own templates (herald-templates/) could leave them out.
func footerShown(d *TemplateData, htmlPart, text string) error {
	// The HTML is searched as written first, and without its character references only when that fails
	// (a template may escape differently): unescaping every message costs a tenth of composing it.
	var plain string
	inHTML := func(s string) bool {
		if strings.Contains(htmlPart, stdhtml.EscapeString(s)) {
			return true
		}
		if plain == "" {
			plain = stdhtml.UnescapeString(htmlPart)
		}
		return strings.Contains(plain, s)
	}
	inText := func(s string) bool { return strings.Contains(text, s) }
	parts := []struct {
		name  string
		shows func(string) bool
	}{{"email.html", inHTML}, {"email.txt", inText}}
	for _, p := range parts {
		link := p.shows(d.UnsubscribeURL)
		if !link && p.name == "email.html" {
			// html/template writes a URL in an attribute normalized (' as %27).
			var a strings.Builder
			if err := urlProbe.Execute(&a, d.UnsubscribeURL); err != nil {
				return err
			}
			link = p.shows(stdhtml.UnescapeString(strings.TrimSuffix(strings.TrimPrefix(a.String(), `<a href="`), `">`)))
		}
		if !link {
			return fmt.Errorf("%w: the %s template leaves out the unsubscribe link; show {{.UnsubscribeURL}} in it (the law requires it in every email)", ErrFooter, p.name)
		}
		for _, line := range strings.Split(d.PostalAddress, "\n") {
			if line = strings.TrimSpace(line); !p.shows(line) {
				return fmt.Errorf("%w: the %s template leaves out the postal address (%q); show {{.PostalAddress}} in it (the law requires it in every email)", ErrFooter, p.name, line)
			}
		}
	}
	return nil
}

var cssComment = regexp.MustCompile(`(?s)/\*.*?\*/`)

func stripCSSComments(css string) string {
	return strings.TrimSpace(cssComment.ReplaceAllString(css, ""))
}

// listUnsubscribe builds the List-Unsubscribe value (RFC 2369) and says whether the message may offer
// one-click unsubscribe (RFC 8058: only with an https URL).
func listUnsubscribe(httpURL, mailto string) (string, bool) {
	var uris []string
	if httpURL != "" {
		uris = append(uris, "<"+httpURL+">")
	}
	if mailto != "" {
		uris = append(uris, "<"+mailto+">")
	}
	return strings.Join(uris, ", "), strings.HasPrefix(httpURL, "https://")
}

func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// plainAddress is s when it is a bare email address that can go in a header as it is: net/mail takes
// U+2028, U+0085, no-break and zero-width spaces in a local part, and none of them belongs there.
func plainAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	if a.Name != "" || strings.ContainsFunc(a.Address, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }) {
		return "", errors.New("not a plain email address")
	}
	return a.Address, nil
}

// isMessageID tells a key that is a Message-ID: "<", a left part, "@", a domain, ">", nothing that could
// break a header.
func isMessageID(key string) bool {
	if len(key) < 5 || key[0] != '<' || key[len(key)-1] != '>' || strings.Count(key, "@") != 1 {
		return false
	}
	for _, r := range key {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}
