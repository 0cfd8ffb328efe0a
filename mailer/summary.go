package mailer

import (
	htmltemplate "html/template"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/heraldhq/herald/posts"
)

// A post's summary is its front matter description, else its excerpt, else its first paragraph (see
// package posts). Many posts open with a greeting of their own ("Hello Jekyllers!"), which as a summary
// says nothing: in a digest, an excerpt and the inbox's preview line, a summary starts after the
// paragraphs that are a greeting alone, and one that is nothing else gives way to the post's first
// paragraph that is not.

// summaryHTML returns the post's summary as HTML, without the greetings it starts with.
func summaryHTML(p *posts.Post) string {
	src := p.SummaryHTML
	if src == "" && p.Summary != "" {
		src = "<p>" + htmltemplate.HTMLEscapeString(p.Summary) + "</p>"
	}
	if rest, cut := skipGreetings(src); cut {
		if strings.TrimSpace(rest) != "" {
			return rest
		}
		if first, _ := skipGreetings(p.ContentHTML); first != "" {
			return firstParagraph(first)
		}
	}
	return src
}

// skipGreetings returns src without the greeting paragraphs it starts with, and whether it had any.
func skipGreetings(src string) (string, bool) {
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(src), ctx)
	if err != nil {
		return src, false
	}
	i := 0
	cut := false
	for ; i < len(nodes); i++ {
		n := nodes[i]
		if n.Type == html.TextNode && strings.TrimSpace(n.Data) == "" || n.Type == html.CommentNode {
			continue
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.P && isGreeting(textContent(n)) {
			cut = true
			continue
		}
		break
	}
	if !cut {
		return src, false
	}
	var b strings.Builder
	for _, n := range nodes[i:] {
		if err := html.Render(&b, n); err != nil {
			return src, false
		}
	}
	return strings.TrimSpace(b.String()), true
}

// firstParagraph returns the first paragraph of src at its top level, else its first element.
func firstParagraph(src string) string {
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(src), ctx)
	if err != nil {
		return ""
	}
	var first *html.Node
	for _, n := range nodes {
		if n.Type != html.ElementNode {
			continue
		}
		if n.DataAtom == atom.P {
			first = n
			break
		}
		if first == nil {
			first = n
		}
	}
	if first == nil {
		return ""
	}
	var b strings.Builder
	html.Render(&b, first)
	return b.String()
}

// greetingWords begin a greeting.
var greetingWords = map[string]bool{"hello": true, "hi": true, "hey": true, "dear": true, "greetings": true,
	"howdy": true, "hiya": true, "bonjour": true, "hallo": true, "hola": true, "ciao": true, "salut": true,
	"moin": true, "servus": true}

// isGreeting tells a paragraph that only greets: a few words that start with a greeting word ("Hello
// Jekyllers!", "Hi everyone,", "Good morning, friends!") and no more.
func isGreeting(s string) bool {
	words := strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) })
	if len(words) == 0 || len(words) > 5 {
		return false
	}
	if last := words[len(words)-1]; strings.ContainsAny(last[len(last)-1:], "?") {
		return false
	}
	first := strings.ToLower(strings.TrimFunc(words[0], func(r rune) bool { return !unicode.IsLetter(r) }))
	if greetingWords[first] {
		return true
	}
	if first == "good" && len(words) > 1 {
		switch strings.ToLower(strings.TrimFunc(words[1], func(r rune) bool { return !unicode.IsLetter(r) })) {
		case "morning", "afternoon", "evening", "day":
			return true
		}
	}
	return false
}

// preheaderMax is about what the longest inbox preview shows.
const preheaderMax = 160

// preheader is the inbox's preview line of a post's email: its summary, as plain text.
func preheader(p *posts.Post) string {
	src := summaryHTML(p)
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(src), ctx)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(textContent(n))
		b.WriteByte(' ')
	}
	return shorten(b.String(), preheaderMax)
}

// digestPreheader is the preview line of a digest, whose subject names its first post: the titles of
// the others, or the summary of a digest of one.
func digestPreheader(ps []*posts.Post) string {
	if len(ps) == 1 {
		return preheader(ps[0])
	}
	titles := make([]string, 0, len(ps)-1)
	for _, p := range ps[1:] {
		titles = append(titles, sanitize(p.Title))
	}
	return shorten("Also: "+strings.Join(titles, " · "), preheaderMax)
}

// shorten collapses white space in s and cuts it at a word before max characters, with an ellipsis.
func shorten(s string, max int) string {
	s = sanitize(strings.Join(strings.Fields(s), " "))
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	cut := 0
	for i := range s {
		if utf8.RuneCountInString(s[:i]) > max-1 {
			break
		}
		if s[i] == ' ' {
			cut = i
		}
	}
	if cut == 0 {
		return string([]rune(s)[:max-1]) + "…"
	}
	return strings.TrimRight(s[:cut], " ,;:.·") + "…"
}
