package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/publish"
	"github.com/heraldhq/herald/store"
)

// buildFlags are the flags every command that builds feeds shares.
type buildFlags struct {
	dir       string
	drafts    bool
	future    bool
	limit     int
	output    string
	printLnk  bool
	noCache   bool // do not read or write the posts cache
	overwrite bool // replace files at the feeds' paths that Herald did not write
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
	fs.BoolVar(&f.overwrite, "overwrite", false, "replace a file at a feed's path that Herald did not write (jekyll-feed's feed.xml, a site's own template)")
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
	if len(b.site.Posts) >= 1000 {
		// What loading read and dropped (the posts cache's entries, the walk of the site, a stat of each
		// post) outweighs the posts it keeps: collected now, and its pages handed back, it does not add to
		// the peak of what follows. herald build of 10,000 posts peaks at 44 MB rather than 50, for one
		// collection (a small site has too little to hand back to matter). Not in publish, which holds
		// more after (the store's pages) and took 15 ms longer for it, its peak unchanged.
		debug.FreeOSMemory()
	}
	if bf.printLnk {
		fmt.Fprint(stdout, b.feeds.Links(b.site))
		return nil
	}
	outs, err := publish.Build(ctx, b.site, b.feeds, stderr)
	if err != nil {
		return err
	}
	defer publish.Discard(outs)
	// The feeds hold posts no run has recorded maybe: the next publish must not take them for the work of a
	// run its store does not remember (publish.CheckBehind).
	ids := make([]string, len(b.site.Posts))
	for i, p := range b.site.Posts {
		ids[i] = p.ID
	}
	if err := addUnrecorded(b.site.Dir, b.cfg, ids, false); err != nil {
		return err
	}
	return b.writeOutputs(outs, false, stdout)
}

// build is a site loaded and configured, ready to render and write.
type build struct {
	cfg    config
	site   *posts.Site
	feeds  publish.Feeds
	stderr io.Writer
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
// secret, the store, the outbox), herald.yaml, and wherever they are, an SQLite store with every file
// SQLite keeps beside it, the posts cache, the outbox, the DKIM key and the password files.
func privatePaths(siteDir string, cfg config) []string {
	ps := []string{filepath.Join(siteDir, storeDir), filepath.Join(siteDir, configName), outboxPath(siteDir, cfg), cachePath(siteDir, cfg), unrecordedPath(siteDir, cfg)}
	if sp := storePath(siteDir, cfg); !store.IsPostgres(sp) {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal", ".lock"} {
			ps = append(ps, sp+suffix)
		}
	}
	ps = append(ps, dkimKeyPaths(siteDir, cfg)...)
	for _, p := range cfg.keyFiles { // read from the working folder
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
	// A site without one yet keeps it in the user's cache folder, as Hugo keeps its own.
	if !bf.noCache {
		if isDir(localDir(dir, cfg)) {
			opts.Cache = cachePath(dir, cfg)
		} else {
			opts.Cache = userCachePath(dir, getenv)
		}
	}
	site, err := posts.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := useIDs(site, cfg); err != nil {
		return nil, err
	}
	for _, w := range site.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if site.Kind == "jekyll" && cfg.secretLine > 0 && !jekyllExcludes(dir, configName) {
		fmt.Fprintf(stderr, "warning: %s:%d: secret: Jekyll publishes %s with the site (as %s), so anyone can read the secret and forge unsubscribe and preferences links; move the secret into .herald/secret (or HERALD_SECRET) and delete this line, or add %s to exclude in _config.yml. If the site went out with it, change the secret (links in mail already sent then stop working)\n",
			configName, cfg.secretLine, configName, relTo(dir, filepath.Join(site.OutputDir, configName)), configName)
	}
	cfg.Overwrite = cfg.Overwrite || bf.overwrite
	out, err := feedsDir(site, cfg, bf.output)
	if err != nil {
		return nil, err
	}
	f := publish.Feeds{
		Dir: out, Limit: 20,
		RSS: firstSet(cfg.RSS, "feed.xml"), Atom: firstSet(cfg.Atom, "atom.xml"), JSON: firstSet(cfg.JSON, "feed.json"),
		MaxBytes: cfg.MaxBytes, TagFeeds: cfg.TagFeeds, CategoryFeeds: cfg.CategoryFeeds,
		Stylesheet: cfg.Stylesheet, Hubs: cfg.Hubs, Generator: generator(),
	}
	if !filepath.IsAbs(f.Dir) {
		f.Dir = filepath.Join(dir, f.Dir)
	}
	if cfg.Limit != nil {
		f.Limit = *cfg.Limit
	}
	if bf.limit >= 0 {
		f.Limit = bf.limit
	}
	if f.Limit < 0 {
		return nil, fmt.Errorf("limit %d: want 0 (every post) or more", f.Limit)
	}
	if f.Limit == 0 && getenv("GOGC") == "" && getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(fullArchiveMemory(site))
	}
	return &build{cfg: cfg, site: site, feeds: f, stderr: stderr}, nil
}

// fullArchiveMemory is the soft memory limit of a build of every post (Go's GC runs more often as the heap
// nears it): every post's HTML stays in memory until the feeds are written, about twice its source, so
// left to GOGC alone the heap grows to twice that before a collection (320 to 370 MB for 10,000 posts of
// 50 MB). A limit of 64 MB and three times the posts' source holds the 10,000 posts near 215 MB, and the
// GC, which runs less often than GOGC=40 (what this did before), takes a second less CPU of about six.
// The limit grows with the site, so a site of long posts does not spend its time collecting.
func fullArchiveMemory(site *posts.Site) int64 {
	var source int64
	for _, p := range site.Posts {
		if info, err := os.Stat(filepath.Join(site.Dir, p.Path)); err == nil {
			source += info.Size()
		}
	}
	return 64<<20 + 3*source
}

// userCachePath is the posts cache of the site in dir when it has no state folder: in
// $XDG_CACHE_HOME/herald (else ~/.cache/herald), named by a hash of the site's path; "" when neither
// variable is set or the folder cannot be made.
func userCachePath(dir string, getenv func(string) string) string {
	base := getenv("XDG_CACHE_HOME")
	if base == "" {
		if home := getenv("HOME"); home != "" {
			base = filepath.Join(home, ".cache")
		}
	}
	abs, err := filepath.Abs(dir)
	if base == "" || err != nil {
		return ""
	}
	// The folder is made here rather than when the cache is saved: one that cannot be made (HOME=/ in a
	// container, which its user may not write) means no cache, said nothing about, as with no HOME. A dry
	// run does not come here (noCache).
	base = filepath.Join(base, "herald")
	if os.MkdirAll(base, 0o700) != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "posts-"+hex.EncodeToString(sum[:8]))
}

// writeOutputs writes the files whose bytes changed and prints a line for each. With dryRun it only says
// which it would write.
func (b *build) writeOutputs(outs []publish.Output, dryRun bool, stdout io.Writer) error {
	verb := "wrote"
	changed := make([]bool, len(outs))
	files := make([]feed.File, len(outs))
	for i, o := range outs {
		files[i] = feed.File{Path: o.Path, Data: o.Data, Temp: o.Temp, Guard: !b.cfg.Overwrite}
	}
	if dryRun {
		verb = "would write"
		for i, f := range files {
			same, err := feed.Unchanged(f)
			changed[i] = err != nil || !same
		}
	}
	if dryRun {
		if err := feed.CheckGuards(files); err != nil {
			return b.foreign(err)
		}
	} else {
		var err error
		if changed, err = feed.WriteFiles(files); err != nil {
			return b.foreign(err)
		}
	}
	for i, o := range outs {
		if !changed[i] {
			continue
		}
		rel := relTo(b.site.Dir, o.Path)
		if strings.HasSuffix(o.Path, ".xsl") {
			fmt.Fprintf(stdout, "%s %s (%d bytes)\n", verb, rel, o.Size)
		} else {
			fmt.Fprintf(stdout, "%s %s (%d items, %d bytes)\n", verb, rel, o.Items, o.Size)
		}
	}
	return nil
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
