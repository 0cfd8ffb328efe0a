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
		if end, markup := markupEnd(h, i); markup {
			if end < 0 {
				return true // the parser tells
			}
			k = end
		} else if name := h[j:k]; name != "" && isLetter(name[0]) {
			lname := strings.ToLower(name)
			if !htmlsafe.KnownElement(lname) || j == i+1 && rawTextElements[lname] {
				return true // and what a raw text element holds is text to the tokenizer, not tags
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

// markupEnd tells whether the "<" at h[i] opens what the tokenizer reads as a comment or a declaration
// rather than a tag or text ("<!--", "<!DOCTYPE", "<!" or "<?" or "</" and a byte that is no letter), and
// where that ends; end is -1 when this reading is not sure of it. What such a token holds is no tag, and
// its quotes open no value: "<!<a x="> <a href>" is a comment, then a tag with an empty href.
func markupEnd(h string, i int) (end int, markup bool) {
	if i+1 == len(h) {
		return 0, false
	}
	switch c := h[i+1]; {
	case c == '!' && strings.HasPrefix(h[i+2:], "--"):
		body := h[i+4:]
		e, f := strings.Index(body, "-->"), strings.Index(body, "--!>")
		if strings.HasPrefix(strings.TrimLeft(body, "-"), ">") || e < 0 || f >= 0 && f < e {
			return -1, true // "<!-->", "--!>", or no end
		}
		return i + 4 + e + 3, true
	case c == '!' || c == '?' || c == '/' && i+2 < len(h) && !isLetter(h[i+2]):
		e := strings.IndexByte(h[i+2:], '>')
		if e < 0 {
			return -1, true
		}
		return i + 2 + e + 1, true
	}
	return 0, false
}

// tagNameEnd are the bytes that end a tag's name.
var tagNameEnd = [256]bool{'>': true, '/': true, ' ': true, '\t': true, '\n': true, '\r': true, '\f': true}

// attrsNeedSanitize reads the attributes of a tag from h[k:] as the tokenizer's readTag does: whether one is
// a style or may be an empty href, and where the tag ends. It follows the tokenizer's states rather than
// looking for a quote after any "=": an "=" that begins an attribute's name is part of the name, and an
// unquoted value runs to a space or ">" whatever it holds, so a quote in either opens no value.
func attrsNeedSanitize(h string, k int) (bool, int) {
	for {
		k = skipHTMLSpace(h, k)
		if k == len(h) {
			return false, k
		}
		if h[k] == '>' {
			return false, k + 1
		}
		key := k
		if h[k] != '/' {
			k++ // the first byte of a name, an "=" too
			for k < len(h) && !attrNameEnd[h[k]] {
				k++
			}
		}
		name := h[key:k]
		val, hasVal, open := "", false, false
		if k = skipHTMLSpace(h, k); k < len(h) && h[k] == '/' {
			k++
		} else if k < len(h) && h[k] == '=' {
			hasVal = true
			if k = skipHTMLSpace(h, k+1); k < len(h) {
				switch q := h[k]; q {
				case '>':
				case '"', '\'':
					e := strings.IndexByte(h[k+1:], q)
					if e < 0 {
						e, open = len(h)-k-1, true
					}
					val, k = h[k+1:k+1+e], k+2+e
				default:
					v := k
					for k < len(h) && h[k] != '>' && !isSpace(h[k]) {
						k++
					}
					val = h[v:k]
				}
			}
		}
		if open || strings.EqualFold(name, "style") || strings.EqualFold(name, "href") && blankValue(val, hasVal) {
			return true, min(k, len(h)) // a value left open: the parser tells
		}
	}
}

// attrNameEnd are the bytes that end an attribute's name after its first byte.
var attrNameEnd = [256]bool{'>': true, '/': true, '=': true, ' ': true, '\t': true, '\n': true, '\r': true, '\f': true}

func skipHTMLSpace(h string, k int) int {
	for k < len(h) && isSpace(h[k]) {
		k++
	}
	return k
}

// blankValue tells whether an href written val may be empty or blank once decoded: a character reference
// may stand for a space.
func blankValue(val string, hasVal bool) bool {
	return !hasVal || strings.TrimSpace(val) == "" || strings.IndexByte(val, '&') >= 0
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
