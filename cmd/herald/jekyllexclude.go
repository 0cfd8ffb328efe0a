package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// jekyllDefaultExcludes is Jekyll's own exclude list (its default configuration). Jekyll 3, which GitHub
// Pages runs, replaces it with a site's exclude, where Jekyll 4 adds to it: a list Herald starts repeats
// it, so that adding herald.yaml publishes nothing that was left out before.
var jekyllDefaultExcludes = []string{"Gemfile", "Gemfile.lock", "node_modules", "vendor/bundle/", "vendor/cache/", "vendor/gems/", "vendor/ruby/"}

// excludeFromJekyll adds each of names to the exclude list of the Jekyll site's _config.yml in dir (see
// excludeOne). It returns the file it changed, "" when it changed none.
func excludeFromJekyll(dir string, names ...string) (string, error) {
	var changed string
	for _, name := range names {
		file, err := excludeOne(dir, name)
		if err != nil {
			return changed, err
		}
		if file != "" {
			changed = file
		}
	}
	return changed, nil
}

// excludeOne adds name to the exclude list of the Jekyll site's _config.yml in dir, so that Jekyll
// does not publish it, changing nothing else in the file: a line after the list's last item, an item at
// the end of a one-line [list], or a new list at the end of the file. It returns the file it changed ("" when
// name was excluded already, or the site has no _config.yml). A list it cannot extend safely (an exclude
// that is not a list, or a list spread over lines in flow style) is an error that says what to add.
func excludeOne(dir, name string) (string, error) {
	var file string
	var src []byte
	for _, n := range []string{"_config.yml", "_config.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil {
			file, src = filepath.Join(dir, n), b
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	if file == "" || jekyllExcludes(dir, name) {
		return "", nil
	}
	manual := fmt.Errorf("%s: add %s to its exclude list by hand (Jekyll publishes every file it does not exclude, and %s is Herald's, not a page)", file, name, name)
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return "", manual
	}
	var list *yaml.Node
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "exclude" {
				list = m.Content[i+1]
			}
		}
	} else if len(doc.Content) > 0 && !(doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
		return "", manual
	}
	lines := strings.SplitAfter(string(src), "\n")
	var out string
	switch {
	case list == nil:
		var b strings.Builder
		b.WriteString(string(src))
		if len(src) > 0 && !bytes.HasSuffix(src, []byte("\n")) {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\n# Herald's settings and state are not for the published site. Jekyll 3 (GitHub Pages) takes this list in place of\n# its own, which is repeated here.\nexclude:\n  - %s\n", name)
		for _, e := range jekyllDefaultExcludes {
			fmt.Fprintf(&b, "  - %s\n", e)
		}
		out = b.String()
	case list.Kind != yaml.SequenceNode || len(list.Content) == 0:
		return "", manual
	case list.Style&yaml.FlowStyle == 0:
		// Block style: a line like the last item's, after it.
		last := list.Content[len(list.Content)-1]
		if last.Kind != yaml.ScalarNode || last.Line < 1 || last.Line > len(lines) {
			return "", manual
		}
		line := lines[last.Line-1]
		prefix := line[:min(last.Column-1, len(line))]
		if strings.TrimSpace(prefix) != "-" || strings.Contains(last.Value, "\n") {
			return "", manual
		}
		item := prefix + name + "\n"
		if !strings.HasSuffix(line, "\n") {
			item = "\n" + item
		}
		out = strings.Join(lines[:last.Line], "") + item + strings.Join(lines[last.Line:], "")
	default:
		// Flow style on one line: before its closing bracket.
		last := list.Content[len(list.Content)-1]
		if last.Line != list.Line || last.Line < 1 || last.Line > len(lines) {
			return "", manual
		}
		line := lines[last.Line-1]
		end := strings.LastIndex(line, "]")
		if end < last.Column-1 {
			return "", manual
		}
		lines[last.Line-1] = line[:end] + ", " + name + line[end:]
		out = strings.Join(lines, "")
	}
	info, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	if err := replaceFile(file, []byte(out), info.Mode().Perm()); err != nil {
		return "", err
	}
	if !jekyllExcludes(dir, name) { // what was written must say what was meant; else the file goes back
		if err := replaceFile(file, src, info.Mode().Perm()); err != nil {
			return "", err
		}
		return "", manual
	}
	return file, nil
}
