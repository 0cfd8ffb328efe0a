package posts

import (
	"net/url"
	"strings"

	"github.com/heraldhq/herald/internal/htmlsafe"
	xhtml "golang.org/x/net/html"
)

// A feed's content is HTML that each feed reader sanitizes its own way; the W3C feed validator says what
// a feed may carry so that no reader has to (its HTMLValidator and checkStyle, from feedparser's
// sanitizer, whose lists internal/htmlsafe holds; internal/feedcheck checks feeds by them in the tests).
// sanitize makes rendered content pass those checks where that loses nothing a reader would see:
//   - a style attribute keeps the declarations the validator finds safe ("text-align:center", "margin:0
//     6px") and loses the others ("background:rgba(240,0,0,0.1)"); it goes when none is left;
//   - an element the validator does not know as HTML (<quote>, Word's <o:p>, a custom element) loses its
//     tags and keeps its content, which is what a browser shows of an element it does not know;
//   - an empty href is the post's own URL, as a browser resolves it.
//
// The elements the validator finds risky (script, iframe, object, embed) are embed.go's.

// sanitize applies those rules to h, the content of the post at page. Content that needs none of them is
// returned as it is, unparsed.
func sanitize(h string, page *url.URL) string {
	if !needsSanitize(h) {
		return h
	}
	return sanitizeTokens(h, page)
}

// sanitizeTokens is sanitize, parsing h whatever it holds.
func sanitizeTokens(h string, page *url.URL) string {
	z := xhtml.NewTokenizer(strings.NewReader(h))
	var b strings.Builder
	b.Grow(len(h))
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			b.Write(z.Raw()) // a tag cut short by the end, kept as the text it is
			return b.String()
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken, xhtml.EndTagToken:
			raw := string(z.Raw())
			t := z.Token()
			switch {
			case !htmlsafe.KnownElement(t.Data):
				// dropped, its content kept
			case tt == xhtml.EndTagToken:
				b.WriteString(raw)
			default:
				if cleanAttrs(&t, page) {
					b.WriteString(t.String())
				} else {
					b.WriteString(raw)
				}
			}
		default:
			b.Write(z.Raw())
		}
	}
}

// cleanAttrs applies the rules to t's attributes and tells whether it changed one.
func cleanAttrs(t *xhtml.Token, page *url.URL) bool {
	changed := false
	attrs := t.Attr[:0]
	for _, a := range t.Attr {
		switch {
		case a.Key == "style":
			if s := safeStyle(a.Val); s != a.Val {
				changed = true
				if s == "" {
					continue
				}
				a.Val = s
			}
		case a.Key == "href" && strings.TrimSpace(a.Val) == "" && page != nil:
			a.Val, changed = page.String(), true
		}
		attrs = append(attrs, a)
	}
	t.Attr = attrs
	return changed
}

// needsSanitize tells, without parsing, whether sanitize may change h: a tag of an element the validator
// does not know, or an attribute named style or an empty href. Most posts have neither; the text between
// tags and the quoted values are skipped at the speed of IndexByte.
func needsSanitize(h string) bool {
	for i := strings.IndexByte(h, '<'); i >= 0; {
		j := i + 1
		if j < len(h) && h[j] == '/' {
			j++
		}
		k := j
		for k < len(h) && !tagNameEnd[h[k]] {
			k++
		}
		if name := h[j:k]; name != "" && isLetter(name[0]) {
			if !htmlsafe.KnownElement(strings.ToLower(name)) {
				return true
			}
			var risky bool
			if risky, k = attrsNeedSanitize(h, k); risky {
				return true
			}
		} else {
			k = i + 1 // no tag: text
		}
		n := strings.IndexByte(h[k:], '<')
		if n < 0 {
			return false
		}
		i = k + n
	}
	return false
}

// tagNameEnd are the bytes that end a tag's name.
var tagNameEnd = [256]bool{'>': true, '/': true, ' ': true, '\t': true, '\n': true, '\r': true, '\f': true}

// attrsNeedSanitize reads the attributes of a tag from h[k:] to the tag's end: whether one is a style or
// may be an empty href, and where the tag ends.
func attrsNeedSanitize(h string, k int) (bool, int) {
	afterEq := false // a quote opens a value only after "="
	var last byte    // the last byte before k that is not a space; 0 right after the tag's name
	for k < len(h) {
		c := h[k]
		space := c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
		eq := c == '=' || afterEq && space
		switch {
		case c == '>':
			return false, k + 1
		case c == '=' && !afterEq && (last == 0 || last == '"' || last == '\'' || last == '/'):
			return true, k // "=" where an attribute's name starts is part of that name: the parser tells
		case afterEq && !space && c != '"' && c != '\'':
			return true, k // an unquoted value, which may hold quotes: the parser tells
		case afterEq && (c == '"' || c == '\''):
			e := strings.IndexByte(h[k+1:], c)
			if e < 0 {
				return true, len(h) // a value left open: the parser tells
			}
			k += e + 2
			last, afterEq = c, false
			continue
		case c|0x20 == 's' && len(h)-k >= 5 && strings.EqualFold(h[k:k+5], "style"):
			return true, k
		case c|0x20 == 'h' && len(h)-k >= 4 && strings.EqualFold(h[k:k+4], "href") && emptyHref(h[k+4:]):
			return true, k
		default:
			k++
		}
		if !space {
			last = c
		}
		afterEq = eq
	}
	return false, k
}

// emptyHref tells whether what follows the name href in a tag may leave it without a value, or with an
// empty or blank one.
func emptyHref(rest string) bool {
	if rest != "" && (isLetter(rest[0]) || rest[0] == '-' || '0' <= rest[0] && rest[0] <= '9') {
		return false // a longer name: hreflang
	}
	rest = strings.TrimLeft(rest, " \t\r\n\f")
	if !strings.HasPrefix(rest, "=") {
		return true // no value
	}
	rest = strings.TrimLeft(rest[1:], " \t\r\n\f")
	if rest == "" || rest[0] == '>' {
		return true
	}
	if q := rest[0]; q == '"' || q == '\'' {
		v := strings.TrimLeft(rest[1:], " \t\r\n\f")
		return v != "" && v[0] == q
	}
	return false
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// safeStyle is style with only the declarations the validator finds safe, "" if none is.
func safeStyle(style string) string {
	if htmlsafe.SafeStyle(style) {
		return style
	}
	var kept []string
	for _, d := range strings.Split(style, ";") {
		if d = strings.TrimSpace(d); d != "" && htmlsafe.SafeStyle(d) {
			kept = append(kept, d)
		}
	}
	s := strings.Join(kept, ";")
	if !htmlsafe.SafeStyle(s) {
		return ""
	}
	return s
}

// paragraphStart is the index of the first <p> start tag in h, with or without attributes, or -1.
func paragraphStart(h string) int {
	for i := 0; ; {
		j := strings.Index(h[i:], "<p")
		if j < 0 {
			return -1
		}
		i += j
		if k := i + 2; k < len(h) && (h[k] == '>' || h[k] == ' ' || h[k] == '\t' || h[k] == '\n') {
			return i
		}
		i += 2
	}
}
