package feedcheck

import (
	"html"
	"regexp"
	"strings"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// The validator's view of HTML in a feed (validators.py, HTMLValidator and checkStyle): an element it does
// not know is NotHtml; one it knows but finds risky is SecurityRisk ("description should not contain
// script tag"); an attribute outside its list is SecurityRiskAttr (data-* are fine); a style attribute
// with a property or value outside its lists is DangerousStyleAttr. A link or image whose reference has
// no scheme is ContainsRelRef (absUrlMixin: "description should not contain relative URL references").

// riskyElements are the HTML elements the validator knows and flags (its htmltags less its
// acceptable_elements).
var riskyElements = set("applet base basefont body comment embed frame frameset head html iframe isindex " +
	"link listing meta noframes object param plaintext script slot style title xmp")

// htmlElements are the other elements the validator knows as HTML.
var htmlElements = set("a abbr acronym address area article aside audio b bdi bdo big blockquote br button " +
	"canvas caption center cite code col colgroup command data datagrid datalist dd del details dfn dialog dir " +
	"div dl dt em eventsource fieldset figcaption figure font footer form h1 h2 h3 h4 h5 h6 header hgroup hr i " +
	"img input ins kbd label legend li m main map mark menu meter nav noscript ol optgroup option output p " +
	"picture pre progress q rp rt ruby s samp section select small source span strike strong sub summary sup " +
	"table tbody td template textarea tfoot th thead time tr track tt u ul var video wbr")

// safeAttrs are the attributes the validator accepts on any element.
var safeAttrs = set("abbr accept accept-charset accesskey action align allow allowfullscreen " +
	"allowpaymentrequest alt as autocapitalize autocomplete autofocus autoplay axis background balance bgcolor " +
	"bgproperties border bordercolor bordercolordark bordercolorlight bottompadding cellpadding cellspacing ch " +
	"challenge char charoff choff charset checked cite class clear color cols colspan compact contenteditable " +
	"coords crossorigin data datafld datapagesize datasrc datetime decoding default delay dir dirname disabled " +
	"download draggable dynsrc enctype end enterkeyhint face for form formenctype frame galleryimg gutter " +
	"headers height hidefocus hidden high href hreflang hspace icon id inputmode is ismap itemid itemprop " +
	"itemref itemscope itemtype kind keytype label lang leftspacing loading list longdesc loop loopcount " +
	"loopend loopstart low lowsrc max maxlength media method min minlength multiple muted name nohref nonce " +
	"noshade nowrap open optimum pattern ping placeholder playsinline point-size poster preload prompt pqg " +
	"radiogroup readonly referrerpolicy rel repeat-max repeat-min replace required rev reversed rightspacing " +
	"rows rowspan rules scope selected shape size sizes span spellcheck src srclang srcset start step summary " +
	"suppress tabindex target template title toppadding translate type unselectable usemap urn valign value " +
	"variable volume vspace vrml width wrap xml:lang xmlns")

var safeCSSProps = set("azimuth background background-color border border-bottom border-bottom-color " +
	"border-bottom-style border-bottom-width border-collapse border-color border-left border-left-color " +
	"border-left-style border-left-width border-right border-right-color border-right-style border-right-width " +
	"border-spacing border-style border-top border-top-color border-top-style border-top-width border-width " +
	"clear color cursor direction display elevation float font font-family font-size font-style font-variant " +
	"font-weight height letter-spacing line-height list-style-type margin margin-bottom margin-left " +
	"margin-right margin-top overflow padding padding-bottom padding-left padding-right padding-top pause " +
	"pause-after pause-before pitch pitch-range richness speak speak-header speak-numeral speak-punctuation " +
	"speech-rate stress text-align text-decoration text-indent unicode-bidi vertical-align voice-family volume " +
	"white-space width")

var safeCSSKeywords = set("aqua auto black block blue bold both bottom brown center collapse dashed dotted " +
	"fuchsia gray green !important italic left lime maroon medium none navy normal nowrap olive pointer purple " +
	"red right solid silver teal top transparent underline white yellow")

var boxProps = set("background border margin padding")

var (
	styleChars  = regexp.MustCompile(`^([:,;#%.\sa-zA-Z0-9!]|\w-\w|'[\s\w]+'|"[\s\w]+"|\([\d,\s]+\))*$`)
	styleDecls  = regexp.MustCompile(`^(\s*[-\w]+\s*:\s*[^:;]*(;|$))*$`)
	styleDecl   = regexp.MustCompile(`([-\w]+)\s*:\s*([^:;]*)`)
	cssValue    = regexp.MustCompile(`^(#[0-9a-f]+|rgb\(\d+%?,\d*%?,?\d*%?\)?|\d?\.?\d?\d(cm|em|ex|in|mm|pc|pt|px|%|,|\))?)$`)
	absoluteRef = regexp.MustCompile(`^\w+:`)
)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// dangerousStyle is the validator's checkStyle: what in a style attribute it finds unsafe.
func dangerousStyle(style string) []string {
	if !styleChars.MatchString(style) || !styleDecls.MatchString(style) {
		return []string{style}
	}
	var unsafe []string
	for _, m := range styleDecl.FindAllStringSubmatch(strings.ToLower(style), -1) {
		prop, value := m[1], m[2]
		switch {
		case !safeCSSProps[prop]:
			unsafe = append(unsafe, prop)
		case boxProps[strings.Split(prop, "-")[0]]:
			for _, k := range strings.Fields(value) {
				if !safeCSSKeywords[k] && !cssValue.MatchString(k) {
					unsafe = append(unsafe, k)
				}
			}
		}
	}
	return unsafe
}

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
	case riskyElements[tag]:
		c.add(where, "SecurityRisk", "should not contain %s tag", tag)
		return
	case !htmlElements[tag]:
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
			for _, evil := range dangerousStyle(a.Val) {
				c.add(where, "DangerousStyleAttr", "<%s style=%q>: %s", tag, a.Val, evil)
			}
		case !safeAttrs[name] && !strings.HasPrefix(name, "data-"):
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
		if t := strings.ToLower(m[1]); htmlElements[t] || riskyElements[t] {
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
