package mailer

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/posts"
)

// TestPreviewLine: what an inbox shows after the subject is the preheader, the post's summary (a digest:
// its other posts' titles), not a greeting or a URL. The greeting is there only when asked for.
func TestPreviewLine(t *testing.T) {
	for _, greeting := range []bool{false, true} {
		o := testOptions()
		o.Greeting = greeting
		c := newTestComposer(t, o)
		post, err := c.Post(testRecipient(), testPosts()[0], "k", sendDate)
		if err != nil {
			t.Fatal(err)
		}
		digest, err := c.Digest(testRecipient(), testPosts(), "d", sendDate)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name      string
			m         *Message
			preheader string
			firstLine string
		}{
			{"post", post, "What I learned at Failover Conf.", "Failover & recovery: “notes”"},
			{"digest", digest, "Also: Second post · Third post", "3 new posts on Example Weblog:"},
		} {
			p := parse(t, messageBytes(t, tt.m))
			// The preheader is the first text of the body, in a hidden element.
			body := p.html[strings.Index(p.html, "<body"):]
			first := body[strings.Index(body, ">")+1:]
			want := `<div class="preheader" style="display:none;max-height:0;overflow:hidden;mso-hide:all">` + tt.preheader
			if !strings.HasPrefix(strings.TrimSpace(first), want) {
				t.Errorf("%s: the body starts %.200q, want %q", tt.name, first, want)
			}
			lines := strings.SplitN(strings.ReplaceAll(p.text, "\r\n", "\n"), "\n", 3)
			wantFirst := tt.firstLine
			if greeting {
				wantFirst = "Hi Ann Smith,"
				if !strings.Contains(p.html, `<div class="greeting"`) {
					t.Errorf("%s: the HTML part has no greeting", tt.name)
				}
			} else if strings.Contains(p.html, `class="greeting"`) || strings.Contains(p.text, "Hi Ann") {
				t.Errorf("%s: a greeting without Options.Greeting", tt.name)
			}
			if lines[0] != wantFirst {
				t.Errorf("%s, greeting %v: the text part starts %q, want %q", tt.name, greeting, lines[0], wantFirst)
			}
			if strings.Contains(lines[0]+lines[1], "https://") {
				t.Errorf("%s: a URL in the text part's first lines: %q", tt.name, lines[:2])
			}
		}
	}
}

// TestSummaryWithoutGreeting: a summary that is a greeting alone gives way to the post's first
// paragraph that is not one, in a digest and in the preview line.
func TestSummaryWithoutGreeting(t *testing.T) {
	tests := []struct {
		name        string
		summaryHTML string
		content     string
		want        string
	}{
		{"greeting only", "<p>Hello Jekyllers!</p>", "<p>Hello Jekyllers!</p>\n<p>Jekyll 4.2.2 has been released.</p>\n<p>More.</p>", "<p>Jekyll 4.2.2 has been released.</p>"},
		{"greeting then text", "<p>Hi everyone,</p>\n<p>A <em>small</em> release.</p>", "", "<p>A <em>small</em> release.</p>"},
		{"good morning", "<p>Good morning, friends!</p>", "<p>Good morning, friends!</p><p>News.</p>", "<p>News.</p>"},
		{"a heading after the greeting", "<p>Hey folks!</p>", "<p>Hey folks!</p><h2>Release</h2><p>News.</p>", "<p>News.</p>"},
		{"no greeting", "<p>Hello world programs in 40 languages, compared.</p>", "", "<p>Hello world programs in 40 languages, compared.</p>"},
		{"a question", "<p>Hello, anyone?</p>", "", "<p>Hello, anyone?</p>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &posts.Post{SummaryHTML: tt.summaryHTML, ContentHTML: tt.content}
			if got := summaryHTML(p); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	// In a digest, and its preview line.
	ps := testPosts()
	ps[1].SummaryHTML, ps[1].Summary = "<p>Hello Jekyllers!</p>", "Hello Jekyllers!"
	ps[1].ContentHTML = "<p>Hello Jekyllers!</p>\n<p>Jekyll 4.2.2 has been released.</p>"
	c := newTestComposer(t, testOptions())
	m, err := c.Digest(testRecipient(), ps[1:], "d", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.Text, "Jekyllers") || !strings.Contains(m.Text, "Jekyll 4.2.2 has been released.") {
		t.Errorf("the digest's text part:\n%s", m.Text)
	}
	if strings.Contains(m.HTML, "Jekyllers") || !strings.Contains(m.HTML, "Jekyll 4.2.2 has been released.") {
		t.Errorf("the digest's HTML part shows the greeting or not the summary")
	}
	if pp, _ := c.PreparePost(ps[1]); pp.data.Preheader != "Jekyll 4.2.2 has been released." {
		t.Errorf("the post's preheader is %q", pp.data.Preheader)
	}
}

// TestDigestEntries: each entry of a digest has its title and date, its image when the post has one,
// with the title as its alt text, a summary, and a styled link to the post.
func TestDigestEntries(t *testing.T) {
	c := newTestComposer(t, testOptions())
	m, err := c.Digest(testRecipient(), testPosts(), "d", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<img class="hero" src="https://blog.example.com/img/failover.png" alt="Failover &amp; recovery: “notes”" width="536"`,
		`>10 January 2025</div>`,
		`Plain summary only.`,
		`<div class="more" style="padding:0 0 24px 0"><a href="https://blog.example.com/2025/01/10/second.html" style="color:#1f6feb;font-weight:bold;text-decoration:none">Read the post →</a></div>`,
	} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("the digest lacks %s", want)
		}
	}
	if n := strings.Count(m.HTML, "<img "); n != 1 {
		t.Errorf("%d images, want 1: the second post has none", n)
	}
}

// TestButtons: the links that act as buttons are table cells with a background colour (which Outlook
// draws), not padded links alone (whose padding and background it drops).
func TestButtons(t *testing.T) {
	o := testOptions()
	o.FullContent = false
	c := newTestComposer(t, o)
	post, err := c.Post(testRecipient(), testPosts()[0], "k", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	confirm, err := c.Confirm(testConfirmation(), "c", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, html, link string
	}{
		{"excerpt", post.HTML, `href="https://blog.example.com/2025/01/14/failover.html"`},
		{"confirmation", confirm.HTML, `href="https://news.example.com/confirm?token=abc_-123"`},
	} {
		want := `<td class="button-cell" bgcolor="#1f6feb" style="background-color:#1f6feb;border-radius:4px"><a class="button-link" ` + tt.link +
			` style="display:inline-block;padding:10px 18px;color:#ffffff;`
		if !strings.Contains(tt.html, want) {
			t.Errorf("%s: no table-cell button %s", tt.name, want)
		}
	}
	if !strings.Contains(post.HTML, `alt="Failover &amp; recovery: “notes”"`) {
		t.Error("the header image's alt is not the post's title")
	}
}

// TestGmailClip: a post whose email passes ClipBytes of HTML is reported, and with ClipExcerpt goes as
// its excerpt with a link; a short one neither.
func TestGmailClip(t *testing.T) {
	long := *testPosts()[0]
	long.ContentHTML = strings.Repeat("<p>A paragraph of a very long post, with <a href=\"https://x.example/\">a link</a> in it.</p>\n", 1200)
	for _, clip := range []bool{false, true} {
		o := testOptions()
		o.ClipExcerpt = clip
		var heard []string
		var sizes []int
		o.LargeHTML = func(p *posts.Post, size int, excerpt bool) {
			if excerpt != clip {
				t.Errorf("LargeHTML: excerpt %v, want %v", excerpt, clip)
			}
			heard = append(heard, p.ID)
			sizes = append(sizes, size)
		}
		c := newTestComposer(t, o)
		short, err := c.Post(testRecipient(), testPosts()[0], "s", sendDate)
		if err != nil {
			t.Fatal(err)
		}
		if len(heard) != 0 {
			t.Errorf("a short post reported as large: %v", heard)
		}
		m, err := c.Post(testRecipient(), &long, "l", sendDate)
		if err != nil {
			t.Fatal(err)
		}
		if len(heard) != 1 || heard[0] != long.ID {
			t.Fatalf("clip %v: LargeHTML heard %v, want %s", clip, heard, long.ID)
		}
		// The size reported is what goes out: the HTML part, quoted-printable.
		if got := len(appendQP(nil, m.HTML)); !clip && (sizes[0] < got-200 || sizes[0] > got+200) {
			t.Errorf("reported %d bytes, the HTML part has %d", sizes[0], got)
		}
		if clip {
			if len(appendQP(nil, m.HTML)) > ClipBytes || !strings.Contains(m.HTML, "Read the whole post") || !strings.Contains(m.Text, "Read the whole post: "+long.URL) {
				t.Errorf("clip: %d bytes of HTML, want the excerpt with a link", len(m.HTML))
			}
		} else if len(appendQP(nil, m.HTML)) <= ClipBytes {
			t.Errorf("without clip: %d bytes of HTML, want the whole post", len(m.HTML))
		}
		if strings.Contains(short.HTML, "Read the whole post") {
			t.Error("a short post went as its excerpt")
		}
	}
}

// TestFitContent: tables go into a scrolling container (once, however nested), and images get a width
// attribute of at most the column's width, with the height in proportion.
func TestFitContent(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"table", `<p>a</p><table><tr><td>1</td></tr></table>`, `<p>a</p><div class="scroll"><table><tbody><tr><td>1</td></tr></tbody></table></div>`},
		{"nested table", `<table><tr><td><table><tr><td>1</td></tr></table></td></tr></table>`,
			`<div class="scroll"><table><tbody><tr><td><table><tbody><tr><td>1</td></tr></tbody></table></td></tr></tbody></table></div>`},
		{"wide image", `<img src="a.png" width="1600" height="900">`, `<img src="a.png" width="536" height="302"/>`},
		{"image without a size", `<p><img src="a.png" alt="x" style="border:1px solid red"></p>`, `<p><img src="a.png" alt="x" style="width:auto;border:1px solid red;" width="536"/></p>`},
		{"small image", `<img src="a.png" width="120" height="40">`, `<img src="a.png" width="120" height="40">`},
		{"nothing to do", `<p>Just <em>text</em>.</p>`, `<p>Just <em>text</em>.</p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fitContent(tt.in); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestShorten(t *testing.T) {
	long := strings.Repeat("word ", 50)
	got := shorten(long, 30)
	if got != "word word word word word word…" {
		t.Errorf("got %q", got)
	}
	if got := shorten("  a\n b  ", 30); got != "a b" {
		t.Errorf("got %q", got)
	}
}
