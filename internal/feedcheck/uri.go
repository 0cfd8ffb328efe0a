package feedcheck

import (
	"fmt"
	"regexp"
	"strings"
)

// canonical is an Atom id's canonical form (RFC 3986, section 6.2.2), as the validator's uri.py computes
// it for NonCanonicalURI: the scheme and host in lower case, no default port, an empty path as "/", no dot
// segments, percent-encodings in upper case, unreserved characters not percent-encoded and other
// characters a URI cannot hold encoded; reserved characters stay as written. It reports false for a
// string that is not a URI.
//
// The validator itself gets "%25" wrong: uri.py's _qnu decodes the octets of a segment, then unquotes
// the result again, so "%2541" (a literal "%41") comes out as "A" and a canonical id is flagged as not
// canonical. Here "%25" stays "%25". It also has no canonical form for a percent-encoding that is not
// UTF-8 ("%AB" alone), and flags it; jekyll-feed writes such an id for a file named save-100%ab.md
// (testdata/sites/jekyll-feed), which Herald's ids: jekyll must equal, so here it is canonical as it is.
func canonical(s string) (string, bool) {
	m := uriParts.FindStringSubmatch(s)
	if m == nil || m[2] == "" {
		return "", false
	}
	scheme := strings.ToLower(m[2])
	out := scheme + ":"
	path := m[5]
	if m[3] != "" {
		auth, ok := canonicalAuthority(scheme, m[4])
		if !ok {
			return "", false
		}
		out += "//" + auth
		if path == "" {
			path = "/"
		}
	}
	if strings.HasPrefix(path, "/") {
		path = removeDots(path)
	}
	p, ok := normalizePercent(path, "/")
	if !ok {
		return "", false
	}
	out += p
	for _, part := range []struct{ sep, v string }{{"?", m[6]}, {"#", m[7]}} {
		if part.v == "" {
			continue
		}
		q, ok := normalizePercent(part.v[1:], "/?")
		if !ok {
			return "", false
		}
		out += part.sep + q
	}
	return out, true
}

var (
	uriParts     = regexp.MustCompile(`^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?[^#]*)?(#.*)?$`)
	defaultPorts = map[string]string{"http": "80", "https": "443", "ftp": "21"}
)

func canonicalAuthority(scheme, a string) (string, bool) {
	user := ""
	if i := strings.LastIndex(a, "@"); i >= 0 {
		user, a = a[:i+1], a[i+1:]
	}
	host, port := strings.ToLower(a), ""
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.Contains(host[i:], "]") {
		host, port = host[:i], host[i+1:]
	}
	if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") {
		return "", false
	}
	if port != "" && port != defaultPorts[scheme] {
		host += ":" + port
	}
	u, ok := normalizePercent(user, "")
	return u + host, ok
}

// removeDots is RFC 3986's remove_dot_segments for an absolute path.
func removeDots(p string) string {
	var out []string
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

const (
	unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	reserved   = ":/?#[]@!$&'()*+,;="
)

// normalizePercent upper-cases percent-encodings, decodes those of unreserved characters, keeps
// reserved characters (and extra) as written and percent-encodes every other byte.
func normalizePercent(s, extra string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", false
			}
			var v byte
			fmt.Sscanf(s[i+1:i+3], "%02x", &v)
			if strings.IndexByte(unreserved, v) >= 0 {
				b.WriteByte(v)
			} else {
				b.WriteString(strings.ToUpper(s[i : i+3]))
			}
			i += 2
		case strings.IndexByte(unreserved, c) >= 0 || strings.IndexByte(reserved, c) >= 0 || strings.IndexByte(extra, c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String(), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
