// Package htmlsafe holds the W3C feed validator's view of HTML in a feed (validators.py: HTMLValidator and
// checkStyle, from feedparser's sanitizer): the elements it knows, those it finds risky, the attributes it
// accepts and the CSS it finds safe in a style attribute. posts sanitizes content by it and
// internal/feedcheck checks feeds by it, so the two hold to one list.
package htmlsafe

import (
	"regexp"
	"strings"
)

// KnownElement tells whether the validator knows tag (lower case) as HTML, risky or not; it finds any
// other element NotHtml.
func KnownElement(tag string) bool { return htmlElements[tag] || riskyElements[tag] }

// RiskyElement tells whether the validator knows tag (lower case) and flags it as a SecurityRisk
// ("should not contain script tag").
func RiskyElement(tag string) bool { return riskyElements[tag] }

// SafeAttr tells whether the validator accepts the attribute name (lower case, a namespace as "xml:lang")
// on any element; data-* attributes are fine.
func SafeAttr(name string) bool { return safeAttrs[name] || strings.HasPrefix(name, "data-") }

// UnsafeStyle is the validator's checkStyle: what in a style attribute it finds unsafe (the whole style
// when it does not parse, else each property or box value outside its lists), nil when nothing.
func UnsafeStyle(style string) []string {
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

// SafeStyle tells whether the validator finds nothing unsafe in a style attribute.
func SafeStyle(style string) bool { return UnsafeStyle(style) == nil }

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
	styleChars = regexp.MustCompile(`^([:,;#%.\sa-zA-Z0-9!]|\w-\w|'[\s\w]+'|"[\s\w]+"|\([\d,\s]+\))*$`)
	styleDecls = regexp.MustCompile(`^(\s*[-\w]+\s*:\s*[^:;]*(;|$))*$`)
	styleDecl  = regexp.MustCompile(`([-\w]+)\s*:\s*([^:;]*)`)
	cssValue   = regexp.MustCompile(`^(#[0-9a-f]+|rgb\(\d+%?,\d*%?,?\d*%?\)?|\d?\.?\d?\d(cm|em|ex|in|mm|pc|pt|px|%|,|\))?)$`)
)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
