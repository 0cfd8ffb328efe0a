package posts

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestXMLClean checks xmlClean's eight-bytes-at-a-time path against a rune-by-rune reading: each byte value
// at each place of strings long enough to take that path.
func TestXMLClean(t *testing.T) {
	want := xmlCleanRunes
	base := strings.Repeat("abcdefgh", 3)
	for c := 0; c < 256; c++ {
		for i := 0; i < len(base); i++ {
			s := base[:i] + string(rune(0)) + base[i+1:]
			s = s[:i] + string([]byte{byte(c)}) + s[i+1:]
			if got := xmlClean(s); got != want(s) {
				t.Fatalf("xmlClean(%q) = %v, want %v", s, got, want(s))
			}
		}
	}
	for _, s := range []string{"naïve café 日本語 text of more than eight bytes", "tab\tand\nnewline\r\nfine ok",
		"bad \ufffe here, past the first eight", "bad \x7f? no, DEL is fine in XML 1.0", "cut é"[:6] + "and more text",
		"U+FFFD \ufffd is an XML character", "\ufffd"} {
		if got := xmlClean(s); got != want(s) {
			t.Errorf("xmlClean(%q) = %v, want %v", s, got, want(s))
		}
	}
}

// FuzzXMLClean: xmlClean agrees with a rune-by-rune reading of any string.
func FuzzXMLClean(f *testing.F) {
	for _, s := range []string{"plain text of some length", "a\nb\tc\r\n“quoted” it’s…\x01", "é\xff\ufffe\U0001F600 more bytes"} {
		f.Add(s)
	}
	f.Add("\ufffd, a replacement character, valid UTF-8")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := xmlClean(s), xmlCleanRunes(s); got != want {
			t.Fatalf("xmlClean(%q) = %v, want %v", s, got, want)
		}
		// cleanText leaves a clean string as it is and makes any other clean.
		if c := cleanText(s); xmlClean(s) != (c == s) || !xmlCleanRunes(c) {
			t.Fatalf("cleanText(%q) = %q", s, c)
		}
	})
}

// xmlCleanRunes is xmlClean read a rune at a time: a byte of invalid UTF-8 is not clean, a U+FFFD written
// as such (EF BF BD) is, as XML allows it.
func xmlCleanRunes(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !xmlChar(r) {
			return false
		}
		i += n
	}
	return true
}

// TestCleanTextReplacementCharacter: cleanText keeps a U+FFFD of the text, as it does when the text has
// nothing else to remove, and drops invalid bytes and what XML forbids around it.
func TestCleanTextReplacementCharacter(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"alone", "a \ufffd b", "a \ufffd b"},
		{"beside a control character", "a \ufffd\x01 b", "a \ufffd b"},
		{"beside invalid UTF-8", "a \ufffd\xff b\ufffe", "a \ufffd b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanText(tt.in); got != tt.want {
				t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzPlainText: plainText's reading without the tokenizer gives what the tokenizer's gives, where it reads.
func FuzzPlainText(f *testing.F) {
	for _, h := range append([]string{`<p>Cache &amp; literal <strong>bold</strong> <a href="https://x.example/?a=1&amp;b=2">x</a></p>`,
		`<p class="notice">a &lt; b<br/>c &ampd &#39;q&#39; &notit; &amp</p>`, "<p>a < b <3 &</p><p>two</p>", `<p>x<!-- c -->y</p>`,
		`<p>x<script>a<b</script>y</p>`, "<p>cr\r\nlf</p>", `<P>upper</P><LI>item`, `<img src="a.png" alt="A"/>after`},
		finishCases...) {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		text, ok := plainTextSimple(h)
		if !ok {
			return
		}
		if got, want := collapseSpace(cleanText(text)), plainTextTokens(h); got != want {
			t.Fatalf("plainText(%q) = %q, the tokenizer's %q", h, got, want)
		}
	})
}

// FuzzCollapseSpace: collapseSpace is the words of s, as strings.FieldsFunc splits them, joined by spaces.
func FuzzCollapseSpace(f *testing.F) {
	for _, s := range []string{"", "  a  b\t\nc ", "\u00a0x\u0085y\u2028", "é \xff\xfe  z", "one"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := collapseSpace(s), strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " "); got != want {
			t.Fatalf("collapseSpace(%q) = %q, want %q", s, got, want)
		}
	})
}
