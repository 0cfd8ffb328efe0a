package mailer

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	"sync"

	"github.com/vanng822/go-premailer/premailer"
	"golang.org/x/net/html"
)

// inliner copies the stylesheet's rules into style attributes with go-premailer, which most mail clients
// need (Gmail and Outlook drop or ignore much of a <style> element).
//
// Inlining a whole email costs about a millisecond per 20 KB of HTML, and a post goes to every
// subscriber, so the work is split: a post's own HTML (the bulk of an email) is inlined once, with
// content.css, and kept, and each email inlines only its frame (greeting, footer, links: a few KB) with
// email.css and placeholders where the posts go. go-premailer parses the stylesheet for each document,
// which is most of its cost: that is why the post's rules are in a stylesheet of their own.
type inliner struct {
	css           string // content.css
	pageCacheable bool   // email.css has no attribute selectors

	mu     sync.Mutex
	blocks map[string]block    // by the post HTML they come from
	frames map[[32]byte]string // inlined frames, by the SHA-256 of their render with recipientTokens
}

// block is a post's HTML (full or excerpt) ready to go into emails, and the same as plain text.
type block struct {
	html, text string
}

// maxBlocks bounds the cache; a run sends a handful of posts, so a full cache is simply emptied.
const maxBlocks = 256

func newInliner(contentCSS, pageCSS string) *inliner {
	return &inliner{css: contentCSS, pageCacheable: !strings.Contains(pageCSS, "["),
		blocks: make(map[string]block), frames: make(map[[32]byte]string)}
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

// The recipient's fields in a frame rendered for the cache: letters only, which html/template writes
// as they are in text and in URLs.
var recipientTokens = [4]string{"HERALDxRECIPIENTxNAMExQ7", "HERALDxRECIPIENTxEMAILxQ7", "HERALDxUNSUBSCRIBExURLxQ7", "HERALDxPREFERENCESxURLxQ7"}

// page renders an email's HTML template and inlines email.css into it, with the posts' HTML (inlined
// with content.css already) put in afterwards.
//
// Emails about the same posts differ only in the recipient's name, address and links, so the frame is
// inlined once per kind of recipient (with or without a name, say) and kept, rendered with tokens in
// place of those four values; each email then gets the cached frame with the tokens replaced. That is
// exact only if replacing the tokens in the template's output gives what the template writes with the
// real values: page checks this on every email (the template runs twice, which costs little next to
// inlining) and otherwise inlines the email's own frame. A stylesheet with attribute selectors, which
// could match on the values, is never cached.
func (in *inliner) page(t *htmltemplate.Template, d *TemplateData) (string, error) {
	all := d.Posts
	if d.Post != nil {
		all = append([]*TemplatePost{d.Post}, all...)
	}
	saved := make([]htmltemplate.HTML, len(all))
	posts := make([]string, 0, 2*len(all))
	for i, p := range all {
		saved[i] = p.HTML
		ph := "<!--herald:post-" + strconv.Itoa(i) + "-->"
		posts = append(posts, ph, string(p.HTML))
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
	real := b.String()

	values := [4]string{d.Recipient.Name, d.Recipient.Email, d.UnsubscribeURL, d.PreferencesURL}
	if frame, ok := in.cachedFrame(t, d, real, values); ok {
		pairs := posts
		for i, tok := range recipientTokens {
			pairs = append(pairs, tok, html.EscapeString(values[i])) // as html.Render escapes
		}
		return strings.NewReplacer(pairs...).Replace(frame), nil
	}
	out, err := transform(real)
	if err != nil {
		return "", fmt.Errorf("mailer: inline the stylesheet: %w", err)
	}
	return strings.NewReplacer(posts...).Replace(out), nil
}

// cachedFrame returns the inlined frame for d's kind of recipient, rendered with recipientTokens, if
// that frame with the tokens replaced is exactly this email's (real is this email's render).
func (in *inliner) cachedFrame(t *htmltemplate.Template, d *TemplateData, real string, values [4]string) (string, bool) {
	if !in.pageCacheable {
		return "", false
	}
	r, unsub, prefs := d.Recipient, d.UnsubscribeURL, d.PreferencesURL
	defer func() { d.Recipient, d.UnsubscribeURL, d.PreferencesURL = r, unsub, prefs }()
	guard := make([]string, 0, 2*len(values))
	fields := [4]*string{&d.Recipient.Name, &d.Recipient.Email, &d.UnsubscribeURL, &d.PreferencesURL}
	for i, f := range fields {
		if *f != "" {
			*f = recipientTokens[i]
			// html/template's escaping in text and in attributes: text/template's and "+".
			guard = append(guard, recipientTokens[i], strings.ReplaceAll(htmltemplate.HTMLEscapeString(values[i]), "+", "&#43;"))
		}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", false
	}
	tokens := b.String()
	if strings.NewReplacer(guard...).Replace(tokens) != real {
		return "", false
	}
	key := sha256.Sum256([]byte(tokens))
	in.mu.Lock()
	frame, ok := in.frames[key]
	in.mu.Unlock()
	if ok {
		return frame, true
	}
	frame, err := transform(tokens)
	if err != nil {
		return "", false
	}
	in.mu.Lock()
	if len(in.frames) >= maxBlocks {
		clear(in.frames)
	}
	in.frames[key] = frame
	in.mu.Unlock()
	return frame, true
}

func transform(doc string) (string, error) {
	p, err := premailer.NewPremailerFromString(doc, premailer.NewOptions())
	if err != nil {
		return "", err
	}
	return p.Transform()
}
