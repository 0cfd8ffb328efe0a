package mailer

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText turns a post's HTML into plain text that reads well on its own: paragraphs separated by a
// blank line and wrapped at wrapWidth columns, headings underlined, list items marked ("- " or "1. "),
// quotes prefixed with "> ", preformatted text kept as it is and indented, and each link's text followed
// by a numbered reference ("[3]") whose URL is listed at the end, where a long URL does not break the
// sentence. A link whose text is its URL stays as it is.
//
// Footnotes (the markup of kramdown, goldmark, Hugo and pandoc: a list in an element of class
// "footnotes" or role doc-endnotes, each item linked to from its marker in the text) keep the numbers the
// post gives them: the marker follows its word as "[1]" and the notes are listed after the text, "[1]
// The note.", without their links back. Link references are numbered after the last footnote, so that
// no number means two things.
//
// (Written here rather than taken from a library: the html2text packages in reach write links as
// "text ( url )", drop images, number no ordered list, leave empty "> " lines in quotes and know no
// footnotes.)
func htmlToText(src string) string {
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(src), ctx)
	if err != nil { // only a failing reader makes ParseFragment fail
		return ""
	}
	w := &textWriter{lineStart: true, notes: map[string]int{}}
	for _, n := range nodes {
		w.findNotes(n)
	}
	for _, n := range nodes {
		w.node(n)
	}
	w.writeNotes()
	if len(w.links) > 0 {
		w.block(2)
		for i, u := range w.links {
			w.block(1)
			w.word("[" + strconv.Itoa(len(w.noteItems)+i+1) + "] " + u)
		}
	}
	return w.b.String()
}

// wrapWidth is where running text wraps: about 72 characters read well, and leave room for the "> " of
// a reply.
const wrapWidth = 72

// findNotes records the footnotes under n: their items by id, numbered in order.
func (w *textWriter) findNotes(n *html.Node) {
	if n.Type != html.ElementNode {
		return
	}
	if isNotes(n) {
		var items func(*html.Node)
		items = func(n *html.Node) {
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type != html.ElementNode {
					continue
				}
				if c.DataAtom == atom.Li {
					w.noteItems = append(w.noteItems, c)
					if id := attr(c, "id"); id != "" {
						w.notes[id] = len(w.noteItems)
					}
					continue
				}
				items(c)
			}
		}
		items(n)
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.findNotes(c)
	}
}

// isNotes tells the element that holds a post's footnotes.
func isNotes(n *html.Node) bool {
	if attr(n, "role") == "doc-endnotes" {
		return true
	}
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == "footnotes" {
			return true
		}
	}
	return false
}

// noteRef returns the number of the footnote that a link to href marks, or 0.
func (w *textWriter) noteRef(href string) int {
	if i := strings.LastIndexByte(href, '#'); i >= 0 && len(w.notes) > 0 {
		return w.notes[href[i+1:]]
	}
	return 0
}

// isBacklink tells a footnote's link back to its marker.
func isBacklink(n *html.Node, href string) bool {
	if attr(n, "role") == "doc-backlink" {
		return true
	}
	for _, c := range strings.Fields(attr(n, "class")) {
		switch c {
		case "reversefootnote", "footnote-backref", "footnote-back":
			return true
		}
	}
	i := strings.LastIndexByte(href, '#')
	return i >= 0 && strings.HasPrefix(href[i+1:], "fnref")
}

// writeNotes lists the footnotes after the text.
func (w *textWriter) writeNotes() {
	for i, li := range w.noteItems {
		w.block(2)
		w.flush()
		marker := "[" + strconv.Itoa(i+1) + "] "
		w.prefix = append(w.prefix, strings.Repeat(" ", len(marker)))
		w.marker = marker
		w.lineStart = true
		w.inNote = true
		w.children(li)
		w.inNote = false
		w.marker = ""
		w.prefix = w.prefix[:len(w.prefix)-1]
	}
}

type textWriter struct {
	b          strings.Builder
	prefix     []string // one per open quote ("> ") or list item (spaces as wide as its marker)
	marker     string   // a list item's marker, due at the start of its first line
	breaks     int      // line ends due before the next text: 1 for a new line, 2 for a blank line
	ends       int      // line ends written since the last text
	space      bool     // a space due before the next word on this line
	lineStart  bool
	lastPrefix []string // prefix when the last line was started
	cells      []int
	lists      []int // per open list: the next number, or -1 for a bulleted list
	links      []string
	linkNum    map[string]int
	col        int            // the width of the current line so far
	notes      map[string]int // the footnotes' numbers by their items' ids
	noteItems  []*html.Node   // the footnotes' items, in order
	inNote     bool           // writing a footnote, where paragraphs are not blank-line apart
}

// block asks for at least n line ends before whatever comes next.
func (w *textWriter) block(n int) {
	w.breaks = max(w.breaks, n)
	w.space = false
}

// flush writes the line ends that are due. A blank line carries the prefix that the lines on both sides
// of it share, so a quote's blank lines read ">" and the ones before and after a quote are empty.
func (w *textWriter) flush() {
	if w.b.Len() > 0 && w.breaks > w.ends {
		k := 0
		for k < len(w.lastPrefix) && k < len(w.prefix) && w.lastPrefix[k] == w.prefix[k] {
			k++
		}
		blank := strings.TrimRight(strings.Join(w.prefix[:k], ""), " ")
		for ; w.ends < w.breaks; w.ends++ {
			if w.ends > 0 {
				w.b.WriteString(blank)
			}
			w.b.WriteByte('\n')
		}
		w.lineStart = true
	}
	w.breaks = 0
}

func (w *textWriter) startLine() {
	if !w.lineStart {
		return
	}
	if w.marker != "" && len(w.prefix) > 0 {
		w.b.WriteString(strings.Join(w.prefix[:len(w.prefix)-1], ""))
		w.b.WriteString(w.marker)
		w.marker = ""
	} else {
		w.b.WriteString(strings.Join(w.prefix, ""))
	}
	w.lineStart = false
	w.ends = 0
	w.lastPrefix = append(w.lastPrefix[:0], w.prefix...)
	w.space = false
	w.col = utf8.RuneCountInString(strings.Join(w.prefix, ""))
}

// word writes s on the current line, after a space if one is due, or on the next line when it would pass
// wrapWidth.
func (w *textWriter) word(s string) {
	w.flush()
	n := utf8.RuneCountInString(s)
	if w.lineStart {
		w.startLine()
	} else if w.space {
		if indent := strings.Join(w.prefix, ""); w.col+1+n > wrapWidth && w.col > utf8.RuneCountInString(indent) {
			w.b.WriteString("\n" + indent)
			w.col = utf8.RuneCountInString(indent)
		} else {
			w.b.WriteByte(' ')
			w.col++
		}
	}
	w.space = false
	w.b.WriteString(s)
	w.col += n
}

// line writes s as a line of its own, as it is.
func (w *textWriter) line(s string) {
	w.block(1)
	w.flush()
	if s == "" {
		w.b.WriteString(strings.TrimRight(strings.Join(w.prefix, ""), " "))
		w.lineStart = false
		w.ends = 0
	} else {
		w.startLine()
		w.b.WriteString(s)
		w.col += utf8.RuneCountInString(s)
	}
	w.block(1)
}

// text writes running text, with HTML's white space collapsed.
func (w *textWriter) text(s string) {
	if s == "" {
		return
	}
	if isHTMLSpace(rune(s[0])) && !w.lineStart {
		w.space = true
	}
	for _, f := range strings.FieldsFunc(s, isHTMLSpace) {
		w.word(f)
		w.space = true
	}
	if !isHTMLSpace(rune(s[len(s)-1])) {
		w.space = false
	}
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f'
}

func (w *textWriter) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.node(c)
	}
}

// ref returns the reference number of a link to u, the same number for the same URL.
func (w *textWriter) ref(u string) string {
	if w.linkNum == nil {
		w.linkNum = make(map[string]int)
	}
	n, ok := w.linkNum[u]
	if !ok {
		w.links = append(w.links, u)
		n = len(w.noteItems) + len(w.links)
		w.linkNum[u] = n
	}
	return "[" + strconv.Itoa(n) + "]"
}

func (w *textWriter) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		s := n.Data
		if next := n.NextSibling; w.inNote && next != nil && next.DataAtom == atom.A && isBacklink(next, attr(next, "href")) {
			s = strings.TrimRight(s, "\u00a0 ") // the no-break space before the link back
		}
		w.text(s)
		return
	case html.ElementNode:
	default:
		return
	}
	if len(w.noteItems) > 0 && !w.inNote && isNotes(n) {
		return // listed after the text
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Head, atom.Title, atom.Template, atom.Noscript:
	case atom.Br:
		w.block(1)
	case atom.Hr:
		w.block(2)
		w.line("----")
		w.block(2)
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		w.block(2)
		t := strings.Join(strings.FieldsFunc(textContent(n), isHTMLSpace), " ")
		if t == "" {
			return
		}
		w.word(t)
		mark := "-"
		if n.DataAtom == atom.H1 {
			mark = "="
		}
		w.line(strings.Repeat(mark, utf8.RuneCountInString(t)))
		w.block(2)
	case atom.P, atom.Table, atom.Figure, atom.Dl:
		if w.inNote {
			w.block(1)
			w.children(n)
			w.block(1)
			return
		}
		w.block(2)
		w.children(n)
		w.block(2)
	case atom.Div, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Main, atom.Aside, atom.Nav,
		atom.Figcaption, atom.Address, atom.Dt, atom.Dd, atom.Details, atom.Summary, atom.Center:
		w.block(1)
		w.children(n)
		w.block(1)
	case atom.Blockquote:
		w.block(2)
		w.prefix = append(w.prefix, "> ")
		w.children(n)
		w.block(2)
		w.prefix = w.prefix[:len(w.prefix)-1]
	case atom.Pre:
		w.block(2)
		w.prefix = append(w.prefix, "    ")
		for _, l := range strings.Split(strings.TrimRight(textContent(n), "\n"), "\n") {
			w.line(strings.TrimRight(l, "\r"))
		}
		w.block(2)
		w.prefix = w.prefix[:len(w.prefix)-1]
	case atom.Ul, atom.Ol:
		if len(w.lists) > 0 {
			w.block(1)
		} else {
			w.block(2)
		}
		next := -1
		if n.DataAtom == atom.Ol {
			next = 1
			if s, err := strconv.Atoi(attr(n, "start")); err == nil {
				next = s
			}
		}
		w.lists = append(w.lists, next)
		w.children(n)
		w.lists = w.lists[:len(w.lists)-1]
		if len(w.lists) > 0 {
			w.block(1)
		} else {
			w.block(2)
		}
	case atom.Li:
		w.block(1)
		w.flush()
		marker := "- "
		if k := len(w.lists) - 1; k >= 0 && w.lists[k] >= 0 {
			marker = strconv.Itoa(w.lists[k]) + ". "
			w.lists[k]++
		}
		w.prefix = append(w.prefix, strings.Repeat(" ", len(marker)))
		w.marker = marker
		w.lineStart = true
		w.children(n)
		w.block(1)
		w.marker = ""
		w.prefix = w.prefix[:len(w.prefix)-1]
	case atom.Tr:
		w.block(1)
		w.cells = append(w.cells, 0)
		w.children(n)
		w.cells = w.cells[:len(w.cells)-1]
		w.block(1)
	case atom.Td, atom.Th:
		if k := len(w.cells) - 1; k >= 0 {
			if w.cells[k] > 0 {
				w.space = true
				w.word("|")
				w.space = true
			}
			w.cells[k]++
		}
		w.children(n)
	case atom.A:
		href := strings.TrimSpace(attr(n, "href"))
		if isBacklink(n, href) && w.inNote {
			return
		}
		if k := w.noteRef(href); k > 0 && !w.inNote {
			w.word("[" + strconv.Itoa(k) + "]") // glued to the word before, as the superscript was
			return
		}
		w.children(n)
		if href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(strings.ToLower(href), "javascript:") {
			return
		}
		t := strings.Join(strings.FieldsFunc(textContent(n), isHTMLSpace), " ")
		if t == href || "mailto:"+t == href {
			return
		}
		w.space = true
		w.word(w.ref(href))
	case atom.Img:
		alt := strings.Join(strings.FieldsFunc(attr(n, "alt"), isHTMLSpace), " ")
		if alt == "" {
			alt = "image"
		}
		w.word("[" + alt + "]")
		if src := attr(n, "src"); src != "" && !insideLink(n) {
			w.space = true
			w.word(w.ref(src))
		}
		w.space = true
	case atom.Iframe, atom.Video, atom.Audio:
		src := attr(n, "src")
		w.space = true
		w.word("[" + n.Data + "]")
		if src != "" {
			w.space = true
			w.word(w.ref(src))
		}
		w.space = true
	default:
		w.children(n)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func insideLink(n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.DataAtom == atom.A {
			return true
		}
	}
	return false
}

func textContent(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			if n.DataAtom == atom.Br {
				b.WriteByte('\n')
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
