// Package feedcheck checks RSS 2.0 and Atom 1.0 documents against the rules of the W3C feed validator
// (github.com/w3c/feedvalidator, level AA: its errors and warnings) that a blog's feed can break, for
// tests: the validator is Python that CI cannot install, so its checks that Herald's feeds can hit are
// ported here, each named by the validator message it stands for.
package feedcheck

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Problem is one message the validator would give.
type Problem struct {
	Message string // the validator's message class, e.g. "SecurityRisk"
	Where   string // the element: "item 3 (https://…) description"
	Detail  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s: %s", p.Where, p.Message, p.Detail)
}

// Options say what the validator would know beyond the document.
type Options struct {
	// Location is the URL the document is served at; its self link must equal it
	// (SelfDoesntMatchLocation). Empty: the self link need only be there and absolute.
	Location string
	// Now is when the feed is read: a date more than ten minutes after it is implausible. Zero: no check
	// of future dates.
	Now time.Time
}

const (
	nsAtom    = "http://www.w3.org/2005/Atom"
	nsContent = "http://purl.org/rss/1.0/modules/content/"
	nsDC      = "http://purl.org/dc/elements/1.1/"
)

// Check reads an RSS 2.0 or Atom 1.0 document and returns every problem the validator would report, in
// document order. A document that is not well-formed XML is an error.
func Check(data []byte, o Options) ([]Problem, error) {
	root, err := parse(data)
	if err != nil {
		return nil, err
	}
	c := &checker{o: o}
	c.badCharacters(root, "")
	switch {
	case root.name.Space == "" && root.name.Local == "rss":
		c.rss(root)
	case root.name.Space == nsAtom && root.name.Local == "feed":
		c.atom(root)
	default:
		return nil, fmt.Errorf("feedcheck: %s is neither RSS 2.0 nor Atom 1.0", root.name.Local)
	}
	return c.problems, nil
}

type checker struct {
	o        Options
	problems []Problem
}

func (c *checker) add(where, message, format string, args ...any) {
	c.problems = append(c.problems, Problem{Message: message, Where: where, Detail: fmt.Sprintf(format, args...)})
}

// selfLink checks the document's self link: MissingAtomSelfLink (RSS) or MissingSelf (Atom) when there is
// none, SelfDoesntMatchLocation when it is not where the document is.
func (c *checker) selfLink(where string, links []*node, missing string) {
	for _, l := range links {
		if rel, _ := l.attr("rel"); rel != "self" {
			continue
		}
		href, _ := l.attr("href")
		if c.o.Location != "" && href != c.o.Location {
			c.add(where, "SelfDoesntMatchLocation", "self link %q, document at %q", href, c.o.Location)
		} else if !fullURI.MatchString(idna(href)) {
			c.add(where, "InvalidFullLink", "self link %q is not a full URL", href)
		}
		return
	}
	c.add(where, missing, "no link rel=\"self\"")
}

// fullURI is the validator's rfc2396_full: a scheme, then URI characters only.
var fullURI = regexp.MustCompile(`^[a-zA-Z][0-9a-zA-Z+\-.]*:(//)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+$`)

// fullLink is rfc2396_full as the validator applies it to links (InvalidFullLink), with its extra rule
// that http and ftp URLs have an authority.
func (c *checker) fullLink(where, v string) {
	u := idna(v)
	if !fullURI.MatchString(u) || (strings.HasPrefix(u, "http:") || strings.HasPrefix(u, "https:")) && !strings.HasPrefix(u[strings.Index(u, ":"):], "://") {
		c.add(where, "InvalidFullLink", "%q must be a full and valid URL", v)
	}
}

// idna stands in for the validator's IRI handling (rfc3987 encodes the IRI before matching): non-ASCII
// characters are percent-encoded, as a reader would send them.
func idna(v string) string {
	var b strings.Builder
	for _, r := range v {
		if r < 0x80 {
			b.WriteRune(r)
		} else {
			b.WriteString(url.PathEscape(string(r)))
		}
	}
	return b.String()
}

// tagURI is the validator's tag: URI syntax (RFC 4151), InvalidTAG when a tag: id breaks it.
var tagURI = regexp.MustCompile(`^tag:([a-z0-9\-._]+?@)?[a-z0-9.\-]+?,\d{4}(-\d{2}(-\d{2})?)?:[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*(#[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*)?$`)

// id checks an Atom id or an RSS guid that is not a permalink: a tag: URI must be one (InvalidTAG),
// anything else a full URI (InvalidFullLink).
func (c *checker) id(where, v string) {
	if strings.HasPrefix(strings.ToLower(v), "tag:") {
		if !tagURI.MatchString(idna(v)) {
			c.add(where, "InvalidTAG", "%q is not a valid TAG", v)
		}
		return
	}
	c.fullLink(where, v)
}

// plausible is the validator's ImplausibleDate: a date before 1990, or more than ten minutes after the
// feed was read.
func (c *checker) plausible(where, v string, t time.Time) {
	if t.Year() < 1990 || !c.o.Now.IsZero() && t.After(c.o.Now.Add(10*time.Minute)) {
		c.add(where, "ImplausibleDate", "%q", v)
	}
}

// unique reports a value seen before in the same feed (DuplicateValue for guids, DuplicateEntries for
// Atom ids).
func (c *checker) unique(seen map[string]bool, where, message, v string) {
	if seen[v] {
		c.add(where, message, "%q appears twice in the feed", v)
	}
	seen[v] = true
}

// badCharacters is the validator's BadCharacters: text or an attribute with a C1 control character
// (U+0080 to U+009F, what windows-1252 text read as Latin-1 leaves) or U+FFFD (what invalid UTF-8 became).
func (c *checker) badCharacters(n *node, where string) {
	where = strings.TrimSpace(where + " " + n.name.Local)
	bad := func(s string) bool {
		return strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 && r <= 0x9f || r == 0xfffd })
	}
	if bad(n.text) {
		c.add(where, "BadCharacters", "%q holds a C1 control character or U+FFFD", n.text)
	}
	for _, a := range n.attrs {
		if bad(a.Value) {
			c.add(where, "BadCharacters", "attribute %s=%q holds a C1 control character or U+FFFD", a.Name.Local, a.Value)
		}
	}
	for _, k := range n.children {
		c.badCharacters(k, where)
	}
}

// language is the validator's InvalidLanguage for RSS's language and xml:lang, as the form of a language
// tag (RFC 5646: a two- or three-letter code, then subtags); the validator also looks the code up in ISO
// 639, which this does not.
var languageTag = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$`)

func (c *checker) language(where, v string) {
	if !languageTag.MatchString(v) {
		c.add(where, "InvalidLanguage", "%q must be an ISO-639 language code", v)
	}
}
