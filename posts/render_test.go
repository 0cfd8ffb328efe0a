package posts

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestXMLClean checks xmlClean's eight-bytes-at-a-time path against a rune-by-rune reading: each byte value
// at each place of strings long enough to take that path.
func TestXMLClean(t *testing.T) {
	want := func(s string) bool {
		for _, r := range s {
			if r == utf8.RuneError || !xmlChar(r) {
				return false
			}
		}
		return true
	}
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
		"bad \ufffe here, past the first eight", "bad \x7f? no, DEL is fine in XML 1.0", "cut é"[:6] + "and more text"} {
		if got := xmlClean(s); got != want(s) {
			t.Errorf("xmlClean(%q) = %v, want %v", s, got, want(s))
		}
	}
}
