package posts

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"maps"
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/heraldhq/herald/internal/sitefs"
	"github.com/osteele/liquid"
	"github.com/osteele/liquid/expressions"
	"github.com/osteele/liquid/parser"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/values"
	"github.com/osteele/tuesday"
	"github.com/yuin/goldmark"
	"golang.org/x/text/unicode/norm"
	yaml2 "gopkg.in/yaml.v2"
	"gopkg.in/yaml.v3"
)

// How Liquid that cannot be evaluated is handled. Jekyll stops the build on an unknown tag (a Ruby plugin's
// tag, say), a syntax error or a missing include; Herald warns, keeps the offending tag as text and evaluates
// the rest of the post:
//
//   - Before parsing, tags Herald does not know and {{ }} that do not parse are wrapped in {% raw %}, which
//     adds no line, so line numbers in errors stay those of the post. The engine's tag table is not touched:
//     it is shared by goroutines rendering other posts.
//   - Herald's own tags (include, post_url, link, ...) never fail: they warn and write themselves back.
//   - Any other error (an undefined filter, say) names a line; the tags there are kept as text, with the end
//     and else tags of a block, and the post is parsed and rendered again, a bounded number of times. When
//     nothing can be pinned down the body is left exactly as written.

// maxLiquidTries bounds how often one template is parsed or rendered before Herald gives up on its Liquid.
const maxLiquidTries = 50

// maxIncludeDepth stops an include that includes itself.
const maxIncludeDepth = 16

// stateKey binds a render's *renderState for the tags. A Liquid name cannot hold a NUL, so no template can
// read or overwrite it.
const stateKey = "\x00herald"

// The highlight tag writes its <pre> between these markers; placeBlocks then puts it on lines of its own so
// that Markdown passes it through as an HTML block. NULs cannot come from the post: render removes them.
const (
	blockOpen  = "\x00<"
	blockClose = "\x00>"
)

// Tags the engine knows: osteele/liquid's standard tags and Herald's Jekyll tags. Blocks map to the clause
// tags that may stand directly inside them.
var (
	liquidSimpleTags = map[string]bool{
		"assign": true, "break": true, "continue": true, "cycle": true,
		"include": true, "include_relative": true, "post_url": true, "link": true, "gist": true, "twitter": true,
	}
	liquidBlocks = map[string][]string{
		"if": {"elsif", "else"}, "unless": {"else"}, "case": {"when", "else"}, "for": {"else"},
		"tablerow": nil, "capture": nil, "highlight": nil,
	}
	liquidClauses = map[string]bool{"elsif": true, "else": true, "when": true}
)

func knownLiquidTag(name string) bool {
	switch name {
	case "raw", "endraw", "comment", "endcomment":
		return true
	}
	if liquidSimpleTags[name] || liquidClauses[name] {
		return true
	}
	if _, ok := liquidBlocks[name]; ok {
		return true
	}
	_, ok := liquidBlocks[strings.TrimPrefix(name, "end")]
	return ok && strings.HasPrefix(name, "end")
}

// liquidEngine evaluates the Liquid in Jekyll post bodies with github.com/osteele/liquid, plus the tags and
// filters Jekyll adds. After newLiquidEngine it is only read, except for a cache of parsed includes that has
// its own lock, so render is safe for concurrent use.
type liquidEngine struct {
	eng    *liquid.Engine
	site0  *Site
	md     goldmark.Markdown
	files  *sitefs.FS
	bounds LiquidBounds
	loc    *time.Location
	now    time.Time // what "now" means in a template (site.time): the newest visible post's date, so output needs no clock

	site     liquidMap // site.* without the lists of posts
	allPosts []*Post

	// site.posts, site.categories and site.tags hold every post's variables: on a site of thousands of
	// posts that costs more than reading them, so they are made on first use, by a post that mentions site
	// or includes a file (which might).
	listsOnce sync.Once
	siteFull  liquidMap // site with the lists
	pages     map[*Post]liquidMap
	siteURL   string // Site.URL
	basePath  string // the path of Site.URL, without a trailing slash: what relative URLs start with

	// The posts by the names the link and post_url tags look them up by, made on first use: most sites'
	// posts use neither tag.
	indexOnce sync.Once
	posts     map[string]*Post  // by file path
	postNames map[string]*Post  // post_url names: "2020-05-10-slug" in _posts, "sub/2020-05-10-slug"
	postBases map[string]*Post  // post_url's fallback: the file name without extension, wherever it is
	plugins   map[string]string // Liquid tag → the Ruby plugin that registers it

	includesDir string
	collections map[string]string // collection name → permalink template
	prettyPages bool              // pages get "/name/" rather than "/name.html"

	mu       sync.Mutex
	includes map[string]*liquidInclude // by path relative to the site
}

// liquidInclude is an include file, parsed once.
type liquidInclude struct {
	tpl   *liquid.Template
	probs []liquidProblem // what was kept as text when parsing it
	err   error
}

// liquidProblem is something kept as text, at a 1-based line of a template.
type liquidProblem struct {
	line int
	msg  string
}

func newLiquidEngine(s *Site, config map[string]any) (*liquidEngine, error) {
	e := &liquidEngine{
		eng:         liquid.NewEngine(),
		site0:       s,
		md:          newKramdown(),
		files:       s.files,
		bounds:      s.liquidBounds,
		loc:         s.Location,
		siteURL:     s.URL,
		includesDir: siteFolder(config, "includes_dir", "_includes"),
		collections: map[string]string{},
		includes:    map[string]*liquidInclude{},
	}
	if e.loc == nil {
		e.loc = time.UTC
	}
	if u, err := url.Parse(s.URL); err == nil {
		e.basePath = strings.TrimRight(u.EscapedPath(), "/")
	}
	permalink := str(config["permalink"])
	e.prettyPages = permalink == "pretty" || strings.HasSuffix(permalink, "/")
	if cs, ok := config["collections"].(map[string]any); ok { // a list of names sets no permalinks
		for name, c := range cs {
			if c, ok := c.(map[string]any); ok {
				e.collections[name] = str(c["permalink"])
			}
		}
	}

	for _, p := range s.Posts {
		if p.Date.After(e.now) {
			e.now = p.Date
		}
	}
	e.allPosts = s.Posts

	// site.url and site.baseurl add up to Site.URL, so that both "{{ site.url }}{{ page.url }}" (a site
	// without baseurl) and "{{ site.url }}{{ site.baseurl }}/x" give the site's address.
	urlVar, baseurlVar := s.URL, ""
	if b := strings.Trim(str(config["baseurl"]), "/"); b != "" && strings.HasSuffix(s.URL, "/"+b) {
		urlVar, baseurlVar = strings.TrimSuffix(s.URL, "/"+b), "/"+b
	}
	e.site = liquidMap{}
	for k, v := range config {
		e.site[k] = toLiquid(v)
	}
	maps.Copy(e.site, liquidMap{
		"url": urlVar, "baseurl": baseurlVar, "title": s.Title, "description": s.Description, "time": e.now,
	})
	data, warns, err := readSiteData(s.files, siteFolder(config, "data_dir", "_data"))
	if err != nil {
		return nil, err
	}
	e.site["data"] = data
	s.Warnings = append(s.Warnings, warns...)
	e.plugins = pluginTags(s.files, siteFolder(config, "plugins_dir", "_plugins"))

	e.eng.RegisterTag("include", e.includeTag(false))
	e.eng.RegisterTag("include_relative", e.includeTag(true))
	e.eng.RegisterTag("post_url", e.postURLTag)
	e.eng.RegisterTag("link", e.linkTag)
	e.eng.RegisterTag("gist", gistTag)
	e.eng.RegisterTag("twitter", twitterTag)
	e.eng.RegisterBlock("highlight", highlightBlock)
	e.registerFilters()
	e.registerBoundedFilters()
	return e, nil
}

// makeIndex makes the maps of posts by path, by post_url name and by base name. Where two posts share a
// name, the first by path has it.
func (e *liquidEngine) makeIndex() {
	byPath := append([]*Post(nil), e.allPosts...)
	sort.Slice(byPath, func(i, j int) bool { return byPath[i].Path < byPath[j].Path })
	e.posts = make(map[string]*Post, len(byPath))
	e.postNames, e.postBases = map[string]*Post{}, map[string]*Post{}
	for _, p := range byPath {
		e.posts[p.Path] = p
		noExt := strings.TrimSuffix(p.Path, path.Ext(p.Path))
		// Jekyll's PostComparer: "_posts/{dir}{date}-{slug}.ext" or "{dir}_posts/{date}-{slug}.ext".
		if rest, ok := strings.CutPrefix(noExt, "_posts/"); ok {
			setOnce(e.postNames, rest, p)
		} else if i := strings.Index(noExt, "/_posts/"); i >= 0 && !strings.Contains(noExt[i+len("/_posts/"):], "/") {
			setOnce(e.postNames, noExt[:i+1]+noExt[i+len("/_posts/"):], p)
		}
		setOnce(e.postBases, path.Base(noExt), p)
	}
}

// makeLists makes site.posts (newest first), site.categories and site.tags, and siteFull, the site
// variables with them.
func (e *liquidEngine) makeLists() {
	sorted := append([]*Post(nil), e.allPosts...)
	sortPosts(sorted) // s.Posts may have been reordered since the engine was made
	e.pages = make(map[*Post]liquidMap, len(sorted))
	posts := make([]any, len(sorted))
	categories, tags := liquidMap{}, liquidMap{}
	for i, p := range sorted {
		m := e.postVars(p)
		e.pages[p] = m
		posts[i] = m
		for _, c := range p.Categories {
			categories[c] = append(asSlice(categories[c]), m)
		}
		for _, t := range p.Tags {
			tags[t] = append(asSlice(tags[t]), m)
		}
	}
	e.siteFull = maps.Clone(e.site)
	maps.Copy(e.siteFull, liquidMap{"posts": posts, "categories": categories, "tags": tags})
}

func setOnce(m map[string]*Post, k string, p *Post) {
	if _, ok := m[k]; !ok {
		m[k] = p
	}
}

// siteFolder reads a folder setting of _config.yml, relative to the site; one that leaves the site is ignored.
func siteFolder(config map[string]any, key, def string) string {
	v := path.Clean(strings.Trim(filepath.ToSlash(str(config[key])), "/"))
	if v == "." || v == ".." || strings.HasPrefix(v, "../") {
		return def
	}
	return v
}

// postVars are a post's page.* variables (and its entry in site.posts): its front matter and what Jekyll
// derives from the file.
func (e *liquidEngine) postVars(p *Post) liquidMap {
	m := liquidMap{}
	data := p.Data
	if data == nil { // a post from the cache that is not being rendered: read its front matter
		data = e.site0.frontMatterData(p)
	}
	for k, v := range data {
		m[k] = toLiquid(v)
	}
	urlPath := strings.TrimPrefix(p.URL, e.siteURL) // Jekyll's page.url does not hold the base path
	base := path.Base(p.Path)
	slug := strings.TrimSuffix(base, path.Ext(base))
	if mm := postName.FindStringSubmatch(base); mm != nil && !p.Draft {
		slug = mm[4]
	}
	if s := str(data["slug"]); s != "" {
		slug = s
	}
	title := p.Title
	if t, ok := data["title"].(string); ok && t != "" {
		title = t // as written, like Jekyll; p.Title is plain text
	}
	maps.Copy(m, liquidMap{
		"url": urlPath, "date": p.Date, "title": title, "slug": slug,
		// Jekyll's Document#id: the URL's folder and the slug.
		"id":   path.Join(path.Dir(strings.TrimSuffix(urlPath, "/")), slug),
		"path": p.Path, "relative_path": p.Path, "ext": path.Ext(p.Path),
		"categories": stringsToAny(p.Categories), "tags": stringsToAny(p.Tags),
		"collection": "posts", "draft": p.Draft,
	})
	return m
}

// renderState is what one render's tags share: the post and what they warn about.
type renderState struct {
	p        *Post
	ctx      context.Context // done when the render's time is up, or render's ctx is done
	warns    []Warning       // the first maxWarnings
	more     int             // warnings past those, counted only
	err      error           // a file Liquid may not read, or a bound reached: the render fails with it
	depth    int             // include nesting
	line     int             // while depth > 0: the body line of the outermost include tag
	bounds   LiquidBounds
	left     int // bytes the render may still write
	includes int // includes rendered so far
}

// fail keeps the first reason the render must fail.
func (st *renderState) fail(err error) {
	if st.err == nil {
		st.err = err
	}
}

func stateOf(ctx render.Context) *renderState {
	if st, ok := ctx.Get(stateKey).(*renderState); ok {
		return st
	}
	return &renderState{p: &Post{}, ctx: context.Background()} // not reached: every render binds one
}

// warn records a problem at the current tag. Inside an include it names the include's file and line, and
// the warning stands at the line of the include tag in the post.
func (st *renderState) warn(ctx render.Context, msg string) {
	if len(st.warns) >= maxWarnings {
		st.more++
		return
	}
	loc := ctx.Errorf("")
	line := loc.LineNumber()
	if st.depth > 0 {
		msg = fmt.Sprintf("%s (at %s:%d)", msg, loc.Path(), line)
		line = st.line
	}
	st.warns = append(st.warns, Warning{File: st.p.Path, Line: fileLine(st.p, line), Msg: msg})
}

// fileLine turns a line of a post's body into a line of its file.
func fileLine(p *Post, line int) int {
	if line <= 0 {
		return 0
	}
	return max(p.bodyLine, 1) + line - 1
}

// tagText writes the current tag back as text, for a tag kept as it was written.
func tagText(ctx render.Context) string {
	if args := strings.TrimSpace(ctx.TagArgs()); args != "" {
		return "{% " + ctx.TagName() + " " + args + " %}"
	}
	return "{% " + ctx.TagName() + " %}"
}

// render evaluates body's Liquid for post p; tags it cannot evaluate are warned about and left as they are.
// All of a post's Liquid work (parsing, the retries that keep a tag as text, the renders, the includes'
// parsing) runs in one goroutine within the post's time (LiquidBounds.Time) and until ctx is done: past
// either, render returns at once, and the work stops at its next check (between tries, at an include) or
// runs on, unobserved, until the process ends (the build fails).
func (e *liquidEngine) render(ctx context.Context, p *Post, body []byte) ([]byte, []Warning, error) {
	if !bytes.Contains(body, []byte("{{")) && !bytes.Contains(body, []byte("{%")) {
		return body, nil, nil
	}
	tctx, cancel := context.WithDeadline(ctx, time.Now().Add(e.bounds.Time))
	defer cancel() // stops abandoned work at its next check
	type result struct {
		out   []byte
		warns []Warning
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if x := recover(); x != nil {
				r = result{err: fmt.Errorf("%s: the Liquid engine failed: %v", p.Path, x)}
			}
			done <- r
		}()
		r.out, r.warns, r.err = e.renderWithin(tctx, p, body)
	}()
	select {
	case r := <-done:
		if !errors.Is(r.err, errStopped) {
			return r.out, r.warns, r.err
		}
	case <-tctx.Done():
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return nil, nil, fmt.Errorf("%s: %w", p.Path, boundError("its Liquid runs longer than %s", e.bounds.Time))
}

// errStopped: the work of a render stopped because its ctx was done (its time is up, or render's ctx).
var errStopped = errors.New("stopped")

// renderWithin is render's work, which stops with errStopped when it sees ctx done.
func (e *liquidEngine) renderWithin(ctx context.Context, p *Post, body []byte) ([]byte, []Warning, error) {
	src := strings.ReplaceAll(string(body), "\x00", "") // NUL is the block marker; XML forbids it anyway
	ls := scanLiquid(src, p.Path)
	probs := ls.keepUnknown(e.plugins)
	site, page := e.site, liquidMap(nil)
	if strings.Contains(src, "site") || strings.Contains(src, "include") {
		e.listsOnce.Do(e.makeLists)
		site, page = e.siteFull, e.pages[p] // the same map as in site.posts, as in Jekyll
	}
	if page == nil {
		page = e.postVars(p)
	}
	var (
		out      []byte
		tagWarns []Warning
		dropped  int // tag warnings past maxWarnings, counted only
		done     bool
	)
	for tries := maxLiquidTries; tries > 0; {
		tpl, more, parsed := e.parse(ctx, ls, p.Path, &tries)
		probs = append(probs, more...)
		if ctx.Err() != nil {
			return nil, nil, errStopped
		}
		if !parsed {
			break
		}
		st := &renderState{p: p, ctx: ctx, bounds: e.bounds, left: e.bounds.Bytes}
		b, err := renderBounded(tpl, map[string]any{"site": site, "page": page, "jekyll": jekyllVars, stateKey: st}, st)
		if ctx.Err() != nil {
			return nil, nil, errStopped
		}
		if st.err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.Path, st.err)
		}
		if err == nil {
			out, tagWarns, done = b, st.warns, true
			dropped = st.more
			break
		}
		prob, found := ls.keepAt(err)
		probs = append(probs, prob)
		if !found {
			break
		}
	}
	warns := make([]Warning, 0, len(probs)+len(tagWarns))
	for _, pr := range probs {
		warns = append(warns, Warning{File: p.Path, Line: fileLine(p, pr.line), Msg: pr.msg})
	}
	if !done {
		if len(warns) > 0 {
			warns[len(warns)-1].Msg += "; the post's Liquid is left unevaluated"
		}
		if n := len(warns); n > maxWarnings { // keep the last, which says why
			warns = append(warns[:maxWarnings-1], warns[n-1])
			dropped += n - maxWarnings
		}
		return body, limitWarnings(p, warns, dropped), nil
	}
	warns = append(warns, tagWarns...)
	sort.SliceStable(warns, func(i, j int) bool { return warns[i].Line < warns[j].Line })
	return []byte(placeBlocks(string(out))), limitWarnings(p, warns, dropped), nil
}

// maxWarnings is the most warnings one post keeps; the rest are counted (limitWarnings).
const maxWarnings = 100

// limitWarnings keeps the first maxWarnings of warns and says how many more there were, with those
// already counted and left out (more).
func limitWarnings(p *Post, warns []Warning, more int) []Warning {
	if len(warns) > maxWarnings {
		more += len(warns) - maxWarnings
		warns = warns[:maxWarnings]
	}
	if more > 0 {
		warns = append(warns, Warning{File: p.Path, Msg: fmt.Sprintf("and %d more like these", more)})
	}
	return warns
}

// jekyllVars are Jekyll's jekyll.* variables. A site built for its readers is built for production.
var jekyllVars = liquidMap{"environment": "production"}

// liquidError is a failure in osteele/liquid itself (a panic), passed on as an error with no line.
type liquidError struct{ msg string }

func (e liquidError) Error() string   { return e.msg }
func (e liquidError) Cause() error    { return nil }
func (e liquidError) Path() string    { return "" }
func (e liquidError) LineNumber() int { return 0 }

// parse parses ls, keeping as text what fails to parse until the rest does; each parse takes one of *tries.
// ok is false when it gave up, or when ctx is done.
func (e *liquidEngine) parse(ctx context.Context, ls *liquidSource, path string, tries *int) (tpl *liquid.Template, probs []liquidProblem, ok bool) {
	for ; *tries > 0 && ctx.Err() == nil; *tries-- {
		var err liquid.SourceError
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = liquidError{fmt.Sprintf("the Liquid engine failed: %v", r)}
				}
			}()
			tpl, err = e.eng.ParseTemplateLocation([]byte(ls.String()), path, 1)
		}()
		if err == nil {
			*tries--
			return tpl, probs, true
		}
		prob, found := ls.keepAt(err)
		probs = append(probs, prob)
		if !found {
			return nil, probs, false
		}
	}
	return nil, probs, false
}

// liquidSource is a template as tokens, some of which are to be kept as text.
type liquidSource struct {
	toks []liquidToken
}

type liquidToken struct {
	parser.Token
	inert bool // inside {% raw %} or {% comment %}: text to Liquid already
	keep  bool // to be kept as text: written inside {% raw %}
}

func scanLiquid(src, file string) *liquidSource {
	ls := &liquidSource{}
	inRaw, inComment := false, false
	for _, t := range parser.Scan(src, parser.SourceLoc{Pathname: file, LineNo: 1}, nil) {
		if t.Type == parser.TrimLeftTokenType || t.Type == parser.TrimRightTokenType {
			continue // the "-" stays in the tag's source
		}
		lt := liquidToken{Token: t}
		isTag := t.Type == parser.TagTokenType
		switch {
		case t.Type == parser.TextTokenType:
		case inRaw:
			inRaw = !(isTag && t.Name == "endraw")
			lt.inert = inRaw
		case inComment:
			inComment = !(isTag && t.Name == "endcomment")
			lt.inert = inComment
		case isTag && t.Name == "raw":
			inRaw = true
		case isTag && t.Name == "comment":
			inComment = true
		}
		ls.toks = append(ls.toks, lt)
	}
	return ls
}

// String writes the template back, with the kept tokens inside {% raw %}, and capture renamed to the
// bounded one (see boundedCapture).
func (ls *liquidSource) String() string {
	var b strings.Builder
	for _, t := range ls.toks {
		switch {
		case t.keep:
			b.WriteString("{% raw %}")
			b.WriteString(t.Source)
			b.WriteString("{% endraw %}")
		case t.Type == parser.TagTokenType && !t.inert && (t.Name == "capture" || t.Name == "endcapture"):
			i := strings.Index(t.Source, t.Name)
			b.WriteString(t.Source[:i] + strings.Replace(t.Name, "capture", boundedCapture, 1) + t.Source[i+len(t.Name):])
		default:
			b.WriteString(t.Source)
		}
	}
	return b.String()
}

// keepUnknown keeps as text the tags the engine does not know and the {{ }} that do not parse.
func (ls *liquidSource) keepUnknown(plugins map[string]string) []liquidProblem {
	var probs []liquidProblem
	unknown := map[string]bool{}
	for i := range ls.toks {
		t := &ls.toks[i]
		if t.inert || t.keep {
			continue
		}
		switch t.Type {
		case parser.TagTokenType:
			if knownLiquidTag(t.Name) {
				continue
			}
			t.keep = true
			if name, ok := strings.CutPrefix(t.Name, "end"); ok && unknown[name] {
				continue // the end of a block already warned about
			}
			unknown[t.Name] = true
			msg := fmt.Sprintf("unknown Liquid tag %q (a Jekyll plugin's, or one Herald does not support); left as text", t.Name)
			if file, ok := plugins[t.Name]; ok {
				msg = fmt.Sprintf("Liquid tag %q comes from the Ruby plugin %s, which Herald cannot run; left as text", t.Name, file)
			}
			probs = append(probs, liquidProblem{t.SourceLoc.LineNo, msg})
		case parser.ObjTokenType:
			if _, err := expressions.Parse(t.Args); err != nil {
				t.keep = true
				probs = append(probs, liquidProblem{t.SourceLoc.LineNo, fmt.Sprintf("Liquid: %v; left %s as text", err, t.Source)})
			}
		}
	}
	return probs
}

var quotedInError = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// keepAt keeps as text the tags at the line of err, narrowed to those that hold a name the message quotes,
// with the end and clause tags of the blocks among them. found is false when no tag stands at that line.
func (ls *liquidSource) keepAt(err liquid.SourceError) (prob liquidProblem, found bool) {
	line, msg := err.LineNumber(), liquidErrorText(err)
	prob = liquidProblem{line, "Liquid: " + msg}
	var cands []int
	for i, t := range ls.toks {
		if !t.inert && !t.keep && t.Type != parser.TextTokenType && t.SourceLoc.LineNo == line && line > 0 {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return prob, false
	}
	// The message names the culprit: it starts with the tag's name ("endif not inside if", "break outside a
	// loop") or quotes a name or expression in it (`undefined filter "x"`, `syntax error in "a |"`).
	var named, quoted []int
	first, _, _ := strings.Cut(msg, " ")
	var quotes []string
	for _, q := range quotedInError.FindAllString(msg, -1) {
		if s, err := strconv.Unquote(q); err == nil && s != "" {
			quotes = append(quotes, s)
		}
	}
	for _, i := range cands {
		t := ls.toks[i]
		if t.Type == parser.TagTokenType && t.Name == first {
			named = append(named, i)
		}
		for _, s := range quotes {
			if strings.Contains(t.Source, s) {
				quoted = append(quoted, i)
				break
			}
		}
	}
	if len(named) > 0 {
		cands = named
	} else if len(quoted) > 0 {
		cands = quoted
	}
	const shown = 10 // tags the warning quotes
	var texts []string
	for _, i := range cands[:min(len(cands), shown)] {
		texts = append(texts, ls.toks[i].Source)
	}
	if len(cands) > shown {
		texts = append(texts, fmt.Sprintf("and %d more tags", len(cands)-shown))
	}
	owned := ls.owned(cands)
	for _, i := range cands {
		ls.toks[i].keep = true
	}
	for _, i := range owned {
		ls.toks[i].keep = true
	}
	prob.msg = fmt.Sprintf("Liquid: %s; left %s as text", msg, strings.Join(texts, " "))
	return prob, true
}

// owned lists the clause and end tags of the blocks that the tokens at opens open, in one pass over the
// tokens (not one per block: a line of many tags made that quadratic).
func (ls *liquidSource) owned(opens []int) []int {
	want := make(map[int]bool, len(opens))
	for _, i := range opens {
		want[i] = true
	}
	var stack, out []int
	for j, t := range ls.toks {
		if t.inert || t.keep || t.Type != parser.TagTokenType {
			continue
		}
		if _, ok := liquidBlocks[t.Name]; ok {
			stack = append(stack, j)
			continue
		}
		if len(stack) == 0 {
			continue
		}
		top := stack[len(stack)-1]
		open := ls.toks[top].Name
		switch {
		case t.Name == "end"+open:
			if want[top] {
				out = append(out, j)
			}
			stack = stack[:len(stack)-1]
		case liquidClauses[t.Name] && want[top]:
			for _, c := range liquidBlocks[open] {
				if c == t.Name {
					out = append(out, j)
				}
			}
		}
	}
	return out
}

// liquidErrorText is an error's message without osteele/liquid's "Liquid error (line n):" and file name.
func liquidErrorText(err liquid.SourceError) string {
	s := strings.TrimPrefix(err.Error(), "Liquid error")
	s = strings.TrimPrefix(s, fmt.Sprintf(" (line %d)", err.LineNumber()))
	s = strings.TrimPrefix(s, ": ")
	s = strings.ReplaceAll(s, boundedCapture, "capture")
	if p := err.Path(); p != "" {
		s = strings.TrimSuffix(s, " in "+p)
	}
	return s
}

// placeBlocks puts each highlighted block on lines of its own: a line that starts with <pre> opens an HTML
// block that Markdown copies up to </pre>, blank lines and all.
func placeBlocks(s string) string {
	if !strings.Contains(s, "\x00") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, blockOpen):
			done := b.String()
			if line := done[strings.LastIndexByte(done, '\n')+1:]; strings.Trim(line, " \t") != "" {
				b.WriteByte('\n')
			}
			s = s[len(blockOpen):]
		case strings.HasPrefix(s, blockClose):
			s = s[len(blockClose):]
			if s != "" && s[0] != '\n' {
				b.WriteByte('\n')
			}
		default:
			s = s[1:]
		}
	}
}

// highlightBlock is Jekyll's {% highlight LANG [linenos] %}: the code, escaped, in <pre><code>. Herald does
// not color it (feed readers drop the styles anyway) and leaves out line numbers.
func highlightBlock(ctx render.Context) (string, error) {
	inner, err := boundedChildren(ctx)
	if err != nil {
		return "", err
	}
	code := strings.Trim(inner, "\r\n")
	class := ""
	if f := strings.Fields(ctx.TagArgs()); len(f) > 0 && highlightLang.MatchString(f[0]) {
		class = fmt.Sprintf(` class="language-%s" data-lang="%s"`, strings.ReplaceAll(f[0], "+", "-"), f[0])
	} else {
		stateOf(ctx).warn(ctx, "highlight needs a language, like {% highlight ruby %}; the code is shown without one")
	}
	return blockOpen + "<pre><code" + class + ">" + codeEscaper.Replace(code) + "</code></pre>" + blockClose, nil
}

var (
	highlightLang = regexp.MustCompile(`^[a-zA-Z0-9.+#_-]+$`)
	codeEscaper   = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
)

// includeParam is Jekyll's include parameter syntax: name="value", name='value' or name=variable.
var includeParam = regexp.MustCompile(`([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([\w.\-\[\]]+))`)

// includeParams reads an include's parameters, in order; bad is what is not a parameter.
func includeParams(ctx render.Context, params string) (include yaml2.MapSlice, bad string) {
	at := 0
	for _, m := range includeParam.FindAllStringSubmatchIndex(params, -1) {
		if gap := strings.TrimSpace(params[at:m[0]]); gap != "" {
			return nil, gap
		}
		at = m[1]
		var v any
		switch {
		case m[4] >= 0:
			v = strings.ReplaceAll(params[m[4]:m[5]], `\"`, `"`)
		case m[6] >= 0:
			v = strings.ReplaceAll(params[m[6]:m[7]], `\'`, `'`)
		default:
			v, _ = ctx.EvaluateString(params[m[8]:m[9]]) // an undefined variable is nil, as in Jekyll
		}
		include = append(include, yaml2.MapItem{Key: params[m[2]:m[3]], Value: v})
	}
	if gap := strings.TrimSpace(params[at:]); gap != "" {
		return nil, gap
	}
	return include, ""
}

// includeName is what Jekyll accepts as an include's file name.
var includeName = regexp.MustCompile(`^[\p{L}\p{N}_/.\-()+~#@]+$`)

// includeTag is Jekyll's {% include FILE [k=v ...] %} (from the includes folder) or, when relative,
// {% include_relative FILE %} (from the post's folder). FILE may hold {{ }}; the parameters are include.k.
func (e *liquidEngine) includeTag(relative bool) liquid.Renderer {
	return func(ctx render.Context) (string, error) {
		st := stateOf(ctx)
		text := tagText(ctx)
		fail := func(format string, a ...any) (string, error) {
			st.warn(ctx, fmt.Sprintf(format, a...)+"; left as text")
			return text, nil
		}
		args, err := ctx.ExpandTagArg()
		if err != nil {
			return fail("%s: %v", text, err)
		}
		args = strings.TrimSpace(args)
		name, params := args, ""
		if i := strings.IndexFunc(args, unicode.IsSpace); i >= 0 {
			name, params = args[:i], args[i:]
		}
		name = strings.Trim(name, `"'`)
		if name == "" {
			return fail("%s names no file", text)
		}
		if !includeName.MatchString(name) || strings.Contains(name, "..") || strings.Contains(name, "//") || strings.HasPrefix(name, "/") {
			return fail("%s: %q is not a file name Jekyll accepts", ctx.TagName(), name)
		}
		include, bad := includeParams(ctx, params)
		if bad != "" {
			return fail("%s: cannot read the parameters %q; write them as name=\"value\" or name=variable", ctx.TagName(), bad)
		}
		dir := e.includesDir
		if relative {
			dir = path.Dir(st.p.Path)
		}
		rel := path.Join(dir, name)
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return fail("%s: %q is outside the site", ctx.TagName(), name)
		}
		if st.ctx.Err() != nil { // the render is abandoned: stop here
			st.fail(errStopped)
			return text, nil
		}
		inc := e.include(st.ctx, rel)
		if errors.Is(inc.err, sitefs.ErrRefused) {
			st.err = inc.err
			return text, nil
		}
		if inc.err != nil {
			return fail("%s: %v", ctx.TagName(), inc.err)
		}
		if st.includes++; st.includes > st.bounds.Includes {
			st.fail(boundError("it renders more than %d includes", st.bounds.Includes))
			return text, nil
		}
		if st.depth >= maxIncludeDepth {
			return fail("%s: includes nested %d deep; does %s include itself?", ctx.TagName(), st.depth, rel)
		}
		for _, pr := range inc.probs {
			st.warn(ctx, fmt.Sprintf("%s (at %s:%d)", pr.msg, rel, pr.line))
		}
		bindings := maps.Clone(ctx.Bindings())
		if include != nil {
			bindings["include"] = include
		}
		if st.depth == 0 {
			st.line = ctx.Errorf("").LineNumber()
		}
		st.depth++
		out, rerr := renderBounded(inc.tpl, bindings, st)
		st.depth--
		if rerr != nil {
			return fail("Liquid: %s (at %s:%d)", liquidErrorText(rerr), rel, rerr.LineNumber())
		}
		return string(out), nil
	}
}

// include reads and parses an include file once; a parse that ctx stops is not kept.
func (e *liquidEngine) include(ctx context.Context, rel string) *liquidInclude {
	e.mu.Lock()
	inc, ok := e.includes[rel]
	e.mu.Unlock()
	if ok {
		return inc
	}
	inc = &liquidInclude{}
	src, err := e.files.ReadFile(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		inc.err = fmt.Errorf("no file %s in the site", rel)
	case errors.Is(err, sitefs.ErrRefused):
		inc.err = err
	case err != nil:
		inc.err = fmt.Errorf("read %s: %w", rel, err)
	default:
		ls := scanLiquid(strings.ReplaceAll(string(src), "\r\n", "\n"), rel)
		inc.probs = ls.keepUnknown(e.plugins)
		tries := maxLiquidTries
		tpl, more, ok := e.parse(ctx, ls, rel, &tries)
		inc.probs = append(inc.probs, more...)
		switch {
		case ctx.Err() != nil:
			inc.err = errStopped
			return inc
		case ok:
			inc.tpl = tpl
		default:
			inc.err = fmt.Errorf("cannot parse the Liquid of %s", rel)
		}
	}
	// Two renders may have read the file at once; both got the same result, keep the first.
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, ok := e.includes[rel]; ok {
		return prev
	}
	e.includes[rel] = inc
	return inc
}

// postURLTag is Jekyll's {% post_url NAME %}: the URL path of the post whose file is _posts/NAME.*.
func (e *liquidEngine) postURLTag(ctx render.Context) (string, error) {
	st := stateOf(ctx)
	args, err := ctx.ExpandTagArg()
	if err != nil {
		st.warn(ctx, fmt.Sprintf("%s: %v; left as text", tagText(ctx), err))
		return tagText(ctx), nil
	}
	name := strings.TrimPrefix(strings.TrimSpace(args), "/")
	e.indexOnce.Do(e.makeIndex)
	p, ok := e.postNames[name]
	if !ok && name != "" {
		p, ok = e.postBases[path.Base(name)] // Jekyll's deprecated match, which ignores the folder
	}
	if !ok {
		st.warn(ctx, fmt.Sprintf("post_url: no post %q (write the file name in _posts without its extension, like 2020-05-10-slug); left as text", name))
		return tagText(ctx), nil
	}
	return e.urlPath(p.URL), nil
}

// gistTag is the jekyll-gist plugin's {% gist [USER/]ID [FILE] %} (https://github.com/jekyll/jekyll-gist),
// which writes the gist's script; in a feed it is a link to the gist (see embedFor).
func gistTag(ctx render.Context) (string, error) {
	args, err := ctx.ExpandTagArg()
	f := strings.Fields(args)
	if err != nil || len(f) == 0 || len(f) > 2 {
		stateOf(ctx).warn(ctx, "gist: write {% gist user/id %} or {% gist user/id file %}; left as text")
		return tagText(ctx), nil
	}
	if !gistID.MatchString(f[0]) {
		stateOf(ctx).warn(ctx, fmt.Sprintf("gist: %q is not a gist's id (user/id); left as text", f[0]))
		return tagText(ctx), nil
	}
	src := "https://gist.github.com/" + f[0] + ".js"
	if len(f) == 2 {
		src += "?file=" + url.QueryEscape(f[1])
	}
	e, _ := embedFor(src, "")
	return e.html(), nil
}

var gistID = regexp.MustCompile(`^([A-Za-z0-9-]+/)?[0-9a-fA-F]+$`)

// twitterTag is jekyll-twitter-plugin's {% twitter [oembed] URL [options] %}
// (https://github.com/rob-murray/jekyll-twitter-plugin), which fetches the post from Twitter's oEmbed API
// when the site is built; a feed cannot, so it becomes a link to the post or the profile it names.
func twitterTag(ctx render.Context) (string, error) {
	args, err := ctx.ExpandTagArg()
	f := strings.Fields(args)
	if len(f) > 0 && f[0] == "oembed" { // the plugin's older form names the API first
		f = f[1:]
	}
	var u *url.URL
	if err == nil && len(f) > 0 {
		u, err = url.Parse(f[0])
	}
	if err != nil || u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		stateOf(ctx).warn(ctx, "twitter: write {% twitter https://twitter.com/user/status/id %}; left as text")
		return tagText(ctx), nil
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	name := "Post on X"
	switch {
	case len(segs) >= 3 && segs[1] == "status" && segs[0] != "i":
		name = "Post by @" + segs[0] + " on X"
	case len(segs) == 1 && segs[0] != "":
		name = "@" + segs[0] + " on X"
	}
	return embed{url: u.String(), name: name}.html(), nil
}

// urlPath is the path of an absolute URL of the site, with the base path: what Jekyll's relative_url gives.
func (e *liquidEngine) urlPath(abs string) string {
	return e.basePath + strings.TrimPrefix(abs, e.siteURL)
}

// linkTag is Jekyll's {% link PATH %}: the URL path of a file of the site. For a post it is the post's URL;
// for anything else it is worked out as Jekyll does for pages, collections and static files.
func (e *liquidEngine) linkTag(ctx render.Context) (string, error) {
	st := stateOf(ctx)
	args, err := ctx.ExpandTagArg()
	if err != nil {
		st.warn(ctx, fmt.Sprintf("%s: %v; left as text", tagText(ctx), err))
		return tagText(ctx), nil
	}
	rel := strings.TrimPrefix(strings.TrimSpace(args), "/")
	e.indexOnce.Do(e.makeIndex)
	if p, ok := e.posts[rel]; ok {
		return e.urlPath(p.URL), nil
	}
	if strings.HasPrefix(rel, "_posts/") || strings.Contains(rel, "/_posts/") {
		st.warn(ctx, fmt.Sprintf("link: no published post %s; left as text", rel))
		return tagText(ctx), nil
	}
	clean := path.Clean("/" + rel)
	if rel == "" || clean == "/" {
		st.warn(ctx, "link names no file; left as text")
		return tagText(ctx), nil
	}
	u := e.fileURL(clean[1:])
	if _, err := os.Stat(filepath.Join(e.files.Dir(), filepath.FromSlash(clean[1:]))); err != nil {
		st.warn(ctx, fmt.Sprintf("link: no file %s in the site; linked to %s, where Jekyll would put it", clean[1:], u))
	}
	return e.basePath + u, nil
}

// jekyllConverted are the extensions Jekyll turns into .html by default.
var jekyllConverted = map[string]bool{".md": true, ".markdown": true, ".mkdown": true, ".mkdn": true, ".mkd": true, ".html": true}

// fileURL is the URL path Jekyll gives a file that is not a post: a collection document, a page or a
// static file.
func (e *liquidEngine) fileURL(rel string) string {
	ext := path.Ext(rel)
	noExt := strings.TrimSuffix(rel, ext)
	outExt := ext
	if jekyllConverted[strings.ToLower(ext)] {
		outExt = ".html"
	}
	if first, rest, ok := strings.Cut(rel, "/"); ok && strings.HasPrefix(first, "_") && len(first) > 1 {
		coll := first[1:]
		tmpl := e.collections[coll]
		if tmpl == "" {
			tmpl = "/:collection/:path:output_ext"
		}
		restNoExt := strings.TrimSuffix(rest, ext)
		u, err := expandPermalink(tmpl, permalinkVars{
			slug: path.Base(restNoExt), name: path.Base(restNoExt), path: restNoExt,
			outputExt: outExt, collection: coll,
		})
		if err == nil {
			return u
		}
	}
	switch {
	case outExt != ".html":
		return "/" + rel
	case path.Base(noExt) == "index":
		return strings.TrimSuffix("/"+path.Dir(noExt), ".") + "/"
	case e.prettyPages:
		return "/" + noExt + "/"
	}
	return "/" + noExt + ".html"
}

// registerFilters adds Jekyll's filters and replaces date, whose "now" would read the clock.
func (e *liquidEngine) registerFilters() {
	f := e.eng.RegisterFilter
	f("date", func(v, format any) any {
		fs := str(format)
		t, ok := e.toTime(v)
		if fs == "" || !ok {
			return v
		}
		out, err := tuesday.Strftime(fs, t)
		if err != nil {
			return v
		}
		return out
	})
	f("date_to_string", func(v, typ, style any) any { return e.stringifyDate(v, "Jan", typ, style) })
	f("date_to_long_string", func(v, typ, style any) any { return e.stringifyDate(v, "January", typ, style) })
	f("date_to_xmlschema", func(v any) any {
		if t, ok := e.toTime(v); ok {
			return t.In(e.loc).Format("2006-01-02T15:04:05-07:00")
		}
		return v
	})
	f("date_to_rfc822", func(v any) any {
		if t, ok := e.toTime(v); ok {
			return t.In(e.loc).Format("Mon, 02 Jan 2006 15:04:05 -0700")
		}
		return v
	})
	f("xml_escape", func(v any) string { return xmlEscaper.Replace(str(v)) })
	f("cgi_escape", func(v any) string { return url.QueryEscape(str(v)) })
	f("uri_escape", func(v any) string { return uriEscape(str(v)) })
	// jsonify: registerBoundedFilters
	f("slugify", func(v, mode any) string { return jekyllSlugify(str(v), str(mode)) })
	f("relative_url", func(v any) any {
		if v == nil {
			return nil
		}
		return e.relativeURL(str(v))
	})
	f("absolute_url", func(v any) any {
		if v == nil {
			return nil
		}
		s := str(v)
		if u, err := url.Parse(s); err == nil && u.IsAbs() {
			return s
		}
		return strings.TrimSuffix(e.siteURL, e.basePath) + e.relativeURL(s)
	})
	f("markdownify", func(v any) string {
		var b bytes.Buffer
		if err := e.md.Convert([]byte(str(v)), &b); err != nil {
			return html.EscapeString(str(v))
		}
		return b.String()
	})
	// Jekyll's smartify makes quotes and dashes typographic; the Markdown renderer does that afterwards.
	f("smartify", func(v any) string { return str(v) })
	f("number_of_words", numberOfWords)
	// array_to_sentence_string: registerBoundedFilters
	f("where", func(v, prop, target any) any {
		if prop == nil {
			return v
		}
		var out []any
		for _, it := range asSlice(v) {
			if whereMatch(property(it, str(prop)), target) {
				out = append(out, it)
			}
		}
		return out
	})
	f("where_exp", func(v any, name string, cond expressions.Closure) (any, error) {
		var out []any
		for _, it := range asSlice(v) {
			ok, err := cond.Bind(name, it).Evaluate()
			if err != nil {
				return nil, err
			}
			if ok != nil && ok != false {
				out = append(out, it)
			}
		}
		return out, nil
	})
	f("group_by", func(v, prop any) any {
		var groups []any
		index := map[string]liquidMap{}
		for _, it := range asSlice(v) {
			k := str(property(it, str(prop)))
			g, ok := index[k]
			if !ok {
				g = liquidMap{"name": k, "items": []any{}, "size": 0}
				index[k] = g
				groups = append(groups, g)
			}
			g["items"] = append(g["items"].([]any), it)
			g["size"] = len(g["items"].([]any))
		}
		return groups
	})
	f("normalize_whitespace", func(v any) string { return strings.Join(strings.Fields(str(v)), " ") })
	f("to_integer", func(v any) int {
		switch v := v.(type) {
		case bool:
			if v {
				return 1
			}
			return 0
		case float64:
			return int(v)
		case int:
			return v
		}
		s := strings.TrimSpace(str(v))
		end := 0
		for end < len(s) && (s[end] >= '0' && s[end] <= '9' || end == 0 && (s[0] == '-' || s[0] == '+')) {
			end++
		}
		n, _ := strconv.Atoi(s[:end])
		return n
	})
	f("push", func(v, item any) []any { return append(append([]any{}, asSlice(v)...), item) })
	f("unshift", func(v, item any) []any { return append([]any{item}, asSlice(v)...) })
	f("pop", func(v, n any) []any {
		a := asSlice(v)
		return a[:len(a)-min(countArg(n), len(a))]
	})
	f("shift", func(v, n any) []any {
		a := asSlice(v)
		return a[min(countArg(n), len(a)):]
	})
}

func countArg(n any) int {
	if n == nil {
		return 1
	}
	c, err := strconv.Atoi(str(n))
	if err != nil || c < 0 {
		return 0
	}
	return c
}

// relativeURL is Jekyll's relative_url: the site's base path and the input, with one slash between.
func (e *liquidEngine) relativeURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.IsAbs() {
		return s
	}
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	s = e.basePath + s
	if u, err := url.Parse(s); err == nil {
		return u.String() // escapes what a URL may not hold, like Addressable's normalize
	}
	return s
}

// toTime reads a date as Liquid's date filter does: a time, "now" or "today", seconds since 1970, or a
// date string. "now" is the site's newest post date, so output does not depend on the clock.
func (e *liquidEngine) toTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, true
	case int:
		return time.Unix(int64(v), 0).In(e.loc), true
	case int64:
		return time.Unix(v, 0).In(e.loc), true
	case float64:
		return time.Unix(int64(v), 0).In(e.loc), true
	case string:
		s := strings.TrimSpace(v)
		switch strings.ToLower(s) {
		case "":
			return time.Time{}, false
		case "now", "today":
			return e.now, true
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).In(e.loc), true
		}
		t, _, err := parseDate(s, e.loc)
		return t, err == nil
	}
	return time.Time{}, false
}

// stringifyDate is Jekyll's date_to_string and date_to_long_string: "10 May 2020", with type "ordinal"
// "10th May 2020", and with style "US" too "May 10th, 2020".
func (e *liquidEngine) stringifyDate(v any, month string, typ, style any) any {
	t, ok := e.toTime(v)
	if !ok {
		return v
	}
	t = t.In(e.loc)
	if str(typ) == "ordinal" {
		day := strconv.Itoa(t.Day()) + ordinalSuffix(t.Day())
		if str(style) == "US" {
			return t.Format(month) + " " + day + t.Format(", 2006")
		}
		return day + " " + t.Format(month+" 2006")
	}
	return t.Format("02 " + month + " 2006")
}

func ordinalSuffix(d int) string {
	if d%100 >= 11 && d%100 <= 13 {
		return "th"
	}
	switch d % 10 {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}

// xmlEscaper is Ruby's encode(xml: :attr), which Jekyll's xml_escape uses: the apostrophe stays.
var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// uriEscape is Jekyll's uri_escape: it percent-encodes what may not stand in a URI and leaves reserved
// characters and existing escapes alone.
func uriEscape(s string) string {
	const keep = "-._~:/?#[]@!$&'()*+,;="
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0):
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && hexByte(s[i+1]) && hexByte(s[i+2]):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hexByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// jekyllSlugify is Jekyll's slugify filter with its modes: none, raw, default, pretty, ascii and latin.
func jekyllSlugify(s, mode string) string {
	switch mode {
	case "none":
		return s
	case "raw":
		return strings.ToLower(strings.Trim(strings.Join(strings.Fields(s), "-"), "-"))
	case "pretty":
		return slugify(s, true, false)
	case "latin":
		s = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, norm.NFD.String(s))
		fallthrough
	case "ascii":
		var b strings.Builder
		hyphen := false
		for _, r := range s {
			if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				b.WriteRune(r)
				hyphen = false
			} else if !hyphen {
				b.WriteByte('-')
				hyphen = true
			}
		}
		return strings.ToLower(strings.Trim(b.String(), "-"))
	}
	return slugify(s, false, false)
}

// numberOfWords is Jekyll's number_of_words; mode "cjk" counts each Chinese, Japanese or Korean character
// as a word, and "auto" does so when there are any.
func numberOfWords(v, mode any) int {
	s := str(v)
	isCJK := func(r rune) bool {
		return unicode.In(r, unicode.Han, unicode.Katakana, unicode.Hiragana, unicode.Hangul)
	}
	m := str(mode)
	if m == "cjk" || m == "auto" && strings.IndexFunc(s, isCJK) >= 0 {
		n := 0
		rest := strings.Map(func(r rune) rune {
			if isCJK(r) {
				n++
				return ' '
			}
			return r
		}, s)
		return n + len(strings.Fields(rest))
	}
	return len(strings.Fields(s))
}

// whereMatch is Jekyll's where comparison: equal as strings, or for a list, one element equal.
func whereMatch(prop, target any) bool {
	if target == nil {
		return prop == nil
	}
	t := str(target)
	if s, ok := prop.(string); ok {
		return s == t
	}
	if prop == nil {
		return false
	}
	rv := reflect.ValueOf(prop)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		for i := range rv.Len() {
			if str(rv.Index(i).Interface()) == t {
				return true
			}
		}
		return false
	}
	return str(prop) == t
}

// property reads a (dotted) property of a Liquid value, as Jekyll's where and group_by do.
func property(v any, prop string) (out any) {
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	for _, part := range strings.Split(prop, ".") {
		switch m := v.(type) {
		case nil:
			return nil
		case liquidMap:
			v = m[part]
		case map[string]any:
			v = m[part]
		case yaml2.MapSlice:
			v = nil
			for _, it := range m {
				if str(it.Key) == part {
					v = it.Value
					break
				}
			}
		default:
			v = values.ValueOf(v).PropertyValue(values.ValueOf(part)).Interface()
		}
	}
	return v
}

// asSlice turns a Liquid value into a list: a hash gives its values, in key order; nil gives none.
func asSlice(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	case string:
		return []any{v}
	case yaml2.MapSlice:
		out := make([]any, len(v))
		for i, it := range v {
			out[i] = it.Value
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out
	case reflect.Map:
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = rv.MapIndex(k).Interface()
		}
		return out
	}
	return []any{v}
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// writeJSON is Jekyll's jsonify: hashes with their keys in order, times as Ruby writes them, and <, > and &
// as they are. It writes a piece at a time into b, whose cap stops it before the whole is made.
func writeJSON(b *cappedBuffer, v any, depth int) {
	b.nest(depth)
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
		return
	case string:
		writeJSONString(b, v)
		return
	case time.Time:
		writeJSONString(b, v.Format("2006-01-02 15:04:05 -0700"))
		return
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			b.WriteString("null")
			return
		}
	case yaml2.MapSlice:
		b.WriteByte('{')
		for i, it := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, str(it.Key))
			b.WriteByte(':')
			writeJSON(b, it.Value, depth+1)
		}
		b.WriteByte('}')
		return
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		keys := make([]string, 0, rv.Len())
		byKey := map[string]reflect.Value{}
		for _, k := range rv.MapKeys() {
			ks := fmt.Sprint(k.Interface())
			keys = append(keys, ks)
			byKey[ks] = rv.MapIndex(k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			writeJSON(b, byKey[k].Interface(), depth+1)
		}
		b.WriteByte('}')
	case reflect.Slice, reflect.Array:
		b.WriteByte('[')
		for i := range rv.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, rv.Index(i).Interface(), depth+1)
		}
		b.WriteByte(']')
	default:
		out, err := json.Marshal(v)
		if err != nil {
			writeJSONString(b, fmt.Sprint(v))
			return
		}
		b.Write(out)
	}
}

func writeJSONString(b *cappedBuffer, s string) {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(out.Bytes()[:out.Len()-1])
}

// liquidMap is a Liquid hash whose {% for %} goes through its keys in sorted order (osteele/liquid takes a
// value with Len and Index as the list to loop over), so output does not depend on Go's map order.
type liquidMap map[string]any

func (m liquidMap) Len() int { return len(m) }

func (m liquidMap) Index(i int) any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return []any{keys[i], m[keys[i]]}
}

// toLiquid makes decoded YAML or JSON into Liquid values: every hash a liquidMap.
func toLiquid(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(liquidMap, len(v))
		for k, x := range v {
			m[k] = toLiquid(x)
		}
		return m
	case map[any]any:
		m := make(liquidMap, len(v))
		for k, x := range v {
			m[str(k)] = toLiquid(x)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = toLiquid(x)
		}
		return out
	}
	return v
}

// readSiteData reads the _data folder into site.data as Jekyll does: data/x.yml is site.data.x, and
// data/a/b.json is site.data.a.b. A file that does not parse is left out with a warning.
func readSiteData(files *sitefs.FS, dataDir string) (liquidMap, []Warning, error) {
	data := liquidMap{}
	var warns []Warning
	var refused error
	var read func(rel string, into liquidMap)
	read = func(rel string, into liquidMap) {
		entries, err := os.ReadDir(filepath.Join(files.Dir(), filepath.FromSlash(rel)))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				warns = append(warns, Warning{File: rel, Msg: fmt.Sprintf("cannot read the data folder: %v; site.data leaves it out", err)})
			}
			return
		}
		// Jekyll reads *.yaml, *.yml, *.json, *.csv, *.tsv, then folders; a later file of the same name wins.
		for _, ext := range []string{".yaml", ".yml", ".json", ".csv", ".tsv"} {
			for _, ent := range entries {
				name := ent.Name()
				if ent.IsDir() || path.Ext(name) != ext || strings.HasPrefix(name, ".") {
					continue
				}
				file := rel + "/" + name
				v, err := readDataFile(files, file, ext)
				if errors.Is(err, sitefs.ErrRefused) {
					refused = cmp.Or(refused, err)
					continue
				}
				if err != nil {
					warns = append(warns, Warning{File: file, Msg: fmt.Sprintf("cannot read the data file: %v; site.data leaves it out", err)})
					continue
				}
				into[dataKey(strings.TrimSuffix(name, ext))] = toLiquid(v)
			}
		}
		for _, ent := range entries {
			if ent.IsDir() && !strings.HasPrefix(ent.Name(), ".") {
				sub := liquidMap{}
				read(rel+"/"+ent.Name(), sub)
				into[dataKey(ent.Name())] = sub
			}
		}
	}
	read(dataDir, data)
	return data, warns, refused
}

var (
	dataKeyStrip = regexp.MustCompile(`[^\w\s-]+`)
	dataKeySpace = regexp.MustCompile(`\s+`)
)

// dataKey is Jekyll's sanitize_filename: "categories.01" is site.data.categories01.
func dataKey(name string) string {
	return dataKeySpace.ReplaceAllString(strings.TrimSpace(dataKeyStrip.ReplaceAllString(name, "")), "_")
}

func readDataFile(files *sitefs.FS, file, ext string) (any, error) {
	src, err := files.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var v any
	switch ext {
	case ".json":
		err = json.Unmarshal(src, &v)
	case ".csv", ".tsv":
		r := csv.NewReader(bytes.NewReader(src))
		if ext == ".tsv" {
			r.Comma = '\t'
		}
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		if err != nil {
			return nil, err
		}
		var out []any
		for _, row := range rows[min(1, len(rows)):] {
			m := map[string]any{}
			for i, h := range rows[0] {
				if i < len(row) {
					m[h] = row[i]
				}
			}
			out = append(out, m)
		}
		return out, nil
	default:
		err = yaml.Unmarshal(src, &v)
	}
	return v, err
}

var registerTag = regexp.MustCompile(`register_(?:tag|block)\s*\(?\s*["':]([\w-]+)`)

// pluginTags finds the Liquid tags the site's Ruby plugins register, to say where an unknown tag comes from.
func pluginTags(files *sitefs.FS, pluginsDir string) map[string]string {
	tags := map[string]string{}
	dir := files.Dir()
	root := filepath.Join(dir, filepath.FromSlash(pluginsDir))
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".rb" {
			return nil // no plugins folder, or one file unreadable: only the warnings' wording suffers
		}
		rel, _ := filepath.Rel(dir, p)
		src, err := files.ReadFile(filepath.ToSlash(rel))
		if err != nil {
			return nil
		}
		for _, m := range registerTag.FindAllStringSubmatch(string(src), -1) {
			if _, ok := tags[m[1]]; !ok {
				tags[m[1]] = filepath.ToSlash(rel)
			}
		}
		return nil
	})
	return tags
}
