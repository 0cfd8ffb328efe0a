package mailer

import (
	"bytes"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/posts"
)

// FuzzHeaders feeds untrusted text (a post's title, a subscriber's name, the site's title, the author's
// name) into every header it reaches and checks that the message still has exactly the headers Herald
// writes, once each, and that the text comes back as sanitize made it.
func FuzzHeaders(f *testing.F) {
	f.Add("Hello", "Ann", "Blog", "Jane")
	f.Add("a\r\nBcc: eve@example.com", "Ann\nX-Evil: 1", "Blog\r\n\r\nbody", "Jane\u2028To: x@y.z")
	f.Add("\u0085Subject: two\u2029x", "\x00\x01\x7f\u009f", "=?UTF-8?q?a=0D=0AX-Evil:_1?=", "\"quoted\" <x@y.z>")
	f.Add(strings.Repeat("long title ", 60), strings.Repeat("é", 300), "café & co", "O'Brien, Jane (Ed.)")
	f.Add("\xff\xfe invalid", " \t ", "", "=?")
	f.Add("x\r\n.\r\nMAIL FROM:<a@b.c>", "a\rb", "c\nd", "e\r\n f")
	f.Fuzz(func(t *testing.T, title, name, siteTitle, fromName string) {
		o := testOptions()
		o.SiteTitle = siteTitle
		o.From.Name = fromName
		o.UnsubscribeMailto = ""
		c, err := NewComposer(o)
		if err != nil {
			t.Fatal(err)
		}
		r := testRecipient()
		r.Name = name
		p := &posts.Post{Title: title, URL: "https://blog.example.com/p", ContentHTML: "<p>" + title + "</p>",
			Authors: []posts.Author{{Name: fromName}}}
		m, err := c.Post(r, p, "post/"+title, sendDate)
		if err != nil {
			t.Fatal(err)
		}
		raw := messageBytes(t, m)
		header, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !ok {
			t.Fatal("no end of the header")
		}
		for i, line := range strings.Split(string(header), "\r\n") {
			if len(line) > 998 {
				t.Errorf("header line %d is %d bytes long", i, len(line))
			}
			if strings.ContainsAny(line, "\r\n\x00") {
				t.Errorf("header line %d has a bare CR, LF or NUL: %q", i, line)
			}
		}
		msg := parse(t, raw)
		want := withHeaders("List-Unsubscribe-Post")
		if got := headerKeys(msg.header); !slices.Equal(got, want) {
			t.Fatalf("headers %v, want %v", got, want)
		}
		for _, k := range want {
			if n := len(msg.header[k]); n != 1 {
				t.Errorf("%d %s headers, want 1", n, k)
			}
		}

		dec := new(mime.WordDecoder)
		subject, err := dec.DecodeHeader(msg.header.Get("Subject"))
		if err != nil {
			t.Fatalf("Subject %q: %v", msg.header.Get("Subject"), err)
		}
		wantSubject := sanitize(title)
		if wantSubject == "" {
			wantSubject = sanitize(siteTitle)
		}
		if subject != wantSubject {
			t.Errorf("Subject decodes to %q, want %q", subject, wantSubject)
		}
		if !utf8.ValidString(subject) {
			t.Errorf("Subject %q is not UTF-8", subject)
		}
		to, err := mail.ParseAddress(msg.header.Get("To"))
		if err != nil || to.Address != r.Email {
			t.Fatalf("To %q: got %v (%v), want %s", msg.header.Get("To"), to, err, r.Email)
		}
		if n := displayName(name); !strings.Contains(n, "=?") && to.Name != n {
			t.Errorf("To's name %q, want %q", to.Name, n)
		}
		from, err := mail.ParseAddress(msg.header.Get("From"))
		if err != nil || from.Address != o.From.Address {
			t.Fatalf("From %q: got %v (%v), want %s", msg.header.Get("From"), from, err, o.From.Address)
		}
		if n := displayName(fromName); !strings.Contains(n, "=?") && from.Name != n {
			t.Errorf("From's name %q, want %q", from.Name, n)
		}
		if _, err := mail.ParseAddress(strings.Trim(msg.header.Get("Message-Id"), "<>")); err != nil {
			t.Errorf("Message-ID %q: %v", msg.header.Get("Message-Id"), err)
		}
		if !strings.HasSuffix(msg.header.Get("List-Id"), " <blog.example.com>") && msg.header.Get("List-Id") != "<blog.example.com>" {
			t.Errorf("List-Id %q", msg.header.Get("List-Id"))
		}
	})
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  two  spaces\tand tab ", "two spaces and tab"},
		{"CR\rLF\nCRLF\r\nend", "CR LF CRLF end"},
		{"nel\u0085ls\u2028ps\u2029vt\vff\f", "nel ls ps vt ff"},
		{"nul\x00del\x7fc1\u0080\u009fbell\a", "nuldelc1bell"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{"emoji 👨‍👩‍👧 and café", "emoji 👨‍👩‍👧 and café"},
		{strings.Repeat("a", 300), strings.Repeat("a", 250) + "…"},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
