package publish

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/posts"
)

// languageFeeds tells whether the site's feeds are a set per language: it has languages, more than one or
// one whose feeds are not at the root (a site of one language in its folder: Hugo's /en/).
func languageFeeds(site *posts.Site) bool {
	return len(site.Languages) > 1 || (len(site.Languages) == 1 && site.Languages[0].Path != "")
}

// languageSets are the feed sets of a multilingual site (posts.Site.Languages): for each language, the
// three feeds of its posts, in its folder (the default language's at the root, as Hugo puts its
// index.xml), with its title, description and language, and its tag and category feeds below that folder.
func languageSets(site *posts.Site, f Feeds) []feedSet {
	base := f.Options(site)
	var sets []feedSet
	for _, l := range site.Languages {
		var ps []*posts.Post
		for _, p := range site.Posts {
			if p.Lang == l.Lang {
				ps = append(ps, p)
			}
		}
		opt := base
		opt.Title, opt.Description, opt.SiteURL, opt.Lang = l.Title, l.Description, l.URL+"/", l.Lang
		sets = append(sets, languageSet(l, f, opt, feedSet{posts: ps}))
		lsite := &posts.Site{Posts: ps}
		var terms []feedSet
		if f.TagFeeds {
			terms = append(terms, termSets(lsite, "tags", func(p *posts.Post) []string { return p.Tags })...)
		}
		if f.CategoryFeeds {
			terms = append(terms, termSets(lsite, "categories", func(p *posts.Post) []string { return p.Categories })...)
		}
		for _, t := range terms {
			topt := opt
			topt.Title = l.Title + ": " + t.title
			sets = append(sets, languageSet(l, f, topt, t))
		}
	}
	return sets
}

// languageLinks are the <link rel="alternate"> tags of every language's feeds, each with its hreflang, in
// the languages' order: a page links those of its own language (or all of them).
func languageLinks(site *posts.Site, f Feeds) string {
	esc := strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;").Replace
	var b strings.Builder
	for _, set := range languageSets(site, f) {
		if set.dir != "" {
			continue // a tag's or a category's
		}
		o := set.opt
		for _, l := range []struct{ typ, href string }{{"application/rss+xml", o.RSSURL}, {"application/atom+xml", o.AtomURL}, {"application/feed+json", o.JSONURL}} {
			fmt.Fprintf(&b, "<link rel=\"alternate\" type=\"%s\" hreflang=\"%s\" title=\"%s\" href=\"%s\">\n", l.typ, esc(o.Lang), esc(o.Title), esc(l.href))
		}
	}
	return b.String()
}

// languageFileURL is the public URL of the file name (slash-separated, under the output folder) when it is
// in a language's folder: under that language's URL, which on a site with a host for each language is not
// the site's URL and that folder.
func languageFileURL(site *posts.Site, name string) (string, bool) {
	for _, l := range site.Languages {
		if rest, ok := strings.CutPrefix(name, l.Path+"/"); ok && l.Path != "" {
			return l.URL + "/" + rest, true
		}
	}
	return "", false
}

// languageSet places set in language l's folder: its files under l.Path, their URLs under l.URL.
func languageSet(l posts.Language, f Feeds, opt feed.Options, set feedSet) feedSet {
	names := []string{f.RSS, f.Atom, f.JSON}
	for k, n := range names {
		n = strings.TrimLeft(filepath.ToSlash(n), "/")
		if set.dir != "" {
			n = set.dir + "/" + path.Base(n)
		}
		names[k] = n
	}
	urls := make([]string, len(names))
	for k, n := range names {
		urls[k] = l.URL + "/" + n
		if l.Path != "" {
			names[k] = l.Path + "/" + n
		}
	}
	opt.RSSURL, opt.AtomURL, opt.JSONURL = urls[0], urls[1], urls[2]
	set.opt, set.names = &opt, names
	return set
}
