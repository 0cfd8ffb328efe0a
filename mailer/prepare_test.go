package mailer

import (
	"bytes"
	stdhtml "html"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/heraldhq/herald/posts"
)

// fillRecipients are readers whose values need escaping in each way the parts write them, or look like
// what composing uses inside.
func fillRecipients() []Recipient {
	return []Recipient{
		testRecipient(),
		{Email: "bob@example.net", UnsubscribeURL: "https://blog.example.com/u?t=1&x='2'"},
		{Email: "o'hara@example.com", Name: `Tom & "Jerry" <O'Hara> +1`, UnsubscribeURL: "https://blog.example.com/u?t=1", PreferencesURL: "https://blog.example.com/p?t=1&a=b"},
		{Email: "eve@example.com", Name: "HERALDxRECIPIENTxNAMExQ7 " + recipientTokens[2], UnsubscribeURL: "https://blog.example.com/u?t=" + recipientTokens[3]},
		{Email: "zoe@example.com", Name: "Zoë\u00a0Ünal"},
		{Email: "ann+news@example.org", Name: "A+B", UnsubscribeURL: "https://blog.example.com/u?t=1&x=2+3"},
		{Email: "bob@example.org", Name: "Bob", PreferencesURL: "https://blog.example.com/p?t=bob"},
		{Email: "jo@example.org", Name: "Jo " + strings.Repeat("Ünal-Øster ", 12), UnsubscribeURL: "http://localhost:8080/u?t=é ü#frag", PreferencesURL: "HTTPS://blog.example.com/p?x=(1)%41"},
		{Email: "o.hara@example.org", Name: `=?UTF-8?q?x?= \ back`, UnsubscribeURL: "https://blog.example.com/u?t=<b>\"q\""},
		{Email: "js@example.org", Name: "javascript:alert(1)", UnsubscribeURL: "https://blog.example.com/u?t=%zz&%41"},
	}
}

// TestFill: emails filled into a prepared frame are byte for byte the emails composed whole, and those
// go-mail wrote; templates that do more with the recipient's values than write them, or that write one
// where filling in cannot follow, are composed whole.
func TestFill(t *testing.T) {
	dkimKey, err := os.ReadFile("testdata/dkim-test-ed25519.pem")
	if err != nil {
		t.Fatal(err)
	}
	body := func(html string) fstest.MapFS {
		return fstest.MapFS{
			"post.html":   {Data: []byte(`{{define "body"}}` + html + `<div>{{.Post.HTML}}</div>{{end}}`)},
			"digest.html": {Data: []byte(`{{define "body"}}` + html + `{{range .Posts}}<div>{{.HTML}}</div>{{end}}{{end}}`)},
		}
	}
	tests := []struct {
		name      string
		options   func(*Options)
		posts     func([]*posts.Post)
		fillable  bool // by the templates
		wantWhole int  // the values (1<<holeName, ...) whose recipients get emails composed whole all the same
	}{
		{name: "default templates", fillable: true},
		{name: "DKIM", options: func(o *Options) { o.DKIM = []DKIM{{Key: dkimKey}} }, fillable: true},
		{name: "no mailto", options: func(o *Options) { o.UnsubscribeMailto = "" }, fillable: true},
		{name: "the name in an attribute", options: func(o *Options) {
			o.Templates = body(`<p title="{{.Recipient.Name}}">{{.Recipient.Email}}</p>`)
		}, fillable: true},
		{name: "a template that cuts the name", options: func(o *Options) {
			o.Templates = body(`<p>{{printf "%.3s" .Recipient.Name}}</p>`)
		}},
		{name: "a template that compares the name", options: func(o *Options) {
			o.Templates = body(`<p>{{if eq .Recipient.Name "Bob"}}Hey Bob{{end}}</p>`)
		}},
		{name: "the recipient in a variable", options: func(o *Options) {
			o.Templates = body(`{{with $r := .Recipient}}<p>{{$r.Name}}</p>{{end}}`)
		}},
		{name: "the recipient to a function", options: func(o *Options) {
			o.Templates = fstest.MapFS{"email.txt": {Data: []byte("{{printf \"%v\" .Recipient}}\n{{.UnsubscribeURL}}\n{{.PostalAddress}}")}}
		}},
		{name: "the name in the subject", options: func(o *Options) {
			o.SubjectTemplate = "{{.Post.Title}} for {{.Recipient.Name}}"
			o.DigestSubjectTemplate = "For {{.Recipient.Name}}"
		}},
		{name: "an attribute selector", options: func(o *Options) {
			o.Templates = fstest.MapFS{"email.css": {Data: []byte(`a[href^="https"] { color: #ff0000; }`)}}
		}},
		{name: "the name in a link's query", options: func(o *Options) {
			o.Templates = body(`<p><a href="https://blog.example.com/hi?n={{.Recipient.Name}}">hi</a></p>`)
		}, fillable: true, wantWhole: 1 << holeName},
		{name: "the address in a mailto link", options: func(o *Options) {
			o.Templates = body(`<p><a href="mailto:{{.Recipient.Email}}">you</a></p>`)
		}, fillable: true, wantWhole: 1 << holeEmail},
		{name: "the name in a script", options: func(o *Options) {
			o.Templates = body(`<script>var n = "{{.Recipient.Name}}";</script>`)
		}, fillable: true, wantWhole: 1 << holeName},
		{name: "a token in a post", posts: func(ps []*posts.Post) {
			for _, p := range ps {
				p.ContentHTML += "<p>" + recipientTokens[0] + "</p>"
				p.SummaryHTML += "<p>" + recipientTokens[0] + "</p>"
			}
		}, fillable: true, wantWhole: 1 << holeEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			if tt.options != nil {
				tt.options(&o)
			}
			ps := testPosts()
			if tt.posts != nil {
				tt.posts(ps)
			}
			filled := newTestComposer(t, o)
			if filled.postFillable != tt.fillable || filled.digestFillable != tt.fillable {
				t.Errorf("fillable: post %v, digest %v, want %v", filled.postFillable, filled.digestFillable, tt.fillable)
			}
			whole := newTestComposer(t, o)
			whole.postFillable, whole.digestFillable = false, false
			prepare := func(c *Composer, digest bool) *Prepared {
				var p *Prepared
				var err error
				if digest {
					p, err = c.PrepareDigest(ps)
				} else {
					p, err = c.PreparePost(ps[0])
				}
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			for _, digest := range []bool{false, true} {
				pf, pw := prepare(filled, digest), prepare(whole, digest)
				for i, r := range fillRecipients() {
					key := "post/" + strconv.Itoa(i)
					mf, errf := pf.Message(r, key, sendDate)
					mw, err := pw.Message(r, key, sendDate)
					if err != nil || errf != nil {
						if errf == nil || err == nil || errf.Error() != err.Error() {
							t.Errorf("recipient %d: filled in: %v; composed whole: %v", i, errf, err)
						}
						continue
					}
					got, want := messageBytes(t, mf), messageBytes(t, mw)
					if !bytes.Equal(got, want) {
						t.Errorf("digest %v, recipient %d: filled in, the email differs from the one composed whole:\n%s", digest, i, firstDiff(got, want))
					}
					if mf.HTML != mw.HTML || mf.Text != mw.Text {
						t.Errorf("digest %v, recipient %d: Message.HTML or Text differ", digest, i)
					}
					mb, err := pf.BytesMessage(r, key, sendDate)
					if err != nil {
						t.Fatal(err)
					}
					if b := messageBytes(t, mb); !bytes.Equal(b, got) {
						t.Errorf("digest %v, recipient %d: BytesMessage differs from Message:\n%s", digest, i, firstDiff(b, got))
					}
					if f := pf.frames[mustRecipient(t, filled, r).kind()]; !f.whole && (mb.HTML != "" || mb.Text != "") {
						t.Errorf("digest %v, recipient %d: BytesMessage filled in HTML or Text", digest, i)
					}
					if gm := goMailBytes(t, whole, mw, r, key); !bytes.Equal(want, gm) {
						t.Errorf("digest %v, recipient %d: the email differs from go-mail's:\n%s", digest, i, firstDiff(want, gm))
					}
				}
				if !tt.fillable {
					continue
				}
				for k, f := range pf.frames {
					if want := k&tt.wantWhole != 0; f != nil && f.whole != want {
						t.Errorf("digest %v, kind %04b: whole %v, want %v", digest, k, f.whole, want)
					}
				}
			}
		})
	}
}

func mustRecipient(t *testing.T, c *Composer, r Recipient) recipient {
	t.Helper()
	v, err := c.recipient(r)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// goMailBytes writes m as go-mail wrote Herald's messages before Herald wrote them itself: the reference
// for writeMessage.
func goMailBytes(t *testing.T, c *Composer, m *Message, r Recipient, key string) []byte {
	t.Helper()
	_, boundary := c.messageID(key)
	g := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP),
		gomail.WithNoDefaultUserAgent(), gomail.WithBoundary(boundary))
	g.FromMailAddress(&c.from)
	g.ToMailAddress(&mail.Address{Name: displayName(r.Name), Address: m.To})
	g.SetGenHeader(gomail.HeaderSubject, encodeText(m.Subject))
	g.SetGenHeader(gomail.HeaderDate, m.Date.Format(time.RFC1123Z))
	g.SetGenHeader(gomail.HeaderMessageID, m.MessageID)
	g.SetGenHeader(gomail.Header("List-Id"), c.listID)
	httpURL := ""
	if r.UnsubscribeURL != "" {
		u, err := url.Parse(r.UnsubscribeURL)
		if err != nil {
			t.Fatal(err)
		}
		httpURL = u.String()
	}
	unsub, oneClick := listUnsubscribe(httpURL, c.mailto)
	g.SetGenHeader(gomail.HeaderListUnsubscribe, unsub)
	if oneClick {
		g.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	// The Feedback-ID is the post's or the digest's: taken from the message, as the Composer has no
	// other way to say it.
	sent, err := mail.ReadMessage(bytes.NewReader(m.raw))
	if err != nil {
		t.Fatal(err)
	}
	g.SetGenHeader(gomail.Header("Feedback-ID"), sent.Header.Get("Feedback-ID"))
	g.SetBulk()
	g.SetBodyString(gomail.TypeTextPlain, m.Text)
	g.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	var b bytes.Buffer
	if len(c.dkim) > 1 {
		t.Fatal("goMailBytes signs with one key only")
	}
	if len(c.dkim) == 1 {
		if _, err := g.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b.Bytes(), []byte("\r\n\r\n"))
		sig, err := c.dkim[0].sign(b.Bytes()[:i+2], b.Bytes()[i+4:], m.Date)
		if err != nil {
			t.Fatal(err)
		}
		g.SetGenHeader("DKIM-Signature", sig)
		b.Reset()
	}
	if _, err := g.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzFill: whatever a subscriber's name, address and links, and a post's title and HTML, the email
// filled into a prepared frame is the one composed whole, and the one go-mail wrote.
func FuzzFill(f *testing.F) {
	for _, r := range fillRecipients() {
		f.Add(r.Name, r.Email, r.UnsubscribeURL, "Title", "<p>Body</p>")
	}
	f.Add("Ann", "ann@example.org", "", strings.Repeat("Ünïcödé ", 20), "<p>trailing  \n\tline\r\nCR\rend "+strings.Repeat("x", 200)+"</p>")
	f.Add("", "a@b.example", "https://b.example/u?t=1", "=?", "<pre>\r\n  \t\n</pre>\r")
	f.Fuzz(func(t *testing.T, name, email, unsub, title, content string) {
		o := testOptions()
		filled := newTestComposer(t, o)
		whole := newTestComposer(t, o)
		whole.postFillable = false
		p := &posts.Post{Title: title, URL: "https://blog.example.com/p", ContentHTML: content}
		r := Recipient{Email: email, Name: name, UnsubscribeURL: unsub, PreferencesURL: strings.Replace(unsub, "/u?", "/p?", 1)}
		mw, err := whole.Post(r, p, "post/k", sendDate)
		if err != nil {
			if _, ferr := filled.Post(r, p, "post/k", sendDate); ferr == nil || ferr.Error() != err.Error() {
				t.Fatalf("composed whole: %v; filled in: %v", err, ferr)
			}
			return
		}
		mf, err := filled.Post(r, p, "post/k", sendDate)
		if err != nil {
			t.Fatal(err)
		}
		got, want := messageBytes(t, mf), messageBytes(t, mw)
		if !bytes.Equal(got, want) {
			t.Fatalf("filled in, the email differs from the one composed whole:\n%s", firstDiff(got, want))
		}
		if gm := goMailBytes(t, whole, mw, r, "post/k"); !bytes.Equal(want, gm) {
			t.Fatalf("the email differs from go-mail's:\n%s", firstDiff(want, gm))
		}
	})
}

// TestPreparedConcurrent fills one Prepared from many goroutines at once (run with -race), for several
// kinds of recipient, whose frames are made meanwhile: each email is the one composed alone.
func TestPreparedConcurrent(t *testing.T) {
	c := newTestComposer(t, testOptions())
	p, err := c.PrepareDigest(testPosts())
	if err != nil {
		t.Fatal(err)
	}
	rs := fillRecipients()
	const n = 40
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := p.Message(rs[i%len(rs)], "digest/"+strconv.Itoa(i), sendDate)
			if err != nil {
				t.Error(err)
				return
			}
			got[i], _ = m.Bytes()
		})
	}
	wg.Wait()
	for i := range n {
		m, err := c.Digest(rs[i%len(rs)], testPosts(), "digest/"+strconv.Itoa(i), sendDate)
		if err != nil {
			t.Fatal(err)
		}
		if want := messageBytes(t, m); !bytes.Equal(got[i], want) {
			t.Errorf("message %d differs when filled in alongside others:\n%s", i, firstDiff(got[i], want))
		}
	}
}

// TestPlainURL: normalizeURL is what html/template writes of a URL in a link, and the URLs it takes as
// they are are written as they are.
func TestPlainURL(t *testing.T) {
	for _, u := range []string{
		"https://n.example.com/unsubscribe?token=AbC-_09.x~y",
		"http://localhost:8080/p?a=1&b=2;c=[3]@x!$*+,:#frag",
		"https://x.example/%41", "https://x.example/a b", "https://x.example/'q'", "https://x.example/é",
		"HTTPS://x.example/", "javascript:alert(1)", "mailto:a@b.c", "https://x.example/(1)", "https://x.example/\"<>",
	} {
		var b strings.Builder
		if err := urlProbe.Execute(&b, u); err != nil {
			t.Fatal(err)
		}
		want := stdhtml.UnescapeString(strings.TrimSuffix(strings.TrimPrefix(b.String(), `<a href="`), `">`))
		if got := normalizeURL(u); got != want {
			t.Errorf("normalizeURL(%s) = %s, want %s", u, got, want)
		}
		if plainURL(u) && want != u {
			t.Errorf("%s: taken as it is, but html/template writes %s", u, want)
		}
	}
}
