package posts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/heraldhq/herald/internal/sitefs"
)

// Where Hugo finds a site's config, as Herald reads it. Learnt from Hugo's documentation
// (https://gohugo.io/configuration/introduction/, "Configuration file" and "Configuration directory") and
// its loader (gohugoio/hugo config/allconfig/load.go loadConfigMain, config/configLoader.go
// LoadConfigFromDir):
//
//   - At the site's root, the first of hugo.toml, hugo.yaml, hugo.yml, hugo.json, config.toml, config.yaml,
//     config.yml, config.json (the base names "hugo" then "config", each with the extensions toml, yaml,
//     yml, json in that order). Only that one file is read.
//   - Then the folder config/: every file with one of those extensions under config/_default/, then under
//     config/ENVIRONMENT/, each walked recursively in lexical order, is merged over what came before. A
//     file named hugo.* or config.* holds root keys; any other names the root key it holds (params.toml is
//     params), or, with a language before the extension, that language's settings (params.fr.toml is
//     languages.fr.params, menus.fr.toml languages.fr.menus, any other KEY.fr.* languages.fr itself). A file
//     whose only top-level key is its own name holds that key's value (Hugo 0.162 and later).
//   - Merging overwrites a key's value, except that a table merged into a table merges key by key, at every
//     depth (Hugo's maps.SetParams).
//
// ENVIRONMENT is "production": what `hugo` builds with (`hugo server` uses "development"), and what a feed
// describes. Keys are case-insensitive; they are merged lower-cased.
const hugoEnvironment = "production"

var (
	hugoConfigExts  = []string{"toml", "yaml", "yml", "json"}
	hugoConfigNames = func() []string {
		var out []string
		for _, base := range []string{"hugo", "config"} {
			for _, ext := range hugoConfigExts {
				out = append(out, base+"."+ext)
			}
		}
		return out
	}()
	hugoConfigDirs = []string{"config/_default", "config/" + hugoEnvironment}
)

// hugoLookedFor says where Herald looks for a Hugo site's config, for messages.
func hugoLookedFor() string {
	return strings.Join(hugoConfigNames, ", ") + " and the folders " + strings.Join(hugoConfigDirs, "/, ") + "/"
}

// isHugoConfigFile tells whether Hugo reads name as config: by its extension, in any case.
func isHugoConfigFile(name string) bool {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	for _, e := range hugoConfigExts {
		if ext == e {
			return true
		}
	}
	return false
}

// hugoConfigTree is a site's config as Hugo merges it, and which files it came from.
type hugoConfigTree struct {
	raw  map[string]any    // merged, keys lower-cased
	read []string          // the files read, in merge order, relative to the site
	from map[string]string // a root key → the last file that set it
	main string            // the file that holds the root keys, to name in messages: see editFile
}

// readHugoConfigTree reads and merges every config file of the site, through files.
func readHugoConfigTree(files *sitefs.FS) (*hugoConfigTree, error) {
	t := &hugoConfigTree{raw: map[string]any{}, from: map[string]string{}}
	for _, name := range hugoConfigNames {
		m, err := readHugoConfigFile(files, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		t.merge(name, m)
		t.main = name
		break
	}
	for _, dir := range hugoConfigDirs {
		names, err := hugoConfigDirFiles(files.Dir(), dir)
		if err != nil {
			return nil, err
		}
		for _, rel := range names {
			m, err := readHugoConfigFile(files, rel)
			if err != nil {
				return nil, err
			}
			base := strings.TrimSuffix(path.Base(rel), path.Ext(rel))
			if base == "hugo" || base == "config" {
				if dir == hugoConfigDirs[0] || t.main == "" {
					t.main = rel
				}
				t.merge(rel, m)
				continue
			}
			t.merge(rel, hugoKeyFile(base, m))
		}
	}
	return t, nil
}

// readHugoConfigFile reads and parses one config file, its keys lower-cased.
func readHugoConfigFile(files *sitefs.FS, rel string) (map[string]any, error) {
	src, err := files.ReadFile(rel)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, sitefs.ErrRefused) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	raw, err := decodeHugoConfig(rel, src)
	if err != nil {
		return nil, err
	}
	m, _ := lowerKeys(raw).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// hugoConfigDirFiles lists the config files under dir (slash-separated, relative to the site folder
// siteDir) in the order Hugo merges them: lexical, depth first, links not followed (as Hugo's walk). A
// missing folder has none. The files are read through sitefs, which refuses a link out of the site.
func hugoConfigDirFiles(siteDir, dir string) ([]string, error) {
	root := filepath.Join(siteDir, filepath.FromSlash(dir))
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !isHugoConfigFile(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(siteDir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return out, nil
}

// hugoKeyFile places the contents of config/_default/BASE.ext where Hugo puts them: BASE is a root key
// ("params"), or KEY.LANG a language's ("params.fr").
func hugoKeyFile(base string, m map[string]any) map[string]any {
	key, lang := strings.ToLower(base), ""
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key, lang = key[:i], key[i+1:]
	}
	if v, ok := m[key]; ok && len(m) == 1 {
		// The file repeats its own root key ([params] in params.toml): Hugo 0.162 unwraps it.
		if inner, ok := v.(map[string]any); ok {
			m = inner
		}
	}
	if lang == "" {
		return map[string]any{key: m}
	}
	var inLang any = m
	switch key {
	case "menu", "menus":
		inLang = map[string]any{"menus": m}
	case "params":
		inLang = map[string]any{"params": m}
	}
	return map[string]any{"languages": map[string]any{lang: inLang}}
}

// merge sets m's keys over the tree's, tables merged key by key.
func (t *hugoConfigTree) merge(file string, m map[string]any) {
	t.read = append(t.read, file)
	for k := range m {
		t.from[k] = file
	}
	setParams(t.raw, m)
}

// setParams is Hugo's maps.SetParams: src's values overwrite dst's, except a table over a table, which
// merges recursively.
func setParams(dst, src map[string]any) {
	for k, v := range src {
		if dv, ok := dst[k].(map[string]any); ok {
			if sv, ok := v.(map[string]any); ok {
				setParams(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

// editFile is the file to name when a root setting is missing: the one that set it last (to an empty
// value, say); else the main file (config/_default's hugo.* or config.*, else the root file, else
// config/production's); else the file to create.
func (t *hugoConfigTree) editFile(key string) string {
	if f := t.from[key]; f != "" {
		return f
	}
	if t.main != "" {
		return t.main
	}
	if len(t.read) > 0 {
		return hugoConfigDirs[0] + "/hugo.toml"
	}
	return "hugo.toml"
}

// hugoSetting writes key = value in the syntax of file's format, for messages.
func hugoSetting(file, key, value string) string {
	switch strings.ToLower(path.Ext(file)) {
	case ".yaml", ".yml":
		return key + ": " + value
	case ".json":
		return fmt.Sprintf("%q: %q", key, value)
	}
	return fmt.Sprintf("%s = %q", key, value)
}

// noBaseURL is the error for a Hugo site without baseURL: where Herald looked, what it read, and what to
// write where.
func (t *hugoConfigTree) noBaseURL() error {
	file := t.editFile("baseurl")
	found := "found none: create " + file + " with " + hugoSetting(file, "baseURL", "https://your.site/")
	if len(t.read) > 0 {
		found = "read " + strings.Join(t.read, ", ") + ": set " + hugoSetting(file, "baseURL", "https://your.site/") + " in " + file
	}
	return fmt.Errorf("%w: Herald looked for %s, and %s", ErrNoURL, hugoLookedFor(), found)
}

// hasHugoConfig tells whether dir holds a Hugo config: one of the root files, or a config file under
// config/_default/ or config/production/.
func hasHugoConfig(dir string) bool {
	for _, name := range hugoConfigNames {
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil && !info.IsDir() {
			return true
		}
	}
	for _, d := range hugoConfigDirs {
		if names, err := hugoConfigDirFiles(dir, d); err == nil && len(names) > 0 {
			return true
		}
	}
	return false
}
