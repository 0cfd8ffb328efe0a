package mailer

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// contentWidth is the width of a post's column in the email: the 600 px frame less its padding.
const contentWidth = 536

// fitContent makes a post's HTML fit a phone's width as well as the 600 px frame: each table goes into a
// container that scrolls sideways (a table does not shrink below its widest row), and each image gets a
// width attribute of at most the column's width (Outlook on Windows sizes images by the attribute and
// ignores max-width; the stylesheet caps the rest at the screen's width). An image without a width is
// given the column's, with width:auto in its style, which every client but Outlook follows: there it
// keeps its own size up to the screen's width, and in Outlook it fills the column. A code block scrolls,
// and long words break, by the stylesheet alone.
func fitContent(src string) string {
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(src), ctx)
	if err != nil {
		return src
	}
	changed := false
	for _, n := range nodes {
		ctx.AppendChild(n)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; {
			next := c.NextSibling
			if c.Type == html.ElementNode {
				switch c.DataAtom {
				case atom.Table:
					if !hasClass(n, "scroll") {
						wrap(c, "scroll")
						changed = true
					}
					c = next
					continue // a table inside a table scrolls with it
				case atom.Img:
					changed = fitImage(c) || changed
				}
				walk(c)
			}
			c = next
		}
	}
	walk(ctx)
	if !changed {
		return src
	}
	var b strings.Builder
	for c := ctx.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			return src
		}
	}
	return b.String()
}

// wrap puts n into a new <div class="class">.
func wrap(n *html.Node, class string) {
	div := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div, Attr: []html.Attribute{{Key: "class", Val: class}}}
	n.Parent.InsertBefore(div, n)
	n.Parent.RemoveChild(n)
	div.AppendChild(n)
}

func hasClass(n *html.Node, class string) bool {
	return n.Type == html.ElementNode && strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

// fitImage gives an image a width attribute of at most contentWidth, and a height in proportion to it (or
// none), and reports whether it changed it.
func fitImage(n *html.Node) bool {
	w, errW := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(attr(n, "width")), "px"))
	h, errH := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(attr(n, "height")), "px"))
	switch {
	case errW == nil && w > 0 && w <= contentWidth:
		return false
	case errW == nil && w > contentWidth:
		setAttr(n, "width", strconv.Itoa(contentWidth))
		if errH == nil && h > 0 {
			setAttr(n, "height", strconv.Itoa((h*contentWidth+w/2)/w))
		} else {
			delAttr(n, "height")
		}
	default:
		setAttr(n, "width", strconv.Itoa(contentWidth))
		delAttr(n, "height")
		style := strings.TrimSpace(attr(n, "style"))
		if style != "" && !strings.HasSuffix(style, ";") {
			style += ";"
		}
		setAttr(n, "style", "width:auto;"+style)
	}
	return true
}

func setAttr(n *html.Node, key, val string) {
	for i, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			n.Attr[i].Val = val
			return
		}
	}
	n.Attr = append(n.Attr, html.Attribute{Key: key, Val: val})
}

func delAttr(n *html.Node, key string) {
	for i, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			n.Attr = append(n.Attr[:i], n.Attr[i+1:]...)
			return
		}
	}
}
