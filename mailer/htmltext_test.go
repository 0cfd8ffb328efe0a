package mailer

import "testing"

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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := htmlToText(tt.in); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
