package store

import "testing"

// TestMakeTagsUnicode: a tag written in another Unicode form or case than the same tag elsewhere is the
// same tag, so that a reader who chose it gets the post. Front matter from different editors spells "café"
// with é (NFC) or with e and a combining accent (NFD, as macOS file names and some editors give it), and
// upper-case forms that lower-casing alone does not bring together (ΟΔΟΣ and οδος, STRASSE and straße).
func TestMakeTagsUnicode(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
	}{
		{"NFC and NFD", "Caf\u00e9", "cafe\u0301"},
		{"NFD upper case", "CAFE\u0301", "caf\u00e9"},
		{"final sigma", "ΟΔΟΣ", "οδος"},
		{"sharp s", "STRASSE", "Straße"},
		{"ASCII case", " Go ", "go"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := MakeTags(tc.a), MakeTags(tc.b)
			if a != b {
				t.Errorf("MakeTags(%q) = %q, MakeTags(%q) = %q; want the same tag", tc.a, a, tc.b, b)
			}
			if both := MakeTags(tc.a, tc.b); len(both.List()) != 1 {
				t.Errorf("MakeTags(%q, %q) = %q, want one tag", tc.a, tc.b, both)
			}
		})
	}
}
