package posts

import (
	"net/url"
	"slices"
	"strings"

	"github.com/heraldhq/herald/internal/htmlsafe"
	xhtml "golang.org/x/net/html"
)

// finishHTML is sanitize(absolutize(h, base), base), the rendered HTML of the post at base made ready for
// a feed, in one pass that reads most of h without golang.org/x/net/html's tokenizer: rendering and
// tokenizing ten thousand posts twice cost a third of a full-archive build.
//
// The tokenizer stays the model of what a tag is. The pass reads itself only what it can read as the
// tokenizer does, with no doubt: text up to "<", a start tag of a name and quoted or empty attributes, an
// end tag of a name. Anything else (a comment, an embed, an element whose content is raw text such as
// <script> or <title>, a value holding a character reference that must be decoded) is read by a tokenizer
// started where it starts, which takes it to its end, and the pass goes on after it. At a tag's end the
// tokenizer is between tokens in its data state, so a tokenizer started there reads the rest as the one
// that reads the whole of h does. A document the pass cannot finish that way (a tag cut short by the end,
// a NUL) takes the two passes.
func finishHTML(h string, base *url.URL) string {
	f := finisher{h: h, base: base, abs: strings.Contains(h, "=") || hasEmbed(h)}
	if !f.abs && !needsSanitize(h) {
		return h
	}
	if strings.IndexByte(h, 0) < 0 && f.run() {
		if f.b.Len() == 0 && f.done == 0 {
			return h
		}
		f.b.WriteString(h[f.done:])
		out := f.b.String()
		if f.b.Cap()-len(out) > len(out)/8 {
			// The builder outgrew its first guess and doubled: a post's HTML stays in memory until the
			// feeds are written, so it keeps only the bytes it needs.
			out = strings.Clone(out)
		}
		return out
	}
	return sanitize(absolutize(h, base), base)
}

// finisher is one finishHTML pass: h[:done] is in b, changed where it had to be.
type finisher struct {
	h    string
	base *url.URL
	abs  bool // whether absolutize reads h (it leaves alone HTML without "=" or an embed)
	b    strings.Builder
	done int
	// The page's URL resolved with "#", "/" and "" before a last path segment (see absURL), once needed.
	fragBase, rootBase, dirBase string
}

// replace puts s in the place of h[i:j].
func (f *finisher) replace(i, j int, s string) {
	f.cut(i, j).WriteString(s)
}

// cut drops h[i:j] from the output and returns the builder to write what takes its place.
func (f *finisher) cut(i, j int) *strings.Builder {
	if f.b.Len() == 0 && f.done == 0 {
		f.b.Grow(len(f.h) + len(f.h)/4)
	}
	f.b.WriteString(f.h[f.done:i])
	f.done = j
	return &f.b
}

// run finishes h; false when it needs the two passes.
func (f *finisher) run() bool {
	h := f.h
	for i := 0; i < len(h); {
		k := strings.IndexByte(h[i:], '<')
		if k < 0 {
			return true
		}
		lt := i + k
		if lt+1 == len(h) {
			return false // a "<" that ends the document: the tokenizer's
		}
		var end int
		switch c := h[lt+1]; {
		case isLetter(c):
			end = f.startTag(lt)
		case c == '/' && lt+2 < len(h) && isLetter(h[lt+2]):
			end = f.endTag(lt)
		case c == '/' || c == '!' || c == '?':
			end = -1
		default:
			i = lt + 1 // text
			continue
		}
		if end < 0 {
			if end = f.viaTokenizer(lt); end < 0 {
				return false
			}
		}
		i = end
	}
	return true
}

// rawTextElements are the elements whose start tag makes the tokenizer read what follows as text, up to
// their end tag (its readStartTag).
var rawTextElements = map[string]bool{"iframe": true, "noembed": true, "noframes": true, "noscript": true,
	"plaintext": true, "script": true, "style": true, "textarea": true, "title": true, "xmp": true}

// tokenizerElement is rawTextElements[name] || embedElements[name], the start tags the pass leaves to the
// tokenizer, as a switch: it is asked for every tag of every post, and two map lookups were 1% of a
// full-archive build. TestTokenizerElement holds it to the two maps.
func tokenizerElement(name string) bool {
	switch name {
	case "iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea", "title", "xmp", // raw text
		"object", "embed": // embeds (iframe and script are both)
		return true
	}
	return false
}

// simpleAttr is an attribute of a start tag the pass reads itself: key as written, its value between the
// quotes (or empty) as written.
type simpleAttr struct{ key, raw string }

// startTag finishes the start tag at h[lt:] and returns where it ends, or -1 when the tokenizer must read it.
func (f *finisher) startTag(lt int) int {
	var buf [8]simpleAttr
	name, attrs, end, selfClosing := readStartTag(f.h, lt, buf[:0])
	if end >= 0 && name == "script" && !selfClosing && !slices.ContainsFunc(attrs, isSrc) {
		return f.inlineScript(lt, end)
	}
	if end < 0 || tokenizerElement(name) {
		return -1
	}
	if !f.finishTag(lt, end, name, attrs, selfClosing) {
		return -1
	}
	return end
}

// inlineScript finishes a script without a src, whose start tag is h[lt:end]: replaceEmbed drops it, to its
// end tag. Its text ends at the first "</script" as the tokenizer reads it, unless a "<!" comes first: a
// script can hide its end tag in "<!--" there, which the tokenizer follows.
func (f *finisher) inlineScript(lt, end int) int {
	h := f.h
	for k := end; ; {
		p := strings.Index(h[k:], "</")
		if p < 0 {
			return -1
		}
		p += k
		if len(h) > p+8 && strings.EqualFold(h[p+2:p+8], "script") && strings.IndexByte(" \t\n\r\f/>", h[p+8]) >= 0 {
			_, j := readEndTag(h, p)
			if j < 0 || strings.Contains(h[end:p], "<!") || f.afterLT(lt) {
				return -1
			}
			f.replace(lt, j, "")
			return j
		}
		k = p + 2
	}
}

func isSrc(a simpleAttr) bool { return strings.EqualFold(a.key, "src") }

// readStartTag reads the start tag at h[lt:] when it has the simple form the pass reads itself (a name,
// then attributes set off by spaces, each a name with a quoted value or none): its lower-case name, its
// attributes appended to attrs, where it ends and whether it closes itself ("<br/>"); end is -1 otherwise.
func readStartTag(h string, lt int, attrs []simpleAttr) (name string, _ []simpleAttr, end int, selfClosing bool) {
	j := lt + 1
	for j < len(h) && isNameByte(h[j]) {
		j++
	}
	name = h[lt+1 : j]
	for {
		if j == len(h) {
			return "", nil, -1, false
		}
		c := h[j]
		if c == '>' {
			j++
			break
		}
		if c == '/' {
			if j+1 < len(h) && h[j+1] == '>' {
				selfClosing, j = true, j+2
				break
			}
			return "", nil, -1, false
		}
		if !isSpace(c) {
			return "", nil, -1, false // a name of other bytes, or an attribute not set off by a space
		}
		for j < len(h) && isSpace(h[j]) {
			j++
		}
		if j == len(h) || h[j] == '>' || h[j] == '/' {
			continue
		}
		k := j
		for k < len(h) && isNameByte(h[k]) {
			k++
		}
		if k == j || !isLetter(h[j]) {
			return "", nil, -1, false
		}
		a := simpleAttr{key: h[j:k]}
		if k < len(h) && h[k] == '=' {
			if k+1 == len(h) || h[k+1] != '"' && h[k+1] != '\'' {
				return "", nil, -1, false // unquoted
			}
			e := strings.IndexByte(h[k+2:], h[k+1])
			if e < 0 {
				return "", nil, -1, false
			}
			a.raw = h[k+2 : k+2+e]
			k += 3 + e
		} else if rest := strings.TrimLeft(h[k:], " \t\n\r\f"); rest != "" && rest[0] == '=' {
			return "", nil, -1, false // "key = value"
		}
		for _, b := range attrs {
			if strings.EqualFold(b.key, a.key) {
				return "", nil, -1, false // the tokenizer keeps the first of the two
			}
		}
		attrs = append(attrs, a)
		j = k
	}
	return lower(name), attrs, j, selfClosing
}

// finishTag applies absolutize's and sanitize's rules to the start tag h[lt:j] and writes what it becomes
// where it changes; false when a value must be decoded to tell.
func (f *finisher) finishTag(lt, j int, name string, attrs []simpleAttr, selfClosing bool) bool {
	if !htmlsafe.KnownElement(name) {
		f.replace(lt, j, "") // dropped, its content kept
		return true
	}
	// The tokenizer's values: what is written, unless a character reference or a CR needs decoding.
	plain := func(v string) bool { return strings.IndexByte(v, '&') < 0 && strings.IndexByte(v, '\r') < 0 }
	changed := false
	var buf [8]string
	vals := buf[:0]
	for _, a := range attrs {
		key, v := lower(a.key), a.raw
		switch {
		case urlAttrs[key]:
			if hasScheme(v) && literalEnd(v) {
				break // left alone however it decodes: the scheme comes before any "&", the end after
			}
			if !plain(v) {
				return false
			}
			if ref := strings.TrimSpace(v); len(ref) != len(v) || len(ref) > 0 && !hasScheme(ref) {
				if r := f.absURL(v); r != v {
					v, changed = r, true
				}
			}
			if key == "href" && strings.TrimSpace(v) == "" && f.base != nil {
				v, changed = f.base.String(), true // sanitize's empty href
			}
		case key == "srcset":
			if !plain(v) {
				return false
			}
			if r := absSrcset(f.base, v); r != v {
				v, changed = r, true
			}
		case key == "style":
			if !plain(v) {
				return false
			}
			if s := safeStyle(v); s != v {
				v, changed = s, true // sanitize's rule; an empty style goes below
			}
		}
		vals = append(vals, v)
	}
	if !changed {
		return true
	}
	for _, v := range vals {
		if !plain(v) {
			return false
		}
	}
	// Written as the tokenizer's Token.String writes a tag: lower-case names, values in double quotes.
	b := f.cut(lt, j)
	b.WriteByte('<')
	b.WriteString(name)
	for i, a := range attrs {
		if vals[i] == "" && strings.EqualFold(a.key, "style") && a.raw != "" {
			continue // no declaration left
		}
		b.WriteByte(' ')
		b.WriteString(lower(a.key))
		b.WriteString(`="`)
		if strings.ContainsAny(vals[i], "&'<>\"\r") {
			b.WriteString(xhtml.EscapeString(vals[i]))
		} else {
			b.WriteString(vals[i])
		}
		b.WriteByte('"')
	}
	if selfClosing {
		b.WriteByte('/')
	}
	b.WriteByte('>')
	return true
}

// endTag finishes the end tag at h[lt:] and returns where it ends, or -1 when the tokenizer must read it.
func (f *finisher) endTag(lt int) int {
	name, j := readEndTag(f.h, lt)
	if j < 0 {
		return -1
	}
	embedEnd := f.abs && strayEmbedEnd(f.h[lt:j])
	if embedEnd && f.afterLT(lt) {
		return -1
	}
	if embedEnd || !htmlsafe.KnownElement(name) {
		f.replace(lt, j, "")
	}
	return j
}

// readEndTag reads the end tag at h[lt:] when it is "</name>", with spaces before the ">" or none: its
// lower-case name and where it ends; end is -1 otherwise.
func readEndTag(h string, lt int) (name string, end int) {
	j := lt + 2
	for j < len(h) && isNameByte(h[j]) {
		j++
	}
	name = h[lt+2 : j]
	for j < len(h) && isSpace(h[j]) {
		j++
	}
	if j == len(h) || h[j] != '>' {
		return "", -1
	}
	return lower(name), j + 1
}

// viaTokenizer finishes what starts at h[lt:] with the tokenizer, token by token as absolutize and sanitize
// read it, up to where the tokenizer is back in its data state; it returns where that is, or -1 when the
// document ends first.
func (f *finisher) viaTokenizer(lt int) int {
	ts := &tokenStream{z: xhtml.NewTokenizer(strings.NewReader(f.h[lt:]))}
	for {
		at := lt + ts.n
		tt := ts.next()
		if tt == xhtml.ErrorToken {
			return -1
		}
		raw := f.h[at : lt+ts.n]
		rawText := false
		switch tt {
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			t, changed := startTag(ts.z, tt, f.base)
			rawText = rawTextElements[t.Data]
			switch {
			case embedElements[t.Data]:
				if tt == xhtml.SelfClosingTagToken && rawText {
					return -1 // what follows is text to this tokenizer, not to sanitize's after the replacement
				}
				out := replaceEmbed(ts, t, f.base)
				if ts.z.Err() != nil || out == "" && f.afterLT(at) {
					return -1
				}
				f.replace(at, lt+ts.n, out)
				rawText = false // replaceEmbed read to the end tag
			case !htmlsafe.KnownElement(t.Data):
				f.replace(at, lt+ts.n, "")
			default:
				if cleanAttrs(&t, f.base) || changed {
					f.replace(at, lt+ts.n, t.String())
				}
			}
		case xhtml.EndTagToken:
			name, _ := ts.z.TagName()
			if f.abs && strayEmbedEnd(raw) && f.afterLT(at) {
				return -1
			}
			if f.abs && strayEmbedEnd(raw) || !htmlsafe.KnownElement(string(name)) {
				f.replace(at, lt+ts.n, "")
			}
		}
		if !rawText {
			return lt + ts.n
		}
	}
}

// afterLT tells whether the output so far, up to h[i], ends in a "<" of text. absolutize's output is
// sanitize's input: with what absolutize removes at i gone, that "<" would open a tag to sanitize.
func (f *finisher) afterLT(i int) bool {
	if i > f.done {
		return f.h[i-1] == '<'
	}
	out := f.b.String()
	return out != "" && out[len(out)-1] == '<'
}

// tokenStream is a tokenizer that counts the bytes of the tokens it has read (their raw bytes partition
// its input).
type tokenStream struct {
	z *xhtml.Tokenizer
	n int
}

func (ts *tokenStream) next() xhtml.TokenType {
	tt := ts.z.Next()
	ts.n += len(ts.z.Raw())
	return tt
}

// strayEmbedEnd tells whether raw is an end tag absolutize drops: </embed>, whose element is void.
func strayEmbedEnd(raw string) bool {
	return len(raw) > 3 && strings.EqualFold(strings.TrimSpace(raw[2:len(raw)-1]), "embed")
}

// isNameByte are the bytes of the tag and attribute names the pass reads itself.
func isNameByte(c byte) bool {
	return isLetter(c) || '0' <= c && c <= '9' || c == '-' || c == '_' || c == ':' || c == '.'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// literalEnd tells whether the value written v ends, once decoded, in its own last byte, which
// strings.TrimSpace leaves: not a space or a byte of a multi-byte character (U+00A0 and others), and not
// in a character reference ("&#32;", "&nbsp" at the end), whose name or number ends at a ";" if not before.
func literalEnd(v string) bool {
	if c := v[len(v)-1]; c <= ' ' || c >= 0x80 {
		return false
	}
	a := strings.LastIndexByte(v, '&')
	if a < 0 {
		return true
	}
	semi := strings.IndexByte(v[a:], ';')
	return semi >= 0 && a+semi < len(v)-1
}

// lower is strings.ToLower for ASCII names, without a copy when there is nothing to lower.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// absURL is absURL(f.base, v), without parsing v when it is a plain reference (see plainRef): a page's
// footnotes and images. What
// url.ResolveReference makes of such a reference is the resolved URL of a probe ending in "x", with v in
// place of that "x"; the probes are resolved once a page.
func (f *finisher) absURL(v string) string {
	var probe *string
	var ref string
	switch {
	case len(v) > 1 && v[0] == '#' && plainRef(v[1:], false):
		probe, ref = &f.fragBase, "#x"
	case len(v) > 1 && v[0] == '/' && v[1] != '/' && plainRef(v, true):
		probe, ref = &f.rootBase, "/x"
	case v != "" && v[0] != '/' && plainRef(v, true):
		probe, ref = &f.dirBase, "x"
	default:
		return absURL(f.base, v)
	}
	if *probe == "" {
		r := absURL(f.base, ref)
		if !strings.HasSuffix(r, "x") {
			return absURL(f.base, v)
		}
		*probe = r[:len(r)-1]
	}
	if ref != "x" {
		v = v[1:] // the "/" or "#" the probe ends in
	}
	return *probe + v
}

// plainRef tells whether s holds only letters, digits and "-._~", and "/" in a path or ":" in a fragment
// (which no URL escapes), with no path segment "." or "..", which resolving would remove.
func plainRef(s string, path bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '~' || c == '.' || path && c == '/' || !path && c == ':') {
			return false
		}
	}
	if !path {
		return true
	}
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
