package posts

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/heraldhq/herald/internal/sitefs"
	"github.com/pelletier/go-toml/v2"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/parser"
	"gopkg.in/yaml.v3"
)

// hugoContentExts are the content formats Herald reads from a Hugo site; Hugo renders .html pages as they are.
var hugoContentExts = map[string]bool{".md": true, ".markdown": true, ".html": true}

// hugoConfig holds the settings of a Hugo site's config that Herald uses
// (https://gohugo.io/configuration/all/). Hugo's keys are case-insensitive; they are read lower-cased.
type hugoConfig struct {
	file         string // the config file's name, for messages; "" when there is none
	baseURL      string
	title        string
	description  string
	lang         string
	timeZone     string
	author       Author
	permalinks   map[string]string // section path ("" for the root) → pattern
	ugly         bool
	uglySections map[string]bool
	publishDir   string
	contentDir   string
	mainSections []string
	keepCase     bool       // disablePathToLower
	dateFromName bool       // frontmatter.date lists ":filename": the date and slug come from 2024-01-02-slug.md
	languages    []hugoLang // a multilingual site's, in Hugo's order (see hugolang.go); none for one language
	offLanguages []string   // the keys of the languages it disables, sorted
	warnings     []Warning
}

// loadHugo reads a Hugo site: its config, then the regular pages of its main sections, which are its posts.
func loadHugo(ctx context.Context, opts Options) (*Site, error) {
	cfg, tree, err := readHugoConfig(opts.files)
	if err != nil {
		return nil, err
	}
	s := &Site{Kind: "hugo", Dir: opts.Dir, files: opts.files, maxFM: opts.MaxFrontMatterBytes, Title: cfg.title, Description: cfg.description, URL: cfg.baseURL,
		Lang: cfg.lang, Author: cfg.author, OutputDir: cfg.publishDir, Warnings: cfg.warnings}
	if cfg.timeZone != "" {
		loc, err := time.LoadLocation(cfg.timeZone)
		if err != nil {
			return nil, fmt.Errorf("%s: timeZone %q: %w; use an IANA name like Europe/Oslo", tree.from["timezone"], cfg.timeZone, err)
		}
		s.Location = loc
	}
	if err := s.applyOverrides(opts); err != nil {
		if errors.Is(err, ErrNoURL) {
			return nil, tree.noBaseURL()
		}
		return nil, err
	}
	s.Languages = cfg.siteLanguages(s)
	if opts.siteOnly {
		return s, nil
	}

	pages, err := cfg.findPages(opts.Dir)
	if err != nil {
		return nil, err
	}
	pages = hugoPostPages(pages, cfg.mainSections)
	files := make([]string, len(pages))
	for i, pg := range pages {
		files[i] = pg.rel
	}
	sep := firstNonEmpty(opts.ExcerptSeparator, "\n\n")
	host := s.host()
	// A page's URL depends on the sections around it, so the set of sections is part of the cache key.
	sections := map[string]bool{}
	for _, pg := range pages {
		sections[strings.Join(pg.current, "/")] = true
	}
	s.cache = openPostCache(opts.Cache, cacheKey(opts, []byte(fmt.Sprintf("hugo %s %#v %v", s.Location, *cfg, sections))))
	ps, warns, err := s.readPosts(ctx, files, func(rel string, src []byte) (*Post, []Warning, error) {
		k := sort.Search(len(pages), func(i int) bool { return pages[i].rel >= rel })
		return s.hugoPost(pages[k], src, cfg, sep, host, opts)
	})
	if err != nil {
		return nil, err
	}
	s.Warnings = append(s.Warnings, warns...)
	s.appendPosts(ps)
	refs := &hugoRefs{site: s, cfg: cfg, tables: map[string]*refTable{}, pageLang: map[string]string{}}
	for i, p := range ps {
		if p != nil {
			lang := refs.key(pages[i].lang)
			refs.table(lang).add(pages[i].refKey(), p.URL)
			if lang != "" {
				refs.pageLang[p.Path] = lang
			}
		}
	}
	s.render = newRenderer()
	s.render.md = hugoMarkdown{Markdown: s.render.md, refs: refs}
	return s, nil
}

// readHugoConfig reads the site's config files as Hugo merges them (see hugoconfig.go). A site without one
// is read with Hugo's defaults.
func readHugoConfig(files *sitefs.FS) (*hugoConfig, *hugoConfigTree, error) {
	cfg := &hugoConfig{publishDir: "public", contentDir: "content", permalinks: map[string]string{}, uglySections: map[string]bool{}}
	tree, err := readHugoConfigTree(files)
	if err != nil {
		return nil, nil, err
	}
	cfg.file = tree.main
	m := tree.raw
	get := func(keys ...string) any {
		var v any = m
		for _, k := range keys {
			mm, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = mm[k]
		}
		return v
	}
	getStr := func(keys ...string) string { return strings.TrimSpace(str(get(keys...))) }

	cfg.baseURL = getStr("baseurl")
	cfg.title = getStr("title")
	cfg.description = firstNonEmpty(getStr("params", "description"), getStr("description"))
	cfg.lang = firstNonEmpty(getStr("languagecode"), getStr("defaultcontentlanguage"))
	cfg.timeZone = getStr("timezone")
	if a := get("params", "author"); a != nil {
		cfg.author = authorFrom(a)
	} else {
		cfg.author = authorFrom(get("author"))
	}
	cfg.publishDir = firstNonEmpty(getStr("publishdir"), cfg.publishDir)
	cfg.contentDir = firstNonEmpty(getStr("contentdir"), cfg.contentDir)
	cfg.mainSections = list(get("params", "mainsections"))
	if cfg.mainSections == nil {
		cfg.mainSections = list(get("mainsections"))
	}
	cfg.keepCase, _ = boolean(get("disablepathtolower"))
	for _, k := range list(get("frontmatter", "date")) {
		if strings.EqualFold(k, ":filename") {
			cfg.dateFromName = true
		}
	}
	switch u := get("uglyurls").(type) {
	case bool:
		cfg.ugly = u
	case map[string]any:
		for sec, v := range u {
			cfg.uglySections[strings.Trim(sec, " /")], _ = boolean(v)
		}
	}
	if !readHugoPermalinks(get("permalinks"), cfg.permalinks) {
		cfg.warnings = append(cfg.warnings, Warning{File: tree.from["permalinks"], Msg: "permalinks: only the section = pattern form is read; posts get Hugo's default permalinks"})
	}
	if cfg.languages, cfg.offLanguages, err = hugoLanguages(m, firstNonEmpty(tree.from["languages"], cfg.file), cfg); err != nil {
		return nil, nil, err
	}
	if l := cfg.defaultLanguage(); l != nil {
		cfg.title, cfg.description, cfg.lang = l.Title, l.Description, l.Lang
	}
	return cfg, tree, nil
}

// readHugoPermalinks reads a permalinks setting into into: a section mapped to a pattern, either directly
// (the older form) or under "page". It is false for a setting of another form.
func readHugoPermalinks(v any, into map[string]string) bool {
	pl, ok := v.(map[string]any)
	if !ok {
		return v == nil
	}
	for sec, v := range pl {
		if pat, ok := v.(string); ok {
			into[strings.Trim(sec, " /")] = pat
		}
	}
	if page, ok := pl["page"].(map[string]any); ok {
		for sec, v := range page {
			if pat, ok := v.(string); ok {
				into[strings.Trim(sec, " /")] = pat
			}
		}
	}
	return true
}

// decodeHugoConfig parses a config file by its extension. Errors name the file and line.
func decodeHugoConfig(name string, src []byte) (map[string]any, error) {
	var m map[string]any
	switch strings.ToLower(path.Ext(name)) {
	case ".toml":
		if err := toml.Unmarshal(src, &m); err != nil {
			line := 0
			var de *toml.DecodeError
			if errors.As(err, &de) {
				line, _ = de.Position()
			}
			return nil, &Error{File: name, Line: line, Msg: "not valid TOML (" + err.Error() + "); fix the TOML on that line"}
		}
	case ".yaml", ".yml":
		if err := yaml.Unmarshal(src, &m); err != nil {
			return nil, yamlError(name, 0, err)
		}
	case ".json":
		if err := json.Unmarshal(src, &m); err != nil {
			off := int64(-1)
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			switch {
			case errors.As(err, &se):
				off = se.Offset
			case errors.As(err, &te):
				off = te.Offset
			}
			line := 0
			if off >= 0 && off <= int64(len(src)) {
				line = 1 + bytes.Count(src[:off], []byte("\n"))
			}
			return nil, &Error{File: name, Line: line, Msg: "not valid JSON (" + err.Error() + "); fix the JSON on that line"}
		}
	}
	return m, nil
}

// lowerKeys lower-cases the keys of maps, at every depth, as Hugo reads config and front matter.
func lowerKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[strings.ToLower(k)] = lowerKeys(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[strings.ToLower(fmt.Sprint(k))] = lowerKeys(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = lowerKeys(e)
		}
		return out
	}
	return v
}

// hugoPage is a regular page of a Hugo site: a content file, or the index file of a leaf bundle.
type hugoPage struct {
	rel     string   // relative to the site folder, slash-separated
	crel    string   // relative to the content folder
	dir     string   // the folder holding the page (for a bundle, the bundle's parent); "." at the top
	name    string   // the file name without extension, or the bundle's folder name
	bundle  bool     // a leaf bundle's index file
	section string   // the top-level section, "" for pages at the top
	current []string // the path of the page's nearest section (Hugo's .CurrentSection), for :sections
	lang    string   // the key of its language on a multilingual site (see hugolang.go), else ""
}

// key is the page's path under content without extension or index file: "posts/my-post".
func (pg hugoPage) key() string {
	if pg.bundle {
		return path.Dir(pg.crel)
	}
	return strings.TrimSuffix(pg.crel, path.Ext(pg.crel))
}

// refKey is the path a ref names the page by: key without the language suffix of its file name, as in
// Hugo (posts/a.fr.md is posts/a of its language; a bundle's key has none).
func (pg hugoPage) refKey() string {
	k := pg.key()
	if pg.lang != "" && !pg.bundle && strings.HasSuffix(strings.ToLower(k), "."+pg.lang) {
		k = k[:len(k)-len(pg.lang)-1]
	}
	return k
}

// findHugoPages lists the regular pages under the content folder, sorted by path. List pages (_index.md)
// are left out, and so is every file inside a leaf bundle other than its index file: Hugo treats those as
// the bundle's resources, not pages. A file name that ends in one of langs (post.fr.md, index.fr.md) is a
// page in that language; the folders skip (relative to contentDir) are left out.
func findHugoPages(dir, contentDir string, langs map[string]bool, skip []string) ([]hugoPage, error) {
	root := filepath.Join(dir, filepath.FromSlash(contentDir))
	if info, err := os.Stat(root); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("%s: no such folder; a Hugo site keeps its pages there (set contentDir in the site's config if they are elsewhere)", contentDir)
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if rel, _ := filepath.Rel(root, p); p != root && (strings.HasPrefix(name, ".") || slices.Contains(skip, filepath.ToSlash(rel))) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "#") || strings.HasSuffix(name, "~") ||
			!hugoContentExts[strings.ToLower(path.Ext(name))] {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find pages in %s: %w", contentDir, err)
	}
	base := func(f string) string {
		b := path.Base(f)
		b, _ = hugoLangSuffix(strings.TrimSuffix(b, path.Ext(b)), langs)
		return b
	}
	leaf, branch := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		switch d := path.Dir(f); base(f) {
		case "index":
			if d != "." {
				leaf[d] = true
			}
		case "_index":
			branch[d] = true
		}
	}
	// inLeaf tells whether d or a folder above it is a leaf bundle.
	inLeaf := func(d string) bool {
		for ; d != "." && d != "/"; d = path.Dir(d) {
			if leaf[d] {
				return true
			}
		}
		return false
	}
	var pages []hugoPage
	for _, f := range files {
		d, b := path.Dir(f), base(f)
		pg := hugoPage{rel: path.Join(contentDir, f), crel: f, dir: d, name: b}
		_, pg.lang = hugoLangSuffix(strings.TrimSuffix(path.Base(f), path.Ext(f)), langs)
		switch {
		case b == "_index":
			continue
		case b == "index" && d != ".":
			if inLeaf(path.Dir(d)) {
				continue
			}
			pg.bundle, pg.dir, pg.name = true, path.Dir(d), path.Base(d)
		case inLeaf(d):
			continue
		}
		if pg.dir != "." {
			pg.section, _, _ = strings.Cut(pg.dir, "/")
			// The nearest section: top-level folders always are; deeper ones when they have an _index file.
			cur := pg.dir
			for strings.Contains(cur, "/") && !branch[cur] {
				cur = path.Dir(cur)
			}
			pg.current = strings.Split(cur, "/")
		}
		pages = append(pages, pg)
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].rel < pages[j].rel })
	return pages, nil
}

// hugoPostPages keeps the pages of the main sections: those configured, or else the section with the most
// pages, which is Hugo's own default for mainSections.
func hugoPostPages(pages []hugoPage, mainSections []string) []hugoPage {
	if len(mainSections) == 0 {
		count := map[string]int{}
		for _, pg := range pages {
			if pg.section != "" {
				count[pg.section]++
			}
		}
		best := ""
		for sec, n := range count {
			if n > count[best] || (n == count[best] && sec < best) {
				best = sec
			}
		}
		if best == "" {
			return nil
		}
		mainSections = []string{best}
	}
	var out []hugoPage
	for _, pg := range pages {
		for _, sec := range mainSections {
			sec = strings.ToLower(strings.Trim(sec, "/"))
			if d := strings.ToLower(pg.dir); sec != "" && (d == sec || strings.HasPrefix(d, sec+"/")) {
				out = append(out, pg)
				break
			}
		}
	}
	return out
}

// hugoPost reads one page. It returns a nil post for one that Hugo would not publish: a draft (without
// opts.Drafts), one published after opts.Now (without opts.Future), an expired one, a headless one, or one
// whose build options keep it out of lists.
func (s *Site) hugoPost(pg hugoPage, src []byte, cfg *hugoConfig, sep, host string, opts Options) (*Post, []Warning, error) {
	rel := pg.rel
	fm, _, err := parseFrontMatter(rel, src, s.maxFM)
	if err != nil {
		return nil, nil, err
	}
	if t := bytes.TrimSpace(bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))); !fm.present && bytes.HasPrefix(t, []byte("{")) && !bytes.HasPrefix(t, []byte("{{")) {
		return nil, nil, &Error{File: rel, Line: 1, Msg: "JSON front matter is not supported; write it as YAML between --- lines or TOML between +++ lines"}
	}
	lowerFrontMatter(fm)
	d := fm.data
	if b, _ := boolean(d["headless"]); b {
		return nil, nil, nil
	}
	if hugoUnlisted(d["build"]) || hugoUnlisted(d["_build"]) {
		return nil, nil, nil
	}
	if b, ok := boolean(d["published"]); ok && !b {
		return nil, nil, nil
	}
	draft, _ := boolean(d["draft"])
	if draft && !opts.Drafts {
		return nil, nil, nil
	}
	var warns []Warning
	date, err := s.frontMatterDate(fm, rel, &warns, "date", "publishdate", "pubdate", "published")
	if err != nil {
		return nil, nil, err
	}
	name := pg.name
	if m := hugoDatedName.FindStringSubmatch(name); m != nil {
		fileDate, err := time.ParseInLocation("2006-01-02", m[1], s.Location)
		if err == nil && date.IsZero() {
			date = fileDate
		}
		if err == nil && cfg.dateFromName && m[2] != "" {
			name = m[2]
		}
	}
	if date.IsZero() {
		return nil, nil, &Error{File: rel, Line: 1, Msg: "no date: add date: YYYY-MM-DD to the front matter"}
	}
	pub, err := s.frontMatterDate(fm, rel, &warns, "publishdate", "pubdate", "published")
	if err != nil {
		return nil, nil, err
	}
	if pub.IsZero() {
		pub = date
	}
	expiry, err := s.frontMatterDate(fm, rel, &warns, "expirydate", "unpublishdate")
	if err != nil {
		return nil, nil, err
	}
	p := &Post{Path: rel, Draft: draft, Date: date.In(s.Location), bodyLine: fm.bodyLine, sep: sep, ExcerptOnly: opts.ExcerptOnly,
		visibleFrom: pub, expires: expiry}
	warns = append(warns, s.fillCommon(p, fm, nil)...)
	rawTitle := strings.TrimSpace(str(d["title"]))
	if p.Title == "" {
		p.Title = titleFromSlug(name)
	}
	if p.Updated.IsZero() {
		if t, err := s.frontMatterDate(fm, rel, &warns, "modified"); err == nil && !t.IsZero() {
			p.Updated = t
		} else {
			p.Updated = p.Date
		}
	}
	p.Updated = p.Updated.In(s.Location)
	// Hugo's summary is front matter summary; description is only the page's meta description.
	p.excerpt = firstString(d, "summary", "description", "excerpt")

	urlPath, err := s.hugoURLPath(pg, d, cfg, opts.Permalink, date, name, rawTitle)
	if err != nil {
		where := "the permalinks setting in " + firstNonEmpty(cfg.file, "the site's config")
		if opts.Permalink != "" {
			where = "permalink in herald.yaml"
		}
		return nil, nil, &Error{File: rel, Msg: err.Error() + "; fix " + where}
	}
	p.URL, p.Lang = s.URL+urlPath, firstNonEmpty(p.Lang, s.Lang)
	if l := cfg.language(pg.lang); l != nil {
		// Front matter url is the path on the language's host, as written; any other gets the prefix.
		if strings.TrimSpace(str(d["url"])) == "" {
			urlPath = l.prefix + urlPath
		}
		p.URL, p.Lang = firstNonEmpty(l.host, s.URL)+urlPath, l.Lang
		if l.Default {
			p.Lang = s.Lang // herald.yaml's lang may have set it
		}
	}
	if strings.Contains(urlPath, "://") {
		p.URL = urlPath
	}
	// Images in a bundle sit beside the page, so a relative path is relative to the page, not the site.
	if img := hugoImage(d); img != "" && pg.bundle && !strings.HasPrefix(img, "/") && !strings.Contains(img, "://") {
		if base, err := url.Parse(p.URL); err == nil {
			p.Image = absURL(base, img)
		}
	} else if p.Image == "" && img != "" {
		p.Image = s.siteRef(img)
	}

	if !p.hasID {
		// What stays when a post is retitled, moved to another URL or edited: its place under content and
		// the day it was dated, as written.
		p.ID = fmt.Sprintf("tag:%s,%s:%s", host, date.Format("2006-01-02"), escapePath(cfg.idKey(pg)))
	}
	return p, warns, nil
}

var hugoDatedName = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(?:-(.*))?$`)

// lowerFrontMatter lower-cases the front matter's top-level keys: Hugo reads publishDate and publishdate alike.
func lowerFrontMatter(fm *frontMatter) {
	data := make(map[string]any, len(fm.data))
	for k, v := range fm.data {
		data[strings.ToLower(k)] = v
	}
	raw := make(map[string]string, len(fm.raw))
	for k, v := range fm.raw {
		raw[strings.ToLower(k)] = v
	}
	lines := make(map[string]int, len(fm.lines))
	for k, v := range fm.lines {
		if n, ok := lines[strings.ToLower(k)]; !ok || v < n {
			lines[strings.ToLower(k)] = v
		}
	}
	fm.data, fm.raw, fm.lines = data, raw, lines
}

// hugoUnlisted reads Hugo's build options: a page that is never listed or never rendered is not in any feed.
func hugoUnlisted(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	m = lowerKeys(m).(map[string]any)
	for _, k := range []string{"list", "render"} {
		switch x := m[k].(type) {
		case bool:
			if !x {
				return true
			}
		case string:
			if strings.EqualFold(x, "never") || strings.EqualFold(x, "false") {
				return true
			}
		}
	}
	return false
}

// hugoImage is the front matter image, or the first of images (Hugo's list for social cards).
func hugoImage(d map[string]any) string {
	switch img := d["image"].(type) {
	case string:
		return strings.TrimSpace(img)
	case map[string]any:
		return firstString(img, "path", "url", "src")
	}
	if imgs := list(d["images"]); len(imgs) > 0 {
		return imgs[0]
	}
	return ""
}

// hugoURLPath gives the page's URL path under the site URL (or a whole URL, when front matter url has
// one), as Hugo builds it (https://gohugo.io/content-management/urls/): front matter url, else the section's
// permalink pattern, else the page's path under content with its last part replaced by slug.
func (s *Site) hugoURLPath(pg hugoPage, d map[string]any, cfg *hugoConfig, override string, date time.Time, name, title string) (string, error) {
	if u := strings.TrimSpace(str(d["url"])); u != "" {
		if pu, err := url.Parse(u); err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != "" {
			return u, nil
		}
		return hugoFinish(escapeHugoPath(u), false), nil
	}
	slug := strings.TrimSpace(str(d["slug"]))
	ugly := cfg.ugly || cfg.uglySections[pg.section]
	pattern := override
	if pattern == "" {
		pattern = cfg.permalinkFor(pg.dir, pg.lang)
	}
	if pattern != "" {
		v := hugoPermaVars{date: date, title: title, slug: slug, filename: name, section: pg.section, sections: pg.current, urlize: cfg.urlize}
		p, err := expandHugoPermalink(pattern, v)
		if err != nil {
			return "", err
		}
		return hugoFinish(escapeHugoPath(p), ugly), nil
	}
	var segs []string
	if pg.dir != "." {
		for _, seg := range strings.Split(pg.dir, "/") {
			segs = append(segs, cfg.urlize(seg))
		}
	}
	segs = append(segs, cfg.urlize(firstNonEmpty(slug, name)))
	return hugoFinish(escapeHugoPath("/"+strings.Join(segs, "/")+"/"), ugly), nil
}

// hugoFinish makes p a clean path that ends as Hugo's page URLs do: in "/", or in ".html" with uglyURLs.
func hugoFinish(p string, ugly bool) string {
	// Twice: cleanURLPath shortens "..." in a segment to ".", which a second pass drops.
	p = cleanURLPath(cleanURLPath(p))
	if ext := strings.ToLower(path.Ext(p)); ext == ".html" || ext == ".htm" || ext == ".xml" || p == "/" {
		return p
	}
	if ugly {
		return strings.TrimSuffix(p, "/") + ".html"
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// escapeHugoPath percent-encodes a path, leaving escapes already in it alone.
func escapeHugoPath(p string) string {
	if dec, err := url.PathUnescape(p); err == nil {
		p = dec
	}
	return escapePath(p)
}

// permalinkFor returns the pattern of the section that holds dir in language lang: the longest configured
// section path that is dir or above it; "" stands for pages at the top. A language with permalinks of its
// own has only those.
func (cfg *hugoConfig) permalinkFor(dir, lang string) string {
	dir = strings.ToLower(dir)
	best, pattern := -1, ""
	permalinks := cfg.permalinks
	if l := cfg.language(lang); l != nil && l.permalinks != nil {
		permalinks = l.permalinks
	}
	for sec, pat := range permalinks {
		sec = strings.ToLower(sec)
		match := (sec == "" && dir == ".") || (sec != "" && (dir == sec || strings.HasPrefix(dir, sec+"/")))
		if match && (len(sec) > best || (len(sec) == best && pat < pattern)) {
			best, pattern = len(sec), pat
		}
	}
	return pattern
}

// urlize makes a path the way Hugo does (helpers.PathSpec.MakePathSanitized): letters, digits and
// ./_~+#- kept, a run of spaces turned into one hyphen, everything else dropped, and lower case unless
// disablePathToLower is set.
func (cfg *hugoConfig) urlize(s string) string {
	var b strings.Builder
	hyphen, wasHyphen := false, false
	rs := []rune(strings.TrimSpace(s))
	for i, r := range rs {
		ok := strings.ContainsRune("./_~+#-", r) || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) ||
			(r == '%' && i+2 < len(rs) && isHex(rs[i+1]) && isHex(rs[i+2]))
		switch {
		case ok:
			wasHyphen = r == '-'
			if hyphen && !wasHyphen {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
		case unicode.IsSpace(r) && b.Len() > 0 && !wasHyphen:
			hyphen = true
		}
	}
	if cfg.keepCase {
		return b.String()
	}
	return strings.ToLower(b.String())
}

func isHex(r rune) bool {
	return ('0' <= r && r <= '9') || ('a' <= r && r <= 'f') || ('A' <= r && r <= 'F')
}

// hugoPermaVars are the values of a page that Hugo's permalink tokens stand for.
type hugoPermaVars struct {
	date     time.Time
	title    string // as written in the front matter
	slug     string // front matter slug, or ""
	filename string // the file name without extension, or the bundle's folder name
	section  string
	sections []string // the path of the nearest section
	urlize   func(string) string
}

var (
	hugoToken = regexp.MustCompile(`:\w+(\[.+?\])?`)
	// hugoRefTime differs in every field from Go's reference time, so formatting it with a layout always
	// changes the layout: that is how Hugo tells a date layout token (:06, :Monday) from an unknown one.
	hugoRefTime = time.Date(2019, time.November, 9, 23, 1, 42, 1, time.UTC)
)

// expandHugoPermalink fills a Hugo permalink pattern (https://gohugo.io/configuration/permalinks/#tokens).
// "\:" stands for a literal colon.
func expandHugoPermalink(pattern string, v hugoPermaVars) (string, error) {
	const colon = "\x00"
	p := strings.ReplaceAll(pattern, `\:`, colon)
	var bad string
	out := hugoToken.ReplaceAllStringFunc(p, func(m string) string {
		val, ok := hugoTokenValue(m[1:], v)
		if !ok && bad == "" {
			bad = m
		}
		return val
	})
	if bad != "" {
		return "", fmt.Errorf("unknown permalink token %s in %q; see https://gohugo.io/configuration/permalinks/#tokens", bad, pattern)
	}
	return strings.ReplaceAll(out, colon, ":"), nil
}

func hugoTokenValue(tok string, v hugoPermaVars) (string, bool) {
	d := v.date
	slugOr := func(fallback string) string {
		if v.slug != "" {
			return v.urlize(v.slug)
		}
		return fallback
	}
	switch tok {
	case "year":
		return strconv.Itoa(d.Year()), true
	case "month":
		return fmt.Sprintf("%02d", int(d.Month())), true
	case "monthname":
		return d.Month().String(), true
	case "day":
		return fmt.Sprintf("%02d", d.Day()), true
	case "weekday":
		return strconv.Itoa(int(d.Weekday())), true
	case "weekdayname":
		return d.Weekday().String(), true
	case "yearday":
		return strconv.Itoa(d.YearDay()), true
	case "section", "sectionslug":
		return v.urlize(v.section), true
	case "sections", "sectionslugs":
		return hugoJoinSections(v.sections, v.urlize), true
	case "title":
		return v.urlize(v.title), true
	case "slug":
		return slugOr(v.urlize(v.title)), true
	case "filename", "contentbasename":
		return v.urlize(v.filename), true
	case "slugorfilename", "slugorcontentbasename":
		return slugOr(v.urlize(v.filename)), true
	}
	for _, prefix := range []string{"sections[", "sectionslugs["} {
		if strings.HasPrefix(tok, prefix) {
			return hugoJoinSections(sliceSections(v.sections, tok[len(prefix)-1:]), v.urlize), true
		}
	}
	if hugoRefTime.Format(tok) != tok {
		return d.Format(tok), true
	}
	return "", false
}

func hugoJoinSections(secs []string, urlize func(string) string) string {
	out := make([]string, len(secs))
	for i, s := range secs {
		out[i] = urlize(s)
	}
	return strings.Join(out, "/")
}

// sliceSections applies a Hugo slice spec ("[1:]", "[0]", "[last]", "[:last]") to secs; out of range gives
// nothing, as in Hugo.
func sliceSections(secs []string, spec string) []string {
	spec = strings.ToLower(strings.TrimSpace(spec))
	if len(spec) < 3 || spec[0] != '[' || spec[len(spec)-1] != ']' || len(secs) == 0 {
		return nil
	}
	idx := func(s string, def int) int {
		switch s = strings.TrimSpace(s); s {
		case "":
			return def
		case "last":
			return len(secs) - 1
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	lo, hi, isRange := strings.Cut(spec[1:len(spec)-1], ":")
	if !isRange {
		n := idx(lo, 0)
		if n >= len(secs) {
			return nil
		}
		return secs[n : n+1]
	}
	a, b := idx(lo, 0), min(idx(hi, len(secs)), len(secs))
	if a >= b {
		return nil
	}
	return secs[a:b]
}

// shortcodeCall is one {{< name ... >}} or {{% name ... %}} in a page's body.
type shortcodeCall struct {
	off     int // byte offset in the body
	name    string
	closing bool
	args    string
}

var shortcodeRe = regexp.MustCompile(`(?s)\{\{([<%])(.*?)[>%]\}\}`)

// findShortcodes lists a body's shortcodes, leaving out closing ones and those written as text
// ({{</* name */>}}).
func findShortcodes(body []byte) []shortcodeCall {
	var out []shortcodeCall
	for _, m := range shortcodeRe.FindAllSubmatchIndex(body, -1) {
		if c, ok := parseShortcode(string(body[m[4]:m[5]])); ok && !c.closing {
			c.off = m[0]
			out = append(out, c)
		}
	}
	return out
}

// parseShortcode reads the inside of a shortcode; ok is false for the escaped form /* ... */.
func parseShortcode(inner string) (shortcodeCall, bool) {
	t := strings.TrimSpace(inner)
	if strings.HasPrefix(t, "/*") && strings.HasSuffix(t, "*/") {
		return shortcodeCall{}, false
	}
	var c shortcodeCall
	if strings.HasPrefix(t, "/") {
		c.closing = true
		t = t[1:]
	}
	t = strings.TrimSpace(strings.TrimSuffix(t, "/"))
	c.name = t
	if i := strings.IndexFunc(t, unicode.IsSpace); i >= 0 {
		c.name, c.args = t[:i], strings.TrimSpace(t[i:])
	}
	return c, c.name != ""
}

// shortcodeArgs splits a shortcode's arguments into named (key="value") and positional ones. Values may be
// "quoted", `raw` or bare.
func shortcodeArgs(s string) (named map[string]string, pos []string) {
	named = map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		key := ""
		if i := strings.IndexAny(s, "= \t\n\"`"); i > 0 && s[i] == '=' {
			key, s = s[:i], s[i+1:]
		}
		var val string
		switch {
		case strings.HasPrefix(s, `"`):
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if uq, err := strconv.Unquote(s[:min(end+1, len(s))]); err == nil {
				val = uq
			} else {
				val = strings.Trim(s[:min(end+1, len(s))], `"`)
			}
			s = s[min(end+1, len(s)):]
		case strings.HasPrefix(s, "`"):
			end := strings.IndexByte(s[1:], '`')
			if end < 0 {
				end = len(s) - 1
			}
			val, s = s[1:end+1], s[min(end+2, len(s)):]
		default:
			end := strings.IndexFunc(s, unicode.IsSpace)
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		if key != "" {
			named[strings.ToLower(key)] = val
		} else {
			pos = append(pos, val)
		}
	}
	return named, pos
}

// hugoMarkdown renders a Hugo page's Markdown after standing in for its shortcodes, which only Hugo can
// run: Hugo expands them before Markdown, and so does this.
type hugoMarkdown struct {
	goldmark.Markdown
	refs *hugoRefs
	lang string // the language of the page being rendered, a key of refs.tables
}

// forPost is m for rendering p: its refs name pages of p's language.
func (m hugoMarkdown) forPost(p *Post) goldmark.Markdown {
	m.lang = m.refs.pageLang[p.Path]
	return m
}

func (m hugoMarkdown) Convert(src []byte, w io.Writer, opts ...parser.ParseOption) error {
	if bytes.Contains(src, []byte("{{")) {
		src = m.replaceShortcodes(src)
	}
	return m.Markdown.Convert(src, w, opts...)
}

// replaceShortcodes drops shortcodes and keeps the text between an opening and a closing one. Hugo's
// built-in shortcodes (https://gohugo.io/shortcodes/) get a stand-in: highlight the code, escaped, in a
// block of its own (however it is spaced, even on one line with its text); comment nothing; figure an
// image; youtube, vimeo, gist, x (twitter, tweet) and instagram a link to what they embed, see embedFor;
// ref and relref the URL of the page they name. {{</* x */>}} becomes the text {{< x >}}, as in Hugo.
func (m hugoMarkdown) replaceShortcodes(src []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(src))
	ms := shortcodeRe.FindAllSubmatchIndex(src, -1)
	closers := closingShortcodes(src, ms)
	at := 0
	for i := 0; i < len(ms); i++ {
		sm := ms[i]
		b.Write(src[at:sm[0]])
		at = sm[1]
		open, inner := string(src[sm[2]:sm[3]]), string(src[sm[4]:sm[5]])
		c, ok := parseShortcode(inner)
		if !ok {
			if i, j := strings.Index(inner, "/*"), strings.LastIndex(inner, "*/"); i >= 0 && j >= i+2 {
				closeDelim := map[string]string{"<": ">", "%": "%"}[open]
				b.WriteString("{{" + open + inner[i+2:j] + closeDelim + "}}")
			}
			continue
		}
		name := strings.ToLower(c.name)
		if (name == "highlight" || name == "comment") && !c.closing {
			// Their text is not Markdown: it runs to the closing shortcode, taken whole.
			if k := closers[name][i]; k >= 0 {
				if name == "highlight" {
					named, pos := shortcodeArgs(c.args)
					b.WriteString(highlightHTML(firstNonEmpty(named["lang"], first(pos)), string(src[sm[1]:ms[k][0]])))
				}
				i, at = k, ms[k][1]
				continue
			}
		}
		b.WriteString(m.shortcode(c))
	}
	b.Write(src[at:])
	return []byte(placeBlocks(b.String()))
}

// closingShortcodes gives, for highlight and comment, the index in ms of the next shortcode that closes
// each after index i, or -1: one pass backwards, so that many unclosed ones cost no more than a few.
func closingShortcodes(src []byte, ms [][]int) map[string][]int {
	out := map[string][]int{"highlight": make([]int, len(ms)), "comment": make([]int, len(ms))}
	next := map[string]int{"highlight": -1, "comment": -1}
	for i := len(ms) - 1; i >= 0; i-- {
		for name, n := range next {
			out[name][i] = n
		}
		c, ok := parseShortcode(string(src[ms[i][4]:ms[i][5]]))
		if name := strings.ToLower(c.name); ok && c.closing && (name == "highlight" || name == "comment") {
			next[name] = i
		}
	}
	return out
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

// highlightHTML is code in <pre><code>, between the markers that placeBlocks puts on lines of their own,
// so that Markdown passes it through as one HTML block, blank lines and all.
func highlightHTML(lang, code string) string {
	class := ""
	if highlightLang.MatchString(lang) {
		class = fmt.Sprintf(` class="language-%s" data-lang="%s"`, strings.ReplaceAll(lang, "+", "-"), lang)
	}
	code = strings.Trim(strings.ReplaceAll(code, "\x00", ""), "\r\n")
	return blockOpen + "<pre><code" + class + ">" + codeEscaper.Replace(code) + "\n</code></pre>" + blockClose
}

// shortcode is the stand-in of one shortcode other than a highlight or comment block (see replaceShortcodes).
// The arguments are those Hugo's built-ins document; an id may be named or the first positional argument.
func (m hugoMarkdown) shortcode(c shortcodeCall) string {
	if c.closing {
		return ""
	}
	named, pos := shortcodeArgs(c.args)
	arg := func(key string, n int) string {
		if v := named[key]; v != "" {
			return v
		}
		if n < len(pos) {
			return pos[n]
		}
		return ""
	}
	link := func(e embed, ok bool) string {
		if !ok {
			return ""
		}
		return e.html()
	}
	switch strings.ToLower(c.name) {
	case "figure":
		// A blank line after it, so that the text after it is Markdown, not part of an HTML block: at the
		// start of a line the figure is one, and within a line (a list item's) it is inline HTML.
		return figureHTML(named, m.markdownify) + "\n\n"
	case "youtube":
		// https://gohugo.io/shortcodes/youtube/: {{< youtube 0RKpf3rK57I >}}, or id=, and title=.
		if id := arg("id", 0); youtubeID.MatchString(id) {
			return youtubeEmbed(id, named["title"]).html()
		}
	case "vimeo", "vimeo_simple":
		// https://gohugo.io/shortcodes/vimeo/: {{< vimeo 55073825 >}}, or id=, and title=.
		if id := arg("id", 0); numericID.MatchString(id) {
			return link(embedFor("https://player.vimeo.com/video/"+id, named["title"]))
		}
	case "gist":
		// https://gohugo.io/shortcodes/gist/: {{< gist user id [file] >}}, or user=, id=, file=.
		user, id, file := arg("user", 0), arg("id", 1), arg("file", 2)
		if user != "" && id != "" {
			src := "https://gist.github.com/" + url.PathEscape(user) + "/" + url.PathEscape(id) + ".js"
			if file != "" {
				src += "?file=" + url.QueryEscape(file)
			}
			return link(embedFor(src, ""))
		}
	case "x", "x_simple", "twitter", "twitter_simple", "tweet":
		// https://gohugo.io/shortcodes/x/: {{< x user="SanDiegoZoo" id="1453110110599868418" >}}; Hugo
		// fetches the post from X's oEmbed API, which a feed cannot, so it becomes a link. Older sites
		// write {{< tweet 1453110110599868418 >}}, with the id alone.
		user, id := named["user"], arg("id", 0)
		if !numericID.MatchString(id) {
			break
		}
		if user == "" {
			return embed{url: "https://x.com/i/web/status/" + id, name: "Post on X"}.html()
		}
		return embed{url: "https://x.com/" + url.PathEscape(user) + "/status/" + id, name: "Post by @" + user + " on X"}.html()
	case "instagram", "instagram_simple":
		// https://gohugo.io/shortcodes/instagram/: {{< instagram CxOWiQNP2MO >}}, or id=.
		if id := arg("id", 0); youtubeID.MatchString(id) {
			return embed{url: "https://www.instagram.com/p/" + id + "/", name: "Instagram post"}.html()
		}
	case "ref", "relref":
		lang := m.lang
		if l := named["lang"]; l != "" {
			lang = m.refs.key(l)
		}
		return m.refs.resolve(arg("path", 0), lang)
	}
	return ""
}

// hugoBuiltins are the shortcodes replaceShortcodes stands in for; any other is warned about.
var hugoBuiltins = map[string]bool{"highlight": true, "comment": true, "figure": true, "youtube": true, "vimeo": true,
	"vimeo_simple": true, "gist": true, "x": true, "x_simple": true, "twitter": true, "twitter_simple": true, "tweet": true,
	"instagram": true, "instagram_simple": true, "ref": true, "relref": true}

// shortcodeWarning says which of a body's shortcodes Herald cannot stand in for, at the line of the first.
func shortcodeWarning(p *Post, body []byte) []Warning {
	var names []string
	line := 0
	for _, c := range findShortcodes(body) {
		if hugoBuiltins[strings.ToLower(c.name)] {
			continue
		}
		if line == 0 {
			line = max(p.bodyLine, 1) + bytes.Count(body[:c.off], []byte("\n"))
		}
		if n := "{{< " + c.name + " >}}"; !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return []Warning{{p.Path, line, fmt.Sprintf("Hugo shortcodes (%s) cannot run outside Hugo; the feed keeps the text inside them and drops the rest", strings.Join(names, ", "))}}
}

// hugoRefs finds the URL of the page a ref or relref shortcode names. Herald knows the URLs of the posts
// it read; for any other page it assumes Hugo's default, the page's path under content below its
// language's home (/fr/posts/ for the section posts from a French page). As in Hugo, a ref names a page of
// the language of the page it is on (or of its lang argument): a translation's ref to posts/a is posts/a's
// translation; a ref to a file with a language's suffix (posts/a.fr.md) names that language's translation
// (see resolve). Where the language has no such page, Herald takes the default language's (Hugo stops the
// build with REF_NOT_FOUND).
type hugoRefs struct {
	site     *Site
	cfg      *hugoConfig
	tables   map[string]*refTable // by language key; "" for the default language and a site without languages
	pageLang map[string]string    // a post's Path → its language's key, for the posts not in the default one
}

// refTable is one language's pages.
type refTable struct {
	byPath map[string]string // "posts/my-post" → URL
	byName map[string]string // "my-post" → URL, "" when two posts share the name
}

// langKeys are the keys of the site's languages.
func (r *hugoRefs) langKeys() map[string]bool {
	keys := make(map[string]bool, len(r.cfg.languages))
	for _, l := range r.cfg.languages {
		keys[l.Key] = true
	}
	return keys
}

// key is the key of lang in tables.
func (r *hugoRefs) key(lang string) string {
	if l := r.cfg.language(lang); l == nil || l.Default {
		return ""
	}
	return lang
}

func (r *hugoRefs) table(lang string) *refTable {
	t := r.tables[lang]
	if t == nil {
		t = &refTable{byPath: map[string]string{}, byName: map[string]string{}}
		r.tables[lang] = t
	}
	return t
}

func (t *refTable) add(key, u string) {
	key = strings.ToLower(key)
	t.byPath[key] = u
	name := path.Base(key)
	if _, dup := t.byName[name]; dup {
		t.byName[name] = ""
	} else {
		t.byName[name] = u
	}
}

// find is the URL of the page key names in t, or "".
func (t *refTable) find(key string) string {
	if t == nil {
		return ""
	}
	if u := t.byPath[key]; u != "" {
		return u
	}
	if u := t.byName[path.Base(key)]; u != "" && !strings.Contains(key, "/") {
		return u
	}
	return ""
}

// resolve is the URL of the page target names, for a page in the language lang (a key of tables).
func (r *hugoRefs) resolve(target, lang string) string {
	t, frag, hasFrag := strings.Cut(strings.TrimSpace(target), "#")
	if hasFrag {
		frag = "#" + frag
	}
	t = strings.Trim(t, "/")
	file := false
	if ext := path.Ext(t); hugoContentExts[strings.ToLower(ext)] {
		t, file = strings.TrimSuffix(t, ext), true
	}
	// A language's suffix (posts/a.fr): with a content extension it names that language's translation by
	// its file (Hugo finds it only from a page of that language; Herald from any); without one, Hugo takes
	// ".fr" for an extension, and finds the page's language's posts/a (checked against Hugo 0.111).
	if len(r.cfg.languages) > 0 {
		dir, base := path.Split(t)
		if name, key := hugoLangSuffix(base, r.langKeys()); key != "" {
			t = dir + name
			if file {
				lang = r.key(key)
			}
		}
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/_index"), "/index")
	if t == "" {
		if strings.TrimSpace(target) == frag {
			return frag // an anchor of the page itself
		}
		return r.home(lang) + "/" + frag
	}
	key := strings.ToLower(t)
	if u := cmp.Or(r.tables[lang].find(key), r.tables[""].find(key)); u != "" {
		return u + frag
	}
	segs := strings.Split(t, "/")
	for i, s := range segs {
		segs[i] = r.cfg.urlize(s)
	}
	return r.home(lang) + hugoFinish(escapeHugoPath("/"+strings.Join(segs, "/")+"/"), r.cfg.ugly) + frag
}

// home is the URL of the home page of the language lang (a key of tables), without a trailing slash: a
// page that is no post (a section, an about page) is under it, as in Hugo (/fr/posts/ from a French page).
func (r *hugoRefs) home(lang string) string {
	l := r.cfg.language(lang)
	if lang == "" {
		l = r.cfg.defaultLanguage()
	}
	if l == nil {
		return r.site.URL
	}
	return firstNonEmpty(l.host, r.site.URL) + l.prefix
}
