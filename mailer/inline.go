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
// Inlining a whole email costs about a millisecond per 20 KB of HTML, so the work is split: a post's own
// HTML (the bulk of an email) is inlined once, with content.css, and kept, and an email's frame (greeting,
// footer, links: a few KB) is inlined with email.css and placeholders where the posts go. go-premailer
// parses the stylesheet for each document, which is most of its cost: that is why the post's rules are in
// a stylesheet of their own. A Prepared inlines each frame once for all the recipients of a post.
type inliner struct {
	css string // content.css

	mu     sync.Mutex
	blocks map[string]block // by the post HTML they come from
}

// block is a post's HTML (full or excerpt) ready to go into emails, and the same as plain text.
type block struct {
	html, text string
}

// maxBlocks bounds the cache; a run sends a handful of posts, so a full cache is simply emptied.
const maxBlocks = 256

func newInliner(contentCSS string) *inliner {
	return &inliner{css: contentCSS, blocks: make(map[string]block)}
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
	b = block{html: in.fragment(fitContent(src)), text: htmlToText(src)}
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
	doc := "<!DOCTYPE html><html><head><style>" + in.css + "</style></head><body>" +
		blockStart + src + blockEnd + "</body></html>"
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

// page renders an email's HTML template and inlines email.css into it, with the posts' HTML (inlined
// with content.css already) put in afterwards.
func (in *inliner) page(t *htmltemplate.Template, d *TemplateData) (string, error) {
	dd := *d // the posts' HTML is replaced by placeholders in copies: d may be shared
	var posts []string
	n := 0
	placeholder := func(p *TemplatePost) *TemplatePost {
		ph := "<!--herald:post-" + strconv.Itoa(n) + "-->"
		n++
		posts = append(posts, ph, string(p.HTML))
		if p.HTML == "" {
			return p
		}
		cp := *p
		cp.HTML = htmltemplate.HTML(ph)
		return &cp
	}
	if d.Post != nil {
		dd.Post = placeholder(d.Post)
	}
	if d.Posts != nil {
		dd.Posts = make([]*TemplatePost, len(d.Posts))
		for i, p := range d.Posts {
			dd.Posts[i] = placeholder(p)
		}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, &dd); err != nil {
		return "", fmt.Errorf("mailer: HTML template: %w", err)
	}
	out, err := transform(b.String())
	if err != nil {
		return "", fmt.Errorf("mailer: inline the stylesheet: %w", err)
	}
	return strings.NewReplacer(posts...).Replace(out), nil
}

func transform(doc string) (string, error) {
	p, err := premailer.NewPremailerFromString(doc, premailer.NewOptions())
	if err != nil {
		return "", err
	}
	return p.Transform()
}
