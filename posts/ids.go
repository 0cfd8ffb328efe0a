package posts

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// The schemes of public ids a site's posts can take (herald.yaml's ids). A post whose front matter sets
// id or guid keeps it under every scheme. Whatever the scheme, the state store ties a post's ids together
// (history's rules), so switching schemes mails nobody again.
const (
	IDsTag    = "tag"    // tag:HOST,DATE:PATH, made by the loaders: the default
	IDsJekyll = "jekyll" // the absolute URL of Jekyll's Document#id, as jekyll-feed writes it
	IDsURL    = "url"    // the post's absolute URL, as Hugo's RSS template writes it
)

// IDSchemes are the schemes UseIDs takes, for messages.
const IDSchemes = "tag, jekyll or url"

// UseIDs gives every post without an id of its own the public id of scheme ("" is IDsTag, which the
// loaders made). It is an error for two posts to end up with the same id, and for IDsJekyll on a site
// that is not a Jekyll site.
func (s *Site) UseIDs(scheme string) error {
	switch scheme {
	case "", IDsTag:
		return nil
	case IDsURL, IDsJekyll:
	default:
		return fmt.Errorf("posts: unknown id scheme %q; want %s", scheme, IDSchemes)
	}
	if scheme == IDsJekyll && s.Kind != "jekyll" {
		return fmt.Errorf("posts: ids %s is for Jekyll sites, and this is a %s site; use url (the post's URL) or tag", scheme, s.Kind)
	}
	defaultSlug := false // a front matter default sets slug
	for _, d := range s.defaults {
		_, ok := d.values["slug"]
		defaultSlug = defaultSlug || ok
	}
	for _, p := range s.Posts {
		if p.hasID {
			continue
		}
		if scheme == IDsURL {
			p.ID = p.URL
			continue
		}
		p.ID = s.URL + jekyllDocID(strings.TrimPrefix(p.URL, s.URL), jekyllSlug(p, s.slugData(p, defaultSlug)))
	}
	return checkIDs(s.Posts)
}

// slugData is the front matter that may hold p's slug. A post from the cache has none in memory: its file
// is parsed again only when it (or a default) may set one, which spares a large site parsing every post.
func (s *Site) slugData(p *Post, defaultSlug bool) map[string]any {
	if p.Data != nil {
		return p.Data
	}
	if !defaultSlug {
		src, err := s.files.ReadFile(p.Path)
		if err != nil || !bytes.Contains(src, []byte("slug")) {
			return nil
		}
	}
	return s.frontMatterData(p)
}

// jekyllSlug is Jekyll's data["slug"] for a post: the front matter's (or its defaults'), else the file
// name without its date and extension (a draft's has no date), trailing dots removed (Document#populate_title).
func jekyllSlug(p *Post, data map[string]any) string {
	if v, ok := data["slug"]; ok && v != nil {
		if s := str(v); s != "" {
			return s
		}
	}
	base := path.Base(p.Path)
	slug := strings.TrimSuffix(base, path.Ext(base))
	if m := postName.FindStringSubmatch(base); m != nil && !p.Draft {
		slug = m[4]
	}
	return strings.TrimRight(slug, ".")
}

// jekyllDocID is the path jekyll-feed writes as an entry's id, {{ post.id | absolute_url }}, below the site
// URL: Document#id, File.join(File.dirname(url), slug), which keeps the URL's folders (categories,
// collections) and drops its extension or trailing slash; then absolute_url's normalization (Addressable's
// normalize: each segment decoded, NFC, and encoded again as RFC 3986 allows in a path, hex upper case).
// A "?" or "#" in the slug starts a query or a fragment there, as it does for Addressable.
func jekyllDocID(urlPath, slug string) string {
	dir := path.Dir(strings.TrimRight(urlPath, "/"))
	id := strings.TrimRight(dir, "/") + "/" + strings.TrimLeft(slug, "/")
	var query, frag string
	if i := strings.IndexByte(id, '#'); i >= 0 {
		id, frag = id[:i], "#"+normalizeComponent(id[i+1:], "/?")
	}
	if i := strings.IndexByte(id, '?'); i >= 0 {
		id, query = id[:i], "?"+normalizeComponent(id[i+1:], "/?")
	}
	segs := strings.Split(id, "/")
	for i, seg := range segs {
		segs[i] = normalizeComponent(seg, "")
	}
	return path.Clean(strings.Join(segs, "/")) + query + frag
}

// normalizeComponent is Addressable's normalize_component: s decoded, NFC, encoded again keeping what a
// path segment may hold and the characters in keep.
func normalizeComponent(s, keep string) string {
	if dec, err := url.PathUnescape(s); err == nil {
		s = dec
	}
	s = escapePath(norm.NFC.String(s))
	if !strings.Contains(keep, "/") {
		s = strings.ReplaceAll(s, "/", "%2F")
	}
	if strings.Contains(keep, "?") {
		s = strings.ReplaceAll(s, "%3F", "?")
	}
	return s
}
