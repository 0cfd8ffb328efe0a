package posts

import "testing"

// FuzzIsPostName: isPostName says what postName.MatchString says, for any name.
func FuzzIsPostName(f *testing.F) {
	for _, name := range []string{
		"2020-01-01-a.md", "20-1-1-a.md", "2020-1-01-slug.with.dots.markdown", "12345-01-01-a.md",
		"2020-01-01-.md", "2020-01-01-a.", "2020-01-01-a", "2020-001-01-a.md", "2020-01-01-a\nb.md",
		"2020-01-01-ab.m\nd", "2020-01-01-\xff.md", "x2020-01-01-a.md", "2020-01-01--.md", "",
	} {
		f.Add(name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := isPostName(name), postName.MatchString(name); got != want {
			t.Errorf("isPostName(%q) = %v, want %v (postName)", name, got, want)
		}
	})
}
