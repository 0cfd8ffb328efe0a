package posts

import (
	"bytes"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// finishCases are HTML that the one pass must finish as the two do: tags it reads itself, and each thing
// it leaves to the tokenizer.
var finishCases = []string{
	`<p>plain <em>text</em> &amp; <a href="https://x.example/?a=1&amp;b=2">abs</a></p>`,
	`<a href="/about/">x</a><img src="pic.png" alt="a"><img srcset="a.png 1x, /b.png 2x">`,
	`<sup id="fnref:1"><a href="#fn:1" class="footnote-ref" role="doc-noteref">1</a></sup>`,
	`<A HREF="/Up">upper</A><IMG SRC='x.png'/><br/><hr /><input disabled/><input disabled>`,
	`<a href="">empty</a><a href="  ">blank</a><a href>none</a><a href = "/spaced">s</a>`,
	`<a href="/q?a=1&amp;b=2">relative with a reference</a><a href="&#104;ttp://x">coded scheme</a>`,
	`<a href="https://x.example/&#32;">ends in a coded space</a><a href="https://x.example/ ">space</a>`,
	`<a title='it&#39;s' href="/x">quote</a><a href="/x" href="/y">twice</a><a href="/x" HREF="/y">twice</a>`,
	`<p style="text-align:center">ok</p><p style="background:rgba(240,0,0,0.1);margin:0">some</p>`,
	`<p style="color:red" class="a">with <a href="/in">a link</a></p><span style="&quot;">coded</span>`,
	`<c>unknown</c> <angle brackets> <o:p>word</o:p> <rss version="2.0"><channel><title>A &amp; B</title></channel></rss>`,
	`<script>if (a < b) { x = '&'; }</script> after <script>alert(1)</script>`,
	`<script src="https://gist.github.com/u/0123abc.js"></script><iframe src="https://www.youtube.com/embed/abcdefghij"></iframe>`,
	`<iframe src="/local/embed"></iframe><object data="https://x.example/a.swf"><param name="movie" value="v"></object>`,
	`<embed src="https://x.example/e"></embed> and a stray </embed > and </EMBED>`,
	`<<script></script>c> and <</embed>c> and a < b`,
	`<script src="x"/>if (a<b) {}</script> rest`,
	`<script type="text/javascript">x</script><SCRIPT>y</SCRIPT ><script>a</scriptx>b</script><script>c</script/>`,
	`<script>a<!--<script>b</script>c--></script>d</script>`, `<script>a<!b</script>`, `<script>unclosed</scr`,
	`<script SRC="https://gist.github.com/u/0123abc.js"></script>`, `<<script>x</script>c>`, `<script></script>`,
	`<title/>raw <b> text</title><textarea>t <c></textarea><style>p{}</style><xmp><c></xmp>`,
	`<!-- a comment <c> --> <!doctype html> <?pi?> </> </3> <!--more-->`,
	`<p>no = urls</p>`, `<p>text only</p>`, `</embed>`, `<c>`,
	`<a href="/x"`, `text <`, `<a href="/x">x</a><b`, `<plaintext><c>all text</c>`,
	"<a href=\"/x\r\ny\">cr</a><a href=\"/x\ny\">lf</a><p\tclass=\"t\"\n>tabs</p>",
	`<a href=/unquoted>u</a><a href="x"title="y">glued</a><a/ href="/s">slash</a><p/x>`,
	"<p>nul \x00 here <a href=\"/x\">x</a></p>",
	`<video poster="/p.jpg" src="v.mp4"></video><blockquote cite="/c">q</blockquote><form action="/f"></form>`,
	`<p data-x="1" data-url="/not-a-url">data</p><a hreflang="en" href="/h">lang</a>`,
}

// TestFinishHTML: the one pass gives the two passes' bytes.
func TestFinishHTML(t *testing.T) {
	for _, h := range finishCases {
		want := sanitize(absolutize(h, sanitizePage), sanitizePage)
		if got := finishHTML(h, sanitizePage); got != want {
			t.Errorf("finishHTML(%q):\n got %q\nwant %q", h, got, want)
		}
	}
}

// TestFinishHTMLSites: the same over every Markdown post of the test sites, rendered.
func TestFinishHTMLSites(t *testing.T) {
	md := newKramdown()
	n := 0
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := md.Convert(src, &b); err != nil {
			return err
		}
		h := b.String()
		want := sanitize(absolutize(h, sanitizePage), sanitizePage)
		if got := finishHTML(h, sanitizePage); got != want {
			t.Errorf("%s:\n got %q\nwant %q", path, got, want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d posts in testdata", n)
	}
}

// FuzzFinishHTML: whatever the HTML, the one pass gives the two passes' bytes.
func FuzzFinishHTML(f *testing.F) {
	for _, h := range finishCases {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		want := sanitize(absolutize(h, sanitizePage), sanitizePage)
		if got := finishHTML(h, sanitizePage); got != want {
			t.Fatalf("finishHTML(%q):\n got %q\nwant %q", h, got, want)
		}
	})
}

// BenchmarkFinishHTML: the one pass against the two, over the rendered posts of the benchmark corpus:
//
//	go test ./posts -run '^$' -bench FinishHTML
func BenchmarkFinishHTML(b *testing.B) {
	s, err := Load(b.Context(), Options{Dir: benchCorpus(b), Now: benchNow})
	if err != nil {
		b.Fatal(err)
	}
	md := newKramdown()
	var docs []string
	size := 0
	for _, p := range s.Posts[:min(len(s.Posts), 2000)] {
		src, err := os.ReadFile(filepath.Join(s.Dir, p.Path))
		if err != nil {
			b.Fatal(err)
		}
		_, _, body, _, _ := splitFrontMatter(src)
		var out bytes.Buffer
		if err := md.Convert(body, &out); err != nil {
			b.Fatal(err)
		}
		docs = append(docs, out.String())
		size += out.Len()
	}
	for _, bm := range []struct {
		name   string
		finish func(string) string
	}{
		{"one-pass", func(h string) string { return finishHTML(h, sanitizePage) }},
		{"two-pass", func(h string) string { return sanitize(absolutize(h, sanitizePage), sanitizePage) }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				for _, h := range docs {
					bm.finish(h)
				}
			}
		})
	}
}

// FuzzFinisherAbsURL: a plain reference resolves as url.ResolveReference resolves it, against pages of
// several shapes.
func FuzzFinisherAbsURL(f *testing.F) {
	for _, ref := range []string{"#fn:1", "#", "/assets/img-1.png", "pic.png", "a/b/", "a//b", "./a", "a/../b", "..",
		"~user", "/", "//host/x", "#a#b", "x.y.z", "a/.b", "/a:b", "a:b", " /x", "#fn%3A1"} {
		f.Add(ref)
	}
	pages := []string{"https://blog.example.com/2020/05/10/post.html", "https://blog.example.com/", "https://u@blog.example.com:8080/a/b/?q=1#frag",
		"https://blog.example.com/a/../b/post", "https://blog.example.com/caf%C3%A9/post.html", "https://blog.example.com"}
	f.Fuzz(func(t *testing.T, ref string) {
		for _, page := range pages {
			base, err := url.Parse(page)
			if err != nil {
				t.Fatal(err)
			}
			fin := finisher{base: base}
			if got, want := fin.absURL(ref), absURL(base, ref); got != want {
				t.Fatalf("absURL(%q, %q) = %q, want %q", page, ref, got, want)
			}
			if got, want := fin.absURL(ref), absURL(base, ref); got != want { // the probes, now resolved
				t.Fatalf("absURL(%q, %q) the second time = %q, want %q", page, ref, got, want)
			}
		}
	})
}

// TestTokenizerElement: tokenizerElement says true for each element of rawTextElements and embedElements,
// and for no other.
func TestTokenizerElement(t *testing.T) {
	for _, m := range []map[string]bool{rawTextElements, embedElements} {
		for name := range m {
			if !tokenizerElement(name) {
				t.Errorf("tokenizerElement(%q) = false, want true", name)
			}
		}
	}
	for _, name := range []string{"p", "a", "img", "div", "span", "pre", "code", "Script", "scripts", "ifram", ""} {
		if got, want := tokenizerElement(name), rawTextElements[name] || embedElements[name]; got != want {
			t.Errorf("tokenizerElement(%q) = %v, want %v", name, got, want)
		}
	}
	n := 0
	for _, name := range []string{"iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea",
		"title", "xmp", "object", "embed"} {
		if rawTextElements[name] || embedElements[name] {
			n++
		}
	}
	if want := len(rawTextElements) + len(embedElements) - 2; n != want { // iframe and script are in both
		t.Errorf("the switch names %d of the maps' %d elements", n, want)
	}
}
