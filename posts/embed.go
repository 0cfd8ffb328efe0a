package posts

import (
	"bytes"
	"html"
	"net/url"
	"path"
	"regexp"
	"strings"

	xhtml "golang.org/x/net/html"
)

// How embedded media reach a feed and an email. A post embeds a video, a gist or a social post with an
// <iframe>, <object>, <embed> or <script>: readers and mail clients drop them, and the W3C feed validator
// flags them. So every embed, whether written as HTML, made by a Hugo shortcode or by a Jekyll tag, ends as
// one thing: a link to what it shows, named by its title or its provider, with the provider's thumbnail
// in front when its address follows from the embed's own (YouTube's does; Vimeo's needs their API).
// Shortcodes and tags write the HTML their generator would write (an iframe, a gist's script), and the
// walk over the rendered HTML (finishHTML) turns it into the link, so that this file is the one place
// that knows providers.

// embed is what an embedding element stands for.
type embed struct {
	url   string // the page of what is embedded, absolute
	name  string // the link's text
	thumb string // an image of it, or ""
}

// html writes e as a link, after a linked thumbnail when there is one.
func (e embed) html() string {
	u, name := html.EscapeString(e.url), html.EscapeString(e.name)
	link := `<a href="` + u + `">` + name + `</a>`
	if e.thumb == "" {
		return link
	}
	return `<a href="` + u + `"><img src="` + html.EscapeString(e.thumb) + `" alt="` + name + `"></a><br>` + link
}

var (
	youtubeID = regexp.MustCompile(`^[A-Za-z0-9_-]{6,20}$`)
	numericID = regexp.MustCompile(`^[0-9]+$`)
	gistPath  = regexp.MustCompile(`^/([^/]+/)?([0-9a-fA-F]+|[0-9]+)\.js$`)
)

// embedFor tells what an embed's src stands for; title is the element's title attribute. A src that is
// empty or not http(s) gives ok false: there is nothing to link to.
func embedFor(src, title string) (embed, bool) {
	u, err := url.Parse(strings.TrimSpace(src))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return embed{}, false
	}
	title = collapseSpace(title)
	named := func(provider string) string {
		if title != "" {
			return title
		}
		return provider
	}
	host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
	switch {
	case host == "youtube.com" || host == "youtube-nocookie.com" || host == "m.youtube.com":
		// https://www.youtube.com/embed/ID, the old Flash player's /v/ID
		for _, prefix := range []string{"/embed/", "/v/"} {
			if id, ok := strings.CutPrefix(u.Path, prefix); ok && youtubeID.MatchString(id) {
				return youtubeEmbed(id, title), true
			}
		}
	case host == "player.vimeo.com":
		if id, ok := strings.CutPrefix(u.Path, "/video/"); ok && numericID.MatchString(id) {
			return embed{url: "https://vimeo.com/" + id, name: named("Vimeo video")}, true
		}
	case host == "gist.github.com":
		// The script a gist embed loads: https://gist.github.com/USER/ID.js?file=NAME
		if m := gistPath.FindStringSubmatch(u.Path); m != nil {
			page := "https://gist.github.com/" + m[1] + m[2]
			name := "Gist " + m[1] + m[2]
			if f := u.Query().Get("file"); f != "" {
				page += "#file-" + gistAnchor(f)
				name += " (" + f + ")"
			}
			return embed{url: page, name: named(name)}, true
		}
	case host == "open.spotify.com":
		if rest, ok := strings.CutPrefix(u.Path, "/embed/"); ok {
			return embed{url: "https://open.spotify.com/" + rest, name: named("Spotify")}, true
		}
	case host == "codepen.io":
		// https://codepen.io/USER/embed/ID is the pen https://codepen.io/USER/pen/ID
		if user, id, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/embed/"); ok && !strings.Contains(user, "/") {
			return embed{url: "https://codepen.io/" + user + "/pen/" + strings.TrimPrefix(id, "preview/"), name: named("CodePen")}, true
		}
	}
	// Anything else: a link to what the element loads, named by its title or its host.
	return embed{url: u.String(), name: named("Embedded content from " + u.Hostname())}, true
}

// youtubeEmbed is a YouTube video: its watch page, and the thumbnail YouTube serves for every video
// under a fixed address.
func youtubeEmbed(id, title string) embed {
	return embed{
		url:   "https://www.youtube.com/watch?v=" + url.QueryEscape(id),
		name:  firstNonEmpty(collapseSpace(title), "YouTube video"),
		thumb: "https://img.youtube.com/vi/" + url.PathEscape(id) + "/hqdefault.jpg",
	}
}

// gistAnchor is the fragment GitHub gives a gist's file: "file-" and the name lower-cased, with each run of
// other characters than letters and digits a hyphen ("my_file.rb" → "my_file-rb").
func gistAnchor(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r == '_' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// scriptLoaders are the scripts that style an embed written beside them (a tweet's or an Instagram post's
// blockquote, a CodePen's paragraph): that HTML carries its own link, and the script shows nothing by
// itself, so it is dropped rather than linked.
var scriptLoaders = map[string]bool{
	"platform.twitter.com": true, "platform.x.com": true, "www.instagram.com": true, "instagram.com": true,
	"cpwebassets.codepen.io": true, "static.codepen.io": true, "public.codepenassets.com": true,
	"connect.facebook.net": true, "embed.reddit.com": true, "www.tiktok.com": true, "s.imgur.com": true,
	"assets.pinterest.com": true, "embedr.flickr.com": true, "widgets.wp.com": true,
}

// embedElements are the elements replaced by a link. iframe and script are raw text to the tokenizer, which
// returns their content as one text token; object holds <param> and fallback elements; embed is void.
var embedElements = map[string]bool{"iframe": true, "object": true, "embed": true, "script": true}

// replaceEmbed reads the element ts has just opened (start, its start tag) up to its end tag and returns
// what stands for it: the link, or "" for a script that shows nothing. base resolves a relative src.
func replaceEmbed(ts *tokenStream, start xhtml.Token, base *url.URL) string {
	attr := func(t xhtml.Token, key string) string {
		for _, a := range t.Attr {
			if a.Key == key {
				return a.Val
			}
		}
		return ""
	}
	src := attr(start, "src")
	title := firstNonEmpty(attr(start, "title"), attr(start, "aria-label"))
	if start.Data == "object" {
		src = attr(start, "data")
	}
	if start.Type == xhtml.StartTagToken && start.Data != "embed" {
		// Read to the matching end tag; an object may nest others and name its movie in a <param> or an
		// inner <embed> (the old YouTube and Vimeo embed code).
		depth := 1
		for depth > 0 {
			tt := ts.next()
			if tt == xhtml.ErrorToken {
				break
			}
			t := ts.z.Token()
			switch {
			case t.Data != start.Data && start.Data != "object":
			case tt == xhtml.StartTagToken && t.Data == "object":
				depth++
			case tt == xhtml.EndTagToken && t.Data == start.Data:
				depth--
			case src == "" && t.Data == "param" && strings.EqualFold(attr(t, "name"), "movie"):
				src = attr(t, "value")
			case src == "" && t.Data == "embed":
				src = attr(t, "src")
			}
		}
	}
	if src == "" {
		return "" // an inline script, or an element that loads nothing
	}
	src = absURL(base, src)
	if start.Data == "script" {
		u, err := url.Parse(src)
		if err != nil || scriptLoaders[strings.ToLower(u.Hostname())] || !knownScript(u) {
			return ""
		}
	}
	e, ok := embedFor(src, title)
	if !ok {
		return ""
	}
	return e.html()
}

// knownScript tells whether a script's src is an embed that shows content of its own: a gist. Other
// scripts are code that cannot run in a feed or an email, and a link to code is no content.
func knownScript(u *url.URL) bool {
	return strings.EqualFold(u.Hostname(), "gist.github.com") && path.Ext(u.Path) == ".js"
}

// figureHTML is Hugo's figure shortcode (https://gohugo.io/shortcodes/figure/) as Hugo's own template
// writes it: the image, in a link when there is one, then a <figcaption> of the title (in <h4>) and of the
// caption and attribution (Markdown, in <p>). markdownify renders Markdown as Hugo's function of that name.
func figureHTML(named map[string]string, markdownify func(string) string) string {
	attr := func(name, key string) string {
		if v := named[key]; v != "" {
			return " " + name + `="` + html.EscapeString(v) + `"`
		}
		return ""
	}
	var b strings.Builder
	b.WriteString("<figure" + attr("class", "class") + ">")
	if named["link"] != "" {
		b.WriteString("<a" + attr("href", "link") + attr("target", "target") + attr("rel", "rel") + ">")
	}
	alt := named["alt"]
	if alt == "" && named["caption"] != "" {
		alt = plainText(markdownify(named["caption"]))
	}
	b.WriteString(`<img src="` + html.EscapeString(named["src"]) + `"`)
	if alt != "" {
		b.WriteString(` alt="` + html.EscapeString(alt) + `"`)
	}
	b.WriteString(attr("width", "width") + attr("height", "height") + attr("loading", "loading") + ">")
	if named["link"] != "" {
		b.WriteString("</a>")
	}
	if named["title"] != "" || named["caption"] != "" || named["attr"] != "" {
		b.WriteString("<figcaption>")
		if t := named["title"]; t != "" {
			b.WriteString("<h4>" + html.EscapeString(t) + "</h4>")
		}
		if named["caption"] != "" || named["attr"] != "" {
			b.WriteString("<p>" + markdownify(named["caption"]))
			if named["attrlink"] != "" {
				b.WriteString("<a" + attr("href", "attrlink") + ">" + markdownify(named["attr"]) + "</a>")
			} else {
				b.WriteString(markdownify(named["attr"]))
			}
			b.WriteString("</p>")
		}
		b.WriteString("</figcaption>")
	}
	b.WriteString("</figure>")
	return b.String()
}

// markdownify renders s as Hugo's markdownify does: Markdown, without the <p> around a single paragraph.
func (m hugoMarkdown) markdownify(s string) string {
	if s == "" {
		return ""
	}
	var b bytes.Buffer
	if err := m.Markdown.Convert([]byte(s), &b); err != nil {
		return html.EscapeString(s)
	}
	out := strings.TrimSpace(b.String())
	if inner, ok := strings.CutPrefix(out, "<p>"); ok && strings.HasSuffix(inner, "</p>") && !strings.Contains(inner, "<p>") {
		out = strings.TrimSuffix(inner, "</p>")
	}
	return out
}
