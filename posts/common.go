package posts

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// fillCommon reads the front matter keys that mean the same in every kind of site into p: title, dates
// after the first, authors, categories, tags, image, enclosure, language, excerpt settings and id.
// Kind-specific keys (the post date, the permalink, drafts) are the loaders' business.
func (s *Site) fillCommon(p *Post, fm *frontMatter, authors map[string]Author) []Warning {
	var warns []Warning
	d := fm.data
	p.Data = d
	// The title as written: YAML would read "title: 3.0" as a number and "title: 2020-01-01" as a time.
	t, ok := fm.raw["title"]
	if !ok {
		t = str(d["title"])
	}
	if t != "" {
		p.Title = plainTitle(t)
	}
	for _, k := range []string{"last_modified_at", "lastmod", "updated"} {
		if raw, ok := fm.raw[k]; ok && raw != "" {
			t, guessed, err := parseDate(raw, s.Location)
			if err != nil {
				warns = append(warns, Warning{p.Path, fm.line(k), k + ": " + err.Error() + "; ignored"})
				continue
			}
			if guessed {
				warns = append(warns, Warning{p.Path, fm.line(k), fmt.Sprintf("%s: read %q as %s", k, raw, t.Format(time.RFC3339))})
			}
			p.Updated = t
			break
		}
	}
	for _, k := range []string{"id", "guid"} {
		if id := strings.TrimSpace(str(d[k])); id != "" {
			p.ID, p.hasID = id, true
			break
		}
	}
	p.Authors = s.postAuthors(d, authors)
	for i, a := range p.Authors {
		if a.URL != "" {
			p.Authors[i].URL = s.siteRef(a.URL)
		}
	}
	p.Categories = appendUnique(p.Categories, list(d["category"])...)
	p.Categories = appendUnique(p.Categories, list(d["categories"])...)
	p.Tags = appendUnique(p.Tags, list(d["tags"])...)
	p.Tags = appendUnique(p.Tags, list(d["tag"])...)
	switch img := d["image"].(type) {
	case string:
		p.Image = s.siteRef(img)
	case map[string]any:
		p.Image = s.siteRef(firstString(img, "path", "url", "src"))
	}
	if e, ok := d["enclosure"].(map[string]any); ok {
		enc := &Enclosure{URL: s.siteRef(str(e["url"])), Type: str(e["type"])}
		if l := str(e["length"]); l != "" {
			n, err := strconv.ParseInt(l, 10, 64)
			if err != nil || n < 0 {
				warns = append(warns, Warning{p.Path, fm.line("enclosure"), "enclosure length " + strconv.Quote(l) + " is not a number of bytes; written as 0"})
				n = 0 // ParseInt gives the largest int64 for a number too big
			}
			enc.Length = n
		}
		if enc.URL == "" || enc.Type == "" {
			warns = append(warns, Warning{p.Path, fm.line("enclosure"), "enclosure needs url and type (a MIME type like audio/mpeg); left out"})
		} else {
			p.Enclosure = enc
		}
	}
	p.Lang = str(d["lang"])
	if b, ok := boolean(d["excerpt_only"]); ok {
		p.ExcerptOnly = b
	}
	warns = append(warns, fillMail(p, fm)...)
	p.excerpt = firstString(d, "description", "excerpt", "summary")
	if sep, ok := d["excerpt_separator"].(string); ok && sep != "" {
		p.sep = sep
	}
	return warns
}

// postAuthors reads author (a name, a key of the authors data file, or an object) and authors (a list of
// either), falling back to the site's author.
func (s *Site) postAuthors(d map[string]any, known map[string]Author) []Author {
	var out []Author
	add := func(v any) {
		switch v := v.(type) {
		case string:
			if v = strings.TrimSpace(v); v == "" {
				return
			}
			if a, ok := known[v]; ok {
				out = append(out, a)
			} else {
				out = append(out, Author{Name: v})
			}
		case map[string]any:
			a := Author{Name: firstString(v, "name", "display_name"), Email: firstString(v, "email"), URL: firstString(v, "url", "uri", "web")}
			if a.Name != "" || a.Email != "" {
				out = append(out, a)
			}
		}
	}
	add(d["author"])
	if as, ok := d["authors"].([]any); ok {
		for _, a := range as {
			add(a)
		}
	} else {
		add(d["authors"])
	}
	if len(out) == 0 && (s.Author.Name != "" || s.Author.Email != "") {
		out = append(out, s.Author)
	}
	return out
}

// authorFrom reads a site-level author: a name or an object with name, email and url.
func authorFrom(v any) Author {
	switch v := v.(type) {
	case string:
		return Author{Name: strings.TrimSpace(v)}
	case map[string]any:
		return Author{Name: firstString(v, "name"), Email: firstString(v, "email"), URL: firstString(v, "url", "uri")}
	}
	return Author{}
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(str(m[k])); v != "" {
			return v
		}
	}
	return ""
}

func appendUnique(dst []string, vs ...string) []string {
outer:
	for _, v := range vs {
		for _, d := range dst {
			if d == v {
				continue outer
			}
		}
		dst = append(dst, v)
	}
	return dst
}

// titleFromSlug is Jekyll's Utils.titleize_slug: "no-yaml" becomes "No Yaml".
func titleFromSlug(slug string) string {
	words := strings.Split(slug, "-")
	for i, w := range words {
		if r, n := utf8.DecodeRuneInString(w); n > 0 {
			words[i] = string(unicode.ToTitle(r)) + w[n:]
		}
	}
	return strings.Join(words, " ")
}

// frontMatterDate reads the first of keys that holds a date, in the site's zone when it has none, warning when it
// had to guess at the form. A flag (published: true) is not a date and is skipped.
func (s *Site) frontMatterDate(fm *frontMatter, rel string, warns *[]Warning, keys ...string) (time.Time, error) {
	for _, k := range keys {
		raw := strings.TrimSpace(fm.raw[k])
		if raw == "" {
			continue
		}
		if _, isFlag := boolean(fm.data[k]); isFlag {
			continue
		}
		t, guessed, err := parseDate(raw, s.Location)
		if err != nil {
			return time.Time{}, &Error{File: rel, Line: fm.line(k), Msg: k + ": " + err.Error()}
		}
		if guessed {
			*warns = append(*warns, Warning{rel, fm.line(k), fmt.Sprintf("%s %q is not in a standard form; read it as %s", k, raw, t.Format(time.RFC3339))})
		}
		return t, nil
	}
	return time.Time{}, nil
}

// fillMail reads what the post's front matter says of its mail: email: false (in the feeds, mailed to
// nobody), email_after: a duration (the mail waits that long after the post is first published), hold:
// true (the mail waits for herald send --approve). An email_after that is not a duration holds the mail,
// rather than send it at once.
func fillMail(p *Post, fm *frontMatter) []Warning {
	d := fm.data
	if b, ok := boolean(d["email"]); ok && !b {
		p.NoEmail = true
	}
	if b, ok := boolean(d["hold"]); ok && b {
		p.Hold = true
	}
	v, ok := d["email_after"]
	if !ok || v == nil {
		return nil
	}
	after, err := time.ParseDuration(strings.TrimSpace(fmt.Sprint(v)))
	if err != nil || after < 0 {
		p.Hold = true
		return []Warning{{p.Path, fm.line("email_after"), fmt.Sprintf("email_after %q is not a duration like 2h or 90m; the post's mail is held for herald send --approve", fmt.Sprint(v))}}
	}
	p.EmailAfter = after
	return nil
}
