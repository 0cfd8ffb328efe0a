package mailer

import (
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	tparse "text/template/parse"
)

// fillable reports whether the emails of these templates can be made by filling each recipient's values
// into one composed with tokens in their place (see Prepared): the subject must not use the values at
// all, and the parts only write one out as it is ({{.Recipient.Name}}, escaped by html/template in the
// HTML part) or test whether it is empty ({{if .PreferencesURL}}). Anything else (a function of a value,
// a comparison, a variable, the data as a whole) could make an email that no filling in gives.
//
// It runs before the templates are first executed: html/template then adds its escapers to the actions,
// which would look like functions of the values.
func fillable(subject *texttemplate.Template, htmlT *htmltemplate.Template, text *texttemplate.Template) bool {
	if !usesNone(subject.Tree.Root) {
		return false
	}
	for _, t := range htmlT.Templates() {
		if t.Tree != nil && !usesPlainly(t.Tree.Root) {
			return false
		}
	}
	for _, t := range text.Templates() {
		if t.Tree != nil && !usesPlainly(t.Tree.Root) {
			return false
		}
	}
	return true
}

// usesPlainly reports whether the nodes under n use the recipient's values only as written or tested.
func usesPlainly(n tparse.Node) bool {
	return walk(n, func(p *tparse.PipeNode) bool { return valueOnly(p) || !reaches(p) })
}

// usesNone reports whether no node under n reaches the recipient's values.
func usesNone(n tparse.Node) bool {
	return walk(n, func(p *tparse.PipeNode) bool { return !reaches(p) })
}

// walk reports whether ok holds for the pipeline of every action and test under n (the argument of a
// template call may be the data as it is).
func walk(n tparse.Node, ok func(*tparse.PipeNode) bool) bool {
	switch n := n.(type) {
	case *tparse.ListNode:
		if n == nil {
			return true
		}
		for _, c := range n.Nodes {
			if !walk(c, ok) {
				return false
			}
		}
	case *tparse.ActionNode:
		return ok(n.Pipe)
	case *tparse.IfNode:
		return ok(n.Pipe) && walk(n.List, ok) && walk(n.ElseList, ok)
	case *tparse.RangeNode:
		return !reaches(n.Pipe) && walk(n.List, ok) && walk(n.ElseList, ok)
	case *tparse.WithNode:
		return !reaches(n.Pipe) && walk(n.List, ok) && walk(n.ElseList, ok)
	case *tparse.TemplateNode:
		return n.Pipe == nil || isData(n.Pipe) || !reaches(n.Pipe)
	}
	return true
}

// valueOnly tells a pipeline that is one of the recipient's values and nothing else.
func valueOnly(p *tparse.PipeNode) bool {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	v, _ := recipientValue(p.Cmds[0].Args[0])
	return v >= 0
}

// isData tells a pipeline that is the data as it is: {{template "body" .}}.
func isData(p *tparse.PipeNode) bool {
	if len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *tparse.DotNode:
		return true
	case *tparse.VariableNode:
		return len(a.Ident) == 1 && a.Ident[0] == "$"
	}
	return false
}

// reaches reports whether a node under n could see a recipient's value.
func reaches(n tparse.Node) bool {
	switch n := n.(type) {
	case *tparse.PipeNode:
		if n == nil {
			return false
		}
		for _, c := range n.Cmds {
			if reaches(c) {
				return true
			}
		}
		return false
	case *tparse.CommandNode:
		for _, a := range n.Args {
			if reaches(a) {
				return true
			}
		}
		return false
	case *tparse.ChainNode:
		return reaches(n.Node)
	}
	_, r := recipientValue(n)
	return r
}

// recipientValue returns which of the recipient's values n is (.Recipient.Name, $.UnsubscribeURL), or -1;
// reaches is true also for what holds them (.Recipient, or the data itself: . or $). A dot inside
// {{with}} or {{range}} is taken for the data too: being wrong that way only costs speed.
func recipientValue(n tparse.Node) (value int, reaches bool) {
	var ident []string
	switch n := n.(type) {
	case *tparse.DotNode:
		return -1, true
	case *tparse.FieldNode:
		ident = n.Ident
	case *tparse.VariableNode:
		if n.Ident[0] != "$" {
			return -1, false // a variable holds what its declaration, checked there, gave it
		}
		if ident = n.Ident[1:]; len(ident) == 0 {
			return -1, true
		}
	default:
		return -1, false
	}
	switch strings.Join(ident, ".") {
	case "Recipient.Name":
		return holeName, true
	case "Recipient.Email":
		return holeEmail, true
	case "UnsubscribeURL":
		return holeUnsubscribe, true
	case "PreferencesURL":
		return holePreferences, true
	}
	switch ident[0] {
	case "Recipient", "UnsubscribeURL", "PreferencesURL":
		return -1, true
	}
	return -1, false
}
