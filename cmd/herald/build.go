package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/templates"
	"golang.org/x/sync/errgroup"
)

// buildFlags are the flags every command that builds feeds shares.
type buildFlags struct {
	dir      string
	drafts   bool
	future   bool
	limit    int
	output   string
	printLnk bool
	noCache  bool // do not read or write the posts cache
}

func (f *buildFlags) register(fs *flag.FlagSet) {
	f.registerPosts(fs)
	fs.Func("limit", "items per feed, 0 for every post (default: limit in herald.yaml, else 20)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want 0 (every post) or a positive number")
		}
		f.limit = n
		return nil
	})
	fs.StringVar(&f.output, "output", "", "the `folder` to write feeds to (default: the site's output folder, _site or public)")
}

// registerPosts registers the flags that say which posts the site has, for the commands that write no feed.
func (f *buildFlags) registerPosts(fs *flag.FlagSet) {
	siteFlag(fs, &f.dir)
	fs.BoolVar(&f.drafts, "drafts", false, "include drafts (Jekyll's _drafts, Hugo's draft: true)")
	fs.BoolVar(&f.future, "future", false, "include posts dated in the future")
	f.limit = -1 // not given
}

func runBuild(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("build", stderr, `Usage: herald build [flags]

Reads the site's posts and writes its feeds: feed.xml (RSS 2.0), atom.xml (Atom 1.0) and feed.json
(JSON Feed 1.1) in the site's output folder. Prints one line per file written; a file whose bytes would
not change is left alone. Settings come from herald.yaml at the site's root (see README.md), then
HERALD_* environment variables, then these flags.

Flags:
`)
	var bf buildFlags
	var df diffFlags
	bf.register(fs)
	fs.BoolVar(&bf.printLnk, "print-links", false, "print the <link rel=\"alternate\"> tags for the site's <head> instead of building")
	record := fs.Bool("record", false, "also record the run in the state store, as herald publish does")
	df.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	siteDir, cfg, err := configure(bf.dir, getenv)
	if err != nil {
		return err
	}
	if *record {
		return publishRun(ctx, getenv, siteDir, cfg, bf, df, false, "build --record", stdout, stderr)
	}
	b, err := prepare(ctx, getenv, siteDir, cfg, bf, stderr)
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

// siteOptions are the options of posts.Load for the site in dir with herald.yaml's cfg.
func siteOptions(dir string, cfg config) posts.Options {
	return posts.Options{
		Dir: dir, Kind: cfg.Kind, PostsDir: cfg.PostsDir, Title: cfg.Title, Description: cfg.Description,
		URL: cfg.URL, Lang: cfg.Lang, Timezone: cfg.Timezone,
		Author:    posts.Author{Name: cfg.Author.Name, Email: cfg.Author.Email, URL: cfg.Author.URL},
		Permalink: cfg.Permalink, ExcerptSeparator: cfg.ExcerptSeparator, ExcerptOnly: cfg.ExcerptOnly,
		Private: privatePaths(dir, cfg), MaxFileBytes: int64(cfg.MaxFileBytes), MaxFrontMatterBytes: cfg.MaxFrontMatterBytes,
		Liquid: posts.LiquidBounds{Time: cfg.liquidTimeout(), Bytes: cfg.LiquidMaxBytes, Includes: cfg.LiquidMaxIncludes},
	}
}

// privatePaths are what no site file may read or link to, even inside the site: the state folder (the
// secret, the store, the outbox), herald.yaml, and the store, outbox and DKIM key wherever they are.
func privatePaths(siteDir string, cfg config) []string {
	ps := []string{filepath.Join(siteDir, storeDir), filepath.Join(siteDir, configName), storePath(siteDir, cfg)}
	for _, p := range []string{cfg.Outbox, cfg.DKIMKeyFile} {
		if abs, err := filepath.Abs(p); err == nil && p != "" {
			ps = append(ps, abs)
		}
	}
	return ps
}

// prepare loads the site in dir, configured by cfg (see configure), and readies its feeds.
func prepare(ctx context.Context, getenv func(string) string, dir string, cfg config, bf buildFlags, stderr io.Writer) (*build, error) {
	now := time.Now()
	if e := getenv("SOURCE_DATE_EPOCH"); e != "" {
		// The reproducible-builds convention: the time a build is taken to run at.
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", e)
		}
		now = time.Unix(n, 0)
	}
	opts := siteOptions(dir, cfg)
	opts.Drafts, opts.Future, opts.Now = bf.drafts, bf.future, now
	// Beside the state store, once there is one, Herald keeps what it read of each post, so that a run
	// over thousands of unchanged posts does not parse them all again.
	if sp := storePath(dir, cfg); !bf.noCache && isDir(filepath.Dir(sp)) {
		opts.Cache = sp + ".posts-cache"
	}
	site, err := posts.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, w := range site.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if site.Kind == "jekyll" && cfg.secretLine > 0 && !jekyllExcludes(dir, configName) {
		fmt.Fprintf(stderr, "warning: %s:%d: secret: Jekyll publishes %s with the site (as %s), so anyone can read the secret and forge unsubscribe and preferences links; move the secret into .herald/secret (or HERALD_SECRET) and delete this line, or add %s to exclude in _config.yml. If the site went out with it, change the secret (links in mail already sent then stop working)\n",
			configName, cfg.secretLine, configName, relTo(dir, filepath.Join(site.OutputDir, configName)), configName)
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
	switch cfg.Stylesheet {
	case "":
	case "default":
		b.feedOpt.Stylesheet = b.fileURL("feed.xsl") // written beside the feeds by write
	default:
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

// output is one file the build writes: its path and bytes, and how many items it holds.
type output struct {
	path  string
	data  []byte
	items int
}

// feedSet is a group of the three feeds: the site's own, or one tag's or category's.
type feedSet struct {
	dir   string // below the output folder, slash-separated; "" for the site's own feeds
	title string
	posts []*posts.Post // newest first, all of them; the limit is applied when rendering
}

// write renders every feed in memory first, then writes the files whose bytes changed, so that an error
// leaves every file as it was.
func (b *build) write(ctx context.Context, stdout io.Writer) error {
	outs, err := b.outputs(ctx)
	if err != nil {
		return err
	}
	return b.writeOutputs(outs, false, stdout)
}

// outputs renders every file the build writes, in memory.
func (b *build) outputs(ctx context.Context) ([]output, error) {
	sets := []feedSet{{posts: b.site.Posts}}
	if b.cfg.TagFeeds {
		sets = append(sets, b.termSets("tags", func(p *posts.Post) []string { return p.Tags })...)
	}
	if b.cfg.CategoryFeeds {
		sets = append(sets, b.termSets("categories", func(p *posts.Post) []string { return p.Categories })...)
	}
	// Render each post that some feed carries, once.
	var todo []*posts.Post
	seen := map[*posts.Post]bool{}
	for i := range sets {
		if b.limit > 0 && len(sets[i].posts) > b.limit {
			sets[i].posts = sets[i].posts[:b.limit]
		}
		for _, p := range sets[i].posts {
			if !seen[p] {
				seen[p] = true
				todo = append(todo, p)
			}
		}
	}
	warns, err := b.site.Render(ctx, todo)
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		fmt.Fprintln(b.stderr, "warning:", w)
	}

	outs, err := b.renderSets(ctx, sets)
	if err != nil {
		return nil, err
	}
	if b.cfg.Stylesheet == "default" {
		xsl, err := templates.FS.ReadFile("feed.xsl")
		if err != nil {
			return nil, err
		}
		outs = append(outs, output{path: filepath.Join(b.outDir, "feed.xsl"), data: xsl})
	}
	return outs, nil
}

// writeOutputs writes the files whose bytes changed and prints a line for each. With dryRun it only says
// which it would write.
func (b *build) writeOutputs(outs []output, dryRun bool, stdout io.Writer) error {
	verb := "wrote"
	changed := make([]bool, len(outs))
	if dryRun {
		verb = "would write"
		for i, o := range outs {
			old, err := os.ReadFile(o.path)
			changed[i] = err != nil || !bytes.Equal(old, o.data)
		}
	} else {
		files := make([]feed.File, len(outs))
		for i, o := range outs {
			files[i] = feed.File{Path: o.path, Data: o.data}
		}
		var err error
		if changed, err = feed.WriteFiles(files); err != nil {
			return err
		}
	}
	for i, o := range outs {
		if !changed[i] {
			continue
		}
		rel := relTo(b.site.Dir, o.path)
		if strings.HasSuffix(o.path, ".xsl") {
			fmt.Fprintf(stdout, "%s %s (%d bytes)\n", verb, rel, len(o.data))
		} else {
			fmt.Fprintf(stdout, "%s %s (%d items, %d bytes)\n", verb, rel, o.items, len(o.data))
		}
	}
	return nil
}

// renderSets renders the three feeds of each set, several at once: a full-archive feed of thousands of
// posts takes seconds to encode.
func (b *build) renderSets(ctx context.Context, sets []feedSet) ([]output, error) {
	formats := []func(feed.Options, []*posts.Post) ([]byte, error){feed.RSS, feed.Atom, feed.JSON}
	outs := make([]output, len(sets)*len(formats))
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, set := range sets {
		opt := b.feedOpt
		names := []string{b.rssName(), b.atomName(), b.jsonName()}
		if set.dir != "" {
			opt.Title = b.site.Title + ": " + set.title
			for k, n := range names {
				names[k] = set.dir + "/" + path.Base(filepath.ToSlash(n))
			}
			opt.RSSURL, opt.AtomURL, opt.JSONURL = b.fileURL(names[0]), b.fileURL(names[1]), b.fileURL(names[2])
		}
		for k, render := range formats {
			g.Go(func() error {
				data, n, err := feed.Fit(b.cfg.MaxBytes, set.posts, func(ps []*posts.Post) ([]byte, error) { return render(opt, ps) })
				if err != nil {
					return fmt.Errorf("%s: %w", names[k], err)
				}
				outs[i*len(formats)+k] = output{filepath.Join(b.outDir, filepath.FromSlash(names[k])), data, n}
				return nil
			})
		}
	}
	return outs, g.Wait()
}

// termSets groups the posts by tag (or category) for per-term feeds in KIND/SLUG/. The slug keeps letters
// and digits of any script and turns everything else into hyphens, so it cannot leave the output folder;
// terms that give the same slug ("C++" and "c") share a feed.
func (b *build) termSets(kind string, terms func(*posts.Post) []string) []feedSet {
	bySlug := map[string]*feedSet{}
	var slugs []string
	for _, p := range b.site.Posts {
		for _, t := range terms(p) {
			slug := termSlug(t)
			if slug == "" {
				continue
			}
			set, ok := bySlug[slug]
			if !ok {
				set = &feedSet{dir: kind + "/" + slug, title: t}
				bySlug[slug] = set
				slugs = append(slugs, slug)
			}
			if n := len(set.posts); n == 0 || set.posts[n-1] != p {
				set.posts = append(set.posts, p)
			}
		}
	}
	sort.Strings(slugs)
	out := make([]feedSet, 0, len(slugs))
	for _, s := range slugs {
		out = append(out, *bySlug[s])
	}
	return out
}

// termSlug makes a file name from a tag: lower case, letters and digits of any script, hyphens between.
func termSlug(t string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(t) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			hyphen = false
		} else if !hyphen && b.Len() > 0 {
			b.WriteByte('-')
			hyphen = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
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

// relTo is p relative to dir, slash-separated, when it is inside dir; else p.
func relTo(dir, p string) string {
	rel, err := filepath.Rel(dir, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = p
	}
	return filepath.ToSlash(rel)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func firstSet(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
