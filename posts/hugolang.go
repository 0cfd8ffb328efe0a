package posts

import (
	"cmp"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// A multilingual Hugo site, as Herald reads it. Learnt from Hugo's documentation
// (https://gohugo.io/content-management/multilingual/) and checked against Hugo 0.111's output:
//
//   - The config's languages table lists the languages (key → weight, languageCode, languageName, title,
//     contentDir, params, baseURL, languageDirection, disabled); defaultContentLanguage (default "en")
//     names the default one.
//     disableLanguages, or disabled: true, leaves a language out, with its pages.
//   - A page is in the language its file name ends in (post.fr.md, index.fr.md in a bundle), else in the
//     language whose contentDir holds it, else (the site's contentDir) in the default language.
//   - Its URL is what it would be on a site of one language, under /KEY/ for every language but the
//     default (and for that one too with defaultContentLanguageInSubdir), or at the language's own
//     baseURL when it has one. A URL set in front matter (url) is taken as written, without the prefix.
//     slug and permalinks work as on any page (a language's own permalinks replace the site's);
//     translationKey only ties translations together in Hugo's templates, so it changes no URL.
//   - A translation is a post of its own. Its tag: id ends in ".KEY" (posts/a.fr) whether the suffix is in
//     its file name or it lies in its language's content folder, so moving it from one to the other keeps
//     its id; the default language's pages keep the ids of a site of one language.
//   - Each language has its own feeds, in its own folder (Language.Path), as Hugo has its own index.xml:
//     the default language's at the root, unless it is in its folder, or languages have hosts of their own
//     (then Hugo writes each language into its folder).
//
// Every post's Lang is its language's tag (languageCode, else the key); a site of one language gives every
// post the site's.

// Language is one language of a multilingual site: its posts have their own feeds at URL.
type Language struct {
	Key         string // the config's key, the suffix of a translation's file name: "fr"
	Lang        string // a BCP 47 tag, the Lang of its posts and its feeds' language: languageCode, else Key
	Name        string // languageName, as readers choosing a language see it: "Français"; may be empty
	Title       string
	Description string
	URL         string // its home page, absolute, without a trailing slash
	Path        string // the folder of its feeds under the output folder, slash-separated: "" for the root
	Dir         string // languageDirection, "rtl" or "ltr"; "" when the config does not say (Lang's script decides)
	Default     bool
}

// hugoLang is a language as the loader uses it.
type hugoLang struct {
	Language
	weight     int
	contentDir string            // relative to the site, slash-separated
	host       string            // the language's own baseURL, without a trailing slash; "" for the site's
	prefix     string            // the URL path before its pages' paths: "/fr", or ""
	permalinks map[string]string // its own, which replace the site's; nil for none
}

// hugoLanguages reads the languages of a site's config (m, keys lower-cased), whose root settings cfg
// has read; none for a site without a languages table. off lists the languages the site disables, whose
// pages are left out. file names the config for errors.
func hugoLanguages(m map[string]any, file string, cfg *hugoConfig) (langs []hugoLang, off []string, err error) {
	table, _ := m["languages"].(map[string]any)
	if len(table) == 0 {
		return nil, nil, nil
	}
	def := strings.ToLower(firstNonEmpty(strings.TrimSpace(str(m["defaultcontentlanguage"])), "en"))
	inSubdir, _ := boolean(m["defaultcontentlanguageinsubdir"])
	disabled := map[string]bool{}
	for _, k := range list(m["disablelanguages"]) {
		disabled[strings.ToLower(k)] = true
	}
	var out []hugoLang
	for key, v := range table {
		if !hugoLangKey.MatchString(key) {
			// The key names a folder of the output and a URL path: it must be one plain segment.
			return nil, nil, fmt.Errorf("%s: languages: %q is not a language key; use letters, digits and hyphens, as en or pt-br", file, key)
		}
		lm, _ := v.(map[string]any)
		if b, _ := boolean(lm["disabled"]); b || disabled[key] {
			off = append(off, key)
			continue
		}
		params, _ := lm["params"].(map[string]any)
		code := strings.TrimSpace(str(lm["languagecode"]))
		if key == def {
			// The root's languageCode is the default language's, unless the language sets its own.
			code = firstNonEmpty(code, strings.TrimSpace(str(m["languagecode"])))
		}
		l := hugoLang{
			Language: Language{Key: key, Default: key == def,
				Lang:        firstNonEmpty(code, key),
				Name:        strings.TrimSpace(str(lm["languagename"])),
				Title:       firstNonEmpty(strings.TrimSpace(str(lm["title"])), cfg.title),
				Description: firstNonEmpty(strings.TrimSpace(str(params["description"])), strings.TrimSpace(str(lm["description"])), cfg.description)},
			contentDir: cfg.contentDir,
			host:       strings.TrimRight(strings.TrimSpace(str(lm["baseurl"])), "/"),
		}
		if pl := lm["permalinks"]; pl != nil {
			l.permalinks = map[string]string{}
			if !readHugoPermalinks(pl, l.permalinks) {
				cfg.warnings = append(cfg.warnings, Warning{File: file, Msg: "languages." + key + ".permalinks: only the section = pattern form is read; its posts get Hugo's default permalinks"})
			}
		}
		switch d := strings.TrimSpace(str(lm["languagedirection"])); strings.ToLower(d) {
		case "rtl", "ltr":
			l.Dir = strings.ToLower(d)
		case "":
		default:
			cfg.warnings = append(cfg.warnings, Warning{File: file, Msg: fmt.Sprintf("languages.%s.languageDirection: %q is neither rtl nor ltr; its emails take the direction of its language's script", key, d)})
		}
		l.weight, _ = strconv.Atoi(strings.TrimSpace(str(lm["weight"])))
		if d := strings.TrimSpace(str(lm["contentdir"])); d != "" {
			l.contentDir = path.Clean(strings.ReplaceAll(d, `\`, "/"))
			if !filepath.IsLocal(filepath.FromSlash(l.contentDir)) {
				return nil, nil, fmt.Errorf("%s: languages.%s.contentDir %q is not a folder inside the site; name one relative to the site's folder, as content/%s", file, key, d, key)
			}
		}
		if l.host != "" {
			if u, err := url.Parse(l.host); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, nil, fmt.Errorf("%s: languages.%s.baseURL %q is not an absolute http(s) URL; write it as https://fr.example.com/", file, key, l.host)
			}
		}
		if !l.Default || inSubdir {
			l.Path = key
			if l.host == "" {
				l.prefix = "/" + key
			}
		}
		out = append(out, l)
	}
	sort.Strings(off)
	// With a host of its own for a language, Hugo builds each language into its folder, the default one too.
	if slices.ContainsFunc(out, func(l hugoLang) bool { return l.host != "" }) {
		for i := range out {
			out[i].Path = out[i].Key
		}
	}
	// Hugo's order: by weight (a language without one last), then by key.
	sort.Slice(out, func(i, j int) bool {
		wi, wj := out[i].weight, out[j].weight
		if (wi == 0) != (wj == 0) {
			return wj == 0
		}
		return cmp.Or(cmp.Compare(wi, wj), strings.Compare(out[i].Key, out[j].Key)) < 0
	})
	if !slices.ContainsFunc(out, func(l hugoLang) bool { return l.Default }) {
		return nil, nil, fmt.Errorf("%s: defaultContentLanguage is %q, which is not one of the languages the site enables; set it to one of them", file, def)
	}
	return out, off, nil
}

var hugoLangKey = regexp.MustCompile(`^[a-z0-9]+(?:[_-][a-z0-9]+)*$`)

// language is the language of key, or nil on a site without languages.
func (cfg *hugoConfig) language(key string) *hugoLang {
	for i := range cfg.languages {
		if cfg.languages[i].Key == key {
			return &cfg.languages[i]
		}
	}
	return nil
}

// defaultLanguage is the site's default language, or nil on a site without languages.
func (cfg *hugoConfig) defaultLanguage() *hugoLang {
	for i := range cfg.languages {
		if cfg.languages[i].Default {
			return &cfg.languages[i]
		}
	}
	return nil
}

// hugoLangSuffix splits a file's base name (without extension) into its name and the language key it ends
// in, if that is one of langs: "post.fr" is "post" in "fr". Other suffixes are part of the name.
func hugoLangSuffix(base string, langs map[string]bool) (name, lang string) {
	if i := strings.LastIndexByte(base, '.'); i > 0 && langs[strings.ToLower(base[i+1:])] {
		return base[:i], strings.ToLower(base[i+1:])
	}
	return base, ""
}

// findPages lists the site's regular pages in every language's content folder, each with its language
// (see the top of this file), sorted by path.
func (cfg *hugoConfig) findPages(dir string) ([]hugoPage, error) {
	if len(cfg.languages) == 0 {
		return findHugoPages(dir, cfg.contentDir, nil, nil)
	}
	keys := map[string]bool{}
	for _, l := range cfg.languages {
		keys[l.Key] = true
	}
	for _, k := range cfg.offLanguages {
		keys[k] = true
	}
	// Each content folder once; a page without a language suffix there is in the default language if that
	// reads the folder, else in the first language that does.
	var dirs []string
	owner := map[string]string{}
	for _, l := range cfg.languages {
		if _, ok := owner[l.contentDir]; !ok {
			dirs = append(dirs, l.contentDir)
			owner[l.contentDir] = l.Key
		}
		if l.Default {
			owner[l.contentDir] = l.Key
		}
	}
	var pages []hugoPage
	found := false
	for _, cd := range dirs {
		// A language's folder inside another's (content/fa in content) is that language's alone.
		var inner []string
		for _, o := range dirs {
			if o != cd && strings.HasPrefix(o, cd+"/") {
				inner = append(inner, strings.TrimPrefix(o, cd+"/"))
			}
		}
		ps, err := findHugoPages(dir, cd, keys, inner)
		if err != nil {
			continue // a language without pages yet; the error is returned when no language has any
		}
		found = true
		for _, pg := range ps {
			if pg.lang == "" {
				pg.lang = owner[cd]
			}
			if !slices.Contains(cfg.offLanguages, pg.lang) {
				pages = append(pages, pg)
			}
		}
	}
	if !found {
		return findHugoPages(dir, cfg.contentDir, keys, nil)
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].rel < pages[j].rel })
	return pages, nil
}

// idKey is what a page's tag: id names it by: its path under its content folder (see hugoPage.key), with
// ".KEY" after it for a page in a language other than the default, when the path does not end so already
// (a translated bundle, a page in a language's own content folder): translations are posts of their own.
func (cfg *hugoConfig) idKey(pg hugoPage) string {
	k := pg.key()
	if l := cfg.language(pg.lang); l != nil && !l.Default && !strings.HasSuffix(k, "."+l.Key) {
		k += "." + l.Key
	}
	return k
}

// siteLanguages are the languages for Site.Languages, the default one's title, description and tag those
// of the site (which herald.yaml may have set).
func (cfg *hugoConfig) siteLanguages(s *Site) []Language {
	if len(cfg.languages) == 0 {
		return nil
	}
	out := make([]Language, len(cfg.languages))
	for i, l := range cfg.languages {
		out[i] = l.Language
		out[i].URL = firstNonEmpty(l.host, s.URL) + l.prefix
		if l.Default {
			out[i].Title, out[i].Description, out[i].Lang = s.Title, s.Description, s.Lang
		}
	}
	return out
}
