package posts

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"
)

func kramdownHTML(t testing.TB, src string) string {
	t.Helper()
	var b bytes.Buffer
	if err := newKramdown().Convert([]byte(src), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestKramdown(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"IAL after a paragraph", "Text\n{: .notice}\n", "<p class=\"notice\">Text</p>\n"},
		{"IAL without a space", "Text\n{:.a .b #x}\n", "<p class=\"a b\" id=\"x\">Text</p>\n"},
		{"IAL before a block", "{: .lead}\nText\n", "<p class=\"lead\">Text</p>\n"},
		{"IAL between two blocks goes to the one before", "One\n{: .a}\nTwo\n", "<p class=\"a\">One</p>\n<p>Two</p>\n"},
		// The cases below are kramdown 2.4's output (Jekyll's), which differs from its syntax page.
		{"IAL alone between blank lines goes to the next block", "One\n\n{: .a}\n\nTwo\n", "<p>One</p>\n<p class=\"a\">Two</p>\n"},
		{"past several blank lines, to a heading", "One\n\n{: .a}\n\n\n## H\n", "<p>One</p>\n<h2 id=\"h\" class=\"a\">H</h2>\n"},
		{"at the start, a blank line after it drops it", "{: .a}\n\nTwo\n", "<p>Two</p>\n"},
		{"two alone: both go to the next block", "One\n\n{: .a}\n\n{: .b}\n\nTwo\n", "<p>One</p>\n<p class=\"a b\">Two</p>\n"},
		{"two after a block: both go to it", "One\n{: .a}\n{: .b}\nTwo\n", "<p class=\"a b\">One</p>\n<p>Two</p>\n"},
		{"alone at the end: nothing to apply to", "One\n\n{: .a}\n", "<p>One</p>\n"},
		{"alone, to a quote", "One\n\n{: .a}\n\n> q\n", "<p>One</p>\n<blockquote class=\"a\"><p>q</p>\n</blockquote>\n"},
		{"IAL on a list", "- a\n- b\n\n{: .x}\n", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"},
		{"IAL on a quote", "> q\n{: .x}\n", "<blockquote class=\"x\"><p>q</p>\n</blockquote>\n"},
		{"style and handlers dropped", "Text\n{: style=\"color:red\" onclick='x()' title=\"T\"}\n", "<p title=\"T\">Text</p>\n"},
		{"definition dropped", "{:ref: .big}\n\nText\n", "<p>Text</p>\n"},
		{"extension dropped", "{::options parse_block_html=\"true\" /}\nText\n", "<p>Text</p>\n"},
		{"span IAL on emphasis", "a *b*{: .red} c\n", "<p>a <em class=\"red\">b</em> c</p>\n"},
		{"span IAL on a link", "[a](/b){:target=\"_blank\"}\n", "<p><a href=\"/b\" target=\"_blank\">a</a></p>\n"},
		{"span IAL after text dropped", "plain{: .x} text\n", "<p>plain text</p>\n"},
		{"braces that are no IAL", "a {b} {:c\n", "<p>a {b} {:c</p>\n"},
		{"table with blank lines", "<table>\n<tr><td>1</td></tr>\n\n<tr><td>2</td></tr>\n</table>\n\nAfter\n",
			"<table>\n<tr><td>1</td></tr>\n\n<tr><td>2</td></tr>\n</table>\n<p>After</p>\n"},
		{"nested divs with blank lines", "<div class=\"a\">\n<div>\n\n    x\n</div>\n\n</div>\nAfter\n",
			"<div class=\"a\">\n<div>\n\n    x\n</div>\n\n</div>\n<p>After</p>\n"},
		{"after a list, indented inside (Jekyll's own test site)", "- 7 <span></span>\n\n<ul id='p'>\n  \n    <li>a = b</li>\n  \n</ul>\n",
			"<ul>\n<li>7 <span></span></li>\n</ul>\n<ul id='p'>\n  \n    <li>a = b</li>\n  \n</ul>\n"},
		{"upper case tags", "<TABLE>\n\n<tr><td>1</td></tr>\n</Table>\n", "<TABLE>\n\n<tr><td>1</td></tr>\n</Table>\n"},
		{"unclosed: CommonMark's rules", "<div>\n\nText\n", "<div>\n<p>Text</p>\n"},
		{"closed before a blank line: CommonMark's rules", "<div>x</div>\n\nText\n", "<div>x</div>\n<p>Text</p>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kramdownHTML(t, tt.in); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// A post of many elements that never close costs one pass, not one per element.
func TestKramdownUnclosedElements(t *testing.T) {
	growsLinearly(t, 5000, func(n int) { kramdownHTML(t, strings.Repeat("<div>\n\n", n)) })
}

// FuzzKramdown: whatever a post holds, no iframe, object, embed or script survives rendering, and no block
// attribute list is shown as text.
func FuzzKramdown(f *testing.F) {
	for _, s := range []string{"Text\n{: .x}\n", "<iframe src=\"https://www.youtube.com/embed/abcdefghijk\">\n\n</iframe>",
		"<table>\n\n<script>x</script>\n</table>", "<object><embed src=x></object>", "*a*{: #i}", "<SCRIPT src=//gist.github.com/a/1.js></SCRIPT>"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://example.org/p/")
	f.Fuzz(func(t *testing.T, src string) {
		h := absolutize(kramdownHTML(t, src), base)
		z := xhtml.NewTokenizer(strings.NewReader(h))
		for {
			tt := z.Next()
			if tt == xhtml.ErrorToken {
				break
			}
			if tt == xhtml.StartTagToken || tt == xhtml.SelfClosingTagToken {
				if name, _ := z.TagName(); embedElements[string(name)] {
					t.Fatalf("<%s> left in %q\nfrom %q", name, h, src)
				}
			}
		}
		for _, line := range strings.Split(h, "\n") {
			if ialLine.MatchString(strings.TrimSpace(line)) {
				t.Fatalf("attribute list %q shown in %q", line, h)
			}
		}
	})
}
