package posts

import (
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// defaultsDoc is where Jekyll documents front matter defaults; warnings about them point there.
const defaultsDoc = "https://jekyllrb.com/docs/configuration/front-matter-defaults/"

// frontMatterDefault is one entry of _config.yml's defaults: front matter values for the posts under a path.
type frontMatterDefault struct {
	path   string            // relative to the site, without leading or trailing slash; "" for every post
	glob   bool              // path is a pattern (path.Match's syntax: * does not cross a slash)
	typed  bool              // the scope names a type; at paths of the same length it wins over one that does not
	values map[string]any    // as decoded
	raw    map[string]string // top-level scalar values as written, as in frontMatter.raw
}

// readDefaults reads _config.yml's defaults (n is its node; zero when the key is absent) and keeps the
// entries that apply to posts, least specific first. Like Jekyll, it warns about an entry it cannot use and
// goes on without it.
func readDefaults(cfgName string, n *yaml.Node) ([]frontMatterDefault, []Warning) {
	if n.Kind == 0 {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, []Warning{{cfgName, n.Line, "defaults is not a list of scope and values; ignored (see " + defaultsDoc + ")"}}
	}
	var out []frontMatterDefault
	var warns []Warning
	for _, set := range n.Content {
		var scope, values *yaml.Node
		if set.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(set.Content); i += 2 {
				switch set.Content[i].Value {
				case "scope":
					scope = set.Content[i+1]
				case "values":
					values = set.Content[i+1]
				}
			}
		}
		d := frontMatterDefault{raw: map[string]string{}}
		if values == nil || values.Kind != yaml.MappingNode || values.Decode(&d.values) != nil {
			warns = append(warns, Warning{cfgName, set.Line, "this defaults entry has no values: key: value pairs; ignored (see " + defaultsDoc + ")"})
			continue
		}
		for i := 0; i+1 < len(values.Content); i += 2 {
			if v := values.Content[i+1]; v.Kind == yaml.ScalarNode {
				d.raw[values.Content[i].Value] = v.Value
			}
		}
		// Jekyll applies an entry without a scope, or whose path is not a string, to every file.
		var sc map[string]any
		if scope != nil && scope.Decode(&sc) == nil {
			if p, ok := sc["path"].(string); ok {
				d.path = strings.Trim(p, "/")
				if d.path != "" {
					d.path = strings.TrimPrefix(path.Clean(d.path), "./")
				}
				if d.path == "." {
					d.path = ""
				}
			}
			if t, ok := sc["type"]; ok {
				// "post" is the name Jekyll 2 used, which Jekyll still reads.
				if t := str(t); t != "posts" && t != "post" {
					continue // pages or another collection
				}
				d.typed = true
			}
		}
		if d.glob = strings.ContainsAny(d.path, "*?["); d.glob {
			if _, err := path.Match(d.path, ""); err != nil {
				warns = append(warns, Warning{cfgName, scope.Line, "defaults scope path " + d.path + " is not a valid pattern; ignored"})
				continue
			}
		}
		out = append(out, d)
	}
	// Jekyll's precedence: a longer path wins; at the same length a scope with a type wins; then the later
	// entry. Sorted least specific first, the entries can be merged in order.
	sort.SliceStable(out, func(i, j int) bool {
		if len(out[i].path) != len(out[j].path) {
			return len(out[i].path) < len(out[j].path)
		}
		return !out[i].typed && out[j].typed
	})
	return out, warns
}

// applies tells whether d's scope holds the post at rel (relative to the site, slash-separated): the path is
// rel or a folder above it.
func (d frontMatterDefault) applies(rel string) bool {
	if d.path == "" {
		return true
	}
	if !d.glob {
		return rel == d.path || strings.HasPrefix(rel, d.path+"/")
	}
	for p := rel; p != "." && p != "/"; p = path.Dir(p) {
		if ok, _ := path.Match(d.path, p); ok {
			return true
		}
	}
	return false
}

// applyDefaults puts the defaults that apply to the post at rel under its own front matter. The post's own
// keys win, and maps are merged key by key, as in Jekyll (Utils.deep_merge_hashes).
func applyDefaults(fm *frontMatter, rel string, defaults []frontMatterDefault) {
	var merged map[string]any
	raw := map[string]string{}
	for _, d := range defaults {
		if !d.applies(rel) {
			continue
		}
		merged = deepMerge(merged, d.values)
		for k := range d.values {
			if r, ok := d.raw[k]; ok {
				raw[k] = r
			} else {
				delete(raw, k) // a list or map won over a scalar
			}
		}
	}
	if merged == nil {
		return
	}
	for k, r := range raw {
		if _, own := fm.data[k]; !own {
			fm.raw[k] = r
		}
	}
	fm.data = deepMerge(merged, fm.data)
}

// deepMerge returns base with over's values put over it, merging maps found in both. It changes neither:
// defaults are shared by posts read at the same time.
func deepMerge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		b, bok := out[k].(map[string]any)
		o, ook := v.(map[string]any)
		if bok && ook {
			v = deepMerge(b, o)
		}
		out[k] = v
	}
	return out
}
