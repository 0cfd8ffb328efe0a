package posts

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
	"gopkg.in/yaml.v3"
)

// frontMatter is a post's front matter, read from the top of its file.
type frontMatter struct {
	data     map[string]any
	lines    map[string]int    // top-level key → its 1-based line in the file
	raw      map[string]string // top-level scalar values as written (dates are read from these)
	present  bool              // the file had a front matter block (perhaps empty)
	bodyLine int               // 1-based line where the body starts
}

// line gives the line of key, or the first line of the front matter when the key is unknown.
func (fm *frontMatter) line(key string) int {
	if n, ok := fm.lines[key]; ok {
		return n
	}
	return 1
}

// splitFrontMatter separates a front matter block from the body. A YAML block opens with "---" and closes
// with "---" or "..."; a TOML block (Hugo) opens and closes with "+++". Without an opening line the whole
// file is the body.
func splitFrontMatter(src []byte) (block []byte, format string, body []byte, bodyLine int, ok bool) {
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	first, rest, found := bytes.Cut(src, []byte("\n"))
	if !found {
		return nil, "", src, 1, false
	}
	switch strings.TrimRight(string(first), " \t\r") {
	case "---":
		format = "yaml"
	case "+++":
		format = "toml"
	default:
		return nil, "", src, 1, false
	}
	line := 2
	for off := 0; off <= len(rest); {
		end := bytes.IndexByte(rest[off:], '\n')
		var l []byte
		next := len(rest) + 1
		if end < 0 {
			l = rest[off:]
		} else {
			l = rest[off : off+end]
			next = off + end + 1
		}
		t := strings.TrimRight(string(l), " \t\r")
		if (format == "yaml" && (t == "---" || t == "...")) || (format == "toml" && t == "+++") {
			if next > len(rest) {
				next = len(rest)
			}
			return rest[:off], format, rest[next:], line + 1, true
		}
		line++
		off = next
	}
	return nil, format, src, 1, false
}

// checkUTF8 tells where a post file (named file in messages) stops being UTF-8, after an optional UTF-8
// byte order mark. Read as it is, a UTF-16 file has no front matter and becomes garbage, and the bytes of a
// Latin-1 one are dropped, so neither may reach a feed.
func checkUTF8(file string, src []byte) error {
	if bytes.HasPrefix(src, []byte("\xff\xfe")) || bytes.HasPrefix(src, []byte("\xfe\xff")) {
		return &Error{File: file, Line: 1, Msg: "the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8"}
	}
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	if utf8.Valid(src) {
		return nil
	}
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n == 1 {
			return &Error{File: file, Line: 1 + bytes.Count(src[:i], []byte("\n")),
				Msg: fmt.Sprintf("byte 0x%02X is not UTF-8 (the file is perhaps Latin-1 or Windows-1252); save it as UTF-8", src[i])}
		}
		i += n
	}
	return nil
}

// parseFrontMatter reads the front matter of file (a name for messages) from src and returns it with the body.
func parseFrontMatter(file string, src []byte, limit int) (*frontMatter, []byte, error) {
	block, format, body, bodyLine, ok := splitFrontMatter(src)
	if len(block) > limit && limit > 0 {
		return nil, nil, &Error{File: file, Line: 1, Err: ErrFrontMatterTooLarge,
			Msg: fmt.Sprintf("front matter of %d bytes, where Herald parses at most %d; move the data into a data file", len(block), limit)}
	}
	fm := &frontMatter{data: map[string]any{}, lines: map[string]int{}, raw: map[string]string{}, bodyLine: bodyLine, present: ok}
	if !ok {
		if format != "" {
			return nil, nil, &Error{File: file, Line: 1, Msg: "front matter: opening " + map[string]string{"yaml": "---", "toml": "+++"}[format] +
				" has no closing line; close the front matter or remove the opening line"}
		}
		return fm, body, nil
	}
	var err error
	if format == "toml" {
		err = parseTOML(file, block, fm)
	} else {
		err = parseYAML(file, block, fm)
	}
	if err != nil {
		return nil, nil, err
	}
	return fm, body, nil
}

func parseYAML(file string, block []byte, fm *frontMatter) error {
	if len(bytes.TrimSpace(block)) == 0 {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(block, &doc); err != nil {
		return clampLine(yamlError(file, 1, err), 1+bytes.Count(block, []byte("\n")))
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return &Error{File: file, Line: root.Line + 1, Msg: "front matter: want key: value pairs, found " + kindName(root.Kind)}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		fm.lines[k.Value] = k.Line + 1
		if v.Kind == yaml.ScalarNode {
			fm.raw[k.Value] = v.Value
		}
	}
	if err := root.Decode(&fm.data); err != nil {
		return clampLine(yamlError(file, 1, err), 1+bytes.Count(block, []byte("\n")))
	}
	if fm.data == nil {
		fm.data = map[string]any{}
	}
	return nil
}

// yamlError turns a yaml.v3 error ("yaml: line 3: did not find expected key") into one that names the file
// and its line. offset is the line the YAML starts after: 1 in front matter (the opening "---"), 0 in a
// whole YAML file.
func yamlError(file string, offset int, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = strings.TrimPrefix(te.Errors[0], "yaml: ")
	}
	line := 0
	if strings.HasPrefix(msg, "line ") {
		var n int
		if _, serr := fmt.Sscanf(msg, "line %d:", &n); serr == nil {
			line = n + offset
			// yaml.v3 counts lines from 0 in parser errors and from 1 in scanner errors.
			if strings.Contains(msg, "did not find expected") {
				line++
			}
			msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
	}
	if offset == 0 {
		return &Error{File: file, Line: line, Msg: "not valid YAML (" + msg + "); fix the YAML on that line"}
	}
	if line == 0 {
		line = 1 // yaml.v3 gives some errors no line: point at the front matter
	}
	return &Error{File: file, Line: line, Msg: "front matter is not valid YAML (" + msg + "); fix the YAML between the --- lines"}
}

// clampLine keeps an error's line within the front matter: yaml.v3 sometimes reports the line after the
// problem, which for the last line of a block is the closing "---".
func clampLine(err error, last int) error {
	if e, ok := err.(*Error); ok && e.Line > last {
		e.Line = last
	}
	return err
}

func parseTOML(file string, block []byte, fm *frontMatter) error {
	if err := toml.Unmarshal(block, &fm.data); err != nil {
		var de *toml.DecodeError
		line := 0
		if errors.As(err, &de) {
			line, _ = de.Position()
			line++
		}
		return &Error{File: file, Line: line, Msg: "front matter is not valid TOML (" + err.Error() + "); fix the TOML between the +++ lines"}
	}
	if fm.data == nil {
		fm.data = map[string]any{}
	}
	for k, v := range fm.data {
		if t, ok := v.(toml.LocalDate); ok {
			fm.raw[k] = t.String()
		} else if t, ok := v.(toml.LocalDateTime); ok {
			fm.raw[k] = t.String()
		} else if t, ok := v.(time.Time); ok {
			fm.raw[k] = t.Format(time.RFC3339Nano)
		} else if s, ok := v.(string); ok {
			fm.raw[k] = s
		}
	}
	// TOML keys: find their lines by a plain scan; good enough for messages.
	for i, l := range strings.Split(string(block), "\n") {
		k, _, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k = strings.Trim(strings.TrimSpace(k), `"'`)
		if _, seen := fm.lines[k]; !seen {
			fm.lines[k] = i + 2
		}
	}
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "something else"
}

// str returns a front matter value as a string: strings as they are, numbers and booleans formatted.
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// list returns a front matter value that may be a list or a space-separated string as a list of strings.
func list(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s := strings.TrimSpace(str(e)); s != "" {
				out = append(out, s)
			}
		}
		return out
	default:
		if s := strings.TrimSpace(str(v)); s != "" {
			return []string{s}
		}
	}
	return nil
}

// boolean reads a front matter flag; ok is false when the key is absent.
func boolean(v any) (b, ok bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	return false, false
}
