package posts

import (
	"bytes"
	"context"
	"errors"
	"html"
	"math/bits"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/sitefs"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// renderer turns a post's body into HTML. It is safe for concurrent use.
type renderer struct {
	md     goldmark.Markdown
	liquid *liquidEngine // nil when the site has no Liquid (Hugo, plain folders)
}

// typography writes curly quotes and dashes as characters rather than entities, so that plain-text
// summaries, titles and email text parts read the same as the HTML.
var typography = extension.NewTypographer(extension.WithTypographicSubstitutions(extension.TypographicSubstitutions{
	extension.LeftSingleQuote:  []byte("‘"),
	extension.RightSingleQuote: []byte("’"),
	extension.LeftDoubleQuote:  []byte("“"),
	extension.RightDoubleQuote: []byte("”"),
	extension.EnDash:           []byte("–"),
	extension.EmDash:           []byte("—"),
	extension.Ellipsis:         []byte("…"),
	extension.LeftAngleQuote:   []byte("«"),
	extension.RightAngleQuote:  []byte("»"),
	extension.Apostrophe:       []byte("’"),
}))

func newMarkdown() goldmark.Markdown {
	return goldmark.New(
		// extension.GFM, with linkify in the place of goldmark's own (see linkify).
		goldmark.WithExtensions(linkify{}, extension.Table, extension.Strikethrough, extension.TaskList, extension.Footnote, typography),
		goldmark.WithParserOptions(parser.WithAutoHeadingID()),
		goldmark.WithRendererOptions(gmhtml.WithUnsafe()),
	)
}

// titleMarkdown renders titles: inline Markdown only (a title "1. Introduction" is not a list, "# 1" not a
// heading), with typographic quotes and dashes as Jekyll's smartify makes them.
var titleMarkdown = goldmark.New(
	goldmark.WithParser(parser.NewParser(
		parser.WithBlockParsers(util.Prioritized(parser.NewParagraphParser(), 1000)),
		parser.WithInlineParsers(parser.DefaultInlineParsers()...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
	)),
	goldmark.WithExtensions(extension.Strikethrough, typography),
	goldmark.WithRendererOptions(gmhtml.WithUnsafe()),
)

// Render renders ps (posts of s): Liquid, then Markdown, then every URL made absolute; it fills
// ContentHTML, SummaryHTML and Summary. It works on all cores and returns what it had to warn about.
func (s *Site) Render(ctx context.Context, ps []*Post) ([]Warning, error) {
	// Posts from the cache come without their front matter (Data): Liquid's page.* reads it again, only for
	// a post whose Liquid asks (liquidEngine.postVars), and never writes it into the post, which another
	// post's Liquid may be reading (site.posts).
	warns := make([][]Warning, len(ps))
	errs := make([]error, len(ps))
	forEach(ctx, len(ps), func(k int) { warns[k], errs[k] = s.renderPost(ctx, ps[k]) })
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return s.unreported(slices.Concat(warns...)), nil
}

// unreported returns the warnings of ws that no earlier Render of s returned, and remembers them: a
// command that renders a post twice (for the feeds, then for the mail) says what is wrong with it once.
// Warnings about a post's body come from Render, not Load, so that a command says them only for the posts
// it renders: herald preview of one post does not repeat every other post's.
func (s *Site) unreported(ws []Warning) []Warning {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	if s.reported == nil {
		s.reported = map[Warning]bool{}
	}
	out := ws[:0]
	for _, w := range ws {
		if !s.reported[w] {
			s.reported[w] = true
			out = append(out, w)
		}
	}
	return out
}

// frontMatterData reads p's front matter again; a file that no longer parses gives an empty map (Load
// read it, so it changed since, and the next run will say what is wrong with it).
func (s *Site) frontMatterData(p *Post) map[string]any {
	src, err := s.files.ReadFile(p.Path)
	if err != nil {
		return map[string]any{}
	}
	fm, _, err := parseFrontMatter(p.Path, src, s.maxFM)
	if err != nil {
		return map[string]any{}
	}
	applyDefaults(fm, p.Path, s.defaults)
	return fm.data
}

func (s *Site) renderPost(ctx context.Context, p *Post) ([]Warning, error) {
	src, err := s.files.ReadFile(p.Path)
	if errors.Is(err, sitefs.ErrRefused) {
		return nil, err
	}
	if err != nil {
		return nil, &Error{File: p.Path, Msg: "cannot read the file; check its permissions", Err: err}
	}
	_, _, body, _, _ := splitFrontMatter(src)
	if bytes.Contains(body, []byte("\r\n")) { // ReplaceAll copies the body even when it replaces nothing
		body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	}
	var warns []Warning
	if _, ok := s.render.md.(hugoMarkdown); ok {
		warns = shortcodeWarning(p, body)
	}
	if s.render.liquid != nil {
		var lw []Warning
		if body, lw, err = s.render.liquid.render(ctx, p, body); err != nil {
			return nil, err
		}
		warns = append(warns, lw...)
	}
	markdown := markdownExts[strings.ToLower(path.Ext(p.Path))]
	md := s.render.md
	if pm, ok := md.(interface{ forPost(*Post) goldmark.Markdown }); ok {
		md = pm.forPost(p) // a Hugo page's refs name pages of its language
	}
	toHTML := func(b []byte) string {
		if !markdown {
			return string(b)
		}
		buf := htmlBuffers.Get().(*htmlBuffer)
		defer htmlBuffers.Put(buf)
		buf.Reset()
		buf.Grow(2 * len(b)) // most posts' HTML fits: one allocation rather than doublings
		if err := md.Convert(b, buf); err != nil {
			return html.EscapeString(string(b))
		}
		return buf.String()
	}
	base, _ := url.Parse(p.URL)
	full := cleanText(finishHTML(toHTML(body), base))

	// The summary: front matter description or excerpt, else what stands before the excerpt separator
	// or <!--more-->, else the first paragraph.
	var summaryHTML string
	switch {
	case p.excerpt != "":
		summaryHTML = "<p>" + html.EscapeString(p.excerpt) + "</p>"
	default:
		if before, ok := cutExcerpt(body, p.sep); ok {
			summaryHTML = cleanText(finishHTML(toHTML(withLinkDefinitions(before, body)), base))
		} else {
			summaryHTML = firstParagraph(full)
		}
	}
	p.SummaryHTML = strings.TrimSpace(summaryHTML)
	p.Summary = plainText(p.SummaryHTML)
	if p.Summary == "" {
		p.SummaryHTML = ""
	}
	p.ContentHTML = full
	if p.ExcerptOnly {
		p.ContentHTML = p.SummaryHTML + `<p><a href="` + html.EscapeString(p.URL) + `">Read the whole post</a></p>`
	}
	return warns, nil
}

// htmlBuffer is what goldmark renders a post into: a bytes.Buffer that is goldmark's util.BufWriter, so
// that it writes into it directly rather than through a bufio.Writer of its own for each post.
type htmlBuffer struct{ bytes.Buffer }

func (*htmlBuffer) Flush() error  { return nil }
func (*htmlBuffer) Buffered() int { return 0 } // nothing is held back from the buffer

// htmlBuffers keep the buffers of rendered posts for the next: a full-archive build renders ten thousand
// posts, and each new buffer of twice a post's size is allocated and cleared (170 MB for 10,000 posts).
var htmlBuffers = sync.Pool{New: func() any { return new(htmlBuffer) }}

// cutExcerpt returns the body before <!--more--> or the post's excerpt separator, if either is there.
func cutExcerpt(body []byte, sep string) ([]byte, bool) {
	if i := bytes.Index(body, []byte("<!--more-->")); i >= 0 {
		return body[:i], true
	}
	if sep == "" || sep == "\n\n" {
		return nil, false // the first paragraph, which firstParagraph finds in the HTML
	}
	if i := bytes.Index(body, []byte(sep)); i >= 0 {
		return body[:i], true
	}
	return nil, false
}

var linkDefinition = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:[ \t]+\S.*$`)

// withLinkDefinitions appends the body's reference link definitions to an excerpt, so that "[text][ref]"
// in the excerpt still links when its definition stands at the end of the post (Jekyll does the same).
func withLinkDefinitions(excerpt, body []byte) []byte {
	defs := linkDefinition.FindAll(body[len(excerpt):], -1)
	if len(defs) == 0 {
		return excerpt
	}
	out := append([]byte{}, excerpt...)
	out = append(out, "\n\n"...)
	return append(out, bytes.Join(defs, []byte("\n"))...)
}

// firstParagraph returns the first <p> element of rendered HTML, with its attributes ("{: .notice}"), or "".
func firstParagraph(h string) string {
	i := paragraphStart(h)
	if i < 0 {
		return ""
	}
	j := strings.Index(h[i:], "</p>")
	if j < 0 {
		return ""
	}
	return h[i : i+j+len("</p>")]
}

// urlAttrs are the attributes that hold a URL; srcset holds several.
var urlAttrs = map[string]bool{"href": true, "src": true, "poster": true, "cite": true, "action": true, "background": true, "longdesc": true, "data": true}

// absolutize rewrites every URL in an HTML fragment to an absolute one, resolved against base, and
// replaces each embed (iframe, object, embed, script) with a link to what it shows (see embed.go). Tags
// without such attributes are copied byte for byte.
func absolutize(h string, base *url.URL) string {
	if !strings.Contains(h, "=") && !hasEmbed(h) {
		return h
	}
	ts := &tokenStream{z: xhtml.NewTokenizer(strings.NewReader(h))}
	z := ts.z
	var b strings.Builder
	b.Grow(len(h) + len(h)/8)
	for {
		tt := ts.next()
		if tt == xhtml.ErrorToken {
			return b.String()
		}
		raw := z.Raw()
		if tt == xhtml.EndTagToken && len(raw) > 3 && strings.EqualFold(strings.TrimSpace(string(raw[2:len(raw)-1])), "embed") {
			continue // <embed> is void: its replacement took the start tag, and a stray </embed> goes too
		}
		if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
			b.Write(raw)
			continue
		}
		t, changed := startTag(z, tt, base)
		if embedElements[t.Data] {
			b.WriteString(replaceEmbed(ts, t, base))
			continue
		}
		if !changed {
			b.Write(raw)
			continue
		}
		b.WriteString(t.String())
	}
}

// startTag is z.Token() for the start tag z is at, with every URL attribute resolved against base, and
// whether that changed one (an embed's attributes stay as written, for replaceEmbed).
func startTag(z *xhtml.Tokenizer, tt xhtml.TokenType, base *url.URL) (xhtml.Token, bool) {
	t := xhtml.Token{Type: tt}
	name, more := z.TagName()
	if a := atom.Lookup(name); a != 0 {
		t.DataAtom, t.Data = a, a.String()
	} else {
		t.Data = string(name)
	}
	// Each attribute as the tokenizer holds it, and its value resolved where that changes it.
	type attr struct {
		k, v     []byte
		resolved string
		changed  bool
	}
	changed := false
	var buf [8]attr
	attrs := buf[:0]
	for more {
		var a attr
		a.k, a.v, more = z.TagAttr()
		key := atom.String(a.k)
		switch {
		case urlAttrs[key]:
			// absURL leaves alone what is empty or has a scheme, once trimmed; a value it would trim changes.
			if ref := bytes.TrimSpace(a.v); len(ref) != len(a.v) || len(ref) > 0 && !hasScheme(ref) {
				v := string(a.v)
				a.resolved = absURL(base, v)
				a.changed = a.resolved != v
			}
		case key == "srcset":
			v := string(a.v)
			a.resolved = absSrcset(base, v)
			a.changed = a.resolved != v
		}
		changed = changed || a.changed
		attrs = append(attrs, a)
	}
	embed := embedElements[t.Data]
	t.Attr = make([]xhtml.Attribute, len(attrs))
	for i, a := range attrs {
		val := string(a.v)
		if a.changed && !embed { // replaceEmbed reads the attributes as written
			val = a.resolved
		}
		t.Attr[i] = xhtml.Attribute{Key: atom.String(a.k), Val: val}
	}
	return t, changed && !embed
}

// hasEmbed tells whether h may hold an element that replaceEmbed replaces, in any case.
func hasEmbed(h string) bool {
	l := strings.ToLower(h)
	return strings.Contains(l, "<iframe") || strings.Contains(l, "<object") || strings.Contains(l, "<embed") || strings.Contains(l, "<script")
}

// absSrcset resolves each URL of a srcset list ("a.png 1x, b.png 2x").
func absSrcset(base *url.URL, v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		f := strings.Fields(p)
		if len(f) == 0 {
			continue
		}
		f[0] = absURL(base, f[0])
		parts[i] = strings.Join(f, " ")
	}
	return strings.Join(parts, ", ")
}

// plainTitle turns a title that may hold Markdown, HTML and entities into plain text.
func plainTitle(t string) string {
	if needsMarkdown(t) {
		var buf bytes.Buffer
		if err := titleMarkdown.Convert([]byte(t), &buf); err == nil {
			return plainText(buf.String())
		}
	}
	return collapseSpace(cleanText(t))
}

// needsMarkdown tells whether Markdown or the typographer would change t: most titles are plain words, and
// rendering ten thousand of them costs more than reading their files.
func needsMarkdown(t string) bool {
	return strings.ContainsAny(t, "*_`<>&[\\~\"'#!|") || strings.Contains(t, "--") || strings.Contains(t, "...") ||
		(len(t) > 0 && (t[0] == '-' || t[0] == '+' || t[0] == '=' || (t[0] >= '0' && t[0] <= '9')))
}

// plainText strips tags from HTML, decodes entities once and collapses whitespace.
func plainText(h string) string {
	if text, ok := plainTextSimple(h); ok {
		return collapseSpace(cleanText(text))
	}
	return plainTextTokens(h)
}

// plainTextSimple is plainText's text, before cleanText and collapseSpace, for HTML whose tags finishHTML's
// pass reads itself (see finisher.startTag): a summary's paragraph, read without the tokenizer. It gives
// false for anything else (a comment, an element of raw text, a CR or a NUL, which the tokenizer's text
// converts), and plainTextTokens reads it.
func plainTextSimple(h string) (string, bool) {
	if strings.IndexByte(h, '\r') >= 0 || strings.IndexByte(h, 0) >= 0 {
		return "", false
	}
	var b strings.Builder
	var buf [8]simpleAttr
	for i := 0; i < len(h); {
		k := strings.IndexByte(h[i:], '<')
		if k < 0 {
			k = len(h) - i
		}
		text := h[i : i+k]
		if strings.IndexByte(text, '&') >= 0 {
			text = xhtml.UnescapeString(text) // the tokenizer's Text unescapes with the same function
		}
		b.WriteString(text)
		lt := i + k
		if lt >= len(h) {
			break
		}
		if lt+1 == len(h) {
			return "", false
		}
		var end int
		var name string
		switch c := h[lt+1]; {
		case isLetter(c):
			name, _, end, _ = readStartTag(h, lt, buf[:0])
			if end < 0 || rawTextElements[name] {
				return "", false
			}
		case c == '/' && lt+2 < len(h) && isLetter(h[lt+2]):
			name, end = readEndTag(h, lt)
			if end < 0 {
				return "", false
			}
		case c == '/' || c == '!' || c == '?':
			return "", false
		default: // a "<" of text
			b.WriteByte('<')
			i = lt + 1
			continue
		}
		if blockTags[name] {
			b.WriteByte(' ')
		}
		i = end
	}
	return b.String(), true
}

// plainTextTokens is plainText through the tokenizer, whatever h holds.
func plainTextTokens(h string) string {
	z := xhtml.NewTokenizer(strings.NewReader(h))
	var b strings.Builder
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return collapseSpace(cleanText(b.String()))
		case xhtml.TextToken:
			b.Write(z.Text())
		case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
			if name, _ := z.TagName(); blockTags[string(name)] {
				b.WriteByte(' ')
			}
		}
	}
}

// blockTags separate words: their text does not run into the next element's.
var blockTags = map[string]bool{"p": true, "br": true, "div": true, "li": true, "ul": true, "ol": true, "dl": true, "dt": true,
	"dd": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "pre": true,
	"hr": true, "table": true, "tr": true, "td": true, "th": true, "section": true, "article": true, "figure": true,
	"figcaption": true, "img": true}

// collapseSpace is strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ") in one pass and one string.
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		if unicode.IsSpace(r) {
			space = b.Len() > 0
		} else {
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// XMLSafe removes what XML 1.0 forbids from s; see cleanText.
func XMLSafe(s string) string { return cleanText(s) }

// cleanText removes what XML 1.0 forbids (control characters other than tab, CR and LF; U+FFFE and U+FFFF;
// invalid UTF-8), so that no feed format gets a byte its readers reject.
func cleanText(s string) string {
	if xmlClean(s) {
		return s
	}
	// Not strings.Map, which gives a byte of invalid UTF-8 and a U+FFFD of the text alike as RuneError:
	// the text's own is an XML character, which xmlClean keeps.
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !(r == utf8.RuneError && n == 1) && xmlChar(r) {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// xmlClean tells whether cleanText would leave s as it is: valid UTF-8 of XML characters only. Most text is
// printable ASCII, read eight bytes at a time (the feeds check every post's HTML again, three times); a
// word with other bytes goes straight to the first of them, so that a newline or a curly quote every few
// words does not send the eight bytes after it down the slow path.
func xmlClean(s string) bool {
	i := 0
	for i < len(s) {
		if i+8 <= len(s) {
			m := specialBytes8(s[i : i+8])
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !xmlChar(r) {
			return false
		}
		i += n
	}
	return true
}

// specialBytes8 has the high bit set of each of the 8 bytes of s (the first in the lowest) that is below
// 0x20 or from 0x80 up, and maybe of bytes after the first such: subtracting 0x20 from each byte sets the
// high bit of a byte below 0x20 and borrows from the byte after it, which may set that one's too. Its
// lowest bit set is always the first such byte's.
func specialBytes8(s string) uint64 {
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	return (x - 0x2020202020202020 | x) & 0x8080808080808080
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// newRenderer makes a renderer without Liquid, which Load adds to a Jekyll site's.
func newRenderer() renderer {
	return renderer{md: newMarkdown()}
}
