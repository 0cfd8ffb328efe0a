package posts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLiquidBounds: each hostile template of the hardening issue, in a small version with the bound
// lowered, stops the build quickly with an error naming the post and the bound, without the memory it
// would take unbounded.
func TestLiquidBounds(t *testing.T) {
	doubling := func(step string) string { return "{% assign s = 'ab' %}" + strings.Repeat(step, 40) + "{{ s | size }}" }
	var fan strings.Builder // 10 include files of 4 includes each: 4^10 renders without a bound
	for i := range 10 {
		fmt.Fprintf(&fan, "_includes/f%d.html\x00%s\x01", i, strings.Repeat(fmt.Sprintf("{%% include f%d.html %%}", i+1), 4))
	}
	fmt.Fprintf(&fan, "_includes/f10.html\x00\x01")
	tests := []struct {
		name, body string
		files      string // name\x00content\x01 ...
		bounds     LiquidBounds
		want       string
	}{
		{name: "append doubles a string 40 times", body: doubling("{% assign s = s | append: s %}"), want: "the filter append makes a string or list of more than 65536"},
		{name: "capture doubles a string 40 times", body: doubling("{% capture s %}{{ s }}{{ s }}{% endcapture %}"), want: "capture makes a string or list of more than 65536"},
		{name: "replace grows a string", body: "{% assign s = 'aaaa' %}" + strings.Repeat("{% assign s = s | replace: 'a', 'aaaa' %}", 20), want: "the filter replace makes"},
		{name: "concat doubles a list", body: "{% assign a = 'x,y' | split: ',' %}" + strings.Repeat("{% assign a = a | concat: a %}", 40), want: "the filter concat makes"},
		{name: "a loop writes without end", body: "{% for i in (1..2000000000) %}xxxxxxxxxx{% endfor %}", want: "its Liquid writes more than 65536 bytes"},
		{name: "include fan-out", body: "{% include f0.html %}", files: fan.String(), want: "it renders more than 1000 includes"},
		{name: "nested loops run too long", body: "{% for i in (1..3000) %}{% for j in (1..3000) %}{% endfor %}{% endfor %}", bounds: LiquidBounds{Time: 200 * time.Millisecond}, want: "its Liquid runs longer than 200ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeSite(t, map[string]string{
				"_config.yml":            "url: https://ex.org\n",
				"_posts/2020-01-01-a.md": "---\ntitle: A\n---\n" + tc.body + "\n",
			})
			for _, f := range strings.Split(strings.TrimSuffix(tc.files, "\x01"), "\x01") {
				if name, content, ok := strings.Cut(f, "\x00"); ok {
					if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			b := tc.bounds
			b.Bytes = 64 << 10
			s, err := Load(t.Context(), Options{Dir: dir, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Liquid: b})
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err = s.Render(t.Context(), s.Posts)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrLiquidBound) || !strings.Contains(err.Error(), "_posts/2020-01-01-a.md: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a Liquid bound error naming the post and saying %q", err, tc.want)
			}
			if took > 5*time.Second {
				t.Errorf("took %s", took)
			}
			if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 512 {
				t.Errorf("allocated %d MB", mb)
			}
		})
	}
}

// TestLiquidCaptureStillWorks: the bounded capture is capture: it sets the variable, trims as the tag says,
// and an error in it is named capture.
func TestLiquidCaptureStillWorks(t *testing.T) {
	s, p := liquidTestSite(t)
	got, _, err := s.render.liquid.render(t.Context(), p, []byte("{% assign t = 'Ann' %}{%- capture x -%} Hi {{ t }} {%- endcapture -%}[{{ x }}]"))
	if err != nil || string(got) != "[Hi Ann]" {
		t.Errorf("got %q, %v", got, err)
	}
	_, warns, _ := s.render.liquid.render(t.Context(), p, []byte("{% capture x %}never closed"))
	if len(warns) == 0 || strings.Contains(warns[len(warns)-1].Msg, boundedCapture) || !strings.Contains(warns[len(warns)-1].Msg, "capture") {
		t.Errorf("warnings %v, want one about capture", warns)
	}
}

// FuzzLiquid renders any post body with small bounds: it must come back within its time (and a margin),
// with no panic, and never write more than its bound.
func FuzzLiquid(f *testing.F) {
	for _, seed := range []string{
		"{% assign s = 'ab' %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}",
		"{% capture s %}{{ s }}{{ s }}{% endcapture %}{{ s }}",
		"{% for i in (1..100000) %}{{ i }}{% endfor %}",
		"{% include nested.html %}{{ site.posts | jsonify }}",
		"{% if page.title %}{{ page.title | upcase | replace: 'A', 'AAAA' }}{% endif %}",
		"{% raw %}{{ x }}{% endraw %}{% comment %}{% capture %}{% endcomment %}",
	} {
		f.Add(seed)
	}
	s, p := liquidTestSite(f)
	e := s.render.liquid
	e.bounds = LiquidBounds{Time: 500 * time.Millisecond, Bytes: 64 << 10, Includes: 50}
	f.Fuzz(func(t *testing.T, body string) {
		start := time.Now()
		out, _, err := e.render(t.Context(), p, []byte(body))
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("took %s", took)
		}
		if err == nil && len(out) > 64<<10+len(body) {
			t.Fatalf("wrote %d bytes", len(out))
		}
	})
}
