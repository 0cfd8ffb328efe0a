package htmlsafe

import (
	"slices"
	"testing"
)

func TestElementsAndAttrs(t *testing.T) {
	for _, tt := range []struct {
		name         string
		known, risky bool
	}{
		{"p", true, false},
		{"picture", true, false},
		{"script", true, true},
		{"iframe", true, true},
		{"quote", false, false},
		{"o:p", false, false},
		{"svg", false, false},
	} {
		if got := KnownElement(tt.name); got != tt.known {
			t.Errorf("KnownElement(%q): got %v, want %v", tt.name, got, tt.known)
		}
		if got := RiskyElement(tt.name); got != tt.risky {
			t.Errorf("RiskyElement(%q): got %v, want %v", tt.name, got, tt.risky)
		}
	}
	for _, tt := range []struct {
		name string
		want bool
	}{{"href", true}, {"xml:lang", true}, {"data-anything", true}, {"onclick", false}, {"style", false}} {
		if got := SafeAttr(tt.name); got != tt.want {
			t.Errorf("SafeAttr(%q): got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestUnsafeStyle(t *testing.T) {
	for _, tt := range []struct {
		name, style string
		want        []string
	}{
		{"empty", "", nil},
		{"safe", "color: red; margin: 0 auto; text-align:center", nil},
		{"property", "position: absolute; top: 0", []string{"position", "top"}},
		{"box value", "padding: 8px 0 2px; margin: 0 calc", []string{"calc"}},
		{"unparsed", "background: url(javascript:alert(1))", []string{"background: url(javascript:alert(1))"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := UnsafeStyle(tt.style)
			if !slices.Equal(got, tt.want) {
				t.Errorf("UnsafeStyle(%q): got %q, want %q", tt.style, got, tt.want)
			}
			if SafeStyle(tt.style) != (tt.want == nil) {
				t.Errorf("SafeStyle(%q): got %v, want %v", tt.style, !(tt.want == nil), tt.want == nil)
			}
		})
	}
}
