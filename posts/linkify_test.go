package posts

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	gmhtml "github.com/yuin/goldmark/renderer/html"
)

// goldmarkLinkify is newMarkdown as it was with goldmark's own GFM extension: what linkify must render the
// same as.
func goldmarkLinkify() goldmark.Markdown {
	return goldmark.New(
		goldmark.WithExtensions(extension.GFM, extension.Footnote, typography),
		goldmark.WithParserOptions(parser.WithAutoHeadingID()),
		goldmark.WithRendererOptions(gmhtml.WithUnsafe()),
	)
}

// linkifySeeds hold what linkify decides on: schemes, "www.", emails, ports, paths, parentheses, trailing
// punctuation, entities, hosts at and past the regexps' 256 bytes, and the triggers before them.
func linkifySeeds() []string {
	host := func(n int) string { return strings.Repeat("a", n) }
	return []string{
		"see http://example.com and https://example.com/a?b=c#d, or ftp://x.org.",
		"www.example.com/path_(x) (www.example.com) *www.a.b* _https://a.bc_ ~http://x.yz~",
		"mail me@example.com. or a.b+c@d.co.uk, x@y, x@y.z- a@b.c_ www.a!b@c.com www.@a.com",
		"http://localhost:8080/x http://a.b:99x http://a.b: http://A.COM http://a.b.c.d",
		"http://a.b/?q=1&amp; http://a.b/x&foo; http://a.b/x&; (http://a.b/(c)) http://a.b/c))",
		"http://" + host(255) + ".com http://" + host(256) + ".com http://" + host(300) + ".com",
		"www." + host(255) + ".x www." + host(256) + ".x www." + host(257) + ".x",
		"http://" + host(250) + "." + host(10) + ".com/x",
		"[http://a.b](http://c.d) <http://e.f> `http://g.h` http://i.j/\"k\" www.x.y/$z http://x.y/$z",
		"http://é.com http://a.b/é www.a.b\u00a0c http://a.b\\_c https://a.b!?.,:*_~",
		"* http://list.item\n> www.quote.d\n\nhttps://a.b  \nhttp://c.d\\\n",
		"https://a.b/c;d http://a.b/x&#123; www.a.b/&amp;&lt; http:// www. ftp://.com http://.a",
	}
}

// FuzzLinkify renders arbitrary Markdown with newMarkdown and with goldmark's own GFM extension: the HTML
// must be the same.
func FuzzLinkify(f *testing.F) {
	for _, s := range linkifySeeds() {
		f.Add(s)
	}
	ours, theirs := newMarkdown(), goldmarkLinkify()
	f.Fuzz(func(t *testing.T, src string) {
		var a, b bytes.Buffer
		errA := ours.Convert([]byte(src), &a)
		errB := theirs.Convert([]byte(src), &b)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("errors differ: %v and %v", errA, errB)
		}
		if a.String() != b.String() {
			t.Fatalf("%q:\ngot  %q\nwant %q", src, a.String(), b.String())
		}
	})
}

// The regexps of goldmark's linkify (extension/linkify.go), which urlEnd and hostEnd match by hand.
var (
	goldmarkURL = regexp.MustCompile(`^(?:http|https|ftp)://[-a-zA-Z0-9@:%._\+~#=]{1,256}\.[a-z]+(?::\d+)?(?:[/#?][-a-zA-Z0-9@:%_+.~#$!?&/=\(\);,'">\^{}\[\]` + "`" + `]*)?`)
	goldmarkWWW = regexp.MustCompile(`^www\.[-a-zA-Z0-9@:%._\+~#=]{1,256}\.[a-z]+(?:[/#?][-a-zA-Z0-9@:%_\+.~#!?&/=\(\);,'">\^{}\[\]` + "`" + `]*)?`)
)

// FuzzLinkifyRegexps compares urlEnd and hostEnd with the regexps they stand for, on any line.
func FuzzLinkifyRegexps(f *testing.F) {
	for _, s := range linkifySeeds() {
		for _, w := range strings.Fields(s) {
			f.Add(w)
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		end := func(re *regexp.Regexp) int {
			if m := re.FindStringIndex(line); m != nil {
				return m[1]
			}
			return -1
		}
		if got, want := urlEnd([]byte(line)), end(goldmarkURL); got != want {
			t.Errorf("urlEnd(%q) = %d, want %d", line, got, want)
		}
		if strings.HasPrefix(line, "www.") {
			if got, want := hostEnd([]byte(line), 4, wwwPathByte, false), end(goldmarkWWW); got != want {
				t.Errorf("hostEnd(%q) = %d, want %d", line, got, want)
			}
		}
	})
}

func TestLinkifyHosts(t *testing.T) {
	tests := []struct {
		name, line string
		want       int
	}{
		{"plain", "http://a.com rest", len("http://a.com")},
		{"port and path", "http://a.com:80/x?y=1 rest", len("http://a.com:80/x?y=1")},
		{"last dot wins", "http://a.b.c.d/ rest", len("http://a.b.c.d/")},
		{"no letter after the dot", "http://a.1", -1},
		{"host of 256 before the dot", "http://" + strings.Repeat("a", 256) + ".com", 7 + 256 + 4},
		{"host of 257 before the dot", "http://" + strings.Repeat("a", 257) + ".com", -1},
		{"an earlier dot in reach", "http://a." + strings.Repeat("b", 300) + ".com", len("http://a.") + 300},
		{"no scheme", "www.a.com", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := urlEnd([]byte(tt.line)); got != tt.want {
				t.Errorf("urlEnd(%q) = %d, want %d", tt.line, got, tt.want)
			}
		})
	}
}
