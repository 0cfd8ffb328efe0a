package posts

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Jekyll renders Markdown with kramdown, which goldmark follows closely (CommonMark with GFM) except where
// real posts notice: kramdown's attribute lists, and HTML blocks, which kramdown reads to their end tag
// where CommonMark stops at a blank line. kramdownExtension adds both to goldmark through its parser's
// extension points (a block parser each, an inline parser, an AST transformer), for Jekyll sites only.
//
// Attribute lists (https://kramdown.gettalong.org/syntax.html#inline-attribute-lists):
//   - A block IAL, "{: .class #id key="value"}" (or "{:.class}") on a line of its own, applies to the block
//     directly before it, or else to the next block (https://kramdown.gettalong.org/syntax.html#block-ials).
//     The syntax page says one with blank lines on both sides is ignored, but kramdown (2.4, Jekyll's) keeps
//     it for the next block, past the blank lines: its parser holds the IAL until it makes a block, and
//     blank lines after a blank line make none. Blank lines that follow the IAL without one before it (at
//     the start of the document) do make one, which takes the IAL and drops it.
//   - A span IAL, directly after a span element ("*text*{: .red}", "[a](b){:target="_blank"}"), applies to
//     it (https://kramdown.gettalong.org/syntax.html#span-ials).
//   - An attribute list definition, "{:name: .class}", and an extension such as "{::options ... /}" define
//     nothing that shows: they are dropped.
//
// Of the attributes, classes and ids are applied, with the others a feed keeps; style and event handlers
// are dropped, as a feed reader would drop them.

// newKramdown is the Markdown of Jekyll sites: newMarkdown with kramdown's attribute lists and HTML blocks.
func newKramdown() goldmark.Markdown {
	md := newMarkdown()
	kramdownExtension{}.Extend(md)
	return md
}

type kramdownExtension struct{}

func (kramdownExtension) Extend(m goldmark.Markdown) {
	m.Parser().AddOptions(
		parser.WithBlockParsers(
			util.Prioritized(kramdownHTMLParser{}, 850), // before goldmark's HTML blocks (900)
			util.Prioritized(ialBlockParser{}, 850),
		),
		parser.WithInlineParsers(util.Prioritized(ialSpanParser{}, 900)),
		parser.WithASTTransformers(util.Prioritized(ialTransformer{}, 100)),
	)
}

// ialNode is an attribute list, block or span, until ialTransformer applies it and removes it.
type ialNode struct {
	ast.BaseBlock // a span IAL is an inline node too: see kindSpanIAL
	attrs         [][2]string
	span          bool
}

var (
	kindBlockIAL = ast.NewNodeKind("KramdownBlockIAL")
	kindSpanIAL  = ast.NewNodeKind("KramdownSpanIAL")
)

func (n *ialNode) Kind() ast.NodeKind {
	if n.span {
		return kindSpanIAL
	}
	return kindBlockIAL
}

func (n *ialNode) Type() ast.NodeType {
	if n.span {
		return ast.TypeInline
	}
	return ast.TypeBlock
}

func (n *ialNode) IsRaw() bool                   { return true }
func (n *ialNode) Dump(source []byte, level int) { ast.DumpHelper(n, source, level, nil, nil) }

var (
	// "{:" then anything but a brace, to "}"; "{::" starts an extension, "{:name:" a definition.
	ialLine = regexp.MustCompile(`^\{:([^{}]*)\}[ \t]*$`)
	ialSpan = regexp.MustCompile(`^\{:([^{}\n]*)\}`)
	aldName = regexp.MustCompile(`^[A-Za-z][\w-]*:`)
	ialAttr = regexp.MustCompile(`([.#][\w-]+)|([\w:-]+)=(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s"']+))`)
)

// parseIAL reads the inside of "{:...}"; a definition or an extension gives no attributes.
func parseIAL(inner string) [][2]string {
	if strings.HasPrefix(inner, ":") || aldName.MatchString(inner) {
		return nil
	}
	var out [][2]string
	for _, m := range ialAttr.FindAllStringSubmatch(inner, -1) {
		switch {
		case strings.HasPrefix(m[1], "."):
			out = append(out, [2]string{"class", m[1][1:]})
		case strings.HasPrefix(m[1], "#"):
			out = append(out, [2]string{"id", m[1][1:]})
		default:
			key := strings.ToLower(m[2])
			if key == "style" || strings.HasPrefix(key, "on") {
				continue
			}
			out = append(out, [2]string{key, m[3] + m[4] + m[5]})
		}
	}
	return out
}

// ialBlockParser reads a block IAL line. It may interrupt a paragraph: "text\n{: .notice}" is a paragraph
// with a class, not one that ends in the text "{: .notice}".
type ialBlockParser struct{}

func (ialBlockParser) Trigger() []byte { return []byte{'{'} }

func (ialBlockParser) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	line, _ := reader.PeekLine()
	m := ialLine.FindSubmatch(bytes.TrimRight(line, "\r\n"))
	if m == nil {
		return nil, parser.NoChildren
	}
	reader.AdvanceToEOL()
	return &ialNode{attrs: parseIAL(string(m[1]))}, parser.NoChildren
}

func (ialBlockParser) Continue(ast.Node, text.Reader, parser.Context) parser.State {
	return parser.Close
}
func (ialBlockParser) Close(ast.Node, text.Reader, parser.Context) {}
func (ialBlockParser) CanInterruptParagraph() bool                 { return true }
func (ialBlockParser) CanAcceptIndentedLine() bool                 { return false }

// ialSpanParser reads a span IAL; ialTransformer gives its attributes to the element before it.
type ialSpanParser struct{}

func (ialSpanParser) Trigger() []byte { return []byte{'{'} }

func (ialSpanParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, _ := block.PeekLine()
	m := ialSpan.FindSubmatch(line)
	if m == nil {
		return nil
	}
	block.Advance(len(m[0]))
	return &ialNode{attrs: parseIAL(string(m[1])), span: true}
}

// ialTransformer applies each attribute list to its element and removes it from the tree.
type ialTransformer struct{}

func (ialTransformer) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	if !bytes.Contains(reader.Source(), []byte("{:")) {
		return // both IAL parsers read "{:": no walk of the tree of a post without one (most posts)
	}
	var ials []*ialNode
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if ial, ok := n.(*ialNode); ok && entering {
			ials = append(ials, ial)
		}
		return ast.WalkContinue, nil
	})
	for _, ial := range ials {
		var target ast.Node
		prev, next := ial.PreviousSibling(), ial.NextSibling()
		switch {
		case ial.span:
			if prev != nil && prev.Kind() != ast.KindText && prev.Kind() != ast.KindString {
				target = prev
			}
		case prev != nil && !ial.HasBlankPreviousLines():
			target = prev
		case next == nil || next.HasBlankPreviousLines() && prev == nil:
			// nothing after it, or it starts its document (or container) and the blank lines after it
			// took it (see the package comment)
		default:
			if n, isIAL := next.(*ialNode); isIAL {
				n.attrs = append(ial.attrs, n.attrs...) // the next one adds to what this one holds
			} else {
				target = next
			}
		}
		if target != nil {
			applyAttrs(target, ial.attrs)
		}
		ial.Parent().RemoveChild(ial.Parent(), ial)
	}
}

// applyAttrs sets attrs on n, adding classes to those n has.
func applyAttrs(n ast.Node, attrs [][2]string) {
	for _, a := range attrs {
		val := []byte(a[1])
		if a[0] == "class" {
			if old, ok := n.AttributeString("class"); ok {
				if b, ok := old.([]byte); ok && len(b) > 0 {
					val = append(append(append([]byte{}, b...), ' '), val...)
				}
			}
		}
		n.SetAttributeString(a[0], val)
	}
}

// kramdownHTMLParser reads an HTML block as kramdown does, to the end tag that closes its first element,
// blank lines and all. It takes only the blocks CommonMark would cut at a blank line (a block-level element
// whose end tag comes after one); goldmark's own parser takes the rest, as before.
type kramdownHTMLParser struct{}

// kramdownBlockTags are the elements that open an HTML block in kramdown (its HTML_BLOCK_ELEMENTS) that
// may hold blank lines.
var kramdownBlockTags = map[string]bool{"address": true, "article": true, "aside": true, "blockquote": true,
	"body": true, "center": true, "dd": true, "details": true, "div": true, "dl": true, "fieldset": true,
	"figure": true, "footer": true, "form": true, "header": true, "main": true, "nav": true, "ol": true,
	"section": true, "table": true, "ul": true, "video": true, "audio": true, "picture": true}

var htmlOpenTag = regexp.MustCompile(`^<([A-Za-z][A-Za-z0-9]*)[\s/>]`)

var (
	htmlEndKey   = parser.NewContextKey() // the end of the HTML block being read
	htmlIndexKey = parser.NewContextKey() // the document's htmlIndex
	blankLine    = regexp.MustCompile(`\n[ \t]*\r?\n`)
)

func (kramdownHTMLParser) Trigger() []byte { return []byte{'<'} }

func (kramdownHTMLParser) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	line, seg := reader.PeekLine()
	lt := bytes.IndexByte(line, '<')
	if lt < 0 || len(bytes.TrimLeft(line[:lt], " \t")) > 0 || !htmlOpenTag.Match(line[lt:]) {
		return nil, parser.NoChildren
	}
	src := reader.Source()
	idx, ok := pc.Get(htmlIndexKey).(htmlIndex)
	if !ok {
		idx = indexElements(src)
		pc.Set(htmlIndexKey, idx)
	}
	end, ok := idx[seg.Start+lt]
	if !ok || !blankLine.Match(src[seg.Start:end]) {
		return nil, parser.NoChildren // closed before a blank line, or never: CommonMark's rules do
	}
	pc.Set(htmlEndKey, end)
	node := ast.NewHTMLBlock(ast.HTMLBlockType6)
	node.Lines().Append(seg)
	reader.AdvanceToEOL()
	return node, parser.NoChildren
}

func (kramdownHTMLParser) Continue(node ast.Node, reader text.Reader, pc parser.Context) parser.State {
	end, _ := pc.Get(htmlEndKey).(int)
	line, seg := reader.PeekLine()
	if line == nil || seg.Start >= end {
		return parser.Close
	}
	node.Lines().Append(seg)
	reader.AdvanceToEOL()
	if seg.Stop >= end {
		return parser.Close
	}
	return parser.Continue | parser.NoChildren
}

func (kramdownHTMLParser) Close(node ast.Node, reader text.Reader, pc parser.Context) {
	pc.Set(htmlEndKey, nil)
}
func (kramdownHTMLParser) CanInterruptParagraph() bool { return true }
func (kramdownHTMLParser) CanAcceptIndentedLine() bool { return false }

// htmlIndex maps the offset of each start tag of kramdownBlockTags in a document to the end of the line that
// holds its end tag, for the elements that are closed.
type htmlIndex map[int]int

// indexElements pairs the start and end tags of the elements in kramdownBlockTags, in one pass over src:
// a post of many unclosed elements costs no more than one of few.
func indexElements(src []byte) htmlIndex {
	idx := htmlIndex{}
	open := map[string][]int{} // tag → offsets of its unclosed start tags
	for i := 0; i < len(src); i++ {
		j := bytes.IndexByte(src[i:], '<')
		if j < 0 {
			break
		}
		i += j
		closing := i+1 < len(src) && src[i+1] == '/'
		k := i + 1
		if closing {
			k++
		}
		n := k
		for n < len(src) && n-k < 12 && isAlnum(src[n]) {
			n++
		}
		tag := strings.ToLower(string(src[k:n]))
		if !kramdownBlockTags[tag] || !tagEnds(src[n:]) {
			continue
		}
		if !closing {
			open[tag] = append(open[tag], i)
			continue
		}
		if st := open[tag]; len(st) > 0 {
			end := len(src)
			if nl := bytes.IndexByte(src[i:], '\n'); nl >= 0 {
				end = i + nl
			}
			idx[st[len(st)-1]] = end
			open[tag] = st[:len(st)-1]
		}
	}
	return idx
}

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// tagEnds tells whether a tag's name ends where rest starts.
func tagEnds(rest []byte) bool {
	return len(rest) == 0 || rest[0] == '>' || rest[0] == '/' || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}
