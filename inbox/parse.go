package inbox

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/heraldhq/herald/store"
)

// The kinds of message Parse tells apart.
const (
	KindBounce      = "bounce"      // a delivery status notification (RFC 3464)
	KindComplaint   = "complaint"   // an abuse report (ARF, RFC 5965)
	KindUnsubscribe = "unsubscribe" // a mail to the unsubscribe address, or a reply that says "unsubscribe"
	KindOther       = "other"       // anything else: not Herald's to handle
)

// Report is what Parse reads from one message of the mailbox.
type Report struct {
	Kind string
	// ID is the message's own Message-ID, with its angle brackets; for a message without one, "sha256:"
	// and the hex digest of its bytes. It is the provider id of the events the message gives.
	ID   string
	Date time.Time // its Date header; zero when it has none that parses
	// From is the sender's address (an unsubscribe request's subscriber).
	From string
	// OriginalID is the Message-ID of the message the report is about, from the copy or the headers it
	// attaches ("" when it attaches none).
	OriginalID string
	// Addresses are the addresses the report went to (To, Delivered-To, X-Original-To, Envelope-To) and
	// the return path of the message it attaches: where a VERP token is looked for.
	Addresses []string
	// Recipients are a bounce's per-recipient fields, or the one recipient of a complaint.
	Recipients []Recipient
}

// Recipient is one recipient of the message a bounce or a complaint is about.
type Recipient struct {
	Address string // Final-Recipient (else Original-Recipient); a complaint's Original-Rcpt-To; may be ""
	Kind    string // store.EventHardBounce, EventSoftBounce, EventDelivered or EventComplaint
	Detail  string // the status and the server's words; one line
}

// maxDetail bounds an event's Detail: the status and the start of the server's reply are enough.
const maxDetail = 300

// MaxSize is the largest message Parse reads: a report carries a copy of one newsletter at most.
const MaxSize = 4 << 20

// ErrTooLarge is Parse's error for a message over MaxSize.
var ErrTooLarge = errors.New("inbox: message too large to be a report")

// Parse reads one message. unsubscribeAddr is the unsubscribe_mailto address ("" for none): a message to
// it is an unsubscribe request. A message that cannot be read as mail is an error; one that can but is
// no report of a kind Herald handles is KindOther.
func Parse(raw []byte, unsubscribeAddr string) (Report, error) {
	if len(raw) > MaxSize {
		return Report{}, ErrTooLarge
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Report{}, err
	}
	r := Report{Kind: KindOther, ID: messageID(msg.Header.Get("Message-Id"))}
	if r.ID == "" {
		sum := sha256.Sum256(raw)
		r.ID = "sha256:" + hex.EncodeToString(sum[:])
	}
	if d, err := msg.Header.Date(); err == nil {
		r.Date = d.UTC()
	}
	if from, err := mail.ParseAddress(msg.Header.Get("From")); err == nil {
		r.From = from.Address
	}
	for _, h := range []string{"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc"} {
		for _, v := range msg.Header[textproto.CanonicalMIMEHeaderKey(h)] {
			r.Addresses = append(r.Addresses, addresses(v)...)
		}
	}
	media, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if media == "multipart/report" {
		parseReport(&r, msg.Body, params)
		return r, nil
	}
	if isUnsubscribe(msg, media, params, r.Addresses, unsubscribeAddr) {
		r.Kind = KindUnsubscribe
	}
	return r, nil
}

// parseReport reads a multipart/report (RFC 6522): its machine-readable part says what kind it is, and
// the part after it is (the headers of) the message it is about.
func parseReport(r *Report, body io.Reader, params map[string]string) {
	if params["boundary"] == "" {
		return
	}
	mr := multipart.NewReader(body, params["boundary"])
	var recipients []Recipient
	kind := ""
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		media, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, err := io.ReadAll(io.LimitReader(decoded(p), MaxSize))
		if err != nil {
			break
		}
		switch media {
		case "message/delivery-status", "message/global-delivery-status":
			kind, recipients = KindBounce, deliveryStatus(b)
		case "message/feedback-report":
			if rc, ok := feedbackReport(b); ok {
				kind, recipients = KindComplaint, []Recipient{rc}
			}
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			r.OriginalID, r.Addresses = attached(b, r.Addresses)
		}
	}
	if kind != "" && len(recipients) > 0 {
		r.Kind, r.Recipients = kind, recipients
	}
}

// deliveryStatus reads the per-recipient fields of a delivery-status part (RFC 3464 section 2.3): blocks
// of fields, the first about the message, separated by blank lines.
func deliveryStatus(b []byte) []Recipient {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	var out []Recipient
	for range 1000 {
		h, err := tp.ReadMIMEHeader()
		if len(h) > 0 {
			if rc, ok := statusRecipient(h); ok {
				out = append(out, rc)
			}
		}
		if err != nil {
			break
		}
	}
	return out
}

var statusCode = regexp.MustCompile(`^([245])\.(\d{1,3}\.\d{1,3})`)

// addressGone are the subjects and details of a permanent status (RFC 3463, after the "5.") that say the
// address itself is no more: a mailbox or a domain that does not exist, a disabled mailbox, a destination
// that cannot be routed to, and the bare 5.0.0 of older servers. Any other permanent refusal is about the
// message or its sender (a DMARC or DKIM failure, a spam block, a full mailbox, a size limit), which
// another message may pass: it is a soft bounce, and the subscriber stays.
var addressGone = map[string]bool{"0.0": true, "1.0": true, "1.1": true, "1.2": true, "1.3": true, "1.6": true,
	"1.10": true, "2.1": true, "4.4": true}

// statusRecipient reads one per-recipient block; false for the per-message one, or a block without a
// recipient or a status.
func statusRecipient(h textproto.MIMEHeader) (Recipient, bool) {
	addr := typedAddress(h.Get("Final-Recipient"))
	if addr == "" {
		addr = typedAddress(h.Get("Original-Recipient"))
	}
	action := strings.ToLower(strings.TrimSpace(h.Get("Action")))
	status := strings.TrimSpace(h.Get("Status"))
	if addr == "" && h.Get("Final-Recipient") == "" || action == "" && status == "" {
		return Recipient{}, false
	}
	class, rest := "", ""
	if m := statusCode.FindStringSubmatch(status); m != nil {
		class, rest = m[1], m[2]
	}
	rc := Recipient{Address: addr}
	switch {
	case action == "delayed" || class == "4":
		rc.Kind = store.EventSoftBounce
	case class == "5" && addressGone[rest] || class == "" && action == "failed":
		rc.Kind = store.EventHardBounce
	case class == "5":
		rc.Kind = store.EventSoftBounce
	case class == "2" || action == "delivered" || action == "relayed" || action == "expanded":
		rc.Kind = store.EventDelivered
	default:
		return Recipient{}, false
	}
	rc.Detail = detail(status, action, h.Get("Diagnostic-Code"))
	return rc, true
}

// complaintTypes are the Feedback-Types (RFC 5965 section 7.3) that mean the reader complained of the
// message; not-spam and auth-failure reports are no complaint.
var complaintTypes = map[string]bool{"abuse": true, "fraud": true, "virus": true, "other": true}

// feedbackReport reads a feedback-report part (RFC 5965 section 3.1): one block of fields.
func feedbackReport(b []byte) (Recipient, bool) {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(b))).ReadMIMEHeader()
	if len(h) == 0 && err != nil {
		return Recipient{}, false
	}
	typ := strings.ToLower(strings.TrimSpace(h.Get("Feedback-Type")))
	if !complaintTypes[typ] {
		return Recipient{}, false
	}
	var addr string
	if as := addresses(h.Get("Original-Rcpt-To")); len(as) > 0 {
		addr = as[0]
	}
	return Recipient{Address: addr, Kind: store.EventComplaint, Detail: detail("feedback-type " + typ)}, true
}

// attached reads the headers of the message a report attaches: its Message-ID, and its return path
// added to addrs.
func attached(b []byte, addrs []string) (string, []string) {
	// text/rfc822-headers may lack the blank line that ends a header.
	if !bytes.Contains(b, []byte("\n\n")) && !bytes.Contains(b, []byte("\r\n\r\n")) {
		b = append(bytes.Clone(b), "\r\n\r\n"...)
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(b))).ReadMIMEHeader()
	if len(h) == 0 && err != nil {
		return "", addrs
	}
	for _, v := range h.Values("Return-Path") {
		addrs = append(addrs, addresses(v)...)
	}
	return messageID(h.Get("Message-Id")), addrs
}

// decoded undoes a part's base64 transfer encoding (multipart.Reader undoes quoted-printable itself).
func decoded(p *multipart.Part) io.Reader {
	switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &noSpace{r: p})
	case "quoted-printable":
		return quotedprintable.NewReader(p)
	}
	return p
}

// noSpace drops the line ends and spaces of base64 text.
type noSpace struct{ r io.Reader }

func (n *noSpace) Read(b []byte) (int, error) {
	for {
		k, err := n.r.Read(b)
		j := 0
		for _, c := range b[:k] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				b[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// messageID returns the first Message-ID in v, with its angle brackets; "" for none.
func messageID(v string) string {
	v = strings.TrimSpace(v)
	i := strings.IndexByte(v, '<')
	j := strings.IndexByte(v, '>')
	if i < 0 || j < i+2 {
		if v == "" || strings.ContainsFunc(v, unicode.IsSpace) || !strings.Contains(v, "@") || !printable(v) {
			return ""
		}
		return "<" + v + ">" // a Message-ID without its brackets
	}
	id := v[i : j+1]
	if strings.ContainsFunc(id, unicode.IsSpace) || !printable(id) {
		return ""
	}
	return id
}

// typedAddress reads an address-type field ("rfc822; ann@example.com", RFC 3464 section 2.3.2).
func typedAddress(v string) string {
	typ, addr, ok := strings.Cut(v, ";")
	if !ok || !strings.EqualFold(strings.TrimSpace(typ), "rfc822") {
		return ""
	}
	if as := addresses(addr); len(as) > 0 {
		return as[0]
	}
	return ""
}

// addresses reads a list of addresses, each as its bare address; what does not parse is dropped.
func addresses(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" || v == "<>" {
		return nil
	}
	list, err := mail.ParseAddressList(v)
	if err != nil {
		if a, err := mail.ParseAddress("<" + strings.Trim(v, "<>") + ">"); err == nil {
			list = []*mail.Address{a}
		}
	}
	var out []string
	for _, a := range list {
		if printable(a.Address) && !strings.ContainsFunc(a.Address, unicode.IsSpace) {
			out = append(out, a.Address)
		}
	}
	return out
}

// detail joins the parts of a detail into one line of at most maxDetail bytes of printable text.
func detail(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.Join(strings.Fields(p), " ")
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	s := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(b.String(), ""))
	if len(s) > maxDetail {
		s = strings.ToValidUTF8(s[:maxDetail], "")
	}
	return s
}

// printable tells a string of printable ASCII.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// isUnsubscribe tells an unsubscribe request: a message to the unsubscribe address (what a mail client
// sends for a List-Unsubscribe mailto: link), or one whose subject, past any "Re:", or whose first line
// of text begins with the word "unsubscribe". An automatic reply is none.
func isUnsubscribe(msg *mail.Message, media string, params map[string]string, addrs []string, unsubscribeAddr string) bool {
	if automatic(msg.Header) {
		return false
	}
	if unsubscribeAddr != "" {
		for _, a := range addrs {
			if strings.EqualFold(a, unsubscribeAddr) {
				return true
			}
		}
	}
	subject := msg.Header.Get("Subject")
	if s, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = s
	}
	for {
		t := strings.TrimSpace(subject)
		if len(t) < 3 || !strings.EqualFold(t[:3], "re:") && !strings.EqualFold(t[:3], "aw:") {
			break
		}
		subject = t[3:]
	}
	if subjectIsUnsubscribe(subject) {
		return true
	}
	text := firstText(msg.Header.Get("Content-Transfer-Encoding"), media, params, msg.Body, 0)
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) != "" {
			return firstWordIsUnsubscribe(line)
		}
	}
	return false
}

// subjectIsUnsubscribe tells a subject that is the request itself: the word, with at most words of
// politeness after it. A subject that goes on ("Re: Unsubscribe from the algorithm") is a post's title,
// which a reply keeps.
func subjectIsUnsubscribe(s string) bool {
	f := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && r != '-' })
	if len(f) == 0 || !strings.EqualFold(f[0], "unsubscribe") {
		return false
	}
	for _, w := range f[1:] {
		switch strings.ToLower(w) {
		case "me", "please", "now", "thanks", "thank", "you":
		default:
			return false
		}
	}
	return true
}

func firstWordIsUnsubscribe(s string) bool {
	f := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && r != '-' })
	return len(f) > 0 && strings.EqualFold(f[0], "unsubscribe")
}

// firstText returns the start of the first text/plain part of a body of type media (up to 4 KB), its
// transfer encoding undone.
func firstText(encoding, media string, params map[string]string, body io.Reader, depth int) string {
	if media == "" {
		media = "text/plain"
	}
	if media == "text/plain" {
		var r io.Reader = body
		switch strings.ToLower(strings.TrimSpace(encoding)) {
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, &noSpace{r: body})
		case "quoted-printable":
			r = quotedprintable.NewReader(body)
		}
		b, _ := io.ReadAll(io.LimitReader(r, 4096))
		return string(b)
	}
	if !strings.HasPrefix(media, "multipart/") || params["boundary"] == "" || depth > 3 {
		return ""
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return ""
		}
		m, ps, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if m == "" {
			m = "text/plain"
		}
		if m == "text/plain" || strings.HasPrefix(m, "multipart/") {
			return firstText(p.Header.Get("Content-Transfer-Encoding"), m, ps, p, depth+1)
		}
	}
}

// automatic tells a message no person wrote: Auto-Submitted other than "no" (RFC 3834), or the marks that
// vacation programs, Exchange's out-of-office replies and other responders older than it still use.
func automatic(h mail.Header) bool {
	if a := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); a != "" && a != "no" {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "auto_reply", "bulk", "junk", "list":
		return true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-MS-Exchange-Inbox-Rules-Loop"} {
		if h.Get(k) != "" {
			return true
		}
	}
	return false
}
