package posts

import (
	"context"
	"encoding/json"
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
		{name: "capture doubles a string 40 times", body: doubling("{% capture s %}{{ s }}{{ s }}{% endcapture %}"), want: "its Liquid writes more than 65536 bytes, what capture takes in included"},
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

// TestLiquidParseWithinBounds: parsing and the retries that keep a failing tag as text are inside the
// post's time and stop when ctx is done. A line of 32,000 stray {% else %} took 12 s to parse, keepAt
// scanning every token once per tag on the line, before the time bound started.
func TestLiquidParseWithinBounds(t *testing.T) {
	elses := strings.Repeat("{% else %}", 32000)
	long := "{% for i in (1..3000) %}{% for j in (1..3000) %}{% endfor %}{% endfor %}" // never ends in time
	t.Run("keepAt is linear", func(t *testing.T) {
		ls := scanLiquid(elses, "x.md")
		s, _ := liquidTestSite(t)
		_, err := s.render.liquid.eng.ParseTemplateLocation([]byte(ls.String()), "x.md", 1)
		if err == nil {
			t.Fatal("the stray else parsed")
		}
		start := time.Now()
		prob, found := ls.keepAt(err)
		if took := time.Since(start); took > time.Second {
			t.Errorf("keepAt took %s", took)
		}
		if !found || len(prob.msg) > 1000 {
			t.Errorf("keepAt: %v, %d bytes of message", found, len(prob.msg))
		}
	})
	t.Run("time", func(t *testing.T) {
		s, p := liquidTestSite(t)
		e := s.render.liquid
		e.bounds = LiquidBounds{Time: 300 * time.Millisecond, Bytes: 64 << 10, Includes: 50}
		start := time.Now()
		_, _, err := e.render(t.Context(), p, []byte(elses+"\n"+long))
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("took %s", took)
		}
		if !errors.Is(err, ErrLiquidBound) || !strings.Contains(err.Error(), "runs longer than 300ms") {
			t.Errorf("got %v, want the time bound", err)
		}
	})
	t.Run("ctx", func(t *testing.T) {
		s, p := liquidTestSite(t)
		e := s.render.liquid
		e.bounds = LiquidBounds{Time: time.Minute, Bytes: 64 << 10, Includes: 50}
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := e.render(ctx, p, []byte(elses+"\n"+long))
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("took %s", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want ctx's error", err)
		}
	})
}

// TestLiquidUncappedFilters: the filters and blocks that built a string without a cap, in a small version:
// each stops at the bound with an error, having allocated little.
func TestLiquidUncappedFilters(t *testing.T) {
	rep := strings.Repeat
	// Lists that stay within the bound and grow when a filter writes them out: 32 KiB of '"', which JSON
	// writes as \", two bytes each; 32,768 one-letter items, which a sentence or a join writes with their
	// separators.
	lt := "{% assign s = '\"' %}" + rep("{% assign s = s | append: s %}", 15) + "{% assign a = s | split: '#' %}"
	xs := "{% assign s = 'x,' %}" + rep("{% assign s = s | append: s %}", 15) + "{% assign a = s | split: ',' %}"
	big := "{% assign s = 'abcdefgh' %}" + rep("{% assign s = s | append: s %}", 13) + // 64 KiB
		"{% assign a = s | split: '#' %}"
	loop := "{% assign s = 'abcdefghij' %}{% for i in (1..12) %}{% assign s = s | append: s %}{% endfor %}"
	tests := []struct{ name, body, want string }{
		{"jsonify doubling", `{% assign s = '"' %}` + rep(`{% assign s = s | jsonify %}`, 20) + `{{ s | size }}`, "the filter jsonify makes"},
		{"json doubling", `{% assign s = '"' %}` + rep(`{% assign s = s | json %}`, 40) + `{{ s | size }}`, "the filter json makes"},
		{"inspect doubling", `{% assign s = '"' %}` + rep(`{% assign s = s | inspect %}`, 20) + `{{ s | size }}`, "the filter inspect makes"},
		{"array_to_sentence_string of many items", xs + "{{ a | array_to_sentence_string | size }}", "the filter array_to_sentence_string makes"},
		{"jsonify of a list that JSON makes longer", lt + "{{ a | jsonify }}", "the filter jsonify makes"},
		{"json of a list that JSON makes longer", lt + "{{ a | json }}", "the filter json makes"},
		{"inspect of a list that JSON makes longer", lt + "{{ a | inspect }}", "the filter inspect makes"},
		{"join with a long separator", xs + "{{ a | join: 'yyyy' }}", "the filter join makes"},
		// A list of many references to one long string: short to make, huge once a filter that takes a
		// string joins it (upcase, slugify, truncate, split ...: 2 to 3 GB each before the list filters
		// counted what a list holds).
		{"concat makes a list of references", big + rep("{% assign a = a | concat: a %}", 12) + "{{ a | upcase | size }}", "the filter concat makes"},
		{"push makes a list of references", big + "{% for i in (1..4096) %}{% assign a = a | push: s %}{% endfor %}{{ a | slugify | size }}", "the filter push makes"},
		{"unshift makes a list of references", big + "{% for i in (1..4096) %}{% assign a = a | unshift: s %}{% endfor %}{{ a | truncate: 5 }}", "the filter unshift makes"},
		{"capture of a loop", loop + "{% capture big %}{% for i in (1..3000) %}{{ s }}{% endfor %}{% endcapture %}{{ big | size }}", "its Liquid writes more than 65536 bytes"},
		{"highlight of a loop", loop + "{% highlight go %}{% for i in (1..3000) %}{{ s }}{% endfor %}{% endhighlight %}", "its Liquid writes more than 65536 bytes"},
		{"jsonify of a list nested 2,000 deep", "{% for i in (1..2000) %}{% assign a = '' | split: ',' | push: a %}{% endfor %}{{ a | jsonify }}", "the filter jsonify reads lists or hashes nested more than 1000 deep"},
		{"captures kept in many variables", loop + rep("{% capture x %}{{ s }}{% endcapture %}", 40), "its Liquid writes more than 65536 bytes"},
	}
	s, p := liquidTestSite(t)
	e := s.render.liquid
	e.bounds = LiquidBounds{Time: 10 * time.Second, Bytes: 64 << 10, Includes: 50}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := e.render(t.Context(), p, []byte(tc.body))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrLiquidBound) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a bound error saying %q", err, tc.want)
			}
			// The whole process's allocations: renders abandoned by earlier tests may still be running, so
			// the bar sits well above what one of these takes (under 40 MB) and far below what they took
			// without the caps (1 to 4 GB).
			if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 256 {
				t.Errorf("allocated %d MB", mb)
			}
		})
	}
}

// TestLiquidCappedFiltersStillWork: the capped filters give what they gave.
func TestLiquidCappedFiltersStillWork(t *testing.T) {
	s, p := liquidTestSite(t)
	e := s.render.liquid
	for _, tc := range []struct{ body, want string }{
		{`{{ "a,b,c" | split: "," | jsonify }}`, `["a","b","c"]`},
		{`{{ "<a>" | jsonify }}`, `"<a>"`},
		{`{{ "<a>,b" | split: "," | json }}`, `["\u003ca\u003e","b"]`},
		{`{{ "<a>,b" | split: "," | inspect }}`, `["\u003ca\u003e","b"]`},
		{`{% assign n = "" | split: "," | push: 1 | push: 2.5 | push: true %}{{ n | json }}`, `[1,2.5,true]`},
		{`{{ nothing | json }}|{{ nothing | inspect }}|{{ nothing | jsonify }}`, `null|null|null`},
		{`{% assign l = "a,b" | split: "," %}{% assign n = "" | split: "," | push: l | push: "c" %}{{ n | array_to_sentence_string }}`, `[a b] and c`},
		{`{% assign l = "a,b" | split: "," %}{% assign n = "" | split: "," | push: l | push: "c" %}{{ n | join: "-" }}`, `[a b]-c`},
		{`{% capture x %}{% for i in (1..3) %}{{ i }}{% endfor %}{% endcapture %}[{{ x }}]`, `[123]`},
		{"{% highlight go %}\na < b\n{% endhighlight %}", "<pre><code class=\"language-go\" data-lang=\"go\">a &lt; b</code></pre>"},
	} {
		got, warns, err := e.render(t.Context(), p, []byte(tc.body))
		if err != nil || strings.TrimSpace(string(got)) != tc.want {
			t.Errorf("%s: got %q, %v, %v; want %q", tc.body, got, err, warns, tc.want)
		}
	}
	// json.Marshal's map order and output, for a hash
	got, _, err := e.render(t.Context(), p, []byte(`{{ page | json | size }}|{{ page | inspect | size }}`))
	n := len(mustJSON(t, e.postVars(p)))
	want := fmt.Sprintf("%d|%d", n, n)
	if err != nil || string(got) != want {
		t.Errorf("page | json: got %q, %v; want %q", got, err, want)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLiquidWarningsBounded: a post keeps at most maxWarnings warnings, then one line counting the rest,
// which it does not keep.
func TestLiquidWarningsBounded(t *testing.T) {
	s, p := liquidTestSite(t)
	e := s.render.liquid
	e.bounds = LiquidBounds{Time: 10 * time.Second, Bytes: 1 << 20, Includes: 50}
	for _, body := range []string{
		"{% for i in (1..30000) %}{% capture x %}{% include nope.html %}{% endcapture %}{% endfor %}",
		"{% for i in (1..30000) %}{% capture x %}{% post_url nope %}{% endcapture %}{% endfor %}",
		strings.Repeat("{% nope %}\n", 300) + "{% for i in (1..300) %}{% post_url nope %}{% endfor %}",
	} {
		_, warns, err := e.render(t.Context(), p, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if len(warns) != 101 || !strings.HasPrefix(warns[100].Msg, "and ") || !strings.HasSuffix(warns[100].Msg, " more like these") {
			t.Errorf("%.40q: %d warnings, the last %v", body, len(warns), warns[len(warns)-1])
		}
	}
	_, warns, _ := e.render(t.Context(), p, []byte("{% for i in (1..30000) %}{% post_url nope %}{% endfor %}"))
	if len(warns) == 101 && warns[100].Msg != "and 29900 more like these" {
		t.Errorf("last warning %q", warns[100].Msg)
	}
}
