package feedcheck

import (
	"strings"
	"testing"
	"time"
)

const cleanRSS = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Notes &#x26; more</title>
    <link>https://example.org/</link>
    <description>A blog</description>
    <language>en</language>
    <lastBuildDate>Wed, 01 May 2024 00:00:00 +0000</lastBuildDate>
    <atom:link href="https://example.org/feed.xml" rel="self" type="application/rss+xml"></atom:link>
    <item>
      <title>AT&#x26;T &#x3C;3</title>
      <link>https://example.org/a.html</link>
      <description><![CDATA[<p>Hello <a href="https://example.org/b">b</a> <img src="https://example.org/i.png" alt=""></p>]]></description>
      <content:encoded><![CDATA[<p class="x" style="color: red; margin: 0 auto">Hello</p>]]></content:encoded>
      <author>jane@example.org (Jane Doe)</author>
      <pubDate>Wed, 01 May 2024 00:00:00 +0000</pubDate>
      <guid isPermaLink="false">tag:example.org,2024-05-01:a</guid>
      <category>Go</category>
      <dc:creator>Bob</dc:creator>
    </item>
  </channel>
</rss>
`

const cleanAtom = `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB">
  <title>Notes</title>
  <id>https://example.org/atom.xml</id>
  <updated>2024-05-01T00:00:00Z</updated>
  <link href="https://example.org/atom.xml" rel="self" type="application/atom+xml"></link>
  <link href="https://example.org/" rel="alternate" type="text/html"></link>
  <author><name>Jane</name></author>
  <entry>
    <title>A &amp; B</title>
    <id>tag:example.org,2024-05-01:a%2541</id>
    <updated>2024-05-01T00:00:00Z</updated>
    <published>2024-05-01T00:00:00+02:00</published>
    <link href="https://example.org/a.html" rel="alternate" type="text/html"></link>
    <summary type="html"><![CDATA[<p>Hi</p>]]></summary>
    <content type="html"><![CDATA[<p>Hi <a href="https://example.org/">home</a></p>]]></content>
  </entry>
</feed>
`

var now = time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)

// TestClean: documents that follow every rule give no problem (the Atom id's "%2541" is the case the
// validator's canonical form gets wrong).
func TestClean(t *testing.T) {
	for name, doc := range map[string]string{"rss": cleanRSS, "atom": cleanAtom} {
		loc := "https://example.org/feed.xml"
		if name == "atom" {
			loc = "https://example.org/atom.xml"
		}
		ps, err := Check([]byte(doc), Options{Location: loc, Now: now})
		if err != nil || len(ps) != 0 {
			t.Errorf("%s: got %v, %v; want no problem", name, ps, err)
		}
	}
}

// TestEachCheck breaks a clean document in one way each and expects the validator's message for it.
func TestEachCheck(t *testing.T) {
	for _, tt := range []struct {
		name, doc, old, new, want string
	}{
		{"content before description", cleanRSS, `<description><![CDATA[<p>Hello <a href="https://example.org/b">b</a> <img src="https://example.org/i.png" alt=""></p>]]></description>
      <content:encoded><![CDATA[<p class="x" style="color: red; margin: 0 auto">Hello</p>]]></content:encoded>`,
			`<content:encoded><![CDATA[<p>Hello</p>]]></content:encoded><description>x</description>`, "NeedDescriptionBeforeContent"},
		{"content without description", cleanRSS, `<description><![CDATA[<p>Hello <a href="https://example.org/b">b</a> <img src="https://example.org/i.png" alt=""></p>]]></description>`, "", "NeedDescriptionBeforeContent"},
		{"no channel description", cleanRSS, "<description>A blog</description>", "", "MissingElement"},
		{"no item title or description", cleanRSS, `<title>AT&#x26;T &#x3C;3</title>
      <link>https://example.org/a.html</link>
      <description><![CDATA[<p>Hello <a href="https://example.org/b">b</a> <img src="https://example.org/i.png" alt=""></p>]]></description>`,
			"<link>https://example.org/a.html</link>", "ItemMustContainTitleOrDescription"},
		{"bad pubDate", cleanRSS, "<pubDate>Wed, 01 May 2024 00:00:00 +0000</pubDate>", "<pubDate>2024-05-01T00:00:00Z</pubDate>", "InvalidRFC2822Date"},
		{"loose pubDate", cleanRSS, "<pubDate>Wed, 01 May 2024 00:00:00 +0000</pubDate>", "<pubDate>wed, 1 may 2024 00:00 +0000</pubDate>", "ProblematicalRFC822Date"},
		{"wrong day of week", cleanRSS, "<pubDate>Wed, 01 May 2024", "<pubDate>Thu, 01 May 2024", "IncorrectDOW"},
		{"future pubDate", cleanRSS, "<pubDate>Wed, 01 May 2024", "<pubDate>Thu, 01 May 2031", "ImplausibleDate"},
		{"old pubDate", cleanRSS, "<pubDate>Wed, 01 May 2024", "<pubDate>Mon, 01 May 1989", "ImplausibleDate"},
		{"no guid", cleanRSS, `<guid isPermaLink="false">tag:example.org,2024-05-01:a</guid>`, "", "MissingGuid"},
		{"tag guid as permalink", cleanRSS, `<guid isPermaLink="false">`, `<guid>`, "InvalidPermalink"},
		{"relative permalink guid", cleanRSS, `<guid isPermaLink="false">tag:example.org,2024-05-01:a</guid>`, `<guid>/a.html</guid>`, "InvalidHttpGUID"},
		{"short guid", cleanRSS, `tag:example.org,2024-05-01:a</guid>`, `42</guid>`, "NotSufficientlyUnique"},
		{"bad tag guid", cleanRSS, `tag:example.org,2024-05-01:a</guid>`, `tag:example.org:a</guid>`, "InvalidTAG"},
		{"duplicate guid", cleanRSS, "</item>", "</item><item><title>b</title><guid isPermaLink=\"false\">tag:example.org,2024-05-01:a</guid></item>", "DuplicateValue"},
		{"script", cleanRSS, "<p>Hello <a", "<script>alert(1)</script><p>Hello <a", "SecurityRisk"},
		{"iframe", cleanRSS, "<p>Hello <a", `<iframe src="https://www.youtube.com/embed/x"></iframe><p>Hello <a`, "SecurityRisk"},
		{"object", cleanRSS, "<p>Hello <a", `<object data="x.swf"></object><p>Hello <a`, "SecurityRisk"},
		{"embed", cleanRSS, "<p>Hello <a", `<embed src="x.swf"><p>Hello <a`, "SecurityRisk"},
		{"event handler", cleanRSS, `<p class="x"`, `<p onclick="alert(1)"`, "SecurityRiskAttr"},
		{"risky style", cleanRSS, `color: red; margin: 0 auto`, `position: absolute; top: 0`, "DangerousStyleAttr"},
		{"style url", cleanRSS, `color: red; margin: 0 auto`, `background: url(javascript:alert(1))`, "DangerousStyleAttr"},
		{"unknown tag", cleanRSS, "<p>Hello <a", "<blink>x</blink><p>Hello <a", "NotHtml"},
		{"relative link", cleanRSS, `<a href="https://example.org/b">`, `<a href="/b">`, "ContainsRelRef"},
		{"fragment link", cleanRSS, `<a href="https://example.org/b">`, `<a href="#fn:1">`, "ContainsRelRef"},
		{"relative image", cleanRSS, `<img src="https://example.org/i.png"`, `<img src="i.png"`, "ContainsRelRef"},
		{"named entity in title", cleanRSS, "<title>AT&#x26;T &#x3C;3</title>", "<title>AT&amp;T</title>", "CharacterData"},
		{"lt in title", cleanRSS, "<title>AT&#x26;T &#x3C;3</title>", "<title>a &lt; b</title>", "CharacterData"},
		{"CDATA title", cleanRSS, "<title>AT&#x26;T &#x3C;3</title>", "<title><![CDATA[AT&T]]></title>", "CharacterData"},
		{"HTML in title", cleanRSS, "<title>AT&#x26;T &#x3C;3</title>", "<title>&#x3C;b&#x3E;x&#x3C;/b&#x3E;</title>", "ContainsHTML"},
		{"double-escaped category", cleanRSS, "<category>Go</category>", "<category>AT&#x26;amp;T</category>", "ContainsHTML"},
		{"author without name", cleanRSS, "jane@example.org (Jane Doe)", "jane@example.org", "MissingRealName"},
		{"author name first", cleanRSS, "jane@example.org (Jane Doe)", "Jane Doe jane@example.org", "EmailFormat"},
		{"author without address", cleanRSS, "jane@example.org (Jane Doe)", "Jane Doe", "InvalidContact"},
		{"no self link", cleanRSS, `<atom:link href="https://example.org/feed.xml" rel="self" type="application/rss+xml"></atom:link>`, "", "MissingAtomSelfLink"},
		{"self elsewhere", cleanRSS, `href="https://example.org/feed.xml"`, `href="https://example.org/rss.xml"`, "SelfDoesntMatchLocation"},
		{"relative item link", cleanRSS, "<link>https://example.org/a.html</link>", "<link>/a.html</link>", "InvalidFullLink"},
		{"two titles", cleanRSS, "<title>AT&#x26;T &#x3C;3</title>", "<title>a</title><title>b</title>", "DuplicateElement"},
		{"enclosure", cleanRSS, "</item>", `<enclosure url="/a.mp3" length="-2" type="audio"></enclosure></item>`, "InvalidURLAttribute"},

		{"C1 control character", cleanRSS, "<category>Go</category>", "<category>Caf\u0082</category>", "BadCharacters"},
		{"replacement character", cleanAtom, "<title>A &amp; B</title>", "<title>A \ufffd B</title>", "BadCharacters"},
		{"bad language", cleanRSS, "<description>A blog</description>", "<description>A blog</description><language>english</language>", "InvalidLanguage"},
		{"atom: bad xml:lang", cleanAtom, "<entry>", `<entry xml:lang="en_US">`, "InvalidLanguage"},
		{"atom: id with white space", cleanAtom, "<id>tag:example.org,2024-05-01:a%2541</id>", "<id> tag:example.org,2024-05-01:a </id>", "UnexpectedWhitespace"},
		{"atom: no content or summary", cleanAtom, `<summary type="html"><![CDATA[<p>Hi</p>]]></summary>
    <content type="html"><![CDATA[<p>Hi <a href="https://example.org/">home</a></p>]]></content>`, "", "MissingTextualContent"},
		{"atom: no self link", cleanAtom, `<link href="https://example.org/atom.xml" rel="self" type="application/atom+xml"></link>`, "", "MissingSelf"},
		{"atom: no id", cleanAtom, "<id>tag:example.org,2024-05-01:a%2541</id>", "", "MissingElement"},
		{"atom: no author", cleanAtom, "<author><name>Jane</name></author>", "", "MissingElement"},
		{"atom: duplicate id", cleanAtom, "</entry>", "</entry><entry><title>b</title><id>tag:example.org,2024-05-01:a%2541</id><updated>2024-05-01T00:00:00Z</updated><summary>b</summary></entry>", "DuplicateEntries"},
		{"atom: non-canonical id", cleanAtom, "<id>tag:example.org,2024-05-01:a%2541</id>", "<id>HTTP://Example.org:80/a%7e</id>", "NonCanonicalURI"},
		{"atom: lower-case escape", cleanAtom, "<id>tag:example.org,2024-05-01:a%2541</id>", "<id>https://example.org/a%2f</id>", "NonCanonicalURI"},
		{"atom: date", cleanAtom, "<updated>2024-05-01T00:00:00Z</updated>\n    <published>", "<updated>2024-05-01</updated>\n    <published>", "InvalidRFC3339Date"},
		{"atom: iframe", cleanAtom, "<p>Hi <a", `<iframe src="https://player.vimeo.com/video/1"></iframe><p>Hi <a`, "SecurityRisk"},
		{"atom: relative link", cleanAtom, `<a href="https://example.org/">`, `<a href="#">`, "ContainsRelRef"},
		{"atom: HTML in text title", cleanAtom, "<title>A &amp; B</title>", "<title>&lt;em&gt;A&lt;/em&gt;</title>", "ContainsUndeclaredHTML"},
		{"atom: blank title", cleanAtom, "<title>A &amp; B</title>", "<title></title>", "NotBlank"},
		{"atom: two alternates", cleanAtom, `<link href="https://example.org/a.html" rel="alternate" type="text/html"></link>`, `<link href="https://example.org/a.html" rel="alternate" type="text/html"></link><link href="https://example.org/b.html" type="text/html"></link>`, "DuplicateAtomLink"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.doc, tt.old) {
				t.Fatalf("the clean document lacks %q", tt.old)
			}
			doc := strings.Replace(tt.doc, tt.old, tt.new, 1)
			loc := "https://example.org/feed.xml"
			if tt.doc == cleanAtom {
				loc = "https://example.org/atom.xml"
			}
			ps, err := Check([]byte(doc), Options{Location: loc, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.Message == tt.want {
					return
				}
			}
			t.Errorf("got %v, want a %s", ps, tt.want)
		})
	}
}

func TestNotAFeed(t *testing.T) {
	for _, doc := range []string{"<html></html>", "<rss><channel>", "not xml"} {
		if _, err := Check([]byte(doc), Options{}); err == nil {
			t.Errorf("%q: got no error", doc)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://example.org/a", "https://example.org/a"},
		{"HTTPS://Example.ORG:443", "https://example.org/"},
		{"http://example.org:8080/a/./b/../c", "http://example.org:8080/a/c"},
		{"https://example.org/%7euser/%2fx", "https://example.org/~user/%2Fx"},
		{"https://example.org/caf\u00e9", "https://example.org/caf%C3%A9"},
		{"https://example.org/100%2541", "https://example.org/100%2541"}, // the validator says ".../100A"
		{"tag:example.org,2024-05-01:a/b", "tag:example.org,2024-05-01:a/b"},
		{"https://example.org/a?b=%7e#c%2a", "https://example.org/a?b=~#c%2A"},
	} {
		if got, ok := canonical(tt.in); !ok || got != tt.want {
			t.Errorf("canonical(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	if _, ok := canonical("/relative"); ok {
		t.Error("a relative reference has a canonical form")
	}
}
