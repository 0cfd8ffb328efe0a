package mailer

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	"sync"

	"github.com/vanng822/go-premailer/premailer"
)

// inliner copies the stylesheet's rules into style attributes with go-premailer, which most mail clients
// need (Gmail and Outlook drop or ignore much of a <style> element).
//
// Inlining a whole email costs about a millisecond per 20 KB of HTML, and a post goes to every
// subscriber, so the work is split: a post's own HTML (the bulk of an email) is inlined once and kept,
// and each email inlines only its frame (greeting, footer, links: under a kilobyte of text) with
// placeholders where the posts go. The post's HTML is inlined inside <div class="content">, which is why
// the stylesheet's rules for it start with .content.
type inliner struct {
	css string

	mu     sync.Mutex
	blocks map[string]block // by the post HTML they come from
}

// block is a post's HTML (full or excerpt) ready to go into emails, and the same as plain text.
type block struct {
	html, text string
}

// maxBlocks bounds the cache; a run sends a handful of posts, so a full cache is simply emptied.
const maxBlocks = 256

func newInliner(css string) *inliner {
	return &inliner{css: css, blocks: make(map[string]block)}
}

const (
	blockStart = "<!--herald:block-start-->"
	blockEnd   = "<!--herald:block-end-->"
)

// block returns src inlined and as text, from the cache when it can.
func (in *inliner) block(src string) block {
	in.mu.Lock()
	b, ok := in.blocks[src]
	in.mu.Unlock()
	if ok {
		return b
	}
	b = block{html: in.fragment(src), text: htmlToText(src)}
	in.mu.Lock()
	if len(in.blocks) >= maxBlocks {
		clear(in.blocks)
	}
	in.blocks[src] = b
	in.mu.Unlock()
	return b
}

// fragment inlines the stylesheet into a piece of post HTML. If go-premailer fails (it parses any HTML,
// so it should not), the HTML goes out unstyled rather than not at all.
func (in *inliner) fragment(src string) string {
	doc := "<!DOCTYPE html><html><head><style>" + in.css + "</style></head><body><div class=\"content\">" +
		blockStart + src + blockEnd + "</div></body></html>"
	out, err := transform(doc)
	if err != nil {
		return src
	}
	i, j := strings.Index(out, blockStart), strings.LastIndex(out, blockEnd)
	if i < 0 || j < i {
		return src
	}
	return out[i+len(blockStart) : j]
}

// page renders an email's HTML template with placeholders for the posts' HTML, inlines the stylesheet
// into the result, then puts the posts' (already inlined) HTML in.
func (in *inliner) page(t *htmltemplate.Template, d *TemplateData) (string, error) {
	all := d.Posts
	if d.Post != nil {
		all = append([]*TemplatePost{d.Post}, all...)
	}
	saved := make([]htmltemplate.HTML, len(all))
	pairs := make([]string, 0, 2*len(all))
	for i, p := range all {
		saved[i] = p.HTML
		ph := "<!--herald:post-" + strconv.Itoa(i) + "-->"
		pairs = append(pairs, ph, string(p.HTML))
		if p.HTML != "" {
			p.HTML = htmltemplate.HTML(ph)
		}
	}
	defer func() {
		for i, p := range all {
			p.HTML = saved[i]
		}
	}()
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("mailer: HTML template: %w", err)
	}
	out, err := transform(b.String())
	if err != nil {
		return "", fmt.Errorf("mailer: inline the stylesheet: %w", err)
	}
	return strings.NewReplacer(pairs...).Replace(out), nil
}

func transform(doc string) (string, error) {
	p, err := premailer.NewPremailerFromString(doc, premailer.NewOptions())
	if err != nil {
		return "", err
	}
	return p.Transform()
}
