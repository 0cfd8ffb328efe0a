package posts

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"
)

// renderAll loads nothing new: it renders every post of s and returns the warnings.
func renderAll(t *testing.T, s *Site) []Warning {
	t.Helper()
	ws, err := s.Render(t.Context(), s.Posts)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// noRawEmbeds fails when h still holds an element a feed validator or a mail client rejects, or shortcode
// or Liquid syntax.
func noRawEmbeds(t *testing.T, h string) {
	t.Helper()
	for _, bad := range []string{"<iframe", "<object", "<embed", "<script", "<param", "{{<", "{{%", ">}}", "%}}", "{%", "{:"} {
		if strings.Contains(h, bad) {
			t.Errorf("got %q in\n%s", bad, h)
		}
	}
}

func TestHugoEmbeds(t *testing.T) {
	s := loadHugoSite(t, "testdata/hugo-embeds", Options{})
	renderAll(t, s)
	p := postByPath(s, "content/posts/embeds.md")
	h := p.ContentHTML
	noRawEmbeds(t, h)
	for _, want := range []string{
		// youtube: a linked thumbnail and a link, in either spacing
		`<p><a href="https://www.youtube.com/watch?v=0RKpf3rK57I"><img src="https://img.youtube.com/vi/0RKpf3rK57I/hqdefault.jpg" alt="YouTube video"></a><br><a href="https://www.youtube.com/watch?v=0RKpf3rK57I">YouTube video</a></p>`,
		`<a href="https://www.youtube.com/watch?v=w7Ft2ymGmfc"><img src="https://img.youtube.com/vi/w7Ft2ymGmfc/hqdefault.jpg" alt="A talk"></a><br><a href="https://www.youtube.com/watch?v=w7Ft2ymGmfc">A talk</a>`,
		`<p><a href="https://vimeo.com/55073825">Vimeo video</a></p>`,
		`<p><a href="https://vimeo.com/146022717">Staff pick</a></p>`,
		`<p><a href="https://x.com/SanDiegoZoo/status/1453110110599868418">Post by @SanDiegoZoo on X</a></p>`,
		`<p><a href="https://x.com/i/web/status/877500564405444608">Post on X</a></p>`,
		`<p><a href="https://www.instagram.com/p/CxOWiQNP2MO/">Instagram post</a></p>`,
		`<p><a href="https://gist.github.com/spf13/7896402">Gist spf13/7896402</a></p>`,
		`<p><a href="https://gist.github.com/jmooring/23932424365401ffa5e9d9810102a477#file-list-html">Gist jmooring/23932424365401ffa5e9d9810102a477 (list.html)</a></p>`,
		`<img src="https://embeds.example.org/img/fig.png" alt="A figure">`,
		// highlight on one line with its code, with no space before >}}
		"<h2 id=\"is-it-safe\">Is it safe?</h2>\n<pre><code class=\"language-text\" data-lang=\"text\">TL;DR clients are threadsafe.\n</code></pre>",
		// a blank line inside the code stays inside it
		"<pre><code class=\"language-go\" data-lang=\"go\">if a &lt; b {\n\n\treturn\n}\n</code></pre>",
		"<pre><code class=\"language-python\" data-lang=\"python\">print(1)\n</code></pre>",
		// raw HTML
		`<a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"><img src="https://img.youtube.com/vi/dQw4w9WgXcQ/hqdefault.jpg" alt="Raw video"></a><br><a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ">Raw video</a>`,
		`<a href="https://vimeo.com/76979871">Vimeo video</a>`,
		`<a href="https://embeds.example.org/maps/embed.html">Embedded content from embeds.example.org</a>`,
		`<a href="https://www.youtube.com/watch?v=aqz-KE-bpKQ">YouTube video</a>`,
		`<a href="https://embeds.example.org/media/clip.swf">Embedded content from embeds.example.org</a>`,
		`<a href="https://gist.github.com/parkr/931c1c8d465a04042403">Gist parkr/931c1c8d465a04042403</a>`,
		`<a href="https://twitter.com/jekyllrb/status/944509881826930688">December 23, 2017</a></blockquote>`,
		"<p>The end.</p>",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("ContentHTML: want it to contain\n%s\ngot\n%s", want, h)
		}
	}
	for _, gone := range []string{"A note to myself", "tracking", "widgets.js"} {
		if strings.Contains(h, gone) {
			t.Errorf("ContentHTML: got %q, want it left out", gone)
		}
	}
}

// A warning about a post's body is said when the post is rendered, and once in a run.
func TestHugoShortcodeWarningsOnce(t *testing.T) {
	s := loadHugoSite(t, "testdata/hugo-embeds", Options{})
	if len(s.Warnings) != 0 {
		t.Errorf("Load: got warnings %v, want none", s.Warnings)
	}
	embeds := postByPath(s, "content/posts/embeds.md")
	custom := postByPath(s, "content/posts/custom.md")
	ws, err := s.Render(t.Context(), []*Post{embeds})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 0 {
		t.Errorf("rendering a post of built-in shortcodes only: got warnings %v, want none", ws)
	}
	ws, err = s.Render(t.Context(), []*Post{custom, embeds})
	if err != nil {
		t.Fatal(err)
	}
	want := "content/posts/custom.md:5: Hugo shortcodes ({{< notice >}}) cannot run outside Hugo"
	if len(ws) != 1 || !strings.HasPrefix(ws[0].String(), want) {
		t.Errorf("got %v, want one warning starting %q", ws, want)
	}
	if ws := renderAll(t, s); len(ws) != 0 {
		t.Errorf("rendering every post again: got %v, want no warning said twice", ws)
	}
	if !strings.Contains(custom.ContentHTML, "Careful.") {
		t.Errorf("custom.md: got %q, want the text inside the shortcode kept", custom.ContentHTML)
	}
}

func TestJekyllKramdown(t *testing.T) {
	s, err := Load(t.Context(), Options{Dir: "testdata/jekyll-kramdown"})
	if err != nil {
		t.Fatal(err)
	}
	ws := renderAll(t, s)
	p := postByPath(s, "_posts/2024-03-01-kramdown.md")
	h := p.ContentHTML
	noRawEmbeds(t, h)
	for _, want := range []string{
		`<p class="notice">A notice.</p>`,
		`<h2 id="top" class="big">A heading</h2>`,
		`<p class="before">The next paragraph, with <em class="red">emphasis</em> and <a href="https://kramdown.example.org/about/" target="_blank">a link</a>.</p>`,
		"<p>Alone.</p>\n<p class=\"ignored\">After.</p>", // kramdown 2.4 applies it past the blank line
		"<table>\n  <tr>\n    <td>one</td>\n  </tr>\n\n  <tr>\n    <td>two</td>\n  </tr>\n</table>\n<p>A gist:</p>",
		`<p><a href="https://gist.github.com/parkr/931c1c8d465a04042403">Gist parkr/931c1c8d465a04042403</a></p>`,
		`<p><a href="https://gist.github.com/931c1c8d465a04042403#file-jekyll-private-gist-markdown">Gist 931c1c8d465a04042403 (jekyll-private-gist.markdown)</a></p>`,
		`<p><a href="https://twitter.com/jekyllrb/status/944509881826930688">Post by @jekyllrb on X</a></p>`,
	} {
		if !strings.Contains(h, want) {
			t.Errorf("ContentHTML: want it to contain\n%s\ngot\n%s", want, h)
		}
	}
	for _, bad := range []string{"<pre>", "<code>", "style=", "refdef"} {
		if strings.Contains(h, bad) {
			t.Errorf("ContentHTML: got %q in\n%s", bad, h)
		}
	}
	// jekyll-feed's summary is the post's excerpt, its first paragraph, attributes and all.
	if want := `<p class="notice">A notice.</p>`; p.SummaryHTML != want || p.Summary != "A notice." {
		t.Errorf("summary: got %q (%q), want %q", p.SummaryHTML, p.Summary, want)
	}
	if len(p.Authors) != 1 || p.Authors[0] != (Author{Name: "Jill Doe", Email: "jill@example.org"}) {
		t.Errorf("authors: got %+v, want Jill Doe from _data/people.yml, which the layout reads", p.Authors)
	}
	other := postByPath(s, "_posts/2024-02-01-other.md")
	if len(other.Authors) != 2 || other.Authors[0].Name != "Jill Doe" || other.Authors[1].Name != "Bob" {
		t.Errorf("authors: got %+v, want Jill Doe and Bob", other.Authors)
	}
	if len(ws) != 1 || ws[0].File != "_posts/2024-02-01-other.md" {
		t.Errorf("warnings: got %v, want the unknown tag's only", ws)
	}
}

func TestAuthorData(t *testing.T) {
	post := "---\ntitle: T\nauthor: jill\n---\nx\n"
	tests := []struct {
		name  string
		files map[string]string
		want  Author
	}{
		{"authors.yml", map[string]string{"_data/authors.yml": "jill:\n  name: Jill A\n"}, Author{Name: "Jill A"}},
		{"authors.yaml", map[string]string{"_data/authors.yaml": "jill:\n  name: Jill B\n"}, Author{Name: "Jill B"}},
		{"authors.json", map[string]string{"_data/authors.json": `{"jill": {"name": "Jill C", "uri": "https://jill.example"}}`}, Author{Name: "Jill C", URL: "https://jill.example"}},
		{"the include's data file", map[string]string{
			"_includes/byline.html": "{% assign a = site.data.writers[include.author] %}{{ a.name }}",
			"_data/writers.yml":     "jill: {name: Jill D}\n",
			"_data/members.yml":     "jill: {name: Wrong}\n",
		}, Author{Name: "Jill D"}},
		{"authors in _config.yml", map[string]string{"_config.yml": "url: https://a.example\nauthors:\n  jill:\n    name: Jill E\n"}, Author{Name: "Jill E"}},
		{"members.yml as a list", map[string]string{"_data/members.yml": "- key: bob\n  name: Bob\n- key: jill\n  name: Jill F\n  email: f@example.org\n"}, Author{Name: "Jill F", Email: "f@example.org"}},
		{"authors.yml first", map[string]string{"_data/authors.yml": "jill: {name: Jill G}\n", "_data/members.yml": "jill: {name: Wrong}\n"}, Author{Name: "Jill G"}},
		{"no data file", map[string]string{}, Author{Name: "jill"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"_config.yml": "url: https://a.example\n", "_posts/2024-01-01-p.md": post}
			for k, v := range tt.files {
				files[k] = v
			}
			s, err := Load(t.Context(), Options{Dir: writeSite(t, files)})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Posts[0].Authors; len(got) != 1 || got[0] != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEmbedsInHTML(t *testing.T) {
	base, _ := url.Parse("https://b.example/posts/p/")
	tests := []struct {
		name, in, want string
	}{
		{"youtube iframe", `<p>x</p><iframe src="https://www.youtube.com/embed/abcdefghijk?start=3"></iframe>`,
			`<p>x</p><a href="https://www.youtube.com/watch?v=abcdefghijk"><img src="https://img.youtube.com/vi/abcdefghijk/hqdefault.jpg" alt="YouTube video"></a><br><a href="https://www.youtube.com/watch?v=abcdefghijk">YouTube video</a>`},
		{"upper case", `<IFRAME SRC="https://player.vimeo.com/video/1" TITLE="T &amp; U"></IFRAME>after`, `<a href="https://vimeo.com/1">T &amp; U</a>after`},
		{"codepen", `<iframe src="https://codepen.io/ann/embed/preview/XYZ"></iframe>`, `<a href="https://codepen.io/ann/pen/XYZ">CodePen</a>`},
		{"spotify", `<iframe src="https://open.spotify.com/embed/track/42"></iframe>`, `<a href="https://open.spotify.com/track/42">Spotify</a>`},
		{"relative", `<iframe src="../map/"></iframe>`, `<a href="https://b.example/posts/map/">Embedded content from b.example</a>`},
		{"no src", `<iframe srcdoc="<p>x</p>"></iframe>y`, `y`},
		{"javascript src", `<iframe src="javascript:alert(1)"></iframe>y`, `y`},
		{"inline script", `a<script>var x = "</p>";</script>b`, `ab`},
		{"loader script", `<script async src="https://platform.twitter.com/widgets.js"></script>`, ``},
		{"unknown script", `<script src="https://cdn.example/x.js"></script>z`, `z`},
		{"gist with file", `<script src="https://gist.github.com/u/abc123.js?file=My_File.rb"></script>`, `<a href="https://gist.github.com/u/abc123#file-my_file-rb">Gist u/abc123 (My_File.rb)</a>`},
		{"nested objects", `<object data="https://x.example/a"><object data="https://x.example/b"></object><p>fallback</p></object>after`, `<a href="https://x.example/a">Embedded content from x.example</a>after`},
		{"embed and its end tag", `<embed src="https://x.example/e"></embed>after`, `<a href="https://x.example/e">Embedded content from x.example</a>after`},
		{"unclosed iframe", `<iframe src="https://x.example/f">`, `<a href="https://x.example/f">Embedded content from x.example</a>`},
		{"other tags untouched", `<P CLASS=x>Hi</P><video src="v.mp4"></video>`, `<P CLASS=x>Hi</P><video src="https://b.example/posts/p/v.mp4"></video>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := absolutize(tt.in, base); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func testHugoMarkdown() hugoMarkdown {
	refs := &hugoRefs{site: &Site{URL: "https://e.example"}, cfg: &hugoConfig{}, tables: map[string]*refTable{}, pageLang: map[string]string{}}
	return hugoMarkdown{Markdown: newMarkdown(), refs: refs}
}

// Many highlight shortcodes that never close cost one pass.
func TestUnclosedHighlights(t *testing.T) {
	growsLinearly(t, 5000, func(n int) {
		testHugoMarkdown().replaceShortcodes([]byte(strings.Repeat("{{< highlight go >}}\nx\n", n)))
	})
	out := testHugoMarkdown().replaceShortcodes([]byte(strings.Repeat("{{< highlight go >}}\nx\n", 1000)))
	if bytes.Contains(out, []byte("{{<")) {
		t.Errorf("shortcodes left in the output")
	}
}

// FuzzHugoShortcodes: whatever shortcodes a page holds, the rendered HTML has no iframe, object, embed or
// script element left.
func FuzzHugoShortcodes(f *testing.F) {
	for _, s := range []string{"{{< youtube abcdefghijk >}}", "{{<highlight text>}}<iframe>{{</highlight>}}", "{{< gist u 1 f >}}",
		"{{% comment %}}<script>{{% /comment %}}", "{{< x user=\"a\" id=\"1\" >}}", "{{< figure src=\"x\" link=\"javascript:1\" >}}"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://e.example/p/")
	md := testHugoMarkdown()
	f.Fuzz(func(t *testing.T, src string) {
		var b bytes.Buffer
		if err := md.Convert([]byte(src), &b); err != nil {
			t.Fatal(err)
		}
		h := absolutize(b.String(), base)
		z := xhtml.NewTokenizer(strings.NewReader(h))
		for {
			tt := z.Next()
			if tt == xhtml.ErrorToken {
				return
			}
			if tt == xhtml.StartTagToken || tt == xhtml.SelfClosingTagToken {
				if name, _ := z.TagName(); embedElements[string(name)] {
					t.Fatalf("<%s> left in %q\nfrom %q", name, h, src)
				}
			}
		}
	})
}

// TestHugoFigure: the figure shortcode is what Hugo's template writes: the image (linked), and a
// figcaption of the title and of the caption and attribution, rendered as Markdown; the text after it
// stays Markdown.
func TestHugoFigure(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"caption", "A figure:\n{{< figure src=\"/f.png\" alt=\"A figure\" caption=\"The figure's *caption*\" >}}\nMore text.\n",
			"<p>A figure:</p>\n<figure><img src=\"/f.png\" alt=\"A figure\"><figcaption><p>The figure’s <em>caption</em></p></figcaption></figure>\n<p>More text.</p>\n"},
		{"caption as alt", "{{< figure src=\"f.png\" caption=\"**Bold** & co\" class=\"wide\" width=\"300\" >}}\n",
			"<figure class=\"wide\"><img src=\"f.png\" alt=\"Bold &amp; co\" width=\"300\"><figcaption><p><strong>Bold</strong> &amp; co</p></figcaption></figure>\n"},
		{"title, link and attribution, mid-line", "x {{< figure src=\"c.png\" title=\"A <chart>\" link=\"https://e.example/d\" attr=\"Jo\" attrlink=\"https://jo.example/\" >}} y\n",
			"<p>x <figure><a href=\"https://e.example/d\"><img src=\"c.png\"></a><figcaption><h4>A &lt;chart&gt;</h4><p><a href=\"https://jo.example/\">Jo</a></p></figcaption></figure></p>\n<p>y</p>\n"},
		{"in a list item, it stays there", "- a {{< figure src=\"f.png\" >}}\n- b\n",
			"<ul>\n<li>\n<p>a <figure><img src=\"f.png\"></figure></p>\n</li>\n<li>\n<p>b</p>\n</li>\n</ul>\n"},
		{"in a quote, it stays there", "> {{< figure src=\"f.png\" >}}\n",
			"<blockquote>\n<figure><img src=\"f.png\"></figure>\n</blockquote>\n"},
		{"no caption", "{{< figure src=\"f.png\" >}}\n", "<figure><img src=\"f.png\"></figure>\n"},
	}
	md := testHugoMarkdown()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := md.Convert([]byte(tt.in), &b); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
