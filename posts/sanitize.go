package posts

import (
	"net/url"
	"regexp"
	"strings"

	xhtml "golang.org/x/net/html"
)

// A feed's content is HTML that each feed reader sanitizes its own way; the W3C feed validator says what
// a feed may carry so that no reader has to (its HTMLValidator and checkStyle, from feedparser's
// sanitizer; internal/feedcheck ports them for the tests). sanitize makes rendered content pass those
// checks where that loses nothing a reader would see:
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
	z := xhtml.NewTokenizer(strings.NewReader(h))
	var b strings.Builder
	b.Grow(len(h))
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			return b.String()
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken, xhtml.EndTagToken:
			raw := string(z.Raw())
			t := z.Token()
			switch {
			case !validatorElements[t.Data]:
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

// needsSanitize tells, without parsing, whether sanitize may change h: it holds the word "style", an
// empty href, or a tag of an element the validator does not know. Most posts hold none.
func needsSanitize(h string) bool {
	return indexFold(h, "style", 0) >= 0 || hasEmptyHref(h) || hasUnknownTag(h)
}

// indexFold is the index of word (lower case ASCII) in h at or after from, in any case, or -1.
func indexFold(h, word string, from int) int {
	for i := from; i+len(word) <= len(h); i++ {
		if h[i]|0x20 == word[0] && strings.EqualFold(h[i:i+len(word)], word) {
			return i
		}
	}
	return -1
}

// hasEmptyHref tells whether h may hold an href attribute with no value, or an empty or blank one.
func hasEmptyHref(h string) bool {
	for i := indexFold(h, "href", 0); i >= 0; i = indexFold(h, "href", i+4) {
		rest := strings.TrimLeft(h[i+4:], " \t\r\n")
		if !strings.HasPrefix(rest, "=") {
			return true // no value, or not an attribute at all: sanitize's parse tells
		}
		rest = strings.TrimLeft(rest[1:], " \t\r\n")
		if rest == "" || rest[0] == '>' {
			return true
		}
		if q := rest[0]; q == '"' || q == '\'' {
			if v := strings.TrimLeft(rest[1:], " \t\r\n"); v != "" && v[0] == q {
				return true
			}
		}
	}
	return false
}

// hasUnknownTag tells whether h has a start or end tag of an element the validator does not know.
func hasUnknownTag(h string) bool {
	for i := strings.IndexByte(h, '<'); i >= 0; {
		j := i + 1
		if j < len(h) && h[j] == '/' {
			j++
		}
		k := j
		for k < len(h) && h[k] != '>' && h[k] != '/' && h[k] != ' ' && h[k] != '\t' && h[k] != '\n' && h[k] != '\r' && h[k] != '<' {
			k++
		}
		if name := h[j:k]; name != "" && isLetter(name[0]) && !validatorElements[strings.ToLower(name)] {
			return true
		}
		n := strings.IndexByte(h[i+1:], '<')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	return false
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// safeStyle is style with only the declarations the validator finds safe, "" if none is.
func safeStyle(style string) string {
	if safeCSS(style) {
		return style
	}
	var kept []string
	for _, d := range strings.Split(style, ";") {
		if d = strings.TrimSpace(d); d != "" && safeCSS(d) {
			kept = append(kept, d)
		}
	}
	s := strings.Join(kept, ";")
	if !safeCSS(s) {
		return ""
	}
	return s
}

// safeCSS tells whether the validator's checkStyle finds nothing in a style attribute.
func safeCSS(style string) bool {
	if !styleChars.MatchString(style) || !styleDecls.MatchString(style) {
		return false
	}
	for _, m := range styleDecl.FindAllStringSubmatch(strings.ToLower(style), -1) {
		prop, value := m[1], m[2]
		if !safeCSSProps[prop] {
			return false
		}
		if boxProps[strings.Split(prop, "-")[0]] {
			for _, k := range strings.Fields(value) {
				if !safeCSSKeywords[k] && !cssValue.MatchString(k) {
					return false
				}
			}
		}
	}
	return true
}

// The validator's lists (validators.py), as internal/feedcheck has them; TestSanitizePassesFeedcheck
// holds the two to the same rules.
var (
	// validatorElements are the elements it knows: its HTML elements and the risky ones.
	validatorElements = wordSet("a abbr acronym address area article aside audio b bdi bdo big blockquote br button " +
		"canvas caption center cite code col colgroup command data datagrid datalist dd del details dfn dialog dir " +
		"div dl dt em eventsource fieldset figcaption figure font footer form h1 h2 h3 h4 h5 h6 header hgroup hr i " +
		"img input ins kbd label legend li m main map mark menu meter nav noscript ol optgroup option output p " +
		"picture pre progress q rp rt ruby s samp section select small source span strike strong sub summary sup " +
		"table tbody td template textarea tfoot th thead time tr track tt u ul var video wbr " +
		"applet base basefont body comment embed frame frameset head html iframe isindex " +
		"link listing meta noframes object param plaintext script slot style title xmp")

	safeCSSProps = wordSet("azimuth background background-color border border-bottom border-bottom-color " +
		"border-bottom-style border-bottom-width border-collapse border-color border-left border-left-color " +
		"border-left-style border-left-width border-right border-right-color border-right-style border-right-width " +
		"border-spacing border-style border-top border-top-color border-top-style border-top-width border-width " +
		"clear color cursor direction display elevation float font font-family font-size font-style font-variant " +
		"font-weight height letter-spacing line-height list-style-type margin margin-bottom margin-left " +
		"margin-right margin-top overflow padding padding-bottom padding-left padding-right padding-top pause " +
		"pause-after pause-before pitch pitch-range richness speak speak-header speak-numeral speak-punctuation " +
		"speech-rate stress text-align text-decoration text-indent unicode-bidi vertical-align voice-family volume " +
		"white-space width")

	safeCSSKeywords = wordSet("aqua auto black block blue bold both bottom brown center collapse dashed dotted " +
		"fuchsia gray green !important italic left lime maroon medium none navy normal nowrap olive pointer purple " +
		"red right solid silver teal top transparent underline white yellow")

	boxProps = wordSet("background border margin padding")

	styleChars = regexp.MustCompile(`^([:,;#%.\sa-zA-Z0-9!]|\w-\w|'[\s\w]+'|"[\s\w]+"|\([\d,\s]+\))*$`)
	styleDecls = regexp.MustCompile(`^(\s*[-\w]+\s*:\s*[^:;]*(;|$))*$`)
	styleDecl  = regexp.MustCompile(`([-\w]+)\s*:\s*([^:;]*)`)
	cssValue   = regexp.MustCompile(`^(#[0-9a-f]+|rgb\(\d+%?,\d*%?,?\d*%?\)?|\d?\.?\d?\d(cm|em|ex|in|mm|pc|pt|px|%|,|\))?)$`)
)

func wordSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
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
