package feedcheck

import (
	"html"
	"regexp"
	"strings"

	"github.com/heraldhq/herald/internal/htmlsafe"
	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// The validator's view of HTML in a feed (validators.py, HTMLValidator and checkStyle; its lists are
// internal/htmlsafe's): an element it does not know is NotHtml; one it knows but finds risky is
// SecurityRisk ("description should not contain script tag"); an attribute outside its list is
// SecurityRiskAttr (data-* are fine); a style attribute with a property or value outside its lists is
// DangerousStyleAttr. A link or image whose reference has
// no scheme is ContainsRelRef (absUrlMixin: "description should not contain relative URL references").

// absoluteRef is a reference with a scheme.
var absoluteRef = regexp.MustCompile(`^\w+:`)

// safeHTML checks HTML content as the validator's safeHtml does, and its references as absUrlMixin does.
func (c *checker) safeHTML(where, h string) {
	nodes, err := xhtml.ParseFragment(strings.NewReader(h), &xhtml.Node{Type: xhtml.ElementNode, Data: "body", DataAtom: atom.Body})
	if err != nil {
		c.add(where, "NotHtml", "%v", err)
		return
	}
	for _, n := range nodes {
		c.walkHTML(where, n)
	}
}

func (c *checker) walkHTML(where string, n *xhtml.Node) {
	if n.Type == xhtml.ElementNode {
		c.element(where, n)
	}
	for k := n.FirstChild; k != nil; k = k.NextSibling {
		c.walkHTML(where, k)
	}
}

func (c *checker) element(where string, n *xhtml.Node) {
	tag := strings.ToLower(n.Data)
	switch {
	case htmlsafe.RiskyElement(tag):
		c.add(where, "SecurityRisk", "should not contain %s tag", tag)
		return
	case !htmlsafe.KnownElement(tag):
		c.add(where, "NotHtml", "non-html tag %s", tag)
		return
	}
	for _, a := range n.Attr {
		name := strings.ToLower(a.Key)
		if a.Namespace != "" {
			name = a.Namespace + ":" + name
		}
		switch {
		case name == "style":
			for _, evil := range htmlsafe.UnsafeStyle(a.Val) {
				c.add(where, "DangerousStyleAttr", "<%s style=%q>: %s", tag, a.Val, evil)
			}
		case !htmlsafe.SafeAttr(name):
			c.add(where, "SecurityRiskAttr", "<%s %s=%q>", tag, name, a.Val)
		}
		if (tag == "a" && name == "href" || tag == "img" && name == "src") && !absoluteRef.MatchString(strings.TrimSpace(a.Val)) {
			c.add(where, "ContainsRelRef", "<%s %s=%q>", tag, name, a.Val)
		}
	}
}

var (
	htmlEndTag = regexp.MustCompile(`</(\w+)>`)
	entityRef  = regexp.MustCompile(`&(#?\w+);`)
	// namedOrDecimal is how plain text may not write "&" and "<" (RSS Best Practices Profile).
	namedOrDecimal = regexp.MustCompile(`&(amp|lt|#0*38|#0*60);|<!\[CDATA\[[^\]]*[&<]`)
)

// plainText checks an element of plain text (the validator's nonhtml): HTML end tags or entity references
// in the decoded text are ContainsHTML (or, in an Atom text construct, ContainsUndeclaredHTML): the text
// was escaped twice, or is HTML. In RSS 2.0, "&" and "<" written other than as hexadecimal character
// references are CharacterData ("Encode "&" and "<" in plain text using hexadecimal character references").
func (c *checker) plainText(where string, n *node, message string, rss bool) {
	for _, m := range htmlEndTag.FindAllStringSubmatch(n.text, -1) {
		if t := strings.ToLower(m[1]); htmlsafe.KnownElement(t) {
			c.add(where, message, "%q holds HTML (%s)", n.text, m[0])
			return
		}
	}
	for _, m := range entityRef.FindAllStringSubmatch(n.text, -1) {
		if strings.HasPrefix(m[1], "#") || m[1] == "apos" || html.UnescapeString(m[0]) != m[0] {
			c.add(where, message, "%q holds the entity %s: escaped twice", n.text, m[0])
			return
		}
	}
	if rss && namedOrDecimal.MatchString(n.raw) {
		c.add(where, "CharacterData", "%q: encode \"&\" and \"<\" in plain text as &#x26; and &#x3C;", n.raw)
	}
}
