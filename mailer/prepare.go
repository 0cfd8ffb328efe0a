package mailer

import (
	"errors"
	"fmt"
	stdhtml "html"
	htmltemplate "html/template"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"golang.org/x/net/html"

	"github.com/heraldhq/herald/posts"
)

// Prepared is what every email of one post, or of one digest (the same posts in the same order), has in
// common, composed once: for each kind of recipient (with or without a name, an unsubscribe URL, a
// preferences URL), the subject and both parts rendered, inlined and quoted-printable encoded, with holes
// where the recipient's name, address and links go. Message fills them in, so that a send to many readers
// renders and inlines a post once, not once per reader. The bytes are those of composing each email whole.
//
// Filling in is exact when the templates do nothing with those values but write them out or test whether
// they are empty, and the stylesheet has no attribute selector that could match them. Otherwise, or when
// the check of a kind's frame finds a value that does not come out as filled in, each email is composed
// whole.
//
// A Prepared is safe for concurrent use. It holds the post's HTML for as long as the caller keeps it: a
// run of herald send keeps one per post and digest, and drops them when it ends.
type Prepared struct {
	c        *Composer
	data     TemplateData // all but the recipient's values
	subject  *texttemplate.Template
	html     *htmltemplate.Template
	text     *texttemplate.Template
	fillable bool   // the templates and the stylesheet allow filling in
	feedback string // the Feedback-ID header

	mu     sync.Mutex
	frames [1 << nHoles]*frame // by kind of recipient (see recipient.kind), made at its first email
}

// PreparePost prepares the emails that bring one post to its recipients.
func (c *Composer) PreparePost(p *posts.Post) (*Prepared, error) {
	d, err := c.data()
	if err != nil {
		return nil, err
	}
	d.Title, d.Preheader = sanitize(p.Title), preheader(p)
	excerpt := !c.o.FullContent || p.ExcerptOnly
	d.Post = c.post(p, excerpt)
	c.inLanguage(&d, d.Post.Lang)
	pp := &Prepared{c: c, data: d, subject: c.postSubject, html: c.postHTML, text: c.postText, fillable: c.postFillable,
		feedback: feedbackID(feedbackCampaign(p.ID), c.feedbackHost, "post")}
	if excerpt {
		return pp, nil
	}
	size, err := pp.htmlSize()
	if err != nil || size <= ClipBytes {
		return pp, err
	}
	if c.o.ClipExcerpt {
		pp.data.Post = c.post(p, true)
	}
	if c.o.LargeHTML != nil {
		c.o.LargeHTML(p, size, c.o.ClipExcerpt)
	}
	return pp, nil
}

// htmlSize is the length of the HTML part as sent (quoted-printable) to a reader with a name and every
// link, whose values are about as long as the tokens that stand for them.
func (p *Prepared) htmlSize() (int, error) {
	d := p.data
	setRecipient(&d, recipientTokens, p.c.mailto)
	_, htmlPart, _, err := p.render(&d)
	if err != nil {
		return 0, err
	}
	return len(appendQP(nil, htmlPart)), nil
}

// PrepareDigest prepares the emails of a digest of several posts (newest first, as given). It shows at
// most MaxDigestPosts of them and counts the rest.
func (c *Composer) PrepareDigest(ps []*posts.Post) (*Prepared, error) {
	if len(ps) == 0 {
		return nil, errors.New("mailer: a digest without posts")
	}
	d, err := c.data()
	if err != nil {
		return nil, err
	}
	d.Count = len(ps)
	shown := ps
	if c.o.MaxDigestPosts > 0 && len(shown) > c.o.MaxDigestPosts {
		shown = shown[:c.o.MaxDigestPosts]
	}
	d.More = len(ps) - len(shown)
	for _, p := range shown {
		d.Posts = append(d.Posts, c.post(p, true))
	}
	d.Title, d.Preheader = d.Posts[0].Title, digestPreheader(ps)
	// A digest is in its posts' language when they share one; each post says its own otherwise.
	if l := d.Posts[0].Lang; !slices.ContainsFunc(d.Posts, func(tp *TemplatePost) bool { return tp.Lang != l }) {
		c.inLanguage(&d, l)
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return &Prepared{c: c, data: d, subject: c.digestSubject, html: c.digestHTML, text: c.digestText, fillable: c.digestFillable,
		feedback: feedbackID(feedbackCampaign(ids...), c.feedbackHost, "digest")}, nil
}

// Message composes the email for one recipient. key names the delivery (for example
// "post/<item id>/<subscriber id>"): the Message-ID and the MIME boundary derive from it, so the same
// delivery always gets the same Message-ID, and with the same date the same bytes. A key that is itself a
// Message-ID ("<...@...>", one a delivery was first sent with) is used as the Message-ID. date is the Date
// header (and the DKIM signature's time).
func (p *Prepared) Message(r Recipient, key string, date time.Time) (*Message, error) {
	return p.message(r, key, date, true)
}

// BytesMessage is Message for a sender that sends the message's bytes alone (see Job.Compose): its HTML
// and Text may be left empty.
func (p *Prepared) BytesMessage(r Recipient, key string, date time.Time) (*Message, error) {
	return p.message(r, key, date, false)
}

// message is Message, which leaves the HTML and Text of a filled-in frame empty without parts.
func (p *Prepared) message(r Recipient, key string, date time.Time, parts bool) (*Message, error) {
	v, err := p.c.recipient(r)
	if err != nil {
		return nil, err
	}
	f, err := p.frame(v.kind())
	if err != nil {
		return nil, err
	}
	if f.whole {
		d := p.data
		setRecipient(&d, v.values, p.c.mailto)
		subject, htmlPart, text, err := p.render(&d)
		if err != nil {
			return nil, err
		}
		if err := footerShown(&d, htmlPart, text); err != nil {
			return nil, err
		}
		m := &Message{Subject: subject, HTML: htmlPart, Text: text}
		return p.c.message(m, v, key, p.feedback, date, qpSize(text)+qpSize(htmlPart), encoded(text), encoded(htmlPart))
	}
	fl := filler{values: v.values}
	m := &Message{Subject: f.subject}
	fill := func(pt *part, s *string) func([]byte) []byte {
		if !parts {
			s = nil
		}
		return func(b []byte) []byte { return pt.fill(&fl, b, s) }
	}
	return p.c.message(m, v, key, p.feedback, date, f.text.qp+f.html.qp+1024, fill(&f.text, &m.Text), fill(&f.html, &m.HTML))
}

// render composes one recipient's email whole: its subject, and both parts as they are before transfer
// encoding.
func (p *Prepared) render(d *TemplateData) (subject, htmlPart, text string, err error) {
	var b strings.Builder
	if err := p.subject.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mailer: subject: %w", err)
	}
	subject = sanitize(b.String())
	if subject == "" {
		subject = d.Site.Title
	}
	d.Subject = subject
	if htmlPart, err = p.c.inliner.page(p.html, d); err != nil {
		return "", "", "", err
	}
	b.Reset()
	if err := p.text.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mailer: text template: %w", err)
	}
	return subject, htmlPart, b.String(), nil
}

// The recipient's values, the holes of a frame. An email without an unsubscribe URL shows the mailto:
// URI in its place, which is the same in every email.
const (
	holeName = iota
	holeEmail
	holeUnsubscribe
	holePreferences
	nHoles
)

// recipient is a Recipient checked, with its values as the templates see them ("" for none).
type recipient struct {
	values  [nHoles]string
	display string // the To header's name
}

// recipient checks r, and refuses a recipient who could not unsubscribe.
func (c *Composer) recipient(r Recipient) (recipient, error) {
	var v recipient
	addr, err := plainAddress(r.Email)
	if err != nil {
		return v, errors.New("mailer: the recipient's address is not an email address") // the address stays out of logs
	}
	v.values[holeEmail] = addr
	v.values[holeName] = sanitize(r.Name)
	v.display = displayName(r.Name)
	switch {
	case r.UnsubscribeURL != "":
		u, err := url.Parse(r.UnsubscribeURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return v, fmt.Errorf("mailer: unsubscribe URL %q: want an absolute https URL", r.UnsubscribeURL)
		}
		v.values[holeUnsubscribe] = u.String()
	case c.mailto == "":
		return v, ErrNoUnsubscribe
	}
	if r.PreferencesURL != "" {
		u, err := url.Parse(r.PreferencesURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return v, fmt.Errorf("mailer: preferences URL %q: want an absolute https URL", r.PreferencesURL)
		}
		v.values[holePreferences] = u.String()
	}
	return v, nil
}

// kind tells which values the recipient has: the templates may test them ({{if .Recipient.Name}}), so
// each kind has a frame of its own.
func (v recipient) kind() int {
	k := 0
	for i, s := range v.values {
		if s != "" {
			k |= 1 << i
		}
	}
	return k
}

// ofKind returns the values that a recipient of that kind has.
func ofKind(kind int, values [nHoles]string) [nHoles]string {
	for i := range values {
		if kind&(1<<i) == 0 {
			values[i] = ""
		}
	}
	return values
}

// setRecipient puts values into d as the recipient's.
func setRecipient(d *TemplateData, values [nHoles]string, mailto string) {
	d.Recipient.Name, d.Recipient.Email = values[holeName], values[holeEmail]
	d.UnsubscribeURL, d.PreferencesURL = values[holeUnsubscribe], values[holePreferences]
	if d.UnsubscribeURL == "" {
		d.UnsubscribeURL = mailto
	}
}

// message completes m, which holds the subject (and the parts, or they are filled in as they are
// encoded): its headers and its bytes. size, text and html are writeMessage's.
func (c *Composer) message(m *Message, v recipient, key, feedback string, date time.Time, size int, text, html func([]byte) []byte) (*Message, error) {
	m.To, m.Date, m.from = v.values[holeEmail], date, c.envelopeFrom
	m.rcpt = (&mail.Address{Address: m.To}).String()
	var boundary string
	m.MessageID, boundary = c.messageID(key)
	unsub, oneClick := listUnsubscribe(v.values[holeUnsubscribe], c.mailto)
	gen := make([]field, 0, 12+len(c.dkim))
	gen = append(gen, field{"Subject", encodeText(m.Subject)}, field{"Date", date.Format(time.RFC1123Z)},
		field{"Message-ID", m.MessageID}, field{"List-Id", c.listID}, field{"List-Unsubscribe", unsub},
		field{"Feedback-ID", feedback})
	if oneClick {
		gen = append(gen, field{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"})
	}
	gen = append(gen, field{"Precedence", "bulk"}, field{"X-Auto-Response-Suppress", "All"})
	to := (&mail.Address{Name: v.display, Address: m.To}).String()
	var err error
	if m.raw, err = c.writeMessage(gen, to, boundary, size, text, html, date); err != nil {
		return nil, err
	}
	m.bufs = &c.bufs
	return m, nil
}

// frame returns the frame of a kind of recipient, making it at the kind's first email.
func (p *Prepared) frame(kind int) (*frame, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.frames[kind]; f != nil {
		return f, nil
	}
	f, err := p.makeFrame(kind)
	if err != nil {
		return nil, err
	}
	p.frames[kind] = f
	return f, nil
}

// frame is the email of one kind of recipient with holes for their values, or whole: compose each email
// whole.
type frame struct {
	whole      bool
	subject    string
	text, html part
}

// recipientTokens stand for the values in the email a frame is made from: letters only, which every
// escaper, premailer and the quoted-printable encoding leave as they are, so that each value's place is
// where its token is.
var recipientTokens = [nHoles]string{"HERALDxRECIPIENTxNAMExQ7", "HERALDxRECIPIENTxEMAILxQ7", "HERALDxUNSUBSCRIBExURLxQ7", "HERALDxPREFERENCESxURLxQ7"}

// probes are values that come out differently in each form (a space, quotes, markup, an ampersand, a
// character that is not ASCII, a scheme html/template filters out of links). A frame is used only if the
// email composed whole with each probe in every hole is the frame filled in with it.
var probes = []string{"https://probe.example/a b?c=1&d='\"<>+é%41;", "javascript:alert('x y')"}

// makeFrame composes the email of a kind of recipient with tokens for their values, finds each value's
// place and form by composing it again with probes, and keeps it cut into parts ready to fill in.
func (p *Prepared) makeFrame(kind int) (*frame, error) {
	if !p.fillable {
		return &frame{whole: true}, nil
	}
	compose := func(values [nHoles]string) (d TemplateData, subject, htmlPart, text string, err error) {
		d = p.data
		setRecipient(&d, ofKind(kind, values), p.c.mailto)
		subject, htmlPart, text, err = p.render(&d)
		return d, subject, htmlPart, text, err
	}
	d, subject, htmlPart, text, err := compose(recipientTokens)
	if err != nil {
		return nil, err
	}
	// Checked here once for every email of the kind: each has the tokens' places, filled.
	if err := footerShown(&d, htmlPart, text); err != nil {
		return nil, err
	}
	htmlHoles, textHoles := findHoles(htmlPart), findHoles(text)
	for i, probe := range probes {
		values := ofKind(kind, [nHoles]string{probe, probe, probe, probe})
		_, _, ph, pt, err := compose(values)
		if err != nil {
			return &frame{whole: true}, nil
		}
		fl := filler{values: values}
		if i == 0 {
			if !classify(htmlPart, htmlHoles, ph, &fl, formHTML, formURL) || !classify(text, textHoles, pt, &fl, formText) {
				return &frame{whole: true}, nil
			}
		} else if fill(htmlPart, htmlHoles, &fl) != ph || fill(text, textHoles, &fl) != pt {
			return &frame{whole: true}, nil
		}
	}
	return &frame{subject: subject, html: cut(htmlPart, htmlHoles), text: cut(text, textHoles)}, nil
}

// hole is the place of a value in a part.
type hole struct {
	start, end int // of the token
	value      int // holeName, ...
	form       form
}

// form is how a value is written in its place.
type form uint8

const (
	formText form = iota // as it is, in the plain text part
	formHTML             // in HTML text or an attribute, escaped as premailer writes it
	formURL              // at the start of a URL attribute (href): normalized by html/template first
	nForms
)

// write returns s in form f.
func (f form) write(s string) string {
	switch f {
	case formHTML:
		return html.EscapeString(s)
	case formURL:
		return html.EscapeString(normalizeURL(s))
	}
	return s
}

// normalizeURL returns what html/template writes of s as a link, unescaped: s itself when it is an
// http(s) URL of characters that html/template leaves as they are, as the links Herald makes are.
func normalizeURL(s string) string {
	if plainURL(s) {
		return s
	}
	var b strings.Builder
	if err := urlProbe.Execute(&b, s); err != nil {
		return s
	}
	return stdhtml.UnescapeString(strings.TrimSuffix(strings.TrimPrefix(b.String(), `<a href="`), `">`))
}

// plainURL tells an http(s) URL whose every byte html/template's URL normalizer keeps.
func plainURL(s string) bool {
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && !strings.ContainsRune("-._~!#$&*+,/:;=?@[]", rune(s[i])) {
			return false
		}
	}
	return true
}

var urlProbe = htmltemplate.Must(htmltemplate.New("").Parse(`<a href="{{.}}">`))

// filler gives each value in the forms its places need, each written once per email.
type filler struct {
	values  [nHoles]string
	done    [nHoles][nForms]bool
	written [nHoles][nForms]string
}

func (fl *filler) get(h hole) string {
	if !fl.done[h.value][h.form] {
		fl.written[h.value][h.form] = h.form.write(fl.values[h.value])
		fl.done[h.value][h.form] = true
	}
	return fl.written[h.value][h.form]
}

// findHoles returns the places of the tokens in s.
func findHoles(s string) []hole {
	const prefix = "HERALDx"
	var holes []hole
	for i := 0; ; {
		j := strings.Index(s[i:], prefix)
		if j < 0 {
			return holes
		}
		i += j
		n := len(prefix)
		for v, tok := range recipientTokens {
			if strings.HasPrefix(s[i:], tok) {
				holes = append(holes, hole{start: i, end: i + len(tok), value: v})
				n = len(tok)
				break
			}
		}
		i += n
	}
}

// classify finds each hole's form: the one that makes tpl, filled in, the same as out, which was composed
// with fl's values. It reports false when there is none.
func classify(tpl string, holes []hole, out string, fl *filler, forms ...form) bool {
	pos, prev := 0, 0
	for i := range holes {
		h := &holes[i]
		if !strings.HasPrefix(out[pos:], tpl[prev:h.start]) {
			return false
		}
		pos += h.start - prev
		next := tpl[h.end:]
		if i+1 < len(holes) {
			next = tpl[h.end:holes[i+1].start]
		}
		found := false
		for _, f := range forms {
			h.form = f
			if s := fl.get(*h); strings.HasPrefix(out[pos:], s) && strings.HasPrefix(out[pos+len(s):], next) {
				pos += len(s)
				found = true
				break
			}
		}
		if !found {
			return false
		}
		prev = h.end
	}
	return out[pos:] == tpl[prev:]
}

// fill returns tpl with its holes filled in.
func fill(tpl string, holes []hole, fl *filler) string {
	var b strings.Builder
	prev := 0
	for _, h := range holes {
		b.WriteString(tpl[prev:h.start])
		b.WriteString(fl.get(h))
		prev = h.end
	}
	b.WriteString(tpl[prev:])
	return b.String()
}

// part is one MIME part of a frame in chunks of whole lines: those without a hole are encoded already,
// the others are filled in and encoded for each email. Quoted-printable encodes each line on its own, so
// the chunks encoded apart make the part encoded whole.
type part struct {
	chunks   []chunk
	size, qp int // the part's length as it is and encoded, without the values
}

type chunk struct {
	text  string // a chunk without holes, and its encoding
	qp    []byte
	tpl   string // or lines with holes
	holes []hole // their places in tpl
}

// cut cuts a part into chunks. A part with a CR stays one chunk: the encoder carries a lone CR's state
// past the line end that follows it.
func cut(s string, holes []hole) part {
	p := part{size: len(s)}
	add := func(from, to int, hs []hole) {
		c := chunk{text: s[from:to]}
		if hs == nil {
			c.qp = appendQP(nil, c.text)
			p.qp += len(c.qp)
		} else {
			c.tpl, c.text = c.text, ""
			for _, h := range hs {
				h.start, h.end = h.start-from, h.end-from
				c.holes = append(c.holes, h)
			}
			p.qp += 3 * len(c.tpl)
		}
		p.chunks = append(p.chunks, c)
	}
	if len(holes) > 0 && strings.IndexByte(s, '\r') >= 0 {
		add(0, len(s), holes)
		return p
	}
	pos := 0 // where the next chunk starts: the start of a line
	for i := 0; i < len(holes); {
		start := strings.LastIndexByte(s[:holes[i].start], '\n') + 1
		end := lineEnd(s, holes[i].end)
		j := i + 1
		for j < len(holes) && holes[j].start < end {
			end = lineEnd(s, holes[j].end)
			j++
		}
		if start > pos {
			add(pos, start, nil)
		}
		add(start, end, holes[i:j])
		pos, i = end, j
	}
	if pos < len(s) {
		add(pos, len(s), nil)
	}
	return p
}

// lineEnd returns where the line that holds s[i] ends, after its LF.
func lineEnd(s string, i int) int {
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

// fill appends the part filled in and encoded to b, and sets *text to it as it is, unless text is nil.
func (p *part) fill(fl *filler, b []byte, text *string) []byte {
	var s strings.Builder
	if text != nil {
		s.Grow(p.size + 512)
	}
	for _, c := range p.chunks {
		if c.holes == nil {
			if text != nil {
				s.WriteString(c.text)
			}
			b = append(b, c.qp...)
			continue
		}
		lines := fill(c.tpl, c.holes, fl)
		if text != nil {
			s.WriteString(lines)
		}
		b = appendQP(b, lines)
	}
	if text != nil {
		*text = s.String()
	}
	return b
}
