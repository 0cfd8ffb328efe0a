package feedcheck

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// node is an element of a feed: its name (namespace resolved), attributes, children, the character data
// it holds decoded, and the raw bytes of that data as the file writes them (entities, CDATA), which the
// RSS plain-text check reads.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*node
	text     string
	raw      string
	line     int
}

func (n *node) attr(local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// all are n's children in namespace space named local, in order.
func (n *node) all(space, local string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name.Space == space && c.name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

func (n *node) first(space, local string) *node {
	if l := n.all(space, local); len(l) > 0 {
		return l[0]
	}
	return nil
}

// parse reads a whole XML document into a tree.
func parse(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	root := &node{}
	stack := []*node{root}
	var starts []int64
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			return nil, fmt.Errorf("feedcheck: not well-formed XML: %w", err)
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name, attrs: t.Attr, line: 1 + bytes.Count(data[:before], []byte("\n"))}
			top.children = append(top.children, n)
			stack = append(stack, n)
			starts = append(starts, d.InputOffset())
		case xml.EndElement:
			top.raw = string(data[starts[len(starts)-1]:before])
			stack, starts = stack[:len(stack)-1], starts[:len(starts)-1]
		case xml.CharData:
			top.text += string(t)
		}
	}
	if len(root.children) != 1 {
		return nil, fmt.Errorf("feedcheck: want one root element, got %d", len(root.children))
	}
	return root.children[0], nil
}

// trimmed is n's text without surrounding white space.
func (n *node) trimmed() string { return strings.TrimSpace(n.text) }
