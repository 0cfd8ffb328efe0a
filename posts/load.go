package posts

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/sitefs"
)

// Options say how to load a site. Empty fields take the site's own settings; set fields override them
// (cmd/herald fills them from herald.yaml).
type Options struct {
	Dir  string // the site folder
	Kind string // "jekyll", "hugo", "plain", or "" to detect

	PostsDir         string // plain sites: the folder of Markdown files, relative to Dir
	Title            string
	Description      string
	URL              string // the site's public URL, with any base path
	Lang             string
	Timezone         string // an IANA zone name
	Author           Author
	Permalink        string // a style name or a template with :placeholders
	ExcerptSeparator string
	ExcerptOnly      bool     // every post sends only its excerpt
	Cache            string   // a file where Load keeps what it read of unchanged posts; "" for none
	Private          []string // paths in the site no site file may read or link to (Herald's state folder, config, keys)

	// Bounds on what a site file may make Herald do; 0 takes the default.
	MaxFileBytes        int64 // the largest site file read (default DefaultMaxFileBytes)
	MaxFrontMatterBytes int   // the largest front matter parsed (default DefaultMaxFrontMatterBytes)
	Liquid              LiquidBounds

	Drafts bool      // include drafts
	Future bool      // include posts dated after Now
	Now    time.Time // what "future" is measured against

	siteOnly bool       // LoadSite: stop once the site's settings are read
	files    *sitefs.FS // set by load: every read of a site file goes through it
}

// The default bounds. A post costs about 28 times its size in memory while it is parsed and rendered, so
// 8 MiB keeps one under a quarter of a gigabyte. YAML and TOML parsers take time that grows with the square
// of the number of keys or tables: 128 KiB of front matter holds at most some 15,000 of them, well under a
// second to parse; real front matter is a few hundred bytes.
const (
	DefaultMaxFileBytes        = 8 << 20
	DefaultMaxFrontMatterBytes = 128 << 10
)

// ErrFrontMatterTooLarge is wrapped in the *Error of a post whose front matter exceeds the bound.
var ErrFrontMatterTooLarge = errors.New("posts: front matter too large")

// Errors Load returns for a site it cannot read at all; the caller says which of its settings fix them.
var (
	ErrNoURL       = errors.New("posts: the site has no url, and every link in a feed must be absolute") // neither the site's config nor Options.URL
	ErrUnknownKind = errors.New("posts: no Jekyll or Hugo site found")                                   // and no Options.Kind
	ErrNoPostsDir  = errors.New("posts: a plain site needs the folder that holds its Markdown files")    // Options.PostsDir
)

// Detect tells what kind of site dir holds: "jekyll", "hugo", or "" when it cannot tell.
func Detect(dir string) string {
	for _, name := range []string{"_config.yml", "_config.yaml", "_posts"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return "jekyll"
		}
	}
	if hasHugoConfig(dir) {
		return "hugo"
	}
	return ""
}

// DetectLookedFor says what Detect looks for, for messages.
func DetectLookedFor() string {
	return "_config.yml, _config.yaml or _posts/ (Jekyll), " + hugoLookedFor() + " (Hugo)"
}

// Load reads the site in opts.Dir and returns it with its posts (front matter read, not yet rendered),
// newest first, ties broken by path.
func Load(ctx context.Context, opts Options) (*Site, error) {
	s, err := load(ctx, opts)
	if err != nil {
		return nil, err
	}
	if !opts.Now.IsZero() {
		// Scheduled and expired posts are filtered here, not by the loaders, so that a cached post
		// appears on the first run after its date.
		var visible []*Post
		for _, p := range s.Posts {
			if (opts.Future || !p.visibleFrom.After(opts.Now)) && (p.expires.IsZero() || p.expires.After(opts.Now)) {
				visible = append(visible, p)
			}
		}
		s.Posts = visible
	}
	if err := checkIDs(s.Posts); err != nil {
		return nil, err
	}
	sortPosts(s.Posts)
	for _, p := range s.Posts {
		if p.Lang == "" {
			p.Lang = s.Lang // a post that does not say its language is in the site's
		}
	}
	if s.Kind == "jekyll" {
		// Made from the visible posts only: a scheduled post must not show through site.posts, site.time
		// or post_url in the posts that are published.
		var err error
		s.liquidBounds = opts.Liquid.orDefaults()
		if s.render.liquid, err = newLiquidEngine(s, s.config); err != nil {
			return nil, err
		}
	}
	if w := s.cache.warning(); w != nil {
		s.Warnings = append(s.Warnings, *w)
	}
	if err := s.cache.save(); err != nil {
		s.Warnings = append(s.Warnings, Warning{File: opts.Cache, Msg: "cannot save the posts cache (" + err.Error() + "); the next run reads every post again"})
	}
	s.cache = nil // its entries, twice the posts' size, are garbage from here on
	return s, nil
}

// LoadSite reads only the site's settings (title, URL, language, author, time zone, output folder),
// as Load would, without reading a post: for what needs the site but not its posts (herald serve),
// which a broken post must not stop. The Site has no Posts and cannot Render.
func LoadSite(ctx context.Context, opts Options) (*Site, error) {
	opts.siteOnly = true
	return load(ctx, opts)
}

// load runs the loader of the site's kind.
func load(ctx context.Context, opts Options) (*Site, error) {
	var err error
	opts.MaxFileBytes = cmp.Or(opts.MaxFileBytes, DefaultMaxFileBytes)
	opts.MaxFrontMatterBytes = cmp.Or(opts.MaxFrontMatterBytes, DefaultMaxFrontMatterBytes)
	if opts.files, err = sitefs.New(opts.Dir, opts.MaxFileBytes, opts.Private...); err != nil {
		return nil, err
	}
	kind := opts.Kind
	if kind == "" {
		if opts.PostsDir != "" {
			kind = "plain"
		} else if kind = Detect(opts.Dir); kind == "" {
			return nil, fmt.Errorf("%s: %w: Herald looked for %s", opts.Dir, ErrUnknownKind, DetectLookedFor())
		}
	}
	switch kind {
	case "jekyll":
		return loadJekyll(ctx, opts)
	case "hugo":
		return loadHugo(ctx, opts)
	case "plain":
		return loadPlain(ctx, opts)
	}
	return nil, fmt.Errorf("unknown site kind %q; use jekyll, hugo or plain", kind)
}

// applyOverrides lets herald.yaml's settings win over the site's config.
func (s *Site) applyOverrides(o Options) error {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&s.Title, o.Title)
	set(&s.Description, o.Description)
	set(&s.URL, o.URL)
	set(&s.Lang, o.Lang)
	set(&s.Author.Name, o.Author.Name)
	set(&s.Author.Email, o.Author.Email)
	set(&s.Author.URL, o.Author.URL)
	if !filepath.IsAbs(s.OutputDir) {
		s.OutputDir = filepath.Join(s.Dir, s.OutputDir)
	}
	if o.Timezone != "" {
		loc, err := time.LoadLocation(o.Timezone)
		if err != nil {
			return fmt.Errorf("timezone %q: %w; use an IANA name like Europe/Berlin", o.Timezone, err)
		}
		s.Location = loc
	}
	if s.Location == nil {
		s.Location = time.UTC
	}
	s.URL = strings.TrimRight(strings.TrimSpace(s.URL), "/")
	if s.URL == "" {
		return ErrNoURL
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("site url %q is not an absolute http(s) URL; set url to something like https://blog.example.com", s.URL)
	}
	if s.Title == "" {
		s.Title = u.Hostname() // RSS and JSON Feed require a title
	}
	return nil
}

// host is the site URL's host, the authority of tag: ids.
func (s *Site) host() string {
	u, _ := url.Parse(s.URL)
	return u.Hostname()
}

// absURL resolves ref against base, leaving absolute URLs alone. A fragment ("#fn:1", "#") resolves too: in
// a feed reader or an email it would point into the reader's page, not the post's (and the W3C validator
// flags it), so it becomes the post's URL with that fragment.
func absURL(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" || hasScheme(ref) {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	if r.Scheme != "" {
		return ref
	}
	return base.ResolveReference(r).String()
}

// hasScheme tells whether ref starts with a URL scheme and a colon ("https:", "mailto:"): such a ref is
// left as it is, whether url.Parse takes it (it has a scheme) or not (it is no URL Herald can resolve).
func hasScheme[T string | []byte](ref T) bool {
	for i := 0; i < len(ref); i++ {
		switch c := ref[i]; {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return false
			}
		case c == ':':
			return i > 0
		default:
			return false
		}
	}
	return false
}

// siteRef resolves a site-relative path (like an image in front matter) against the site URL: "/img/a.png"
// and "img/a.png" both become URL + "/img/a.png".
func (s *Site) siteRef(ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	if r, err := url.Parse(ref); err == nil && r.Scheme != "" {
		return ref
	}
	if strings.HasPrefix(ref, "//") {
		return "https:" + ref
	}
	return s.URL + "/" + strings.TrimLeft(ref, "/")
}

func checkIDs(ps []*Post) error {
	seen := make(map[string]*Post, len(ps))
	for _, p := range ps {
		if q, ok := seen[p.ID]; ok {
			a, b := q.Path, p.Path
			if b < a {
				a, b = b, a
			}
			return fmt.Errorf("%s and %s have the same id %q; give one of them its own id: in its front matter", a, b, p.ID)
		}
		seen[p.ID] = p
	}
	return nil
}

func sortPosts(ps []*Post) {
	sort.SliceStable(ps, func(i, j int) bool {
		if !ps[i].Date.Equal(ps[j].Date) {
			return ps[i].Date.After(ps[j].Date)
		}
		return ps[i].Path < ps[j].Path
	})
}

// readPosts reads and parses files on all cores, or takes what the cache has for those that did not change.
// The posts come back in the order of files, nil where parse returned none (an unpublished post, say); the
// first error wins.
func (s *Site) readPosts(ctx context.Context, files []string, parse func(rel string, src []byte) (*Post, []Warning, error)) ([]*Post, []Warning, error) {
	out := make([]*Post, len(files))
	warns := make([][]Warning, len(files))
	errs := make([]error, len(files))
	forEach(ctx, len(files), func(k int) {
		// A file the cache holds is checked (sitefs.Stat) but not opened: that is what makes a run over an
		// unchanged site cheaper than reading it.
		info, err := s.files.Stat(files[k])
		if err == nil {
			var ok bool
			if out[k], warns[k], ok = s.cache.lookup(files[k], info, s.Location); ok {
				return
			}
		}
		f, info, err := s.files.Open(files[k])
		if errors.Is(err, sitefs.ErrRefused) {
			errs[k] = err
			return
		}
		if err != nil {
			errs[k] = &Error{File: files[k], Msg: "cannot read the file; check its permissions", Err: err}
			return
		}
		defer f.Close()
		src, err := s.files.ReadAll(files[k], f, info)
		if errors.Is(err, sitefs.ErrRefused) {
			errs[k] = err
			return
		}
		if err != nil {
			errs[k] = &Error{File: files[k], Msg: "cannot read the file; check its permissions", Err: err}
			return
		}
		if errs[k] = checkUTF8(files[k], src); errs[k] != nil {
			return
		}
		out[k], warns[k], errs[k] = parse(files[k], src)
		if errs[k] != nil {
			return
		}
		if out[k] != nil {
			sum := sha256.Sum256(src)
			out[k].Hash = hex.EncodeToString(sum[:])
		}
		s.cache.store(files[k], info, out[k], warns[k])
	})
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return out, slices.Concat(warns...), nil
}

// forEach calls fn(0) … fn(n-1) on all cores and returns when every call has, or when ctx is done and the
// calls under way have returned.
func forEach(ctx context.Context, n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= n || ctx.Err() != nil {
					return
				}
				fn(k)
			}
		}()
	}
	wg.Wait()
}

// appendPosts appends the non-nil posts of ps to s.Posts.
func (s *Site) appendPosts(ps []*Post) {
	for _, p := range ps {
		if p != nil {
			s.Posts = append(s.Posts, p)
		}
	}
}
