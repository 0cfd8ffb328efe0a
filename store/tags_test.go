package store

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func TestNormTags(t *testing.T) {
	for _, c := range []struct {
		name string
		tags []string
		want []string
	}{
		{"ascii", []string{" Go ", "NEWS", "go", "a|b", "", "  "}, []string{"a b", "go", "news"}},
		{"greek", []string{"ΟΔΟΣ", "οδος"}, []string{"οδοσ"}},
		{"sharp s", []string{"STRASSE", "straße"}, []string{"strasse"}},
		{"composed", []string{"Cafe\u0301", "café"}, []string{"café"}},
		{"invalid utf-8", []string{"a\xffB"}, []string{"a\ufffdb"}},
		{"mixed", []string{"Zürich", "ZÜRICH", "zurich"}, []string{"zurich", "zürich"}},
		{"none", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := NormTags(c.tags); !slices.Equal(got, c.want) {
				t.Errorf("NormTags(%q) = %q, want %q", c.tags, got, c.want)
			}
		})
	}
}

// TestNormTagsASCII: an ASCII tag, which NormTags lowers without cases and norm, folds as they fold it,
// for every printable ASCII character and control character in turn.
func TestNormTagsASCII(t *testing.T) {
	fold := cases.Fold()
	for c := 0; c < 0x80; c++ {
		tag := "Tag" + string(rune(c)) + "X"
		want := strings.TrimSpace(norm.NFC.String(fold.String(strings.ReplaceAll(tag, "|", " "))))
		if got := NormTags([]string{tag}); len(got) != 1 || got[0] != want {
			t.Errorf("NormTags(%q) = %q, want %q", tag, got, want)
		}
	}
}
