package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/posts"
)

// buildFlags are the flags every command that builds feeds shares.
type buildFlags struct {
	dir      string
	drafts   bool
	future   bool
	limit    int
	output   string
	printLnk bool
}

func (f *buildFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "C", ".", "the site's `folder`")
	fs.BoolVar(&f.drafts, "drafts", false, "include drafts (Jekyll's _drafts, Hugo's draft: true)")
	fs.BoolVar(&f.future, "future", false, "include posts dated in the future")
	fs.IntVar(&f.limit, "limit", -1, "items per feed, 0 for every post (default: limit in herald.yaml, else 20)")
	fs.StringVar(&f.output, "output", "", "the `folder` to write feeds to (default: the site's output folder, _site or public)")
}

func runBuild(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var bf buildFlags
	bf.register(fs)
	fs.BoolVar(&bf.printLnk, "print-links", false, "print the <link rel=\"alternate\"> tags for the site's <head> instead of building")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: herald build [flags]

Reads the site's posts and writes its feeds: feed.xml (RSS 2.0), atom.xml (Atom 1.0) and feed.json
(JSON Feed 1.1) in the site's output folder. Prints one line per file written; a file whose bytes would
not change is left alone. Settings come from herald.yaml at the site's root (see README.md), then
HERALD_* environment variables, then these flags.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return errUsage{err.Error() + "; see herald build --help"}
	}
	if fs.NArg() > 0 {
		return errUsage{fmt.Sprintf("unexpected argument %q; herald build takes only flags (the site folder goes after -C)", fs.Arg(0))}
	}
	b, err := prepare(ctx, getenv, bf, stderr)
	if err != nil {
		return err
	}
	if bf.printLnk {
		fmt.Fprint(stdout, b.links())
		return nil
	}
	return b.write(ctx, stdout)
}

// build is a site loaded and configured, ready to render and write.
type build struct {
	cfg     config
	site    *posts.Site
	outDir  string
	limit   int
	feedOpt feed.Options
	stderr  io.Writer
}

// feedFile is one kind of feed: its file name and how to render it.
type feedFile struct {
	name   string
	url    string
	render func(feed.Options, []*posts.Post) ([]byte, error)
}

func prepare(ctx context.Context, getenv func(string) string, bf buildFlags, stderr io.Writer) (*build, error) {
	dir, err := filepath.Abs(bf.dir)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(dir, getenv)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if e := getenv("SOURCE_DATE_EPOCH"); e != "" {
		// The reproducible-builds convention: the time a build is taken to run at.
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", e)
		}
		now = time.Unix(n, 0)
	}
	opts := posts.Options{
		Dir: dir, Kind: cfg.Kind, PostsDir: cfg.PostsDir, Title: cfg.Title, Description: cfg.Description,
		URL: cfg.URL, Lang: cfg.Lang, Timezone: cfg.Timezone,
		Author:    posts.Author{Name: cfg.Author.Name, Email: cfg.Author.Email, URL: cfg.Author.URL},
		Permalink: cfg.Permalink, ExcerptSeparator: cfg.ExcerptSeparator, ExcerptOnly: cfg.ExcerptOnly,
		Drafts: bf.drafts, Future: bf.future, Now: now,
	}
	site, err := posts.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, w := range site.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	b := &build{cfg: cfg, site: site, outDir: site.OutputDir, limit: 20, stderr: stderr}
	if cfg.Output != "" {
		b.outDir = cfg.Output
	}
	if bf.output != "" {
		b.outDir = bf.output
	}
	if !filepath.IsAbs(b.outDir) {
		b.outDir = filepath.Join(dir, b.outDir)
	}
	if cfg.Limit != nil {
		b.limit = *cfg.Limit
	}
	if bf.limit >= 0 {
		b.limit = bf.limit
	}
	if b.limit < 0 {
		return nil, fmt.Errorf("limit %d: want 0 (every post) or more", b.limit)
	}
	b.feedOpt = feed.Options{
		Title: site.Title, Description: site.Description, SiteURL: site.URL + "/", Lang: site.Lang,
		Author: site.Author, Hubs: cfg.Hubs, Generator: "Herald " + version,
		RSSURL: b.fileURL(b.rssName()), AtomURL: b.fileURL(b.atomName()), JSONURL: b.fileURL(b.jsonName()),
	}
	if cfg.Stylesheet != "" {
		b.feedOpt.Stylesheet = cfg.Stylesheet
	}
	return b, nil
}

func (b *build) rssName() string  { return firstSet(b.cfg.RSS, "feed.xml") }
func (b *build) atomName() string { return firstSet(b.cfg.Atom, "atom.xml") }
func (b *build) jsonName() string { return firstSet(b.cfg.JSON, "feed.json") }

// fileURL is the public URL of a file in the output folder.
func (b *build) fileURL(name string) string {
	return b.site.URL + "/" + strings.TrimLeft(filepath.ToSlash(name), "/")
}

// items are the posts the feeds carry, rendered.
func (b *build) items(ctx context.Context) ([]*posts.Post, error) {
	ps := b.site.Posts
	if b.limit > 0 && len(ps) > b.limit {
		ps = ps[:b.limit]
	}
	warns, err := b.site.Render(ctx, ps)
	for _, w := range warns {
		fmt.Fprintln(b.stderr, "warning:", w)
	}
	return ps, err
}

// write renders the feeds, all of them in memory first, then writes those whose bytes changed, so that an
// error leaves every file as it was.
func (b *build) write(ctx context.Context, stdout io.Writer) error {
	items, err := b.items(ctx)
	if err != nil {
		return err
	}
	files := []feedFile{
		{b.rssName(), b.feedOpt.RSSURL, feed.RSS},
		{b.atomName(), b.feedOpt.AtomURL, feed.Atom},
		{b.jsonName(), b.feedOpt.JSONURL, feed.JSON},
	}
	type out struct {
		path  string
		data  []byte
		items int
	}
	var outs []out
	for _, f := range files {
		data, n, err := feed.Fit(b.cfg.MaxBytes, items, func(ps []*posts.Post) ([]byte, error) { return f.render(b.feedOpt, ps) })
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		outs = append(outs, out{filepath.Join(b.outDir, filepath.FromSlash(f.name)), data, n})
	}
	for _, o := range outs {
		changed, err := feed.WriteFile(o.path, o.data)
		if err != nil {
			return err
		}
		if changed {
			rel, err := filepath.Rel(b.site.Dir, o.path)
			if err != nil || strings.HasPrefix(rel, "..") {
				rel = o.path
			}
			fmt.Fprintf(stdout, "wrote %s (%d items, %d bytes)\n", filepath.ToSlash(rel), o.items, len(o.data))
		}
	}
	return nil
}

// links are the <link rel="alternate"> tags that let browsers and readers find the feeds.
func (b *build) links() string {
	esc := func(s string) string { return strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;").Replace(s) }
	t := esc(b.site.Title)
	return fmt.Sprintf(`<link rel="alternate" type="application/rss+xml" title="%s" href="%s">
<link rel="alternate" type="application/atom+xml" title="%s" href="%s">
<link rel="alternate" type="application/feed+json" title="%s" href="%s">
`, t, esc(b.feedOpt.RSSURL), t, esc(b.feedOpt.AtomURL), t, esc(b.feedOpt.JSONURL))
}

func firstSet(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
