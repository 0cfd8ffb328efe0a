package posts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/sitefs"
	"gopkg.in/yaml.v3"
)

// postName matches a Jekyll post's file name: a date (zero padding optional), a slug and an extension.
var postName = regexp.MustCompile(`^(\d{2,4})-(\d{1,2})-(\d{1,2})-(.+)(\.[^.]+)$`)

// The extensions Herald renders as Markdown. Jekyll's own default list (markdown_ext) decides which of them
// get ".html" in the permalink; .text, for one, keeps its extension on a Jekyll site.
var (
	markdownExts       = map[string]bool{".md": true, ".markdown": true, ".mkdn": true, ".mkd": true, ".mdown": true, ".mkdown": true, ".text": true}
	jekyllMarkdownExts = "markdown,mkdown,mkdn,mkd,md"
	// Dated files in _posts are posts whatever their extension (Jekyll publishes a .Rmd as it is), except
	// data files, which Jekyll skips, and media, which no one means as a post.
	skipExts = map[string]bool{".yml": true, ".yaml": true, ".json": true, ".csv": true, ".tsv": true, ".toml": true,
		".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".svg": true, ".pdf": true,
		".mp3": true, ".mp4": true, ".zip": true}
)

// jekyllConfig holds the keys of _config.yml that Herald uses.
type jekyllConfig struct {
	Title            string    `yaml:"title"`
	Name             string    `yaml:"name"`
	Description      string    `yaml:"description"`
	URL              string    `yaml:"url"`
	BaseURL          string    `yaml:"baseurl"`
	Author           any       `yaml:"author"`
	Lang             string    `yaml:"lang"`
	Timezone         string    `yaml:"timezone"`
	Permalink        string    `yaml:"permalink"`
	ExcerptSeparator *string   `yaml:"excerpt_separator"`
	MarkdownExt      string    `yaml:"markdown_ext"`
	Destination      string    `yaml:"destination"`
	Exclude          []string  `yaml:"exclude"`
	Defaults         yaml.Node `yaml:"defaults"` // read by readDefaults, which says what is wrong with an entry
}

func loadJekyll(ctx context.Context, opts Options) (*Site, error) {
	s := &Site{Kind: "jekyll", Dir: opts.Dir, OutputDir: "_site", files: opts.files, maxFM: opts.MaxFrontMatterBytes}
	var cfg jekyllConfig
	raw := map[string]any{}
	cfgName := "_config.yml"
	src, err := s.files.ReadFile(cfgName)
	if errors.Is(err, fs.ErrNotExist) {
		cfgName = "_config.yaml"
		src, err = s.files.ReadFile(cfgName)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cfgName = ""
	case errors.Is(err, sitefs.ErrRefused):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", cfgName, err)
	default:
		if err := yaml.Unmarshal(src, &cfg); err != nil {
			return nil, yamlError(cfgName, 0, err)
		}
		if err := yaml.Unmarshal(src, &raw); err != nil {
			return nil, yamlError(cfgName, 0, err)
		}
	}
	s.Title = cfg.Title
	if s.Title == "" {
		s.Title = cfg.Name
	}
	s.Description = cfg.Description
	if cfg.URL != "" {
		s.URL = strings.TrimRight(cfg.URL, "/") + "/" + strings.Trim(cfg.BaseURL, "/")
	}
	s.Lang = cfg.Lang
	s.Author = authorFrom(cfg.Author)
	if cfg.Destination != "" {
		s.OutputDir = cfg.Destination
	}
	if cfg.Timezone != "" {
		loc, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return nil, fmt.Errorf("%s: timezone %q: %w; use an IANA name like America/Chicago", cfgName, cfg.Timezone, err)
		}
		s.Location = loc
	}
	if err := s.applyOverrides(opts); err != nil {
		if errors.Is(err, ErrNoURL) {
			where := "_config.yml"
			if cfgName != "" {
				where = cfgName
			}
			return nil, fmt.Errorf("%w: set url: https://your.site in %s", ErrNoURL, where)
		}
		return nil, err
	}
	if opts.siteOnly {
		return s, nil
	}

	// collections is a map of settings by name or, as often, a list of names, which sets no permalink.
	var postsPermalink string
	if cs, ok := raw["collections"].(map[string]any); ok {
		if c, ok := cs["posts"].(map[string]any); ok {
			postsPermalink = str(c["permalink"])
		}
	}
	permalink := firstNonEmpty(opts.Permalink, postsPermalink, cfg.Permalink, "date")
	sep := "\n\n"
	if cfg.ExcerptSeparator != nil {
		sep = *cfg.ExcerptSeparator
	}
	if opts.ExcerptSeparator != "" {
		sep = opts.ExcerptSeparator
	}
	mdExt := cfg.MarkdownExt
	if mdExt == "" {
		mdExt = jekyllMarkdownExts
	}
	convertExts := map[string]bool{".html": true}
	for _, e := range strings.Split(mdExt, ",") {
		if e = strings.TrimSpace(e); e != "" {
			convertExts["."+strings.ToLower(e)] = true
		}
	}
	authors, err := readAuthorsData(opts.Dir, s.files, raw)
	if err != nil {
		return nil, err
	}
	var warns []Warning
	s.defaults, warns = readDefaults(cfgName, &cfg.Defaults)
	s.Warnings = append(s.Warnings, warns...)

	files, drafts, err := findJekyllPosts(opts.Dir, s.OutputDir, cfg.Exclude, opts.Drafts)
	if err != nil {
		return nil, err
	}
	isDraft := map[string]bool{}
	for _, d := range drafts {
		isDraft[d] = true
	}
	files = append(files, drafts...)

	host := s.host()
	s.cache = openPostCache(opts.Cache, cacheKey(opts, src, []byte(fmt.Sprintf("jekyll %s %v %v", s.Location, authors, isDraft))))
	ps, warns, err := s.readPosts(ctx, files, func(rel string, src []byte) (*Post, []Warning, error) {
		return s.jekyllPost(rel, src, isDraft[rel], permalink, sep, convertExts, authors, host, opts)
	})
	if err != nil {
		return nil, err
	}
	s.Warnings = append(s.Warnings, warns...)
	s.appendPosts(ps)
	s.render = renderer{md: newKramdown()}
	s.config = raw
	return s, nil
}

// jekyllPost reads one post file. It returns a nil post for one that is not published (published: false,
// or dated in the future without --future).
func (s *Site) jekyllPost(rel string, src []byte, draft bool, permalink, sep string, convertExts map[string]bool,
	authors map[string]Author, host string, opts Options) (*Post, []Warning, error) {
	base := path.Base(rel)
	ext := path.Ext(base)
	fm, _, err := parseFrontMatter(rel, src, s.maxFM)
	if err != nil {
		return nil, nil, err
	}
	applyDefaults(fm, rel, s.defaults)
	if b, ok := boolean(fm.data["published"]); ok && !b {
		return nil, nil, nil
	}
	p := &Post{Path: rel, Draft: draft, bodyLine: fm.bodyLine, sep: sep, ExcerptOnly: opts.ExcerptOnly}
	var warns []Warning

	var slug string
	var fileDate time.Time
	if draft {
		slug = strings.TrimSuffix(base, ext)
		if info, err := s.files.Stat(rel); err == nil {
			fileDate = info.ModTime().In(s.Location).Truncate(time.Second)
		}
	} else {
		m := postName.FindStringSubmatch(base)
		y, mo, d := atoi(m[1]), atoi(m[2]), atoi(m[3])
		fileDate = time.Date(y, time.Month(mo), d, 0, 0, 0, 0, s.Location)
		if fileDate.Day() != d || mo < 1 || mo > 12 {
			return nil, nil, &Error{File: rel, Msg: fmt.Sprintf("the file name's date %s-%s-%s is not a real day; rename the file YYYY-MM-DD-slug%s", m[1], m[2], m[3], ext)}
		}
		slug = m[4]
	}
	p.Date = fileDate
	if t, err := s.frontMatterDate(fm, rel, &warns, "date"); err != nil {
		return nil, nil, err
	} else if !t.IsZero() {
		p.Date = t
	}
	p.Date = p.Date.In(s.Location)
	if !draft {
		p.visibleFrom = p.Date
	}
	if fs := str(fm.data["slug"]); fs != "" {
		slug = fs
	}

	// Folders above _posts are categories: "news/_posts/x.md" is in "news".
	var dirCats []string
	if i := strings.Index(rel, "_posts/"); i > 0 {
		for _, c := range strings.Split(strings.Trim(rel[:i], "/"), "/") {
			if c != "" {
				dirCats = append(dirCats, c)
			}
		}
	}
	p.Categories = dirCats
	warns = append(warns, s.fillCommon(p, fm, authors)...)
	if p.Title == "" {
		p.Title = titleFromSlug(slug)
	}
	if p.Updated.IsZero() {
		p.Updated = p.Date
	}
	p.Updated = p.Updated.In(s.Location)

	outExt := ext
	if convertExts[strings.ToLower(ext)] {
		outExt = ".html"
	}
	tmpl := permalink
	line := 0
	where := "permalink in _config.yml or herald.yaml"
	if fp := str(fm.data["permalink"]); fp != "" {
		tmpl, where = fp, "permalink in _config.yml's defaults"
		if n, own := fm.lines["permalink"]; own {
			line, where = n, "permalink in the front matter"
		}
	}
	urlPath, err := expandPermalink(tmpl, permalinkVars{
		date: p.Date, slug: slug, name: strings.TrimSuffix(base, ext), categories: p.Categories,
		outputExt: outExt, collection: "posts", path: strings.TrimSuffix(rel, ext),
	})
	if err != nil {
		return nil, nil, &Error{File: rel, Line: line, Msg: err.Error() + "; fix the " + where}
	}
	p.URL = s.URL + urlPath

	if !p.hasID {
		// The id is what does not change when a post is edited or re-permalinked: the date and slug of the
		// file name, and the folder it sits under (two sections may have posts of the same name and date).
		prefix := ""
		if i := strings.Index(rel, "_posts/"); i > 0 {
			prefix = rel[:i]
		}
		if draft {
			// A draft has no date of its own; it gets its real id when it is published.
			p.ID = fmt.Sprintf("tag:%s,1970:draft/%s", host, escapePath(prefix+strings.TrimSuffix(base, ext)))
		} else {
			m := postName.FindStringSubmatch(base)
			p.ID = fmt.Sprintf("tag:%s,%s:%s", host, fileDate.Format("2006-01-02"), escapePath(prefix+m[4]))
		}
	}
	return p, warns, nil
}

// findJekyllPosts lists the post files of a Jekyll site: dated files in every _posts folder (and its
// subfolders), and with drafts, every file in _drafts. Paths are relative to dir, slash-separated, sorted.
func findJekyllPosts(dir, outputDir string, exclude []string, withDrafts bool) (posts, drafts []string, err error) {
	prefix := filepath.Clean(dir) + string(filepath.Separator) // what WalkDir's paths under dir start with, but for "."
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil // the site itself, never excluded (a glob such as ".*" matches its rel, ".")
		}
		rel, ok := strings.CutPrefix(p, prefix) // not filepath.Rel, which costs more than the rest of a file's turn
		if !ok {
			rel, _ = filepath.Rel(dir, p)
		}
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if excluded(rel, exclude) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p == outputDir || name == "node_modules" || name == "vendor" || strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			// Folders starting with "_" hold layouts, includes and data, except _posts and _drafts.
			inPosts := strings.Contains("/"+rel+"/", "/_posts/")
			if strings.HasPrefix(name, "_") && name != "_posts" && !(rel == "_drafts" && withDrafts) && !inPosts {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || strings.HasSuffix(name, "~") || strings.HasPrefix(name, "#") {
			return nil
		}
		ext := strings.ToLower(path.Ext(name))
		if skipExts[ext] {
			return nil
		}
		switch {
		case strings.HasPrefix(rel, "_drafts/"):
			if withDrafts {
				drafts = append(drafts, rel)
			}
		case (strings.HasPrefix(rel, "_posts/") || strings.Contains(rel, "/_posts/")) && isPostName(name):
			posts = append(posts, rel)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("find posts: %w", err)
	}
	return posts, drafts, nil
}

// isPostName is postName.MatchString(name), without the regexp, which took half of the walk's time for
// each file (FuzzIsPostName compares the two).
func isPostName(name string) bool {
	for _, digits := range [][2]int{{2, 4}, {1, 2}, {1, 2}} { // the date: year, month, day, each then "-"
		n := 0
		for n < len(name) && '0' <= name[n] && name[n] <= '9' {
			n++
		}
		if n < digits[0] || n > digits[1] || n == len(name) || name[n] != '-' {
			return false
		}
		name = name[n+1:]
	}
	// A slug of one character or more without a line break ("." does not match one), then the extension:
	// from the last dot, with one character or more after it.
	dot := strings.LastIndexByte(name, '.')
	return dot >= 1 && dot < len(name)-1 && !strings.Contains(name[:dot], "\n")
}

// excluded tells whether _config.yml's exclude list names rel: a path, a folder above it, or a glob.
func excluded(rel string, exclude []string) bool {
	for _, e := range exclude {
		e = strings.Trim(e, "/")
		if e == "" {
			continue
		}
		if rel == e || strings.HasPrefix(rel, e+"/") {
			return true
		}
		if ok, _ := path.Match(e, rel); ok {
			return true
		}
	}
	return false
}

// Where a Jekyll site keeps its authors by key, so that a post's "author: jill" names Jill. Jekyll itself
// has no such file; themes read one, and Herald reads the one the site's theme would, first found of:
//
//  1. _data/authors.yml (or .yaml, .json): what minimal-mistakes, Chirpy, So Simple, Jasper2, Hydejack and
//     jekyll-seo-tag read (site.data.authors[page.author]).
//  2. The data file that the site's own layouts and includes look authors up in:
//     site.data.NAME[page.author] (or post.author, include.author, author) names _data/NAME.*.
//  3. authors: in _config.yml, a map by key, as Mediumish and Type on Strap keep them.
//  4. _data/members.*, people.*, team.* or contributors.*: the names lab and team sites give their lists.
//
// A file may be a map by key, or a list of people each with a key (key, id, username, handle or slug).

// authorDataNames are the data files tried in steps 1 and 4, in order.
var (
	authorDataFirst = []string{"authors"}
	authorDataLast  = []string{"members", "people", "team", "contributors"}
	dataExts        = []string{".yml", ".yaml", ".json"}
	authorLookup    = regexp.MustCompile(`site\.data\.([A-Za-z0-9_-]+)\[\s*(?:page\.|post\.|include\.)?author\s*\]`)
)

// readAuthorsData reads the authors of a Jekyll site by key (see above); config is _config.yml.
func readAuthorsData(siteDir string, files *sitefs.FS, config map[string]any) (map[string]Author, error) {
	dataDir := siteFolder(config, "data_dir", "_data")
	names := append([]string{}, authorDataFirst...)
	names = append(names, themeAuthorData(siteDir, files, config)...)
	for _, name := range names {
		if m, err := readAuthorFile(files, dataDir, name); m != nil || err != nil {
			return m, err
		}
	}
	if m := authorMap(config["authors"]); m != nil {
		return m, nil
	}
	for _, name := range authorDataLast {
		if m, err := readAuthorFile(files, dataDir, name); m != nil || err != nil {
			return m, err
		}
	}
	return nil, nil
}

// themeAuthorData lists the data files the site's layouts and includes look authors up in, in the order of
// the files' paths.
func themeAuthorData(siteDir string, files *sitefs.FS, config map[string]any) []string {
	var out []string
	for _, dir := range []string{siteFolder(config, "layouts_dir", "_layouts"), siteFolder(config, "includes_dir", "_includes")} {
		root := filepath.Join(siteDir, filepath.FromSlash(dir))
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(siteDir, p)
			src, err := files.ReadFile(filepath.ToSlash(rel)) // through sitefs, which refuses private files
			if err != nil {
				return nil
			}
			for _, m := range authorLookup.FindAllSubmatch(src, -1) {
				if n := string(m[1]); !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
			return nil
		})
	}
	return out
}

// readAuthorFile reads dataDir/name.{yml,yaml,json}; a file that is not there, or holds no people by key,
// gives nil.
func readAuthorFile(files *sitefs.FS, dataDir, name string) (map[string]Author, error) {
	for _, ext := range dataExts {
		file := path.Join(dataDir, name+ext)
		src, err := files.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if errors.Is(err, sitefs.ErrRefused) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		var v any
		if err := yaml.Unmarshal(src, &v); err != nil { // JSON is YAML
			return nil, yamlError(file, 0, err)
		}
		return authorMap(v), nil
	}
	return nil, nil
}

// authorMap reads people by key from a map of key → person, or a list of people with keys.
func authorMap(v any) map[string]Author {
	out := map[string]Author{}
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if _, ok := e.(map[string]any); !ok {
				if _, ok := e.(string); !ok {
					continue
				}
			}
			a := authorFrom(e)
			if a.Name == "" {
				a.Name = k
			}
			out[k] = a
		}
	case []any:
		for _, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			if k := firstString(m, "key", "id", "username", "handle", "slug"); k != "" {
				a := authorFrom(m)
				if a.Name == "" {
					a.Name = k
				}
				out[k] = a
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
