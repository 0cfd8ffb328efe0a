package posts

import (
	"html"
	"net/url"
	"testing"

	"github.com/heraldhq/herald/internal/feedcheck"
)

var sanitizePage, _ = url.Parse("https://example.org/2024/01/post.html")

func TestSanitize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"nothing to do", `<p class="x">A <a href="https://example.org/">link</a>.</p>`, `<p class="x">A <a href="https://example.org/">link</a>.</p>`},
		{"safe style kept as written", `<p style="text-align:center; margin: 0 6px">x</p>`, `<p style="text-align:center; margin: 0 6px">x</p>`},
		{"risky declaration dropped, safe ones kept (jekyll-docs' 4.2.1 post)",
			`<div style="padding:8px 0 2px;text-align:center;background:rgba(240,0,0,0.1)">x</div>`,
			`<div style="padding:8px 0 2px;text-align:center">x</div>`},
		{"unsafe property dropped", `<span style="position:fixed;color:red">x</span>`, `<span style="color:red">x</span>`},
		{"nothing safe: the attribute goes", `<span title="t" style="background:url(https://evil.example/x)">x</span>`, `<span title="t">x</span>`},
		{"upper case attribute", `<P STYLE="position:absolute">x</P>`, `<p>x</P>`},
		{"unknown element: tags dropped, text kept (jekyll-edge)", `<p>I can use the excerpt: <quote>I can set a custom excerpt</quote></p>`,
			`<p>I can use the excerpt: I can set a custom excerpt</p>`},
		{"Word's namespaced element", `<p>a<o:p></o:p> b</p>`, `<p>a b</p>`},
		{"custom element", `<my-card class="x"><b>bold</b></my-card>`, `<b>bold</b>`},
		{"empty href is the page (jekyll-docs' 2.5.3 post)", `<a href="">let us know</a>`, `<a href="https://example.org/2024/01/post.html">let us know</a>`},
		{"blank href in single quotes", `<a href=' '>x</a>`, `<a href="https://example.org/2024/01/post.html">x</a>`},
		{"href without a value", `<a href>x</a>`, `<a href="https://example.org/2024/01/post.html">x</a>`},
		{"the word href in text alone", `<p>href and style</p>`, `<p>href and style</p>`},
		{"a '>' in a value before the style", `<p title="a>b" Style="position:fixed">x</p>`, `<p title="a&gt;b">x</p>`},
		{"upper case href", `<A HREF="">x</A>`, `<a href="https://example.org/2024/01/post.html">x</A>`},
		{"a tag cut short by the end stays", `<p style="position:fixed">a<b`, `<p>a<b`},
		{"unknown element after a comment", `<!-- c --><Quote>q</Quote>`, `<!-- c -->q`},
		{"risky elements are embed.go's, left here", `<style>p{}</style>`, `<style>p{}</style>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitize(tt.in, sanitizePage); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestSanitizeUntouched: content that needs nothing is returned as it is, without a parse.
func TestSanitizeUntouched(t *testing.T) {
	for _, h := range []string{`<p><a href="https://x.example/">a</a> <img src="https://x.example/i.png" alt=""></p>`,
		`<table><tr><td>1 &lt; 2</td></tr></table>`, "a < b", "<", "</", `<p>href and style</p>`, `<a href="#x" title='its'>y</a>`} {
		if needsSanitize(h) {
			t.Errorf("needsSanitize(%q): got true, want false", h)
		}
	}
}

// sanitizeProblems are the validator's findings (internal/feedcheck, the W3C validator's checks) on an
// RSS item whose content is h, of the kinds sanitize is for.
func sanitizeProblems(t testing.TB, h string) []feedcheck.Problem {
	t.Helper()
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>T</title><link>https://example.org/</link><description>D</description>
<item><title>A</title><link>https://example.org/a.html</link><guid>https://example.org/a.html</guid>
<description>` + html.EscapeString(h) + `</description></item></channel></rss>`
	ps, err := feedcheck.Check([]byte(doc), feedcheck.Options{})
	if err != nil {
		t.Fatalf("feedcheck on %q: %v", h, err)
	}
	var out []feedcheck.Problem
	for _, p := range ps {
		if p.Message == "DangerousStyleAttr" || p.Message == "NotHtml" || p.Message == "ContainsRelRef" {
			out = append(out, p)
		}
	}
	return out
}

// TestSanitizePassesFeedcheck: what the validator finds in the content before, sanitize leaves none of,
// and what it keeps of a style the validator accepts.
func TestSanitizePassesFeedcheck(t *testing.T) {
	for _, h := range []string{
		`<div style="padding:8px 0 2px;text-align:center;background:rgba(240,0,0,0.1)">x</div>`,
		`<span style="margin:0 6px;font-size:0.75em;vertical-align:top;border-radius:3px">x</span>`,
		`<p style="color: expression(alert(1)); width: 10px">x</p>`,
		`<p style="font-family:'Helvetica Neue'; content:'&#34;'">x</p>`,
		`<quote>q</quote><o:p>w</o:p><svg><path d="M0"></path></svg>`,
		`<a href="">a</a><a href=" ">b</a>`,
	} {
		if len(sanitizeProblems(t, h)) == 0 {
			t.Errorf("%s: the checks find nothing; the case tests nothing", h)
		}
		if ps := sanitizeProblems(t, sanitize(h, sanitizePage)); len(ps) != 0 {
			t.Errorf("%s: sanitized %s, the checks find %v", h, sanitize(h, sanitizePage), ps)
		}
	}
}

// FuzzSanitizeStyle: whatever the style, the validator finds nothing in what sanitize keeps of it, and a
// style it accepts whole is kept as written.
func FuzzSanitizeStyle(f *testing.F) {
	for _, s := range []string{"color:red", "padding:8px 0 2px;text-align:center;background:rgba(240,0,0,0.1)",
		"margin:0 auto !important", "background:url(x)", "font-family:'A B';width:1.5em", "a:b:c", ";;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, style string) {
		if !xmlClean(style) {
			return // what XML cannot carry, which render removes before sanitize
		}
		h := `<p style="` + html.EscapeString(style) + `">x</p>`
		got := sanitize(h, sanitizePage)
		if ps := sanitizeProblems(t, got); len(ps) != 0 {
			t.Fatalf("style %q: sanitized %s, the checks find %v", style, got, ps)
		}
		if len(sanitizeProblems(t, h)) == 0 && got != h {
			t.Fatalf("style %q passes the checks, got %s, want it as written", style, got)
		}
	})
}

// FuzzNeedsSanitize: when needsSanitize says content needs nothing, parsing it changes nothing either.
func FuzzNeedsSanitize(f *testing.F) {
	for _, h := range []string{`<p><a href="https://x.example/" hreflang="en">a</a></p>`, `<a href = '' >x</a>`,
		`<p title="a>b" style="x">`, `<Quote>q</Quote>`, `<a href>x</a>`, `<img src="i.png" alt='style'>`,
		`<A =">0<A">`, `<a x=y=">0<c">`, `<a x="1" =">0<c">`} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if needsSanitize(h) {
			return
		}
		if got := sanitizeTokens(h, sanitizePage); got != h {
			t.Fatalf("needsSanitize(%q) is false, but the parse makes %q", h, got)
		}
	})
}

// BenchmarkNeedsSanitize: the check every post's content goes through, over the rendered posts of the
// benchmark corpus (see load_bench_test.go), none of which needs sanitizing:
//
//	go test ./posts -run '^$' -bench NeedsSanitize
func BenchmarkNeedsSanitize(b *testing.B) {
	s, err := Load(b.Context(), Options{Dir: benchCorpus(b), Now: benchNow})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Render(b.Context(), s.Posts); err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, p := range s.Posts {
		size += len(p.ContentHTML)
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		for _, p := range s.Posts {
			if needsSanitize(p.ContentHTML) {
				b.Fatalf("%s needs sanitizing", p.Path)
			}
		}
	}
}

// TestNeedsSanitizeAttrStates: needsSanitize reads a tag's attributes, and what is no tag, as the tokenizer
// does. An "=" that begins an attribute's name, or one inside an unquoted value, opens no quoted value, nor
// does a quote in a comment, a declaration or raw text, so a quote there hides nothing from the tokenizer:
// each of these has an empty href or an unknown tag that the parse changes, and the one pass (finishHTML)
// and the two (sanitize after absolutize) must agree on it.
func TestNeedsSanitizeAttrStates(t *testing.T) {
	for _, c := range []struct{ name, h string }{
		{"equals begins a name", `<A =" href>"`},
		{"equals begins a name after a value", `<a x="1" =" href>"`},
		{"equals right after a quoted value", `<a title="z"=" href>">`},
		{"equals inside an unquoted value", `<a x=y=" href>"`},
		{"a reference for a space", `<a href="&#32;">x</a>`},
		{"a reference for a no-break space", `<a href="&nbsp;">x</a>`},
		{"a bogus comment", `<!<A 0="><A0">`},
		{"a bogus comment after </", `</ <a x="> <a href>">`},
		{"a comment", `<!-- <a x=" --> <a href>">`},
		{"a comment ended by --!>", `<!-- --!> <a x=" --> <a href>">`},
		{"a declaration", `<!DOCTYPE <a x="> <a href>">`},
		{"a processing instruction", `<? <a x="> <a href>">`},
		{"raw text", `<title><a x="</title><a href>">`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := sanitizeTokens(c.h, sanitizePage); !needsSanitize(c.h) && got != c.h {
				t.Errorf("needsSanitize(%q) = false, but the parse makes %q", c.h, got)
			}
			want := sanitize(absolutize(c.h, sanitizePage), sanitizePage)
			if got := finishHTML(c.h, sanitizePage); got != want {
				t.Errorf("finishHTML(%q) = %q, want %q", c.h, got, want)
			}
		})
	}
}
