package posts

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// liquidSiteFiles is a small Jekyll site with what the tags and filters need.
var liquidSiteFiles = map[string]string{
	"_config.yml": `title: Test Blog
description: A blog for tests
url: https://example.com
baseurl: /blog
timezone: UTC
author: Ann
collections:
  docs:
    output: true
`,
	"_posts/2020-05-10-hello.md": `---
title: Hello & <World>
tags: [go, liquid]
categories: [news]
inc: greet.html
custom:
  b: 2
  a: 1
---
Body.
`,
	"_posts/2019-01-02-older-post.md":    "---\ntitle: Older post\n---\nOld.\n",
	"_posts/sub/2018-03-04-in-sub.md":    "---\ntitle: In sub\ntags: go\n---\nSub.\n",
	"news/_posts/2017-01-01-cat-post.md": "---\ntitle: Cat post\n---\nCat.\n",
	"_posts/snippet.txt":                 "snippet {{ page.slug }}",
	"_includes/greet.html":               "Hello {{ include.name }}{% for p in include %}[{{ p[0] }}={{ p[1] }}]{% endfor %}",
	"_includes/nested.html":              "<{% include greet.html name=page.slug %}>",
	"_includes/self.html":                "{% include self.html %}",
	"_includes/plugin.html":              "a\n{% youtube abc %} b",
	"_includes/badfilter.html":           "{{ 1 | no_such_filter }}",
	"_plugins/youtube.rb":                "Liquid::Template.register_tag('youtube', Jekyll::YouTube)\n",
	"_data/menu.yml":                     "z: last\na: first\n",
	"_data/people.json":                  `[{"name": "Jo", "age": 3}]`,
	"_data/sub/thing.yaml":               "x: deep\n",
	"_data/items.csv":                    "name,size\ncup,2\n",
	"_data/broken.yml":                   "a: [unclosed\n",
	"about.md":                           "---\n---\nAbout.\n",
	"assets/img.png":                     "png",
	"_docs/guide.md":                     "---\n---\nGuide.\n",
}

// liquidTestSite loads liquidSiteFiles and returns the site and its post _posts/2020-05-10-hello.md.
func liquidTestSite(t testing.TB) (*Site, *Post) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range liquidSiteFiles {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Load(t.Context(), Options{Dir: dir, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Posts {
		if p.Path == "_posts/2020-05-10-hello.md" {
			return s, p
		}
	}
	t.Fatal("post _posts/2020-05-10-hello.md not loaded")
	return nil, nil
}

type liquidCase struct {
	name string
	body string
	want string
}

func runLiquidCases(t *testing.T, cases []liquidCase) {
	t.Helper()
	s, p := liquidTestSite(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, warns, _ := s.render.liquid.render(t.Context(), p, []byte(tc.body))
			if string(got) != tc.want {
				t.Errorf("render(%q) = %q, want %q", tc.body, got, tc.want)
			}
			if len(warns) > 0 {
				t.Errorf("render(%q) warned %v, want no warning", tc.body, warns)
			}
		})
	}
}

func TestLiquidVariables(t *testing.T) {
	runLiquidCases(t, []liquidCase{
		{"site title", "{{ site.title }}", "Test Blog"},
		{"site description", "{{ site.description }}", "A blog for tests"},
		{"site url", "{{ site.url }}", "https://example.com"},
		{"site baseurl", "{{ site.baseurl }}", "/blog"},
		{"site url and baseurl", "{{ site.url }}{{ site.baseurl }}", "https://example.com/blog"},
		{"config key", "{{ site.author }}", "Ann"},
		{"site time is the newest post date", "{{ site.time }}", "2020-05-10 00:00:00 +0000"},
		{"site posts newest first", `{{ site.posts | map: "slug" | join: "," }}`, "hello,older-post,in-sub,cat-post"},
		{"site categories", "{{ site.categories.news.size }}", "2"},
		{"site tags", `{{ site.tags.go | map: "title" | join: "," }}`, "Hello & <World>,In sub"},
		{"data yaml", "{{ site.data.menu.a }}", "first"},
		{"data json", "{{ site.data.people[0].name }} {{ site.data.people[0].age }}", "Jo 3"},
		{"data subfolder", "{{ site.data.sub.thing.x }}", "deep"},
		{"data csv", "{{ site.data.items[0].name }}={{ site.data.items[0].size }}", "cup=2"},
		{"data hash loop in key order", "{% for kv in site.data.menu %}{{ kv[0] }}={{ kv[1] }};{% endfor %}", "a=first;z=last;"},
		{"page title as written", "{{ page.title }}", "Hello & <World>"},
		{"page url", "{{ page.url }}", "/news/2020/05/10/hello.html"},
		{"page date", "{{ page.date }}", "2020-05-10 00:00:00 +0000"},
		{"page id", "{{ page.id }}", "/news/2020/05/10/hello"},
		{"page slug", "{{ page.slug }}", "hello"},
		{"page path", "{{ page.path }}", "_posts/2020-05-10-hello.md"},
		{"page tags", `{{ page.tags | join: "," }}`, "go,liquid"},
		{"page categories", `{{ page.categories | join: "," }}`, "news"},
		{"front matter hash loop in key order", "{% for kv in page.custom %}{{ kv[0] }}={{ kv[1] }};{% endfor %}", "a=1;b=2;"},
		{"jekyll environment", "{{ jekyll.environment }}", "production"},
		{"assign and capture", "{% assign x = page.slug | upcase %}{% capture y %}[{{ x }}]{% endcapture %}{{ y }}", "[HELLO]"},
		{"undefined variable is empty", "a{{ page.nothing }}b", "ab"},
	})
}

func TestLiquidFilters(t *testing.T) {
	runLiquidCases(t, []liquidCase{
		{"date_to_string", "{{ page.date | date_to_string }}", "10 May 2020"},
		{"date_to_string ordinal", `{{ page.date | date_to_string: "ordinal" }}`, "10th May 2020"},
		{"date_to_string ordinal US", `{{ page.date | date_to_string: "ordinal", "US" }}`, "May 10th, 2020"},
		{"date_to_long_string", `{{ "2021-09-01" | date_to_long_string }}`, "01 September 2021"},
		{"date_to_long_string ordinal", `{{ "2021-09-01" | date_to_long_string: "ordinal" }}`, "1st September 2021"},
		{"date_to_xmlschema", "{{ page.date | date_to_xmlschema }}", "2020-05-10T00:00:00+00:00"},
		{"date_to_rfc822", "{{ page.date | date_to_rfc822 }}", "Sun, 10 May 2020 00:00:00 +0000"},
		{"date strftime", `{{ page.date | date: "%B %-d, %Y" }}`, "May 10, 2020"},
		{"date now is the newest post", `{{ "now" | date: "%Y-%m-%d" }}`, "2020-05-10"},
		{"date of a non-date", `{{ "soon" | date: "%Y" }}`, "soon"},
		{"xml_escape", `{{ page.title | xml_escape }} {{ '"q"' | xml_escape }}`, "Hello &amp; &lt;World&gt; &quot;q&quot;"},
		{"cgi_escape", `{{ "a b&c=d/é" | cgi_escape }}`, "a+b%26c%3Dd%2F%C3%A9"},
		{"uri_escape", `{{ "foo, bar \baz?" | uri_escape }} {{ "a%20b é" | uri_escape }}`, "foo,%20bar%20%5Cbaz? a%20b%20%C3%A9"},
		{"jsonify list", "{{ page.tags | jsonify }}", `["go","liquid"]`},
		{"jsonify hash", "{{ page.custom | jsonify }}", `{"a":1,"b":2}`},
		{"jsonify string", `{{ "<a & b>" | jsonify }}`, `"<a & b>"`},
		{"slugify", `{{ "The _config.yml file?" | slugify }}`, "the-config-yml-file"},
		{"slugify pretty", `{{ "The _config.yml file?" | slugify: "pretty" }}`, "the-_config.yml-file"},
		{"slugify raw", `{{ "The _config.yml  file" | slugify: "raw" }}`, "the-_config.yml-file"},
		{"slugify ascii", `{{ "Café niño" | slugify: "ascii" }}`, "caf-ni-o"},
		{"slugify latin", `{{ "The _cönfig.yml file" | slugify: "latin" }}`, "the-config-yml-file"},
		{"relative_url", `{{ "/assets/x.png" | relative_url }} {{ "x.png" | relative_url }}`, "/blog/assets/x.png /blog/x.png"},
		{"absolute_url", `{{ "/assets/x.png" | absolute_url }}`, "https://example.com/blog/assets/x.png"},
		{"absolute_url of an absolute URL", `{{ "https://other.org/x" | absolute_url }}`, "https://other.org/x"},
		{"markdownify", `{{ "*hi*" | markdownify }}`, "<p><em>hi</em></p>\n"},
		{"smartify", `{{ "it's" | smartify }}`, "it's"},
		{"number_of_words", `{{ "one two   three" | number_of_words }}`, "3"},
		{"number_of_words cjk", `{{ "日本語 text" | number_of_words: "cjk" }}`, "4"},
		{"array_to_sentence_string two", "{{ page.tags | array_to_sentence_string }}", "go and liquid"},
		{"array_to_sentence_string three", `{{ "a,b,c" | split: "," | array_to_sentence_string }}`, "a, b, and c"},
		{"array_to_sentence_string connector", `{{ "a,b" | split: "," | array_to_sentence_string: "or" }}`, "a or b"},
		{"where", `{{ site.posts | where: "slug", "in-sub" | map: "title" | join: "," }}`, "In sub"},
		{"where in a list", `{{ site.posts | where: "tags", "go" | size }}`, "2"},
		{"where_exp", `{{ site.posts | where_exp: "p", "p.slug contains 'post'" | size }}`, "2"},
		{"group_by", `{% assign g = site.posts | group_by: "collection" %}{{ g[0].name }} {{ g[0].size }}`, "posts 4"},
		{"normalize_whitespace", "{{ \" a \t\t b  \" | normalize_whitespace }}", "a b"},
		{"to_integer", `{{ "42abc" | to_integer | plus: 1 }}`, "43"},
		{"push pop shift unshift", `{% assign a = "b,c" | split: "," | push: "d" | unshift: "a" %}{{ a | join: "" }} {{ a | pop | join: "" }} {{ a | shift: 2 | join: "" }}`, "abcd abc cd"},
		{"standard filters still work", `{{ "x" | upcase | append: "y" }}`, "Xy"},
	})
}

func TestLiquidTags(t *testing.T) {
	runLiquidCases(t, []liquidCase{
		{"highlight", "{% highlight go linenos %}\nx := a < b && c\n\n\"q\"\n{% endhighlight %}",
			"<pre><code class=\"language-go\" data-lang=\"go\">x := a &lt; b &amp;&amp; c\n\n\"q\"</code></pre>"},
		{"highlight on its own lines", "See: {% highlight go %}a{% endhighlight %} after",
			"See: \n<pre><code class=\"language-go\" data-lang=\"go\">a</code></pre>\n after"},
		{"highlight language with plus", "{% highlight html+erb %}x{% endhighlight %}",
			"<pre><code class=\"language-html-erb\" data-lang=\"html+erb\">x</code></pre>"},
		{"highlight evaluates Liquid inside", "{% highlight text %}{{ page.slug }}{% raw %}{{ x }}{% endraw %}{% endhighlight %}",
			"<pre><code class=\"language-text\" data-lang=\"text\">hello{{ x }}</code></pre>"},
		{"raw", "{% raw %}{{ x }} {% if %}{% endraw %}", "{{ x }} {% if %}"},
		{"comment", "a{% comment %}{% youtube x %}{% endcomment %}b", "ab"},
		{"post_url", "{% post_url 2019-01-02-older-post %}", "/blog/2019/01/02/older-post.html"},
		{"post_url in a subfolder", "{% post_url sub/2018-03-04-in-sub %}", "/blog/2018/03/04/in-sub.html"},
		{"post_url in a category folder", "{% post_url news/2017-01-01-cat-post %}", "/blog/news/2017/01/01/cat-post.html"},
		{"post_url without the subfolder", "{% post_url 2018-03-04-in-sub %}", "/blog/2018/03/04/in-sub.html"},
		{"link to a post", "{% link _posts/2019-01-02-older-post.md %}", "/blog/2019/01/02/older-post.html"},
		{"link to a page", "{% link about.md %}", "/blog/about.html"},
		{"link to a static file", "{% link assets/img.png %}", "/blog/assets/img.png"},
		{"link to a collection document", "{% link _docs/guide.md %}", "/blog/docs/guide.html"},
		{"link with a variable", "{% link _posts/{{ '2019-01-02-older-post' }}.md %}", "/blog/2019/01/02/older-post.html"},
		{"include", "{% include greet.html %}", "Hello "},
		{"include with parameters in order", `{% include greet.html name="Ann" b='it\'s' c=page.slug %}`, "Hello Ann[name=Ann][b=it's][c=hello]"},
		{"include with a variable file name", "{% include {{ page.inc }} name=x %}", "Hello [name=]"},
		{"nested include", "{% include nested.html %}", "<Hello hello[name=hello]>"},
		{"include_relative", "{% include_relative snippet.txt %}", "snippet hello"},
	})
}

func TestLiquidWarnings(t *testing.T) {
	s, p := liquidTestSite(t)
	bodyLine := p.bodyLine // the file line of the body's first line
	tests := []struct {
		name     string
		body     string
		want     string
		wantLine int // body line of the warning
		wantMsg  string
	}{
		{"plugin tag", "a\n\n{% youtube abc %} {{ page.slug }}", "a\n\n{% youtube abc %} hello", 3, `"youtube" comes from the Ruby plugin _plugins/youtube.rb`},
		{"unknown tag", "{% nosuch x %}{{ page.slug }}", "{% nosuch x %}hello", 1, `unknown Liquid tag "nosuch"`},
		{"unknown block", "{% myblock %}\n{{ page.slug }}\n{% endmyblock %}", "{% myblock %}\nhello\n{% endmyblock %}", 1, `unknown Liquid tag "myblock"`},
		{"object that does not parse", "{{ page.slug }}\n{{ .Title }}", "hello\n{{ .Title }}", 2, "syntax error"},
		{"undefined filter", "{{ page.slug }}\n{{ page.slug | nosuch }} {{ page.slug }}", "hello\n{{ page.slug | nosuch }} hello", 2, `undefined filter "nosuch"`},
		{"unterminated block", "{{ page.slug }}\n{% if true %}x", "hello\n{% if true %}x", 2, "unterminated"},
		{"stray end tag", "{% endif %}{{ page.slug }}", "{% endif %}hello", 1, "endif"},
		{"block whose expression fails keeps its else and end",
			"{% for x in page.tags | nosuch %}a{% else %}b{% endfor %}{{ page.slug }}",
			"{% for x in page.tags | nosuch %}a{% else %}b{% endfor %}hello", 1, `undefined filter "nosuch"`},
		{"break outside a loop", "{{ page.slug }}{% break %}", "hello{% break %}", 1, "break"},
		{"missing post", "{% post_url 2001-01-01-nope %}", "{% post_url 2001-01-01-nope %}", 1, `post_url: no post "2001-01-01-nope"`},
		{"missing link target", "{% link docs/missing.md %}", "/blog/docs/missing.html", 1, "link: no file docs/missing.md"},
		{"missing include", "x\n{% include nope.html %}", "x\n{% include nope.html %}", 2, "no file _includes/nope.html"},
		{"include outside the site", "{% include ../../etc/passwd %}", "{% include ../../etc/passwd %}", 1, "not a file name"},
		{"recursive include", "{% include self.html %}", "{% include self.html %}", 1, "nested 16 deep"},
		{"include with bad parameters", "{% include greet.html name %}", "{% include greet.html name %}", 1, "cannot read the parameters"},
		{"plugin tag inside an include", "\n{% include plugin.html %}", "\na\n{% youtube abc %} b", 2, `"youtube" comes from the Ruby plugin _plugins/youtube.rb, which Herald cannot run; left as text (at _includes/plugin.html:2)`},
		{"include that fails to render", "{% include badfilter.html %}", "{% include badfilter.html %}", 1, `undefined filter "no_such_filter" (at _includes/badfilter.html:1)`},
		{"highlight without a language", "{% highlight %}x{% endhighlight %}", "<pre><code>x</code></pre>", 1, "highlight needs a language"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, warns, _ := s.render.liquid.render(t.Context(), p, []byte(tc.body))
			if string(got) != tc.want {
				t.Errorf("render(%q) = %q, want %q", tc.body, got, tc.want)
			}
			if len(warns) != 1 {
				t.Fatalf("render(%q) warned %v, want one warning", tc.body, warns)
			}
			w := warns[0]
			if w.File != p.Path || w.Line != bodyLine+tc.wantLine-1 || !strings.Contains(w.Msg, tc.wantMsg) {
				t.Errorf("warning = %q, want %s:%d: ...%s...", w, p.Path, bodyLine+tc.wantLine-1, tc.wantMsg)
			}
		})
	}
}

// TestLiquidGivesUp checks that a post with more failing tags than Herald tries to work around is left as
// it is, with a warning that says so.
func TestLiquidGivesUp(t *testing.T) {
	s, p := liquidTestSite(t)
	body := strings.Repeat("{{ page.slug | nosuch }}\n", maxLiquidTries+10)
	got, warns, _ := s.render.liquid.render(t.Context(), p, []byte(body))
	if string(got) != body {
		t.Errorf("got %q, want the body as it is", got)
	}
	if len(warns) == 0 || !strings.HasSuffix(warns[len(warns)-1].Msg, "the post's Liquid is left unevaluated") {
		t.Errorf("warnings %v, want the last to say the Liquid is left unevaluated", warns)
	}
}

func TestLiquidFastPath(t *testing.T) {
	s, p := liquidTestSite(t)
	for _, body := range []string{"", "plain text", "{ not liquid } %} }}", "{\n{ %\n"} {
		t.Run(body, func(t *testing.T) {
			in := []byte(body)
			got, warns, _ := s.render.liquid.render(t.Context(), p, in)
			if len(warns) > 0 {
				t.Errorf("warned %v, want none", warns)
			}
			if string(got) != body || len(in) > 0 && &got[0] != &in[0] {
				t.Errorf("got %q (a copy?), want the body itself", got)
			}
		})
	}
}

// TestLiquidHighlightMarkdown checks that highlighted code goes through Markdown as it is: blank lines, things
// that look like Markdown and all.
func TestLiquidHighlightMarkdown(t *testing.T) {
	s, p := liquidTestSite(t)
	body := "Intro:\n{% highlight md %}\n# not a heading\n\n*not emphasis*   <b>\n\n\n    indented\n{% endhighlight %}\nAfter *this*.\n"
	out, warns, _ := s.render.liquid.render(t.Context(), p, []byte(body))
	if len(warns) > 0 {
		t.Fatalf("warned %v", warns)
	}
	var buf bytes.Buffer
	if err := newMarkdown().Convert(out, &buf); err != nil {
		t.Fatal(err)
	}
	want := "<p>Intro:</p>\n<pre><code class=\"language-md\" data-lang=\"md\"># not a heading\n\n*not emphasis*   &lt;b&gt;\n\n\n    indented</code></pre>\n<p>After <em>this</em>.</p>\n"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLiquidSiteDataWarning(t *testing.T) {
	s, _ := liquidTestSite(t)
	for _, w := range s.Warnings {
		if w.File == "_data/broken.yml" && strings.Contains(w.Msg, "site.data leaves it out") {
			return
		}
	}
	t.Errorf("site warnings %v, want one about _data/broken.yml", s.Warnings)
}

// TestLiquidConcurrent renders one post from many goroutines (run with -race) and wants the same output each
// time.
func TestLiquidConcurrent(t *testing.T) {
	s, p := liquidTestSite(t)
	body := []byte("{% include nested.html %} {% for kv in site.data.menu %}{{ kv[0] }}{% endfor %} {% youtube x %} {{ site.posts | jsonify }}")
	want, wantWarns, _ := s.render.liquid.render(t.Context(), p, body)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10 {
				got, warns, _ := s.render.liquid.render(t.Context(), p, body)
				if !bytes.Equal(got, want) || fmt.Sprint(warns) != fmt.Sprint(wantWarns) {
					t.Errorf("got %q %v, want %q %v", got, warns, want, wantWarns)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestLiquidFixtures renders every post of the Jekyll fixtures and checks what Jekyll's own output shows.
func TestLiquidFixtures(t *testing.T) {
	tests := []struct {
		site      string
		contains  map[string][]string // post path → texts its HTML holds
		wantWarns []string
	}{
		{
			site: "jekyll-edge",
			contains: map[string][]string{
				"_posts/2008-12-13-include.markdown": {"<p>Tom Preston-Werner\ngithub.com/mojombo</p>"},
				"_posts/2013-12-17-include-variable-filters.markdown": {
					"1 included", "2 included", "3 included", "4 included", "5 included", "6 included", "8 included",
					"<span id='include-param'></span>", "var1 = foo", "var2 = bar",
				},
				"_posts/2014-09-02-relative-includes.markdown": {
					"1 relative_included", "3 relative_included", "6 relative_included", "8 relative_included",
					"var1 = foo", "title: Test Post Where YAML Ends in Dots",
				},
				"_posts/es/2008-11-21-nested.markdown": {"url: /2008/11/21/nested.html\ndate: 2008-11-21 00:00:00 +0000\nid: /2008/11/21/nested"},
				"_posts/2018-01-28-closed-liquid-block-excerpt.markdown": {
					"<pre><code class=\"language-ruby\" data-lang=\"ruby\">def print_hi(name)\n  puts \"Hi, #{name}\"\nend\nprint_hi('Tom')\n#=&gt; prints 'Hi, Tom' to STDOUT.</code></pre>\n<p>So let’s talk business.</p>",
				},
				"_posts/2018-01-28-open-liquid-block-excerpt.markdown": {"end\n\nprint_hi('Tom')"},
				"_posts/2018-11-15-excerpt-liquid-block.md":            {"{% do_nothing_other %}", "EVIL! PURE AND SIMPLE"},
			},
			wantWarns: []string{
				`_posts/2018-11-15-excerpt-liquid-block.md:7: Liquid tag "do_nothing_other" comes from the Ruby plugin _plugins/custom_block.rb, which Herald cannot run; left as text`,
				`_posts/2018-11-15-excerpt-liquid-block.md:8: Liquid tag "do_nothing" comes from the Ruby plugin _plugins/custom_block.rb, which Herald cannot run; left as text`,
			},
		},
		{
			site: "jekyll-docs",
			contains: map[string][]string{
				"_posts/2017-03-09-jekyll-3-4-2-released.markdown":            {`href="https://jekyllrb.com/news/2017/03/02/jekyll-3-4-1-released/"`},
				"_posts/2014-05-06-jekyll-turns-2-0-0.markdown":               {`href="https://jekyllrb.com/news/2013/05/05/jekyll-1-0-0-released/"`, `href="https://jekyllrb.com/docs/assets/"`},
				"_posts/2023-01-29-jekyll-3-9-3-released.markdown":            {`href="https://jekyllrb.com/docs/history.html#v3-9-3"`},
				"_posts/2014-03-27-jekyll-1-5-1-released.markdown":            {"<pre><code class=\"language-ruby\" data-lang=\"ruby\">&gt; sanitized_path("},
				"_posts/2019-03-18-jekyll-4-0-0-pre-alpha1-released.markdown": {"<code>{{ site.baseurl }}</code>", "<code>{% highlight %}</code>"},
			},
			wantWarns: []string{
				"_posts/2023-01-29-jekyll-3-9-3-released.markdown:13: link: no file _docs/history.md in the site; linked to /docs/history.html, where Jekyll would put it",
				"_posts/2023-12-28-jekyll-3-9-4-released.markdown:12: link: no file _docs/history.md in the site; linked to /docs/history.html, where Jekyll would put it",
				"_posts/2024-06-23-jekyll-3-10-0-released.markdown:14: link: no file _docs/history.md in the site; linked to /docs/history.html, where Jekyll would put it",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.site, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "fixtures", tc.site)
			s, err := Load(t.Context(), Options{Dir: dir, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			warns, err := s.Render(t.Context(), s.Posts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range warns {
				got = append(got, w.String())
			}
			slices.Sort(got)
			if strings.Join(got, "\n") != strings.Join(tc.wantWarns, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantWarns, "\n"))
			}
			byPath := map[string]*Post{}
			for _, p := range s.Posts {
				byPath[p.Path] = p
				if strings.Contains(p.ContentHTML, "\x00") {
					t.Errorf("%s: a block marker is left in the HTML", p.Path)
				}
			}
			for path, wants := range tc.contains {
				p := byPath[path]
				if p == nil {
					t.Errorf("no post %s", path)
					continue
				}
				for _, want := range wants {
					if !strings.Contains(p.ContentHTML, want) {
						t.Errorf("%s: HTML does not hold %q:\n%s", path, want, p.ContentHTML)
					}
				}
			}
			if p := byPath["_posts/2018-05-15-closed-liquid-block-excerpt-whitespace-control.md"]; p != nil {
				if got, want := strings.Count(p.ContentHTML, "You are in a maze"), len(s.Posts); got != want {
					t.Errorf("{%% for post in site.posts %%} ran %d times, want %d (one per post)", got, want)
				}
			}
			if p := byPath["_posts/2018-11-15-excerpt-liquid-block.md"]; p != nil {
				if got := strings.Count(p.ContentHTML, "EVIL!"); got != 10 {
					t.Errorf("the loop of excerpt-liquid-block ran %d times, want 10", got)
				}
			}
		})
	}
}

// TestLiquidSeesVisiblePosts: a scheduled post shows through neither site.posts, site.categories, site.time
// nor post_url in a published post, until it is published itself (or --future).
func TestLiquidSeesVisiblePosts(t *testing.T) {
	dir := makeSite(t, map[string]string{
		"_config.yml":               "url: https://ex.org\n",
		"_posts/2024-01-01-a.md":    "---\ntitle: Alpha\n---\nx\n",
		"A/_posts/2099-01-01-b.md":  "---\ntitle: Secret\n---\nx\n",
		"_posts/2024-01-04-list.md": "---\ntitle: List\n---\n{% for p in site.posts %}[{{ p.title }}]{% endfor %} {{ site.time | date: \"%F\" }} [{{ site.categories.A.first.title }}] {% post_url A/2099-01-01-b %}\n",
	})
	tests := []struct {
		name  string
		opts  Options
		want  string
		warns int
	}{
		{"scheduled post hidden", Options{Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
			"<p>[List][Alpha] 2024-01-04 [] {% post_url A/2099-01-01-b %}</p>\n", 1},
		{"future", Options{Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Future: true},
			"<p>[Secret][List][Alpha] 2099-01-01 [Secret] /a/2099/01/01/b.html</p>\n", 0},
		{"after its date", Options{Now: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)},
			"<p>[Secret][List][Alpha] 2099-01-01 [Secret] /a/2099/01/01/b.html</p>\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Dir = dir
			s, err := Load(t.Context(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			list := postByPath(s, "_posts/2024-01-04-list.md")
			warns, err := s.Render(t.Context(), []*Post{list})
			if err != nil {
				t.Fatal(err)
			}
			if list.ContentHTML != tt.want {
				t.Errorf("got %q, want %q", list.ContentHTML, tt.want)
			}
			if len(warns) != tt.warns {
				t.Errorf("got warnings %v, want %d", warns, tt.warns)
			}
		})
	}
}
