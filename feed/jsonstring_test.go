package feed

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzAppendJSONString: appendJSONString writes any string as encoding/json does without HTML escaping.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", `<p class="a">x &amp; \ y</p>`, "tab\tnl\nCR\rbs\bff\f\x00\x1f\x7f",
		"“curly” it’s… \u2028 \u2029 \U0001F600", "bad \xff\xfe \xe2\x80 cut\xe2", strings.Repeat(`0123456"`, 5)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want.String())
		}
	})
}

// TestAppendJSONStringEachByte puts each byte value at each place of a string long enough for the eight-byte
// path, with a quote after it, where a borrow could hide one.
func TestAppendJSONStringEachByte(t *testing.T) {
	base := []byte(strings.Repeat("abcdefgh", 3))
	for c := 0; c < 256; c++ {
		for i := range len(base) - 1 {
			s := bytes.Clone(base)
			s[i], s[i+1] = byte(c), '"'
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(string(s)); err != nil {
				t.Fatal(err)
			}
			if got := appendJSONString(nil, string(s)); string(got) != strings.TrimSuffix(want.String(), "\n") {
				t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want.String())
			}
		}
	}
}
