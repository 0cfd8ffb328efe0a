package mailer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxHeaderText is the longest title or name, in characters, that goes into a header; longer ones are cut
// and end in "…". It keeps every header line far below SMTP's 998-byte limit.
const maxHeaderText = 250

// sanitize makes text from posts and config safe for a header (and tidy for a body): every line break
// (CR, LF, U+0085 NEL, U+2028, U+2029, VT, FF) and other white space becomes one space, control
// characters (NUL and the rest of C0, DEL, C1) are removed, invalid UTF-8 becomes U+FFFD, runs of spaces
// collapse, the ends are trimmed and the result is cut at maxHeaderText characters. go-mail does not
// check every header it writes, so nothing reaches a header without passing through here.
func sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	n := 0
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r): // includes \r \n \v \f U+0085 U+2028 U+2029
			space = b.Len() > 0
			continue
		case unicode.IsControl(r): // C0, DEL, C1
			continue
		}
		if n >= maxHeaderText {
			b.WriteRune('…')
			return b.String()
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r) // an invalid byte arrives as utf8.RuneError and is written as U+FFFD
		n++
	}
	return b.String()
}

// displayName sanitizes a person's name for an address header. net/mail's Address.String (which go-mail
// uses) writes a backslash as it is inside an RFC 2047 Q-encoded word, which no parser accepts, when the
// name also holds non-ASCII characters; there the backslash becomes a fullwidth one (U+FF3C), which
// looks the same.
func displayName(s string) string {
	s = sanitize(s)
	if !isPlainASCII(s) {
		s = strings.ReplaceAll(s, `\`, "\uFF3C")
	}
	return s
}

// encodeText returns sanitized text as a header value of printable ASCII: as it is when it is printable
// ASCII and holds nothing that a reader would decode ("=?"), else as RFC 2047 "Q" encoded-words of at most
// 75 characters separated by spaces, where go-mail folds the line. Go's mime.WordEncoder leaves "=?"
// alone, which a title could use to smuggle an encoded word; this one encodes it.
func encodeText(s string) string {
	if isPlainASCII(s) && !strings.Contains(s, "=?") {
		return s
	}
	const prefix, suffix = "=?UTF-8?q?", "?="
	const room = 75 - len(prefix) - len(suffix)
	var out, word strings.Builder
	flush := func() {
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(prefix + word.String() + suffix)
		word.Reset()
	}
	var buf [utf8.UTFMax]byte
	for _, r := range s {
		var enc string
		switch {
		case r == ' ':
			enc = "_"
		case r < utf8.RuneSelf && (isAlnum(byte(r)) || strings.ContainsRune("!*+-/", r)):
			enc = string(r)
		default:
			n := utf8.EncodeRune(buf[:], r)
			var e strings.Builder
			for _, c := range buf[:n] {
				fmt.Fprintf(&e, "=%02X", c)
			}
			enc = e.String()
		}
		if word.Len()+len(enc) > room {
			flush()
		}
		word.WriteString(enc)
	}
	if word.Len() > 0 {
		flush()
	}
	return out.String()
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// phrase returns sanitized text as an RFC 5322 display name: an atom sequence as it is, a quoted
// string when it holds specials, encoded-words when it is not ASCII.
func phrase(s string) string {
	if !isPlainASCII(s) || strings.Contains(s, "=?") {
		return encodeText(s)
	}
	if !strings.ContainsAny(s, "()<>[]:;@\\,.\"") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// listID builds the List-Id header (RFC 2919) from the configured value, "Name <list.id>" or "list.id",
// or else from the site's title and host.
func listID(configured, title, siteURL string) (string, error) {
	name, id := "", ""
	if configured != "" {
		configured = sanitize(configured)
		if i := strings.LastIndexByte(configured, '<'); i >= 0 && strings.HasSuffix(configured, ">") {
			name, id = strings.TrimSpace(configured[:i]), configured[i+1:len(configured)-1]
		} else {
			id = configured
		}
	} else {
		u, err := url.Parse(siteURL)
		if err != nil || u.Hostname() == "" {
			return "", fmt.Errorf("mailer: site URL %q: not an absolute URL", siteURL)
		}
		name, id = sanitize(title), strings.ToLower(u.Hostname())
	}
	if !isListID(id) {
		return "", fmt.Errorf("mailer: list id %q: want a domain-like name such as blog.example.com", id)
	}
	if name == "" {
		return "<" + id + ">", nil
	}
	return phrase(name) + " <" + id + ">", nil
}

// isListID reports whether id is a dot-atom of letters, digits and the few punctuation marks a list id
// needs, with at least one dot.
func isListID(id string) bool {
	if !strings.Contains(id, ".") || strings.HasPrefix(id, ".") || strings.HasSuffix(id, ".") || strings.Contains(id, "..") {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isAlnum(id[i]) && !strings.ContainsRune(".-_+", rune(id[i])) {
			return false
		}
	}
	return true
}

// unsubscribeMailto turns "unsubscribe@example.com" or "mailto:unsubscribe@example.com[?subject=…]" into
// the mailto: URI for List-Unsubscribe, with subject "unsubscribe" unless one is given.
func unsubscribeMailto(s string) (string, error) {
	s = strings.TrimSpace(s)
	addr, query := s, ""
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "mailto:"); ok {
		addr = s[len(s)-len(rest):]
		addr, query, _ = strings.Cut(addr, "?")
	}
	a, err := plainAddress(addr)
	if err != nil || a != addr {
		return "", fmt.Errorf("mailer: unsubscribe mailto %q: not an email address", s)
	}
	if query == "" {
		query = "subject=unsubscribe"
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("mailer: unsubscribe mailto %q: %w", s, err)
	}
	return "mailto:" + a + "?" + strings.ReplaceAll(q.Encode(), "+", "%20"), nil
}

// feedbackID builds the Feedback-ID header of Gmail's feedback loop, "campaign:customer:mailtype:sender":
// Gmail reports complaint rates for each value of each field, so the campaign is the post (or the
// digest's posts), the customer the site, the mail type post, digest or confirm, and the sender Herald.
// Every field is letters, digits, dots and hyphens: a colon would shift the fields.
func feedbackID(campaign, host, mailType string) string {
	return campaign + ":" + host + ":" + mailType + ":herald"
}

// feedbackCampaign is a short hash of the ids of a message's posts: the same for every recipient of a
// post (or of the same digest), and a post's id, which a title or URL would give away, stays out of it.
func feedbackCampaign(ids ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return hex.EncodeToString(sum[:8])
}

// feedbackField is the site URL's host as a Feedback-ID field, or fallback (the From domain) when the
// URL has none: lower case, with anything but letters, digits, dots and hyphens (an IPv6 address's
// colons) as hyphens.
func feedbackField(siteURL, fallback string) string {
	host := ""
	if u, err := url.Parse(siteURL); err == nil {
		host = strings.ToLower(u.Hostname())
	}
	if host == "" {
		host = fallback
	}
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (isAlnum(byte(r)) || r == '.' || r == '-') {
			return r
		}
		return '-'
	}, host)
}
