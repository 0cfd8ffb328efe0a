package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/posts"
	"gopkg.in/yaml.v3"
)

// useIDs gives the site's posts the public ids of herald.yaml's ids.
func useIDs(site *posts.Site, cfg config) error {
	if err := site.UseIDs(cfg.IDs); err != nil {
		return fmt.Errorf("%w (ids in %s, or HERALD_IDS)", err, configName)
	}
	return nil
}

// feedsDir is the folder the feeds go to: --output, else output in herald.yaml, else with feeds_in: source
// the site's source, where its generator picks them up as static files (Jekyll copies the files at its
// root, Hugo those in static/), else the generator's output folder.
func feedsDir(site *posts.Site, cfg config, flagOutput string) (string, error) {
	dir, err := feedsFolder(site, cfg, flagOutput)
	if err != nil {
		return "", err
	}
	return dir, checkFeedPaths(site, cfg, dir)
}

// feedsFolder is feedsDir before its check.
func feedsFolder(site *posts.Site, cfg config, flagOutput string) (string, error) {
	switch {
	case flagOutput != "":
		return flagOutput, nil
	case cfg.Output != "":
		return cfg.Output, nil
	case cfg.FeedsIn != "source":
		return site.OutputDir, nil
	}
	switch site.Kind {
	case "jekyll":
		return site.Dir, nil
	case "hugo":
		static := hugoStaticDir(site.Dir)
		if filepath.IsAbs(static) {
			return static, nil // Hugo reads an absolute staticDir as it is
		}
		return filepath.Join(site.Dir, static), nil
	}
	return "", fmt.Errorf("feeds_in: source in %s: a plain folder of Markdown files has no site generator to publish its source; set output to the folder your site is served from", configName)
}

// checkFeedPaths refuses a feed name that leaves the feeds' folder, and a folder or name that puts a
// feed among Herald's own files (the state folder, herald.yaml) or, with feeds_in: source, outside the site,
// where no generator publishes it. Tag, category and language feeds go in folders whose names are made
// safe where they are made.
func checkFeedPaths(site *posts.Site, cfg config, dir string) error {
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(site.Dir, dir)
	}
	if cfg.FeedsIn == "source" && !inside(site.Dir, dir) {
		return fmt.Errorf("feeds_in: source in %s: the folder the site generator publishes as it is, %s, is outside the site %s; make it a folder inside the site, or set output to where the feeds go", configName, dir, site.Dir)
	}
	state := filepath.Join(site.Dir, storeDir)
	if inside(state, dir) {
		return fmt.Errorf("the feeds' folder %s is inside Herald's state folder %s; set output to the folder the site is served from", dir, state)
	}
	for _, n := range []struct{ key, name string }{{"rss", cfg.RSS}, {"atom", cfg.Atom}, {"json", cfg.JSON}} {
		if n.name == "" {
			continue
		}
		name := filepath.FromSlash(strings.TrimLeft(n.name, "/")) // /feed.xml: at the root of the folder
		if !filepath.IsLocal(name) {
			return fmt.Errorf("%s %q in %s: a feed's name is a path inside the feeds' folder, such as feed.xml or feeds/atom.xml, without ..", n.key, n.name, configName)
		}
		if p := filepath.Join(dir, name); p == filepath.Join(site.Dir, configName) || inside(state, p) {
			return fmt.Errorf("%s %q in %s would go to %s, among Herald's own files; give the feed another name", n.key, n.name, configName, relTo(site.Dir, p))
		}
	}
	return nil
}

// inside tells whether path is dir or below it.
func inside(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// hugoStaticDir is the folder whose files Hugo publishes as they are: the config's staticDir (the first,
// when it lists several), else static.
func hugoStaticDir(dir string) string {
	cfg, err := posts.HugoConfig(dir)
	if err != nil {
		return "static"
	}
	switch v := cfg["staticdir"].(type) {
	case string:
		if v != "" {
			return filepath.FromSlash(v)
		}
	case []any:
		if len(v) > 0 {
			if s, ok := v[0].(string); ok && s != "" {
				return filepath.FromSlash(s)
			}
		}
	}
	return "static"
}

// foreign adds to a refusal to replace another's file what the author can do about it.
func (b *build) foreign(err error) error {
	var fe *feed.ForeignError
	if !errors.As(err, &fe) {
		return err
	}
	rel := relTo(b.site.Dir, fe.Path)
	var stop string
	switch {
	case strings.HasPrefix(fe.Generator, "Jekyll"):
		stop = "remove jekyll-feed from plugins in _config.yml (and from the Gemfile) so that Jekyll stops writing it, and build the site again"
	case strings.HasPrefix(fe.Generator, "Hugo"):
		stop = "stop Hugo's own RSS for the home page (outputs: home: [HTML] in the Hugo config) and build the site again"
	default:
		stop = "if a feed template in the site's source writes it, remove the template and build the site again"
	}
	msg := fmt.Sprintf("%s: to let Herald write it, %s; or give Herald's feed another name (rss, atom, json in %s); or replace it anyway with --overwrite (overwrite: true in %s). herald init says which settings keep a site's feed ids",
		rel, stop, configName, configName)
	if filepath.Ext(fe.Path) == ".json" && fe.Generator == "" {
		msg += ". A Herald older than this one wrote no mark into JSON feeds, and such a feed counts as Herald's only when all its items' ids are the site's own tag: ids: if Herald wrote this one, run once with --overwrite"
	}
	return fmt.Errorf("%w\n%s", err, msg)
}

// siteFeed is a feed the site publishes itself, at a path where Herald would write one of its own.
type siteFeed struct {
	by     string // what writes it: "jekyll-feed", "the template atom.xml", "Hugo's RSS"
	path   string // in the output folder, slash-separated
	format string // rss, atom or json
	ids    string // the ids scheme that keeps its ids; "" when Herald cannot tell
	stop   string // what the author does so that only Herald writes it
}

// siteFeeds finds the feeds the site in dir (of kind) publishes itself: jekyll-feed (in _config.yml's
// plugins or the Gemfile's jekyll_plugins group), a feed template in a Jekyll site's source, Hugo's RSS of
// the home page. What it cannot read, it does not report.
func siteFeeds(dir, kind string) []siteFeed {
	var out []siteFeed
	switch kind {
	case "jekyll":
		if path, ok := jekyllFeedPlugin(dir); ok {
			out = append(out, siteFeed{by: "jekyll-feed", path: path, format: "atom", ids: "jekyll",
				stop: "remove jekyll-feed from plugins in _config.yml (and from the Gemfile)"})
		}
		out = append(out, jekyllFeedTemplates(dir)...)
	case "hugo":
		if f, ok := hugoRSS(dir); ok {
			out = append(out, f)
		}
	}
	return slices.DeleteFunc(out, func(f siteFeed) bool { return !plainPath(f.path) })
}

// plainPath tells whether p, a path read from a site's config or template, is one Herald can take over and
// name in herald.yaml's comments: inside the output folder, valid UTF-8 without control characters or line
// separators (which would end a comment and start a setting).
func plainPath(p string) bool {
	if !utf8.ValidString(p) || !filepath.IsLocal(filepath.FromSlash(p)) {
		return false
	}
	return !strings.ContainsFunc(p, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' })
}

// jekyllFeedPlugin tells whether the Jekyll site in dir uses jekyll-feed, and the path it writes.
func jekyllFeedPlugin(dir string) (string, bool) {
	var cfg struct {
		Plugins []string `yaml:"plugins"`
		Gems    []string `yaml:"gems"` // the old name of plugins
		Feed    struct {
			Path string `yaml:"path"`
		} `yaml:"feed"`
	}
	for _, name := range []string{"_config.yml", "_config.yaml"} {
		if src, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			yaml.Unmarshal(src, &cfg) // a _config.yml Herald cannot read names no plugin
			break
		}
	}
	path := strings.TrimPrefix(firstSet(cfg.Feed.Path, "feed.xml"), "/")
	if slices.Contains(cfg.Plugins, "jekyll-feed") || slices.Contains(cfg.Gems, "jekyll-feed") {
		return path, true
	}
	gemfile, err := os.ReadFile(filepath.Join(dir, "Gemfile"))
	if err != nil {
		return "", false
	}
	// Bundler requires the gems of the jekyll_plugins group, and Jekyll loads them all.
	gem := regexp.MustCompile(`^\s*gem\s+["']jekyll-feed["']`)
	// A line that opens a block, which an "end" closes; depth counts those open inside the group.
	opens := regexp.MustCompile(`^(if|unless|case|while|until|begin)\b|\bdo(\s*\|[^|]*\|)?$`)
	inGroup, depth := false, 0
	for _, line := range strings.Split(string(gemfile), "\n") {
		line = strings.TrimSpace(strings.SplitN(line, "#", 2)[0])
		switch {
		case !inGroup && strings.HasPrefix(line, "group") && strings.Contains(line, "jekyll_plugins"):
			inGroup, depth = true, 0
		case gem.MatchString(line) && (inGroup || strings.Contains(line, "jekyll_plugins")):
			return path, true
		case inGroup && line == "end":
			inGroup = depth > 0
			depth--
		case inGroup && opens.MatchString(line):
			depth++
		}
	}
	return "", false
}

// feedTemplateNames are the files that hold a site's own feed template, in the folders Jekyll publishes.
var feedTemplateNames = []string{"feed.xml", "atom.xml", "rss.xml", "index.xml", "feed.json", "feed/index.xml", "feed/atom.xml"}

// jekyllFeedTemplates finds feed templates in a Jekyll site's source: a file of feedTemplateNames with front
// matter (which makes Jekyll render it), its format and ids read from what it writes.
func jekyllFeedTemplates(dir string) []siteFeed {
	var out []siteFeed
	for _, name := range feedTemplateNames {
		src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || !bytes.HasPrefix(src, []byte("---")) {
			continue
		}
		f := siteFeed{by: "the template " + name, path: name, stop: "delete " + name + " (Herald writes it in its place)"}
		text := string(src)
		var idTag string
		switch {
		case strings.Contains(text, "<feed"):
			f.format, idTag = "atom", "id"
		case strings.Contains(text, "<rss"):
			f.format, idTag = "rss", "guid"
		case strings.Contains(text, "jsonfeed.org"):
			f.format, idTag = "json", `"id"`
		default:
			continue
		}
		if m := regexp.MustCompile(`permalink:\s*["']?/?([^"'\s]+)`).FindStringSubmatch(text); m != nil {
			f.path = strings.TrimSuffix(m[1], "/")
			if strings.HasSuffix(m[1], "/") {
				f.path += "/index.xml"
			}
		}
		f.ids = templateIDs(text, idTag)
		out = append(out, f)
	}
	return out
}

// templateIDs reads which ids a feed template writes for its items: what follows the item's id element
// (Atom's <id>, RSS's <guid>, JSON Feed's "id") after the first item's start. "" when it is neither
// Jekyll's document id nor the URL.
func templateIDs(text, idTag string) string {
	start := strings.Index(text, "{% for")
	if start < 0 {
		return ""
	}
	rest := text[start:]
	var expr string
	if idTag == `"id"` {
		i := strings.Index(rest, `"id"`)
		if i < 0 {
			return ""
		}
		expr = rest[i:min(len(rest), i+120)]
		if j := strings.IndexByte(expr, '\n'); j > 0 {
			expr = expr[:j]
		}
	} else {
		i := strings.Index(rest, "<"+idTag)
		j := strings.Index(rest, "</"+idTag+">")
		if i < 0 || j < i {
			return ""
		}
		expr = rest[i:j]
	}
	switch {
	case regexp.MustCompile(`\b(post|item|entry)\.id\b`).MatchString(expr):
		return "jekyll"
	case regexp.MustCompile(`\b(post|item|entry)\.url\b`).MatchString(expr):
		return "url"
	}
	return ""
}

// hugoRSS is Hugo's own RSS of the home page, unless the site's config turns it off: index.xml (or the
// RSS output format's baseName), with the page's URL as guid in Hugo's built-in template.
func hugoRSS(dir string) (siteFeed, bool) {
	cfg, err := posts.HugoConfig(dir)
	if err != nil {
		return siteFeed{}, false
	}
	lower := func(v any) []string {
		var out []string
		if l, ok := v.([]any); ok {
			for _, s := range l {
				out = append(out, strings.ToLower(fmt.Sprint(s)))
			}
		}
		return out
	}
	if d := lower(cfg["disablekinds"]); slices.Contains(d, "rss") || slices.Contains(d, "home") {
		return siteFeed{}, false
	}
	if outputs, ok := cfg["outputs"].(map[string]any); ok {
		if home, set := outputs["home"]; set && !slices.Contains(lower(home), "rss") {
			return siteFeed{}, false
		}
	}
	name := "index"
	if formats, ok := cfg["outputformats"].(map[string]any); ok {
		if rss, ok := formats["rss"].(map[string]any); ok {
			if b, ok := rss["basename"].(string); ok && b != "" {
				name = b
			}
		}
	}
	f := siteFeed{by: "Hugo's RSS", path: name + ".xml", format: "rss", ids: "url",
		stop: "turn Hugo's own RSS of the home page off (in the Hugo config, outputs: home: [HTML]; sections keep theirs)"}
	for _, t := range []string{"layouts/index.rss.xml", "layouts/home.rss.xml", "layouts/_default/rss.xml"} {
		if src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(t))); err == nil {
			f.by = "Hugo's RSS (the template " + t + ")"
			i, j := strings.Index(string(src), "<guid"), strings.Index(string(src), "</guid>")
			if i < 0 || j < i || !strings.Contains(string(src)[i:j], ".Permalink") {
				f.ids = ""
			}
			break
		}
	}
	return f, true
}

// feedSwitch is what init writes into herald.yaml for the feeds the site publishes itself: Herald's feeds
// at their paths and in their formats, with their ids, and the other formats at names that do not collide.
// It returns the herald.yaml lines and what to tell the author.
func feedSwitch(found []siteFeed) (settings string, notes []string) {
	if len(found) == 0 {
		return "", nil
	}
	paths := map[string]string{} // format → path
	used := map[string]bool{}
	ids := ""
	var b strings.Builder
	b.WriteString("\n# The site publishes a feed of its own already. Herald writes it in its place, at the same path, in the\n" +
		"# same format and with the same ids, so that no reader sees a post twice:\n")
	for _, f := range found {
		if _, dup := paths[f.format]; dup || used[f.path] {
			notes = append(notes, fmt.Sprintf("%s writes %s, which Herald leaves alone: Herald writes one %s feed, at %s", f.by, f.path, formatName(f.format), paths[f.format]))
			continue
		}
		paths[f.format], used[f.path] = f.path, true
		fmt.Fprintf(&b, "# %s writes %s (%s). So that only Herald writes it:\n#   %s.\n", f.by, f.path, formatName(f.format), f.stop)
		notes = append(notes, fmt.Sprintf("%s writes %s (%s): herald.yaml has Herald write it instead, with the same ids; %s, or the two both write it (Herald refuses to replace a file it did not write)", f.by, f.path, formatName(f.format), f.stop))
		if ids == "" {
			ids = f.ids
		}
		if f.ids == "" {
			notes = append(notes, fmt.Sprintf("Herald cannot tell which ids %s writes: set ids in herald.yaml to jekyll (the document's id, as jekyll-feed) or url (the page's URL) to match them, or readers see its posts again", f.by))
		}
	}
	defaults := map[string][]string{"rss": {"feed.xml", "rss.xml", "index.xml"}, "atom": {"atom.xml", "feed.atom"}, "json": {"feed.json", "index.json"}}
	for _, format := range []string{"rss", "atom", "json"} {
		if _, ok := paths[format]; ok {
			continue
		}
		for _, name := range defaults[format] {
			if !used[name] {
				paths[format], used[name] = name, true
				break
			}
		}
	}
	for _, format := range []string{"rss", "atom", "json"} {
		fmt.Fprintf(&b, "%s: %q\n", format, paths[format])
	}
	if ids != "" {
		fmt.Fprintf(&b, "ids: %s\n", ids)
	} else {
		b.WriteString("# ids: jekyll   # or url: whichever the feed's own ids are\n")
	}
	return b.String(), notes
}

func formatName(format string) string {
	return map[string]string{"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}[format]
}
