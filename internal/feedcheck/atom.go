package feedcheck

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// atom checks an Atom 1.0 document (the validator's feed.py, entry.py, content.py and link.py).
func (c *checker) atom(f *node) {
	for _, e := range []string{"id", "title", "updated"} {
		if f.first(nsAtom, e) == nil {
			c.add("feed", "MissingElement", "feed has no %s", e)
		}
	}
	c.noDuplicatesNS("feed", f, "id", "title", "updated", "subtitle", "generator", "rights", "icon", "logo")
	if id := f.first(nsAtom, "id"); id != nil {
		c.atomID("feed id", id)
	}
	c.xmlLang("feed", f)
	if u := f.first(nsAtom, "updated"); u != nil {
		c.rfc3339("feed updated", u.trimmed())
	}
	for _, e := range []string{"title", "subtitle"} {
		if t := f.first(nsAtom, e); t != nil {
			c.textConstruct("feed "+e, t)
		}
	}
	links := f.all(nsAtom, "link")
	c.selfLink("feed", links, "MissingSelf")
	c.alternates("feed", links)
	feedAuthor := f.first(nsAtom, "author") != nil
	ids := map[string]bool{}
	for i, e := range f.all(nsAtom, "entry") {
		c.entry(fmt.Sprintf("entry %d", i+1), e, feedAuthor, ids)
	}
}

func (c *checker) entry(where string, e *node, feedAuthor bool, ids map[string]bool) {
	links := e.all(nsAtom, "link")
	for _, l := range links {
		if rel, _ := l.attr("rel"); rel == "alternate" || rel == "" {
			href, _ := l.attr("href")
			where += " (" + href + ")"
			break
		}
	}
	for _, name := range []string{"title", "id", "updated"} {
		if e.first(nsAtom, name) == nil {
			c.add(where, "MissingElement", "entry has no %s", name)
		}
	}
	if !feedAuthor && e.first(nsAtom, "author") == nil {
		c.add(where, "MissingElement", "entry has no author, nor has the feed")
	}
	c.noDuplicatesNS(where, e, "id", "title", "updated", "published", "content", "summary", "rights", "source")
	if id := e.first(nsAtom, "id"); id != nil {
		c.atomID(where+" id", id)
		c.unique(ids, where+" id", "DuplicateEntries", id.trimmed())
	}
	c.xmlLang(where, e)
	for _, name := range []string{"updated", "published"} {
		if d := e.first(nsAtom, name); d != nil {
			c.rfc3339(where+" "+name, d.trimmed())
		}
	}
	for _, name := range []string{"title", "summary", "content"} {
		if t := e.first(nsAtom, name); t != nil {
			c.textConstruct(where+" "+name, t)
		}
	}
	content := e.first(nsAtom, "content")
	if content == nil && e.first(nsAtom, "summary") == nil {
		// entry.py: "Missing textual content: summary or content"
		c.add(where, "MissingTextualContent", "entry has neither content nor summary")
	}
	if content == nil {
		hasAlternate := false
		for _, l := range links {
			if rel, _ := l.attr("rel"); rel == "alternate" || rel == "" {
				hasAlternate = true
			}
		}
		if !hasAlternate {
			c.add(where, "MissingContentOrAlternate", "entry has neither content nor a link rel=\"alternate\"")
		}
	}
	c.alternates(where, links)
}

// alternates is entry.py's DuplicateAtomLink: one alternate link per type and hreflang.
func (c *checker) alternates(where string, links []*node) {
	seen := map[string]bool{}
	for _, l := range links {
		if rel, _ := l.attr("rel"); rel != "alternate" && rel != "" {
			continue
		}
		t, _ := l.attr("type")
		lang, _ := l.attr("hreflang")
		if seen[t+" "+lang] {
			c.add(where, "DuplicateAtomLink", "two alternate links of type %q and hreflang %q", t, lang)
		}
		seen[t+" "+lang] = true
	}
}

func (c *checker) noDuplicatesNS(where string, n *node, names ...string) {
	for _, name := range names {
		if k := len(n.all(nsAtom, name)); k > 1 {
			c.add(where, "DuplicateElement", "%d %s elements", k, name)
		}
	}
}

// textConstruct is content.py's textConstruct: type text holds no HTML (ContainsUndeclaredHTML), type
// html is safe HTML, and neither is blank (NotBlank). Relative references in Atom HTML are the
// validator's concern only in RSS (Atom has xml:base); Herald promises absolute URLs in every feed, so
// they are checked here too (ContainsRelRef).
func (c *checker) textConstruct(where string, t *node) {
	typ, ok := t.attr("type")
	if !ok {
		typ = "text"
	}
	switch typ {
	case "text":
		c.plainText(where, t, "ContainsUndeclaredHTML", false)
	case "html":
		c.safeHTML(where, t.text)
	case "xhtml":
	default:
		c.add(where, "InvalidTextType", "type %q", typ)
	}
	if strings.TrimSpace(t.text) == "" && len(t.children) == 0 {
		c.add(where, "NotBlank", "%s can not be blank", t.name.Local)
	}
}

// rfc3339 is the validator's: InvalidRFC3339Date, and ImplausibleDate.
var rfc3339 = regexp.MustCompile(`^\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*)?(Z|([+-]\d\d:\d\d))$`)

func (c *checker) rfc3339(where, v string) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if !rfc3339.MatchString(v) || err != nil {
		c.add(where, "InvalidRFC3339Date", "%q must be an RFC 3339 date-time", v)
		return
	}
	c.plausible(where, v, t)
}

// atomID is entry.py's id: a full URI (or a valid tag:), in its canonical form (NonCanonicalURI),
// without white space around it (UnexpectedWhitespace).
func (c *checker) atomID(where string, n *node) {
	v := n.trimmed()
	if v != n.text {
		c.add(where, "UnexpectedWhitespace", "%q", n.text)
	}
	c.id(where, v)
	if canon, ok := canonical(v); !ok || canon != v {
		c.add(where, "NonCanonicalURI", "%q is not in canonical form (%q)", v, canon)
	}
}

func (c *checker) xmlLang(where string, n *node) {
	for _, a := range n.attrs {
		if a.Name.Space == "http://www.w3.org/XML/1998/namespace" && a.Name.Local == "lang" {
			c.language(where+" xml:lang", a.Value)
		}
	}
}
