package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	texttemplate "text/template"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
)

// checkDesign checks the settings of the emails' design: email_clip, and the subject templates, which
// must parse (with the functions the templates have: add, lines).
func checkDesign(c *config, bad func(key, value, want string)) {
	switch c.EmailClip {
	case "", "warn", "excerpt":
	default:
		bad("email_clip", strconv.Quote(c.EmailClip), "want warn (the default: say so) or excerpt (send the excerpt with a link)")
	}
	funcs := texttemplate.FuncMap{"add": func(a, b int) int { return a + b }, "lines": strings.Fields}
	for _, s := range []struct{ key, src, example string }{
		{"subject_post", c.SubjectPost, "{{.Title}}"},
		{"subject_digest", c.SubjectDigest, "{{.Title}} and {{add .Count -1}} more"},
	} {
		if s.src == "" {
			continue
		}
		if _, err := texttemplate.New(s.key).Funcs(funcs).Parse(s.src); err != nil {
			msg := err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			bad(s.key, strconv.Quote(s.src), fmt.Sprintf("want a template such as %q (%s)", s.example, msg))
		}
	}
}

// designOptions sets the options of the emails' design from herald.yaml, with what warns of a post too
// long for Gmail going to stderr. A test copy's subjects start with [TEST].
func designOptions(o *mailer.Options, c config, stderr io.Writer, test bool) {
	o.Greeting = c.Greeting
	o.ClipExcerpt = c.EmailClip == "excerpt"
	o.SubjectTemplate, o.DigestSubjectTemplate = c.SubjectPost, c.SubjectDigest
	if test {
		o.SubjectTemplate = "[TEST] " + firstSet(c.SubjectPost, mailer.DefaultSubject)
		o.DigestSubjectTemplate = "[TEST] " + firstSet(c.SubjectDigest, mailer.DefaultDigestSubject)
	}
	o.LargeHTML = func(p *posts.Post, size int, excerpt bool) {
		kb := (size + 512) / 1024
		if excerpt {
			fmt.Fprintf(stderr, "warning: %s (%q): its email would have %d KB of HTML, past what Gmail shows unclipped (102 KB): it goes as its excerpt with a link to the post (email_clip: excerpt)\n", p.Path, p.Title, kb)
			return
		}
		fmt.Fprintf(stderr, "warning: %s (%q): its email has %d KB of HTML; Gmail clips a message above 102 KB, hiding the rest (the unsubscribe link too) behind \"View entire message\"; set email_clip: excerpt in %s to send such posts as their excerpt with a link\n", p.Path, p.Title, kb, configName)
	}
}
