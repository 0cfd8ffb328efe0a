package mailer

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/heraldhq/herald/posts"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var chicago = time.FixedZone("CST", -6*3600)

// sendDate is the fixed Date of the test messages.
var sendDate = time.Date(2025, 1, 15, 9, 30, 0, 0, time.UTC)

func testOptions() Options {
	return Options{
		From:              mail.Address{Name: "Jane Doe", Address: "jane@blog.example.com"},
		SiteTitle:         "Example Weblog",
		SiteURL:           "https://blog.example.com",
		PostalAddress:     "Example Weblog, 1 Main Street, Springfield, IL 62701, USA",
		UnsubscribeMailto: "unsubscribe@blog.example.com",
		FullContent:       true,
		MaxDigestPosts:    2,
	}
}

func testRecipient() Recipient {
	return Recipient{
		Email:          "ann@example.org",
		Name:           "Ann Smith",
		UnsubscribeURL: "https://blog.example.com/unsubscribe?t=abc123",
		PreferencesURL: "https://blog.example.com/preferences?t=abc123",
	}
}

func testPosts() []*posts.Post {
	d := time.Date(2025, 1, 14, 18, 0, 0, 0, chicago)
	return []*posts.Post{
		{
			ID: "2025-01-14-failover", URL: "https://blog.example.com/2025/01/14/failover.html",
			Title: "Failover & recovery: “notes”", Date: d,
			Authors: []posts.Author{{Name: "Jane Doe"}, {Name: "Bob"}},
			Image:   "https://blog.example.com/img/failover.png",
			Summary: "What I learned at Failover Conf.", SummaryHTML: "<p>What I learned at <em>Failover Conf</em>.</p>",
			ContentHTML: `<p>Back in April, I attended <a href="https://failover.example.com/">Failover Conf</a>, a virtual conference.</p>
<h2>Highlights</h2>
<ul>
<li><a href="https://re-deploy.io/">REdeploy</a></li>
<li>Site Reliability Engineering, at <a href="https://honeycomb.io/">https://honeycomb.io/</a></li>
</ul>
<blockquote>
<p>Safety is something a system does, not something it has.</p>
</blockquote>
<pre><code>func main() {
	fmt.Println("hello")
}
</code></pre>
<p><img src="https://blog.example.com/img/slide.png" alt="A slide"> The end, with a café.</p>`,
		},
		{
			ID: "2025-01-10-second", URL: "https://blog.example.com/2025/01/10/second.html",
			Title: "Second post", Date: d.Add(-4 * 24 * time.Hour),
			Summary:     "Plain summary only.",
			ContentHTML: "<p>Second body.</p>",
		},
		{
			ID: "2025-01-02-third", URL: "https://blog.example.com/2025/01/02/third.html",
			Title: "Third post", Date: d.Add(-12 * 24 * time.Hour),
			ContentHTML: "<p>Third body.</p>",
		},
	}
}

func newTestComposer(t *testing.T, o Options) *Composer {
	t.Helper()
	c, err := NewComposer(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func messageBytes(t *testing.T, m *Message) []byte {
	t.Helper()
	b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./mailer -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./mailer -update rewrites it):\n%s", name, firstDiff(got, want))
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestGolden(t *testing.T) {
	ps := testPosts()
	tests := []struct {
		name    string
		options func(*Options)
		r       Recipient
		compose func(c *Composer, r Recipient) (*Message, error)
	}{
		{
			name: "post.eml",
			r:    testRecipient(),
			compose: func(c *Composer, r Recipient) (*Message, error) {
				return c.Post(r, ps[0], "post/2025-01-14-failover/17", sendDate)
			},
		},
		{
			name:    "post-excerpt.eml",
			options: func(o *Options) { o.FullContent = false; o.UnsubscribeMailto = "" },
			r:       Recipient{Email: "bob@example.net"},
			compose: func(c *Composer, r Recipient) (*Message, error) {
				r.UnsubscribeURL = "https://blog.example.com/unsubscribe?t=xyz"
				return c.Post(r, ps[0], "post/2025-01-14-failover/18", sendDate)
			},
		},
		{
			name: "post-dkim.eml",
			options: func(o *Options) {
				key, err := os.ReadFile("testdata/dkim-test-ed25519.pem")
				if err != nil {
					panic(err)
				}
				o.DKIM = []DKIM{{Key: key, Selector: "s2025"}}
			},
			r: testRecipient(),
			compose: func(c *Composer, r Recipient) (*Message, error) {
				return c.Post(r, ps[1], "post/2025-01-10-second/17", sendDate)
			},
		},
		{
			name: "digest.eml",
			r:    testRecipient(),
			compose: func(c *Composer, r Recipient) (*Message, error) {
				return c.Digest(r, ps, "digest/weekly 2025-W03/17", sendDate)
			},
		},
		{
			// A name and a title that are not ASCII (and long enough to fold the To and Subject
			// headers), values that need escaping in HTML and in URLs, long lines and trailing spaces
			// in the post, and no preferences link; with the greeting, which shows the name.
			name:    "post-unicode.eml",
			options: func(o *Options) { o.Greeting = true },
			r: Recipient{
				Email: "zoe+news@example.org", Name: "Zoë Ünal-Ørsted & “Friends” <team> O'Hara von Müller-Lüdenscheidt",
				UnsubscribeURL: "https://blog.example.com/unsubscribe?t=a+b&u='c'",
			},
			compose: func(c *Composer, r Recipient) (*Message, error) {
				p := *ps[0]
				p.Title = "Ünïcödé everywhere: a title long enough to need two encoded words — or three, with “quotes”"
				p.ContentHTML = "<p>A line with trailing spaces   \n\tand a tab, then a very long line that goes on " +
					strings.Repeat("and on ", 20) + "until it ends.</p>\n<p>=?UTF-8?q?not_a_word?= = 3</p>"
				return c.Post(r, &p, "post/2025-01-14-failover/zoe+news@example.org", sendDate)
			},
		},
		{
			// No base_url: the mailto address is the only way to unsubscribe, with no preferences link.
			name:    "post-mailto.eml",
			options: func(o *Options) { o.FullContent = false },
			r:       Recipient{Email: "ann@example.org", Name: `Ann "Annie" O'Brien, Jr.`},
			compose: func(c *Composer, r Recipient) (*Message, error) {
				return c.Post(r, ps[1], "post/2025-01-10-second/ann@example.org", sendDate)
			},
		},
		{
			// A digest signed with DKIM, to a reader without a name, with an http link (no one-click).
			name: "digest-dkim.eml",
			options: func(o *Options) {
				key, err := os.ReadFile("testdata/dkim-test-ed25519.pem")
				if err != nil {
					panic(err)
				}
				o.DKIM = []DKIM{{Key: key, Selector: "s2025"}}
			},
			r: Recipient{
				Email: "bob@example.net", UnsubscribeURL: "http://localhost:8080/unsubscribe?token=xyz",
				PreferencesURL: "http://localhost:8080/preferences?token=xyz",
			},
			compose: func(c *Composer, r Recipient) (*Message, error) {
				return c.Digest(r, ps, "digest/daily 2025-01-15/bob@example.net", sendDate)
			},
		},
		{
			// A digest without base_url to a reader whose name is not ASCII; a retry's Message-ID.
			name:    "digest-mailto.eml",
			options: func(o *Options) { o.MaxDigestPosts = 0; o.Greeting = true },
			r:       Recipient{Email: "zoe@example.org", Name: "Zoë"},
			compose: func(c *Composer, r Recipient) (*Message, error) {
				return c.Digest(r, ps[1:], "<herald.0123456789abcdef@blog.example.com>", sendDate)
			},
		},
		{
			name: "confirm.eml",
			r:    testRecipient(),
			compose: func(c *Composer, r Recipient) (*Message, error) {
				return c.Confirm(testConfirmation(), "confirm/1736933400/ann@example.org", sendDate)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			if tt.options != nil {
				tt.options(&o)
			}
			c := newTestComposer(t, o)
			m, err := tt.compose(c, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			got := messageBytes(t, m)
			golden(t, tt.name, got)

			// The same inputs give the same bytes, from a new Composer too, and so does a second write.
			m2, err := tt.compose(newTestComposer(t, o), tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if again := messageBytes(t, m2); !bytes.Equal(again, got) {
				t.Errorf("a second composition differs:\n%s", firstDiff(again, got))
			}
			if again := messageBytes(t, m); !bytes.Equal(again, got) {
				t.Errorf("a second write differs:\n%s", firstDiff(again, got))
			}
		})
	}
}

// parse reads a message with net/mail and its two MIME parts with mime/multipart.
type parsed struct {
	header    mail.Header
	text      string
	html      string
	partTypes []string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the message: %v", err)
	}
	p := parsed{header: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: got %s (%v), want multipart/alternative", msg.Header.Get("Content-Type"), mt, err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		p.partTypes = append(p.partTypes, ct)
		if cte := part.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("part %s: Content-Transfer-Encoding %q, want quoted-printable", ct, cte)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(part))
		if err != nil {
			t.Fatal(err)
		}
		switch ct {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	return p
}

func headerKeys(h mail.Header) []string {
	var keys []string
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var baseHeaders = []string{"Content-Type", "Date", "Feedback-Id", "From", "List-Id", "List-Unsubscribe", "Message-Id",
	"Mime-Version", "Precedence", "Subject", "To", "X-Auto-Response-Suppress"}

func withHeaders(extra ...string) []string {
	h := append(slices.Clone(baseHeaders), extra...)
	slices.Sort(h)
	return h
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name       string
		mailto     string
		unsubURL   string
		wantKeys   []string
		wantUnsub  string
		wantFooter string
	}{
		{
			name: "https and mailto", mailto: "unsubscribe@blog.example.com", unsubURL: "https://blog.example.com/u?t=1",
			wantKeys:   withHeaders("List-Unsubscribe-Post"),
			wantUnsub:  "<https://blog.example.com/u?t=1>, <mailto:unsubscribe@blog.example.com?subject=unsubscribe>",
			wantFooter: `<a href="https://blog.example.com/u?t=1"`,
		},
		{
			name: "https only", unsubURL: "https://blog.example.com/u?t=1",
			wantKeys:   withHeaders("List-Unsubscribe-Post"),
			wantUnsub:  "<https://blog.example.com/u?t=1>",
			wantFooter: `<a href="https://blog.example.com/u?t=1"`,
		},
		{
			name: "http is no one-click", unsubURL: "http://localhost:8080/u?t=1",
			wantKeys:   withHeaders(),
			wantUnsub:  "<http://localhost:8080/u?t=1>",
			wantFooter: `<a href="http://localhost:8080/u?t=1"`,
		},
		{
			name: "mailto only", mailto: "mailto:leave@blog.example.com",
			wantKeys:   withHeaders(),
			wantUnsub:  "<mailto:leave@blog.example.com?subject=unsubscribe>",
			wantFooter: `<a href="mailto:leave@blog.example.com?subject=unsubscribe"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			o.UnsubscribeMailto = tt.mailto
			c := newTestComposer(t, o)
			r := testRecipient()
			r.UnsubscribeURL = tt.unsubURL
			for _, kind := range []string{"post", "digest"} {
				var m *Message
				var err error
				if kind == "post" {
					m, err = c.Post(r, testPosts()[0], "post/a/1", sendDate)
				} else {
					m, err = c.Digest(r, testPosts(), "digest/daily 2025-01-15/1", sendDate)
				}
				if err != nil {
					t.Fatal(err)
				}
				p := parse(t, messageBytes(t, m))
				if got := headerKeys(p.header); !slices.Equal(got, tt.wantKeys) {
					t.Errorf("%s: headers %v, want %v", kind, got, tt.wantKeys)
				}
				for _, k := range tt.wantKeys {
					if n := len(p.header[k]); n != 1 {
						t.Errorf("%s: %d %s headers, want 1", kind, n, k)
					}
				}
				checks := map[string]string{
					"List-Unsubscribe": tt.wantUnsub,
					"List-Id":          "Example Weblog <blog.example.com>",
					"Precedence":       "bulk",
					"Mime-Version":     "1.0",
					"Message-Id":       m.MessageID,
					"Date":             "Wed, 15 Jan 2025 09:30:00 +0000",
					"To":               `"Ann Smith" <ann@example.org>`,
					"From":             `"Jane Doe" <jane@blog.example.com>`,
				}
				if slices.Contains(tt.wantKeys, "List-Unsubscribe-Post") {
					checks["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
				}
				for k, want := range checks {
					if got := p.header.Get(k); got != want {
						t.Errorf("%s: %s: got %q, want %q", kind, k, got, want)
					}
				}
				if !slices.Equal(p.partTypes, []string{"text/plain", "text/html"}) {
					t.Errorf("%s: parts %v, want text/plain then text/html", kind, p.partTypes)
				}
				if !strings.Contains(p.html, tt.wantFooter) {
					t.Errorf("%s: the HTML part has no unsubscribe link %s", kind, tt.wantFooter)
				}
				for _, part := range []string{p.text, p.html} {
					if !strings.Contains(part, o.PostalAddress) {
						t.Errorf("%s: a part lacks the postal address", kind)
					}
				}
			}
		})
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		name    string
		options func(*Options)
		digest  int
		want    string
	}{
		{name: "post default", want: "Failover & recovery: “notes”"},
		{name: "post template", options: func(o *Options) { o.SubjectTemplate = "[{{.Site.Title}}] {{.Post.Title}}" }, want: "[Example Weblog] Failover & recovery: “notes”"},
		{name: "post template of herald.yaml", options: func(o *Options) { o.SubjectTemplate = "New on {{.Site.Title}}: {{.Title}}" }, want: "New on Example Weblog: Failover & recovery: “notes”"},
		{name: "digest default", digest: 3, want: "Failover & recovery: “notes” and 2 more"},
		{name: "digest of two", digest: 2, want: "Failover & recovery: “notes” and 1 more"},
		{name: "digest of one", digest: 1, want: "Failover & recovery: “notes”"},
		{name: "digest template", digest: 2, options: func(o *Options) { o.DigestSubjectTemplate = "Weekly: {{.Count}}" }, want: "Weekly: 2"},
		{name: "digest template of herald.yaml", digest: 3, options: func(o *Options) {
			o.DigestSubjectTemplate = "{{.Site.Title}} this week: {{.Title}}{{if gt .Count 1}} (+{{add .Count -1}}){{end}}"
		}, want: "Example Weblog this week: Failover & recovery: “notes” (+2)"},
		{name: "line breaks in a template", options: func(o *Options) { o.SubjectTemplate = "{{.Post.Title}}\r\nBcc: x@example.com" }, want: "Failover & recovery: “notes” Bcc: x@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			if tt.options != nil {
				tt.options(&o)
			}
			c := newTestComposer(t, o)
			var m *Message
			var err error
			if tt.digest > 0 {
				m, err = c.Digest(testRecipient(), testPosts()[:tt.digest], "k", sendDate)
			} else {
				m, err = c.Post(testRecipient(), testPosts()[0], "k", sendDate)
			}
			if err != nil {
				t.Fatal(err)
			}
			p := parse(t, messageBytes(t, m))
			got, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || m.Subject != tt.want {
				t.Errorf("subject %q (Message.Subject %q), want %q", got, m.Subject, tt.want)
			}
		})
	}
}

func TestMessageID(t *testing.T) {
	c := newTestComposer(t, testOptions())
	p := testPosts()[0]
	id := func(key string) string {
		m, err := c.Post(testRecipient(), p, key, sendDate)
		if err != nil {
			t.Fatal(err)
		}
		return m.MessageID
	}
	a, b := id("post/x/1"), id("post/x/2")
	if a == b {
		t.Errorf("two deliveries share the Message-ID %s", a)
	}
	if again := id("post/x/1"); again != a {
		t.Errorf("the same delivery got Message-IDs %s and %s", a, again)
	}
	m, _ := c.Post(testRecipient(), p, "post/x/1", sendDate.Add(time.Hour))
	if m.MessageID != a {
		t.Errorf("a later date changed the Message-ID: %s, want %s", m.MessageID, a)
	}
	if !strings.HasPrefix(a, "<") || !strings.HasSuffix(a, "@blog.example.com>") {
		t.Errorf("Message-ID %s: want <…@blog.example.com>", a)
	}
	if _, err := mail.ParseAddress(strings.Trim(a, "<>")); err != nil {
		t.Errorf("Message-ID %s is not a msg-id: %v", a, err)
	}
}

func TestRefuse(t *testing.T) {
	tests := []struct {
		name    string
		options func(*Options)
		r       func(*Recipient)
		want    error
		wantMsg string
	}{
		{name: "no postal address", options: func(o *Options) { o.PostalAddress = " " }, want: ErrNoPostalAddress, wantMsg: "no postal address"},
		{name: "no way to unsubscribe", options: func(o *Options) { o.UnsubscribeMailto = "" }, r: func(r *Recipient) { r.UnsubscribeURL = "" }, want: ErrNoUnsubscribe, wantMsg: "no way to unsubscribe"},
		{name: "javascript unsubscribe URL", r: func(r *Recipient) { r.UnsubscribeURL = "javascript:alert(1)" }, wantMsg: "unsubscribe URL"},
		{name: "relative unsubscribe URL", r: func(r *Recipient) { r.UnsubscribeURL = "/u?t=1" }, wantMsg: "unsubscribe URL"},
		{name: "javascript preferences URL", r: func(r *Recipient) { r.PreferencesURL = "javascript:alert(1)" }, wantMsg: "preferences URL"},
		{name: "bad recipient", r: func(r *Recipient) { r.Email = "ann@example.org\r\nBcc: eve@example.com" }, wantMsg: "not an email address"},
		{name: "recipient with a name", r: func(r *Recipient) { r.Email = "Ann <ann@example.org>" }, wantMsg: "not an email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			if tt.options != nil {
				tt.options(&o)
			}
			c := newTestComposer(t, o)
			r := testRecipient()
			if tt.r != nil {
				tt.r(&r)
			}
			_, errPost := c.Post(r, testPosts()[0], "k", sendDate)
			_, errDigest := c.Digest(r, testPosts(), "k", sendDate)
			for _, err := range []error{errPost, errDigest} {
				if err == nil {
					t.Fatal("composed a message, want an error")
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("error %v, want %v", err, tt.want)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q does not say %q", err, tt.wantMsg)
				}
			}
		})
	}
}

func TestNewComposerErrors(t *testing.T) {
	tests := []struct {
		name    string
		options func(*Options)
		wantMsg string
	}{
		{name: "no from", options: func(o *Options) { o.From = mail.Address{} }, wantMsg: "from"},
		{name: "from with a line break", options: func(o *Options) { o.From.Address = "jane@example.com\r\nBcc: x@y.z" }, wantMsg: "from"},
		{name: "bad mailto", options: func(o *Options) { o.UnsubscribeMailto = "mailto:not an address" }, wantMsg: "unsubscribe mailto"},
		{name: "bad list id", options: func(o *Options) { o.ListID = "Blog <no dots>" }, wantMsg: "list id"},
		{name: "broken template", options: func(o *Options) {
			o.Templates = fstest.MapFS{"post.html": {Data: []byte("{{define \"body\"}}{{.Post.Nope}")}}
		}, wantMsg: "post.html"},
		{name: "broken subject", options: func(o *Options) { o.SubjectTemplate = "{{.Post.Title" }, wantMsg: "subject template"},
		{name: "bad DKIM key", options: func(o *Options) { o.DKIM = []DKIM{{Key: []byte("not a key")}} }, wantMsg: "DKIM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			tt.options(&o)
			_, err := NewComposer(o)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %v, want one that says %q", err, tt.wantMsg)
			}
		})
	}
}

func TestTemplateOverride(t *testing.T) {
	o := testOptions()
	o.Greeting = true
	o.Templates = fstest.MapFS{
		"post.txt":  {Data: []byte(`{{define "body"}}CUSTOM {{.Post.Title}}{{end}}`)},
		"email.css": {Data: []byte(`.greeting { color: #ff0000; }`)},
	}
	c := newTestComposer(t, o)
	m, err := c.Post(testRecipient(), testPosts()[0], "k", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, messageBytes(t, m))
	if !strings.Contains(p.text, "CUSTOM Failover") {
		t.Errorf("text part does not use the site's post.txt:\n%s", p.text)
	}
	if !strings.Contains(p.text, "Unsubscribe:") {
		t.Errorf("text part lost the default frame:\n%s", p.text)
	}
	if !strings.Contains(p.html, `class="greeting" style="color:#ff0000"`) {
		t.Errorf("HTML part does not use the site's email.css:\n%s", p.html)
	}
}

// TestInlined checks that the HTML part carries its styles inline, the post's own HTML included, and
// keeps only what cannot be inlined in a <style> element.
func TestInlined(t *testing.T) {
	c := newTestComposer(t, testOptions())
	m, err := c.Post(testRecipient(), testPosts()[0], "k", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, messageBytes(t, m))
	for _, want := range []string{
		`<td class="footer" style="padding:20px 32px 28px 32px;`,
		`<blockquote style="margin:0 0 16px 0;`,
		`<a href="https://re-deploy.io/" style="color:#1f6feb">REdeploy</a>`,
		`<table role="presentation" class="container" width="600"`,
	} {
		if !strings.Contains(p.html, want) {
			t.Errorf("HTML part lacks %s", want)
		}
	}
	style := p.html[strings.Index(p.html, "<style"):strings.Index(p.html, "</style>")]
	style = style[strings.IndexByte(style, '>')+1:]
	depth, start := 0, 0
	var top []string // the rules outside @media
	for i, r := range style {
		switch r {
		case '{':
			if depth == 0 {
				top = append(top, strings.TrimSpace(style[start:i]))
			}
			depth++
		case '}':
			depth--
			if depth == 0 {
				start = i + 1
			}
		}
	}
	want := []string{":root", "@media only screen and (max-width: 620px)", "@media (prefers-color-scheme: dark)"}
	if !slices.Equal(top, want) {
		t.Errorf("<style> holds the rules %q, want only %q (the rest inlined):\n%s", top, want, style)
	}
}

func TestPostalAddressLines(t *testing.T) {
	o := testOptions()
	o.PostalAddress = "Example Weblog\n1 Main Street\nSpringfield <IL>\n"
	m, err := newTestComposer(t, o).Post(testRecipient(), testPosts()[1], "k", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Example Weblog<br/>1 Main Street<br/>Springfield &lt;IL&gt;</div>"; !strings.Contains(m.HTML, want) {
		t.Errorf("HTML part lacks %s", want)
	}
	if want := "\n\nExample Weblog\n1 Main Street\nSpringfield <IL>\n"; !strings.HasSuffix(m.Text, want) {
		t.Errorf("text part does not end with %q:\n%s", want, m.Text)
	}
}

// TestConcurrentCompose composes from many goroutines at once (run with -race): each message is the
// same as when composed alone.
func TestConcurrentCompose(t *testing.T) {
	c := newTestComposer(t, testOptions())
	ps := testPosts()
	compose := func(i int) []byte {
		r := testRecipient()
		r.Email = "reader" + strconv.Itoa(i) + "@example.org"
		var m *Message
		var err error
		if i%2 == 0 {
			m, err = c.Post(r, ps[i%3], "post/"+strconv.Itoa(i), sendDate)
		} else {
			m, err = c.Digest(r, ps, "digest/"+strconv.Itoa(i), sendDate)
		}
		if err != nil {
			t.Error(err)
			return nil
		}
		b, err := m.Bytes()
		if err != nil {
			t.Error(err)
		}
		return b
	}
	const n = 40
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i] = compose(i) })
	}
	wg.Wait()
	for i := range n {
		if want := compose(i); !bytes.Equal(got[i], want) {
			t.Errorf("message %d differs when composed alongside others:\n%s", i, firstDiff(got[i], want))
		}
	}
}

// BenchmarkComposePost composes a long post's emails as a send does: prepared once, filled in for each
// recipient.
func BenchmarkComposePost(b *testing.B) {
	c, err := NewComposer(testOptions())
	if err != nil {
		b.Fatal(err)
	}
	p := testPosts()[0]
	p.ContentHTML = strings.Repeat(p.ContentHTML, 20) // about 20 KB, a long post
	pp, err := c.PreparePost(p)
	if err != nil {
		b.Fatal(err)
	}
	r := testRecipient()
	var buf bytes.Buffer
	i := 0
	for b.Loop() {
		i++
		r.Email = "reader" + strconv.Itoa(i) + "@example.org"
		m, err := pp.Message(r, "post/x/"+strconv.Itoa(i), sendDate)
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		if _, err := m.WriteTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

// TestFromDomainInUnicode: a From at a domain written in Unicode makes ASCII Message-IDs (its A-label),
// and a retry reuses the first one, as a Message-ID of its own domain.
func TestFromDomainInUnicode(t *testing.T) {
	o := testOptions()
	o.From.Address = "jane@bücher.example"
	c := newTestComposer(t, o)
	m1, err := c.Post(testRecipient(), testPosts()[0], "post/x/ann@example.org", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m1.MessageID, "@xn--bcher-kva.example>") {
		t.Errorf("got Message-ID %s, want one at xn--bcher-kva.example", m1.MessageID)
	}
	m2, err := c.Post(testRecipient(), testPosts()[0], m1.MessageID, sendDate)
	if err != nil || m2.MessageID != m1.MessageID {
		t.Errorf("a retry: got %s, %v, want %s again", m2.MessageID, err, m1.MessageID)
	}
	// ASCII domains that a strict host name check refuses stay as they are.
	for _, from := range []string{"news@mail_out.example.com", "news@ab--cd.example.com"} {
		o.From.Address = from
		c := newTestComposer(t, o)
		m, err := c.Post(testRecipient(), testPosts()[0], "k", sendDate)
		if err != nil || !strings.HasSuffix(m.MessageID, from[strings.IndexByte(from, '@'):]+">") {
			t.Errorf("From %s: got %v, %v", from, m, err)
		}
	}
}

// TestAddressWithSeparators: an address with a line or paragraph separator, a next-line or a zero-width
// space (net/mail takes them in a local part) gets no message: it would put the character in a header.
func TestAddressWithSeparators(t *testing.T) {
	c := newTestComposer(t, testOptions())
	for _, email := range []string{"a\u2028b@example.org", "a\u0085b@example.org", "a\u200bb@example.org", "a\u00a0b@example.org"} {
		r := testRecipient()
		r.Email = email
		if _, err := c.Post(r, testPosts()[0], "k", sendDate); err == nil {
			t.Errorf("Post to %q: no error", email)
		}
		if _, err := c.Confirm(Confirmation{Email: email, URL: "https://news.example.com/confirm?token=x"}, "k", sendDate); err == nil {
			t.Errorf("Confirm to %q: no error", email)
		}
		o := testOptions()
		o.From.Address = email
		if _, err := NewComposer(o); err == nil {
			t.Errorf("NewComposer with From %q: no error", email)
		}
	}
}

// TestTemplateWithoutFooter: a site's template that leaves out the postal address or the unsubscribe
// link gets no message composed: the law requires both in every email.
func TestTemplateWithoutFooter(t *testing.T) {
	for _, tt := range []struct {
		name, file, data, want string
	}{
		{"HTML without the footer", "email.html", `<p>{{template "body" .}}</p>`, "email.html template leaves out the unsubscribe link"},
		{"HTML without the address", "email.html", `{{template "body" .}}<a href="{{.UnsubscribeURL}}">Unsubscribe</a>`, "email.html template leaves out the postal address"},
		{"text without the link", "email.txt", "{{template \"body\" .}}\n{{.PostalAddress}}\n", "email.txt template leaves out the unsubscribe link"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			o.Templates = fstest.MapFS{tt.file: {Data: []byte(tt.data)}}
			c := newTestComposer(t, o)
			_, err := c.Post(testRecipient(), testPosts()[0], "k", sendDate)
			if !errors.Is(err, ErrFooter) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrFooter saying %q", err, tt.want)
			}
			if _, err := c.Digest(testRecipient(), testPosts(), "d", sendDate); !errors.Is(err, ErrFooter) {
				t.Errorf("digest: got %v, want ErrFooter", err)
			}
		})
	}
}
