package feedcheck

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// rss checks an RSS 2.0 document (the validator's rss.py, channel.py and item.py).
func (c *checker) rss(root *node) {
	if v, _ := root.attr("version"); v != "2.0" {
		c.add("rss", "InvalidValue", "version %q, want 2.0", v)
	}
	ch := root.first("", "channel")
	if ch == nil {
		c.add("rss", "MissingElement", "rss has no channel")
		return
	}
	for _, e := range []string{"title", "link", "description"} {
		if ch.first("", e) == nil {
			c.add("channel", "MissingElement", "channel has no %s", e)
		}
	}
	c.noDuplicates("channel", ch, "title", "link", "description", "language", "lastBuildDate", "pubDate", "generator", "docs")
	if t := ch.first("", "title"); t != nil {
		c.plainText("channel title", t, "ContainsHTML", true)
	}
	if d := ch.first("", "description"); d != nil {
		c.plainText("channel description", d, "ContainsHTML", true)
	}
	if l := ch.first("", "link"); l != nil {
		c.fullLink("channel link", l.trimmed())
	}
	if l := ch.first("", "language"); l != nil {
		c.language("channel language", l.trimmed())
	}
	for _, e := range []string{"lastBuildDate", "pubDate"} {
		if d := ch.first("", e); d != nil {
			c.rfc822("channel "+e, d.trimmed())
		}
	}
	c.selfLink("channel", ch.all(nsAtom, "link"), "MissingAtomSelfLink")
	guids := map[string]bool{}
	for i, it := range ch.all("", "item") {
		c.item(fmt.Sprintf("item %d", i+1), it, guids)
	}
}

func (c *checker) item(where string, it *node, guids map[string]bool) {
	if l := it.first("", "link"); l != nil {
		where += " (" + l.trimmed() + ")"
		c.fullLink(where+" link", l.trimmed())
	}
	if it.first("", "title") == nil && it.first("", "description") == nil {
		c.add(where, "ItemMustContainTitleOrDescription", "item must contain either title or description")
	}
	c.noDuplicates(where, it, "title", "link", "description", "pubDate", "guid", "author", "comments", "enclosure")
	seenDescription := false
	for _, e := range it.children {
		switch {
		case e.name.Space == "" && e.name.Local == "description":
			seenDescription = true
			c.safeHTML(where+" description", e.text)
		case e.name.Space == nsContent && e.name.Local == "encoded":
			if !seenDescription {
				// item.py: "content:encoded should not appear before description" (also when there is none).
				c.add(where, "NeedDescriptionBeforeContent", "description must come before content:encoded")
			}
			c.safeHTML(where+" content:encoded", e.text)
		case e.name.Space == "" && (e.name.Local == "title" || e.name.Local == "category"),
			e.name.Space == nsDC && e.name.Local == "creator":
			c.plainText(where+" "+e.name.Local, e, "ContainsHTML", true)
		case e.name.Space == "" && e.name.Local == "pubDate":
			c.rfc822(where+" pubDate", e.trimmed())
		case e.name.Space == "" && e.name.Local == "author":
			c.author(where+" author", e.trimmed())
		case e.name.Space == "" && e.name.Local == "enclosure":
			c.enclosure(where+" enclosure", e)
		}
	}
	g := it.first("", "guid")
	if g == nil {
		c.add(where, "MissingGuid", "item should contain a guid element")
		return
	}
	c.guid(where+" guid", g, guids)
}

// guid is item.py's guid: a permalink (the default) must be a full URL and not a tag: or urn:uuid:
// (InvalidHttpGUID, InvalidPermalink); a short number is NotSufficientlyUnique; each guid once per feed
// (DuplicateValue).
func (c *checker) guid(where string, g *node, guids map[string]bool) {
	v := g.trimmed()
	permalink := true
	if p, ok := g.attr("isPermaLink"); ok {
		if p != "true" && p != "false" {
			c.add(where, "InvalidBooleanAttribute", "isPermaLink must be 'true' or 'false', got %q", p)
		}
		permalink = p == "true"
	}
	switch lv := strings.ToLower(v); {
	case permalink && !fullURI.MatchString(idna(v)):
		c.add(where, "InvalidHttpGUID", "guid %q must be a full URL, unless isPermaLink is false", v)
	case permalink && (strings.HasPrefix(lv, "tag:") || strings.HasPrefix(lv, "urn:uuid:")):
		c.add(where, "InvalidPermalink", "guid %q is not a permalink", v)
	case !permalink && len(v) < 9 && isDigits(v):
		c.add(where, "NotSufficientlyUnique", "guid %q", v)
	case !permalink:
		c.id(where, v)
	}
	c.unique(guids, where, "DuplicateValue", v)
}

func isDigits(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// noDuplicates is the validator's noduplicates: DuplicateElement for a second one of these children.
func (c *checker) noDuplicates(where string, n *node, names ...string) {
	for _, name := range names {
		if k := len(n.all("", name)); k > 1 {
			c.add(where, "DuplicateElement", "%d %s elements", k, name)
		}
	}
}

// rfc2822 is the validator's strict date form; a date that fails it but passes the looser rfc822 form is
// ProblematicalRFC822Date, else InvalidRFC2822Date.
var (
	rfc2822 = regexp.MustCompile(`^(((Mon)|(Tue)|(Wed)|(Thu)|(Fri)|(Sat)|(Sun)), )?\d\d? ((Jan)|(Feb)|(Mar)|(Apr)|(May)|(Jun)|(Jul)|(Aug)|(Sep)|(Oct)|(Nov)|(Dec)) \d\d\d\d \d\d:\d\d(:\d\d)? (([+-]?\d\d[03]0)|(UT)|(GMT)|(EST)|(EDT)|(CST)|(CDT)|(MST)|(MDT)|(PST)|(PDT)|Z)$`)
	rfc822  = regexp.MustCompile(`^(((mon)|(tue)|(wed)|(thu)|(fri)|(sat)|(sun))\s*,\s*)?\d\d?\s+((jan)|(feb)|(mar)|(apr)|(may)|(jun)|(jul)|(aug)|(sep)|(oct)|(nov)|(dec))\s+\d\d(\d\d)?\s+\d\d:\d\d(:\d\d)?\s+(([+-]\d\d\d\d)|(ut)|(gmt)|(est)|(edt)|(cst)|(cdt)|(mst)|(mdt)|(pst)|(pdt)|[a-ik-z])?$`)
)

func (c *checker) rfc822(where, v string) {
	if !rfc2822.MatchString(v) {
		if rfc822.MatchString(strings.ToLower(strings.TrimSpace(v))) {
			c.add(where, "ProblematicalRFC822Date", "%q is not in the form RFC 2822 recommends", v)
		} else {
			c.add(where, "InvalidRFC2822Date", "%q must be an RFC-822 date", v)
		}
		return
	}
	var t time.Time
	var err error
	for _, layout := range []string{"Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04 -0700", "2 Jan 2006 15:04:05 -0700",
		"Mon, 2 Jan 2006 15:04:05 MST", "2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04 MST"} {
		if t, err = time.Parse(layout, v); err == nil {
			break
		}
	}
	switch {
	case err != nil:
		c.add(where, "InvalidRFC2822Date", "%q: %v", v, err)
	default:
		if strings.Contains(v, ",") && !strings.EqualFold(t.Format("Mon"), v[:3]) {
			c.add(where, "IncorrectDOW", "%q: %s is a %s", v, t.Format("2 Jan 2006"), t.Format("Monday"))
		}
		c.plausible(where, v, t)
	}
}

// author is item.py's email_with_name: "jane@example.com (Jane Doe)". An address alone is
// MissingRealName, a name before the address EmailFormat, no address InvalidContact.
func (c *checker) author(where, v string) {
	at := strings.Index(v, "@")
	switch {
	case at <= 0:
		c.add(where, "InvalidContact", "%q must include an email address", v)
	case strings.HasSuffix(v, ")"):
	case strings.Contains(v, " "):
		c.add(where, "EmailFormat", "%q: write \"address (Name)\"", v)
	default:
		c.add(where, "MissingRealName", "%q: add the name in parentheses", v)
	}
}

var mimeType = regexp.MustCompile(`^[^\s()<>,;:\\"/\[\]?=]+/[^\s()<>,;:\\"/\[\]?=]+(\s*;\s*[^\s()<>,;:\\"/\[\]?=]+=("(\\"|[^"])*"|[^\s()<>,;:\\"/\[\]?=]+))*$`)

// enclosure is item.py's: an http(s) url (InvalidURLAttribute), a non-negative integer length, a MIME
// type (MissingAttribute, InvalidIntegerAttribute, InvalidMIMEAttribute).
func (c *checker) enclosure(where string, e *node) {
	if u, ok := e.attr("url"); !ok {
		c.add(where, "MissingAttribute", "url")
	} else if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		c.add(where, "InvalidURLAttribute", "url %q must be a full URL", u)
	}
	if l, ok := e.attr("length"); !ok {
		c.add(where, "MissingAttribute", "length")
	} else if n, err := strconv.Atoi(l); err != nil || n < 0 {
		c.add(where, "InvalidIntegerAttribute", "length %q", l)
	}
	if t, ok := e.attr("type"); !ok {
		c.add(where, "MissingAttribute", "type")
	} else if !mimeType.MatchString(t) {
		c.add(where, "InvalidMIMEAttribute", "type %q", t)
	}
}
