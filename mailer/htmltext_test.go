package mailer

import (
	"strings"
	"testing"
)

func TestHTMLToText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"paragraphs", "<p>One\n  two.</p>\n<p>Three.</p>", "One two.\n\nThree."},
		{"line break", "<p>a<br>b</p>", "a\nb"},
		{"link", `<p>See <a href="https://x.example/a">this</a>, and <a href="https://x.example/b">that</a> and <a href="https://x.example/a">this again</a>.</p>`,
			"See this [1], and that [2] and this again [1].\n\n[1] https://x.example/a\n[2] https://x.example/b"},
		{"bare link", `<p><a href="https://x.example/">https://x.example/</a> and <a href="mailto:a@b.example">a@b.example</a></p>`, "https://x.example/ and a@b.example"},
		{"fragment link", `<p><a href="#fn1">1</a></p>`, "1"},
		{"headings", "<h1>Big</h1><p>x</p><h2>Café</h2><h3>Small</h3>", "Big\n===\n\nx\n\nCafé\n----\n\nSmall\n-----"},
		{"lists", "<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul><ol start=\"3\"><li>x</li><li>y</li></ol>", "- a\n- b\n  - c\n\n3. x\n4. y"},
		{"loose list", "<ul>\n<li><p>a</p></li>\n<li><p>b</p></li>\n</ul>", "- a\n\n- b"},
		{"quote", "<p>before</p><blockquote><p>q1</p><p>q2</p></blockquote><p>after</p>", "before\n\n> q1\n>\n> q2\n\nafter"},
		{"pre", "<p>x</p><pre><code>a  b\n\n  c\n</code></pre><p>y</p>", "x\n\n    a  b\n\n      c\n\ny"},
		{"image", `<p><img src="https://x.example/i.png" alt="A  cat"> and <a href="https://x.example/"><img src="https://x.example/j.png"></a></p>`,
			"[A cat] [1] and [image] [2]\n\n[1] https://x.example/i.png\n[2] https://x.example/"},
		{"table", "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>", "a | b\n1 | 2"},
		{"entities", "<p>Tom &amp; Jerry &lt;3 &nbsp;x</p>", "Tom & Jerry <3 \u00a0x"},
		{"script and style", "<style>p{}</style><script>x()</script><p>ok</p>", "ok"},
		{"hr", "<p>a</p><hr><p>b</p>", "a\n\n----\n\nb"},
		{"inline spacing", "<p><em>a</em> <strong>b</strong><code>c</code></p>", "a bc"},
		{"empty", "", ""},
		{"wrapped", "<p>" + strings.Repeat("word ", 20) + "</p><ul><li>" + strings.Repeat("item ", 16) + "</li></ul><blockquote><p>" + strings.Repeat("quoted ", 12) + "</p></blockquote>",
			strings.TrimSpace(strings.Repeat("word ", 14)) + "\n" + strings.TrimSpace(strings.Repeat("word ", 6)) +
				"\n\n- " + strings.TrimSpace(strings.Repeat("item ", 14)) + "\n  item item" +
				"\n\n> " + strings.TrimSpace(strings.Repeat("quoted ", 10)) + "\n> quoted quoted"},
		{"long words are not broken", "<p>See https://example.com/" + strings.Repeat("x", 80) + " now.</p>",
			"See\nhttps://example.com/" + strings.Repeat("x", 80) + "\nnow."},
		{"pre is not wrapped", "<pre>" + strings.Repeat("code ", 20) + "</pre>", "    " + strings.Repeat("code ", 20)},
		{
			// goldmark's footnotes (Hugo's and Herald's Markdown), with the URLs made absolute as in a feed.
			"goldmark footnotes",
			`<p>The difference holds<sup id="fnref:1"><a href="https://b.example/p.html#fn:1" class="footnote-ref" role="doc-noteref">1</a></sup> no <a href="https://x.example/">significance</a>.<sup id="fnref:2"><a href="https://b.example/p.html#fn:2" class="footnote-ref" role="doc-noteref">2</a></sup></p>
<div class="footnotes" role="doc-endnotes">
<hr>
<ol>
<li id="fn:1">
<p>A note with <a href="https://y.example/">a link</a>.&#160;<a href="https://b.example/p.html#fnref:1" class="footnote-backref" role="doc-backlink">&#x21a9;&#xfe0e;</a></p>
</li>
<li id="fn:2">
<p>Another.&#160;<a href="https://b.example/p.html#fnref:2" class="footnote-backref" role="doc-backlink">&#x21a9;&#xfe0e;</a></p>
</li>
</ol>
</div>`,
			"The difference holds[1] no significance [3].[2]\n\n[1] A note with a link [4].\n\n[2] Another.\n\n[3] https://x.example/\n[4] https://y.example/",
		},
		{
			"kramdown footnotes",
			`<p>It holds.<sup id="fnref:a" role="doc-noteref"><a href="#fn:a" class="footnote" rel="footnote">1</a></sup></p>
<div class="footnotes" role="doc-endnotes"><ol><li id="fn:a" role="doc-endnote"><p>Said so.&nbsp;<a href="#fnref:a" class="reversefootnote" role="doc-backlink">&#8617;</a></p></li></ol></div>`,
			"It holds.[1]\n\n[1] Said so.",
		},
		{
			"pandoc footnotes",
			`<p>It holds.<a href="#fn1" class="footnote-ref" id="fnref1" role="doc-noteref"><sup>1</sup></a></p>
<section id="footnotes" class="footnotes footnotes-end-of-document" role="doc-endnotes"><hr /><ol><li id="fn1"><p>A long note that goes on and on and on and on and on and on and on and on.<a href="#fnref1" class="footnote-back" role="doc-backlink">↩︎</a></p></li></ol></section>`,
			"It holds.[1]\n\n[1] A long note that goes on and on and on and on and on and on and on\n    and on.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := htmlToText(tt.in); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
