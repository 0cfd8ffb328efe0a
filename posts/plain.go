package posts

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// loadPlain reads a plain folder of Markdown files with front matter (opts.PostsDir). Each post needs a date,
// in its front matter or at the start of its file name (YYYY-MM-DD-slug.md).
func loadPlain(ctx context.Context, opts Options) (*Site, error) {
	s := &Site{Kind: "plain", Dir: opts.Dir, OutputDir: "public", files: opts.files, maxFM: opts.MaxFrontMatterBytes}
	if err := s.applyOverrides(opts); err != nil {
		return nil, err
	}
	if opts.siteOnly {
		return s, nil
	}
	if opts.PostsDir == "" {
		return nil, ErrNoPostsDir
	}
	root := filepath.Join(opts.Dir, opts.PostsDir)
	var files []string
	// Where each file is in the posts folder, which is what its id and the :path of its permalink hold:
	// however posts_dir spells the folder ("./posts", "posts/"), respelling it changes no id.
	inPosts := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if markdownExts[strings.ToLower(path.Ext(d.Name()))] && !strings.HasPrefix(d.Name(), ".") {
			rel, _ := filepath.Rel(opts.Dir, p)
			in, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
			inPosts[filepath.ToSlash(rel)] = filepath.ToSlash(in)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("posts_dir %q: %w", opts.PostsDir, err)
	}
	permalink := firstNonEmpty(opts.Permalink, "/:title/")
	sep := firstNonEmpty(opts.ExcerptSeparator, "\n\n")
	s.cache = openPostCache(opts.Cache, cacheKey(opts, []byte(fmt.Sprintf("plain %s %s %s", s.Location, permalink, sep))))
	ps, warns, err := s.readPosts(ctx, files, func(rel string, src []byte) (*Post, []Warning, error) {
		return s.plainPost(rel, inPosts[rel], src, permalink, sep, opts)
	})
	if err != nil {
		return nil, err
	}
	s.Warnings = append(s.Warnings, warns...)
	s.appendPosts(ps)
	s.render = newRenderer()
	return s, nil
}

// plainPost reads the post at rel (from the site's folder), which is inPosts in the posts folder.
func (s *Site) plainPost(rel, inPosts string, src []byte, permalink, sep string, opts Options) (*Post, []Warning, error) {
	fm, _, err := parseFrontMatter(rel, src, s.maxFM)
	if err != nil {
		return nil, nil, err
	}
	if b, ok := boolean(fm.data["published"]); ok && !b {
		return nil, nil, nil
	}
	if b, ok := boolean(fm.data["draft"]); ok && b && !opts.Drafts {
		return nil, nil, nil
	}
	base := path.Base(rel)
	ext := path.Ext(base)
	slug := strings.TrimSuffix(base, ext)
	p := &Post{Path: rel, bodyLine: fm.bodyLine, sep: sep, ExcerptOnly: opts.ExcerptOnly}
	var warns []Warning
	var fileDate time.Time
	if m := postName.FindStringSubmatch(base); m != nil {
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
	// The id's date: the file name's, else the date as written (not moved into the site's zone, so that
	// changing timezone does not change ids).
	idDate := fileDate
	if idDate.IsZero() {
		idDate = p.Date
	}
	if p.Date.IsZero() {
		return nil, nil, &Error{File: rel, Line: 1, Msg: "no date: add date: YYYY-MM-DD to the front matter, or name the file YYYY-MM-DD-slug.md"}
	}
	p.Date = p.Date.In(s.Location)
	p.visibleFrom = p.Date
	if fs := str(fm.data["slug"]); fs != "" {
		slug = fs
	}
	warns = append(warns, s.fillCommon(p, fm, nil)...)
	if p.Title == "" {
		p.Title = titleFromSlug(slug)
	}
	if p.Updated.IsZero() {
		p.Updated = p.Date
	}
	p.Updated = p.Updated.In(s.Location)
	tmpl, line := permalink, 0
	if fp := str(fm.data["permalink"]); fp != "" {
		tmpl, line = fp, fm.line("permalink")
	}
	urlPath, err := expandPermalink(tmpl, permalinkVars{date: p.Date, slug: slug, name: slug, categories: p.Categories,
		outputExt: ".html", collection: "posts", path: strings.TrimSuffix(inPosts, ext)})
	if err != nil {
		return nil, nil, &Error{File: rel, Line: line, Msg: err.Error()}
	}
	p.URL = s.URL + urlPath
	if !p.hasID {
		p.ID = fmt.Sprintf("tag:%s,%s:%s", s.host(), idDate.Format("2006-01-02"), escapePath(strings.TrimSuffix(inPosts, ext)))
	}
	return p, warns, nil
}
