package subscribers

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlKeys are the keys of one subscriber in a YAML or JSON list: Herald's own CSV columns. Unlike
// a CSV export, this is a file someone wrote, so an unknown key is a typo to report, not a column to skip.
var yamlKeys = map[string]bool{"email": true, "name": true, "status": true, "frequency": true, "consent_at": true}

// yamlLine finds the line in a yaml.v3 syntax error ("yaml: line 3: did not find expected key").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads a YAML (or JSON) list of subscribers into l, the list alone or under a key:
//
//	subscribers:
//	  - email: ada@example.com
//	    name: Ada
//	    frequency: weekly
//
// Records and errors carry the line of their node.
func parseYAML(name string, r io.Reader, l *list) error {
	l.file = name
	dec := yaml.NewDecoder(r)
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return fmt.Errorf("%s: the file is empty (want a list of subscribers, each with an email)", name)
		}
		return yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return yamlError(name, err)
		}
		return &Error{File: name, Line: extra.Line, Msg: "a second YAML document; put every subscriber in one list"}
	}

	root := deref(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = deref(root.Content[0])
	}
	if root.Kind == yaml.MappingNode {
		var list *yaml.Node
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], deref(root.Content[i+1])
			if k.Value != "subscribers" || list != nil {
				return &Error{File: name, Line: k.Line, Msg: fmt.Sprintf("unexpected key %q; the file is a list of subscribers, or a map with that list under \"subscribers\"", k.Value)}
			}
			list = v
		}
		if list == nil {
			return &Error{File: name, Line: root.Line, Msg: "no \"subscribers\" key"}
		}
		if isNull(list) {
			return nil // "subscribers:" with nothing under it: an empty list
		}
		root = list
	}
	if root.Kind != yaml.SequenceNode {
		return &Error{File: name, Line: root.Line, Msg: "want a list of subscribers, each a map with an email"}
	}
	for _, item := range root.Content {
		item = deref(item)
		if r, ok := yamlRecord(l, item); ok {
			l.add(r)
		}
	}
	return nil
}

// yamlRecord reads one subscriber, reporting problems to l.
func yamlRecord(l *list, item *yaml.Node) (row, bool) {
	if item.Kind != yaml.MappingNode {
		l.bad(item.Line, "a subscriber is a map with an email key, such as {email: ada@example.com}")
		return row{}, false
	}
	var problems []string
	problem := func(key string, err error) {
		problems = append(problems, fmt.Sprintf("%s: %v", key, err))
	}
	r := row{Record: Record{Line: item.Line, Status: active, Frequency: immediate}}
	seen := make(map[string]bool)
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], deref(item.Content[i+1])
		key := normalize(k.Value)
		switch {
		case !yamlKeys[key]:
			problem(strconv.Quote(k.Value), errors.New("unknown key (want email, name, status, frequency or consent_at)"))
			continue
		case seen[key]:
			problem(key, errors.New("given twice"))
			continue
		case v.Kind != yaml.ScalarNode:
			problem(key, errors.New("want a single value"))
			continue
		}
		seen[key] = true
		val := strings.TrimSpace(v.Value)
		if isNull(v) {
			val = ""
		}
		var err error
		switch key {
		case "email":
			r.Email = val
		case "name":
			r.Name, err = cleanName(val)
		case "status":
			r.Status, err = parseStatus(val)
		case "frequency":
			r.Frequency, r.freqSet, err = parseFrequency(val)
		case "consent_at":
			r.ConsentAt, err = parseTime(val)
		}
		if err != nil {
			problem(key, err)
		}
	}
	// The email is checked last so that a missing one is reported too.
	if err := CheckEmail(r.Email); err != nil {
		problems = append([]string{err.Error()}, problems...)
	}
	if len(problems) > 0 {
		l.bad(item.Line, "%s", strings.Join(problems, "; "))
		return row{}, false
	}
	return r, true
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// yamlError turns a yaml.v3 error into file:line: message when it has a line.
func yamlError(name string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			return &Error{File: name, Line: n, Msg: "YAML: " + m[2]}
		}
	}
	return fmt.Errorf("%s: %w", name, err)
}
