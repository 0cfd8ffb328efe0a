package publish

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/templates"
)

// Feeds say what a build writes: the site's RSS, Atom and JSON feeds into Dir, and with TagFeeds or
// CategoryFeeds the same three for each tag or category, in tags/SLUG/ and categories/SLUG/.
type Feeds struct {
	Dir             string // the output folder, absolute
	RSS, Atom, JSON string // file names (paths) inside Dir
	Limit           int    // items per feed; 0 for all
	MaxBytes        int    // a feed larger than this drops its oldest items; 0 for no limit
	TagFeeds        bool
	CategoryFeeds   bool
	Stylesheet      string // "": none; "default": Herald's feed.xsl, written beside the feeds; else its URL
	Hubs            []string
	Generator       string // "Herald v1.2.3", or "Herald"
	// A feed larger than this (as its posts' HTML estimates it) is written straight into a temp file beside
	// its path rather than held in memory (Output.Temp), unless MaxBytes is set; 0 takes 8 MB.
	SpillBytes int
}

// Output is one file a build writes.
type Output struct {
	Path  string
	Data  []byte
	Temp  string // when set, the bytes are in this temp file beside Path instead of Data (feed.File.Temp)
	Size  int64  // how many bytes
	Items int    // 0 for a file that is not a feed
}

// Options are the feed package's options for the site's own feeds.
func (f Feeds) Options(site *posts.Site) feed.Options {
	o := feed.Options{
		Title: site.Title, Description: site.Description, SiteURL: site.URL + "/", Lang: site.Lang,
		Author: site.Author, Hubs: f.Hubs, Generator: f.Generator,
		RSSURL: fileURL(site, f.RSS), AtomURL: fileURL(site, f.Atom), JSONURL: fileURL(site, f.JSON),
	}
	switch f.Stylesheet {
	case "":
	case "default":
		o.Stylesheet = fileURL(site, "feed.xsl") // written beside the feeds by Build
	default:
		o.Stylesheet = f.Stylesheet
	}
	return o
}

// Links are the <link rel="alternate"> tags that let browsers and readers find the feeds.
func (f Feeds) Links(site *posts.Site) string {
	if languageFeeds(site) {
		return languageLinks(site, f)
	}
	o := f.Options(site)
	esc := func(s string) string { return strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;").Replace(s) }
	t := esc(site.Title)
	return fmt.Sprintf(`<link rel="alternate" type="application/rss+xml" title="%s" href="%s">
<link rel="alternate" type="application/atom+xml" title="%s" href="%s">
<link rel="alternate" type="application/feed+json" title="%s" href="%s">
`, t, esc(o.RSSURL), t, esc(o.AtomURL), t, esc(o.JSONURL))
}

// fileURL is the public URL of a file in the output folder (in a language's folder, at that language's URL).
func fileURL(site *posts.Site, name string) string {
	name = strings.TrimLeft(filepath.ToSlash(name), "/")
	if u, ok := languageFileURL(site, name); ok {
		return u
	}
	return site.URL + "/" + name
}

// feedSet is a group of the three feeds: the site's own, or one tag's or category's.
type feedSet struct {
	dir   string // below the output folder, slash-separated; "" for the site's own feeds
	title string
	posts []*posts.Post // newest first
	opt   *feed.Options // a language's set (see languageSets): its options and file names, used as they are
	names []string
}

// Build renders every file the build writes, in memory: writing is the caller's (feed.WriteFiles), so that
// an error leaves every file as it was. Warnings about the posts go to log.
func Build(ctx context.Context, site *posts.Site, f Feeds, log io.Writer) ([]Output, error) {
	sets := []feedSet{{posts: site.Posts}}
	if f.TagFeeds {
		sets = append(sets, termSets(site, "tags", func(p *posts.Post) []string { return p.Tags })...)
	}
	if f.CategoryFeeds {
		sets = append(sets, termSets(site, "categories", func(p *posts.Post) []string { return p.Categories })...)
	}
	if languageFeeds(site) {
		sets = languageSets(site, f)
	}
	// Render each post that some feed carries, once.
	var todo []*posts.Post
	seen := map[*posts.Post]bool{}
	for i := range sets {
		if f.Limit > 0 && len(sets[i].posts) > f.Limit {
			sets[i].posts = sets[i].posts[:f.Limit]
		}
		for _, p := range sets[i].posts {
			if !seen[p] {
				seen[p] = true
				todo = append(todo, p)
			}
		}
	}
	warns, err := site.Render(ctx, todo)
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		fmt.Fprintln(log, "warning:", w)
	}
	outs, err := renderSets(ctx, site, f, sets)
	if err != nil {
		return nil, err
	}
	if f.Stylesheet == "default" {
		xsl, err := templates.FS.ReadFile("feed.xsl")
		if err != nil {
			return nil, err
		}
		outs = append(outs, Output{Path: filepath.Join(f.Dir, "feed.xsl"), Data: xsl, Size: int64(len(xsl))})
	}
	return outs, nil
}

// renderSets renders the three feeds of each set, several at once: a full-archive feed of thousands of
// posts takes seconds to encode. A large feed goes straight into a temp file (Feeds.SpillBytes): three
// feeds of 10,000 posts are 300 MB. On error no temp file is left.
func renderSets(ctx context.Context, site *posts.Site, f Feeds, sets []feedSet) (outs []Output, err error) {
	formats := []func(feed.Options, []*posts.Post) ([]byte, error){feed.RSS, feed.Atom, feed.JSON}
	writers := []func(io.Writer, feed.Options, []*posts.Post) error{feed.WriteRSS, feed.WriteAtom, feed.WriteJSON}
	spill := f.SpillBytes
	if spill <= 0 {
		spill = 8 << 20
	}
	outs = make([]Output, len(sets)*len(formats))
	defer func() {
		if err != nil {
			for _, o := range outs {
				if o.Temp != "" {
					os.Remove(o.Temp)
				}
			}
		}
	}()
	g, _ := errgroup.WithContext(ctx)
	// One more feed than cores: a feed spends part of its time writing and syncing its file, which another
	// feed's encoding can use (the site's own three feeds of a full archive run all at once on two cores).
	g.SetLimit(runtime.GOMAXPROCS(0) + 1)
	base := f.Options(site)
	for i, set := range sets {
		opt := base
		names := []string{f.RSS, f.Atom, f.JSON}
		if set.dir != "" {
			opt.Title = site.Title + ": " + set.title
			for k, n := range names {
				names[k] = set.dir + "/" + path.Base(filepath.ToSlash(n))
			}
			opt.RSSURL, opt.AtomURL, opt.JSONURL = fileURL(site, names[0]), fileURL(site, names[1]), fileURL(site, names[2])
		}
		if set.opt != nil {
			opt, names = *set.opt, set.names
		}
		big := f.MaxBytes <= 0 && htmlSize(set.posts) > spill
		// The first of the set's three feeds to start makes its posts safe for all three (feed.Safe).
		prepared := sync.OnceValues(func() (feed.Options, []*posts.Post) { return feed.Safe(opt, set.posts) })
		for k, render := range formats {
			g.Go(func() error {
				o, ps := prepared()
				path := filepath.Join(f.Dir, filepath.FromSlash(names[k]))
				if big {
					tmp, size, err := feed.Spill(path, func(w io.Writer) error { return writers[k](w, o, ps) })
					if err != nil {
						return fmt.Errorf("%s: %w", names[k], err)
					}
					outs[i*len(formats)+k] = Output{Path: path, Temp: tmp, Size: size, Items: len(set.posts)}
					return nil
				}
				data, n, err := feed.Fit(f.MaxBytes, ps, func(ps []*posts.Post) ([]byte, error) { return render(o, ps) })
				if err != nil {
					return fmt.Errorf("%s: %w", names[k], err)
				}
				outs[i*len(formats)+k] = Output{Path: path, Data: data, Size: int64(len(data)), Items: n}
				return nil
			})
		}
	}
	return outs, g.Wait()
}

// Discard removes the temp files of outs that were not written into place (feed.WriteFiles renames those
// it writes and removes those it leaves): a run that stops between Build and the write leaves none.
func Discard(outs []Output) {
	for _, o := range outs {
		if o.Temp != "" {
			os.Remove(o.Temp) // a no-op once renamed or removed
		}
	}
}

// htmlSize is about how many bytes of HTML the posts bring to a feed.
func htmlSize(ps []*posts.Post) int {
	n := 0
	for _, p := range ps {
		n += 1024 + len(p.ContentHTML) + len(p.SummaryHTML)
	}
	return n
}

// termSets groups the posts by tag (or category) for per-term feeds in KIND/SLUG/. The slug keeps letters
// and digits of any script and turns everything else into hyphens, so it cannot leave the output folder;
// terms that give the same slug ("C++" and "c") share a feed.
func termSets(site *posts.Site, kind string, terms func(*posts.Post) []string) []feedSet {
	bySlug := map[string]*feedSet{}
	var slugs []string
	for _, p := range site.Posts {
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
