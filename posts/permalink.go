package posts

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Jekyll's built-in permalink styles (https://jekyllrb.com/docs/permalinks/#built-in-formats).
var permalinkStyles = map[string]string{
	"date":     "/:categories/:year/:month/:day/:title:output_ext",
	"pretty":   "/:categories/:year/:month/:day/:title/",
	"ordinal":  "/:categories/:year/:y_day/:title:output_ext",
	"weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
	"none":     "/:categories/:title:output_ext",
}

// permalinkVars are the values a permalink template's placeholders take.
type permalinkVars struct {
	date       time.Time
	slug       string // from the file name, or front matter slug
	name       string // the file name without its extension
	path       string // the file's path below the collection folder, without extension
	categories []string
	outputExt  string // ".html", or the file's own extension when Jekyll does not convert it
	collection string
}

// expandPermalink fills a permalink template (or a style name) and returns the URL path, which always
// starts with "/" and never climbs above the site root.
func expandPermalink(tmpl string, v permalinkVars) (string, error) {
	if style, ok := permalinkStyles[tmpl]; ok {
		tmpl = style
	}
	var b strings.Builder
	for rest := tmpl; rest != ""; {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		rest = rest[i+1:]
		n := 0
		for n < len(rest) && (rest[n] >= 'a' && rest[n] <= 'z' || rest[n] == '_') {
			n++
		}
		if n == 0 {
			b.WriteByte(':')
			continue
		}
		// The longest known name wins: ":title:output_ext" has no separator, ":yearX" is ":year" and "X".
		val, tail, ok := permalinkValue(rest[:n], v)
		if !ok {
			return "", fmt.Errorf("unknown permalink placeholder :%s in %q; see https://jekyllrb.com/docs/permalinks/#placeholders", rest[:n], tmpl)
		}
		b.WriteString(val)
		b.WriteString(tail)
		rest = rest[n:]
	}
	out := b.String()
	return cleanURLPath(out), nil
}

// permalinkValue looks name up, trying shorter prefixes so that ":yearX" reads as ":year" then "X".
func permalinkValue(name string, v permalinkVars) (val, rest string, ok bool) {
	for n := len(name); n > 0; n-- {
		if val, ok := placeholderValue(name[:n], v); ok {
			return val, name[n:], true
		}
	}
	return "", "", false
}

func placeholderValue(name string, v permalinkVars) (string, bool) {
	d := v.date
	switch name {
	case "year":
		return strconv.Itoa(d.Year()), true
	case "short_year":
		return d.Format("06"), true
	case "month":
		return d.Format("01"), true
	case "i_month":
		return strconv.Itoa(int(d.Month())), true
	case "short_month":
		return d.Format("Jan"), true
	case "long_month":
		return d.Format("January"), true
	case "day":
		return d.Format("02"), true
	case "i_day":
		return strconv.Itoa(d.Day()), true
	case "y_day":
		return fmt.Sprintf("%03d", d.YearDay()), true
	case "short_day":
		return d.Format("Mon"), true
	case "long_day":
		return d.Format("Monday"), true
	case "w_year":
		y, _ := d.ISOWeek()
		return strconv.Itoa(y), true
	case "week":
		_, w := d.ISOWeek()
		return fmt.Sprintf("%02d", w), true
	case "w_day":
		wd := int(d.Weekday())
		if wd == 0 {
			wd = 7
		}
		return strconv.Itoa(wd), true
	case "hour":
		return d.Format("15"), true
	case "minute":
		return d.Format("04"), true
	case "second":
		return d.Format("05"), true
	case "title":
		return escapePath(slugify(v.slug, true, true)), true
	case "slug":
		return escapePath(slugify(v.slug, false, false)), true
	case "name":
		return escapePath(slugify(v.name, true, true)), true
	case "path":
		return escapePath(v.path), true
	case "categories":
		seen := map[string]bool{}
		var cs []string
		for _, c := range v.categories {
			c = strings.ToLower(c)
			if !seen[c] {
				seen[c] = true
				cs = append(cs, escapePath(c))
			}
		}
		return strings.Join(cs, "/"), true
	case "output_ext":
		return v.outputExt, true
	case "collection":
		return v.collection, true
	}
	return "", false
}

// slugify follows Jekyll's Utils.slugify: "pretty" mode keeps letters, digits and ._~!$&'()+,;=@ and turns
// every other run of characters into one hyphen; the default mode keeps only letters and digits.
func slugify(s string, pretty, cased bool) string {
	keep := func(r rune) bool {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r) {
			return true
		}
		return pretty && strings.ContainsRune("._~!$&'()+,;=@", r)
	}
	var b strings.Builder
	hyphen := false
	for _, r := range s {
		if keep(r) {
			b.WriteRune(r)
			hyphen = false
		} else if !hyphen {
			b.WriteByte('-')
			hyphen = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if !cased {
		out = strings.ToLower(out)
	}
	return out
}

// escapePath percent-encodes what may not stand in a URL path (RFC 3986: unreserved characters,
// sub-delimiters, ":", "@" and "/" stay), as Jekyll's URL.escape_path does. net/url escapes more ("(" and
// ")" among them), which would not match the links Jekyll writes.
func escapePath(s string) string {
	const keep = "-._~!$&'()*+,;=:@/"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// cleanURLPath makes a permalink a clean absolute path: one leading slash, no empty segments, and no "." or
// ".." segments (decoded or percent-encoded), so that a permalink cannot point outside the site.
func cleanURLPath(p string) string {
	if strings.HasPrefix(p, "/") && !strings.Contains(p, "//") && !strings.Contains(p, "%") && !strings.Contains(p, "/.") && !strings.Contains(p, "..") {
		return p
	}
	trailing := strings.HasSuffix(p, "/")
	var segs []string
	for _, s := range strings.Split(p, "/") {
		// Jekyll collapses runs of dots ("trailing-dots...html" is served as "trailing-dots.html").
		for strings.Contains(s, "..") {
			s = strings.ReplaceAll(s, "..", ".")
		}
		dec, err := url.PathUnescape(s)
		if err != nil {
			dec = s
		}
		switch dec {
		case "", ".":
			continue
		case "..": // only percent-encoded dots are left to climb with
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			continue
		}
		segs = append(segs, s)
	}
	out := "/" + strings.Join(segs, "/")
	if trailing && len(segs) > 0 {
		out += "/"
	}
	return out
}
