package mailer

import (
	"bytes"
	"crypto/tls"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/mailpittest"
)

// These tests send through mailpit, a real mail server with an HTTP API (see internal/mailpittest), and
// read each message back.

type mailpitMessage struct {
	MessageID       string
	From            *mail.Address
	To              []*mail.Address
	Subject         string
	Text, HTML      string
	ListUnsubscribe struct {
		Header     string
		Links      []string
		Errors     string
		HeaderPost string
	}
}

// mailpitReceived returns the messages mailpit holds, by Message-ID (without angle brackets).
func mailpitReceived(t *testing.T, mp *mailpittest.Server) map[string]mailpittest.Summary {
	t.Helper()
	got := map[string]mailpittest.Summary{}
	for _, m := range mp.Messages(t) {
		got[m.MessageID] = m
	}
	return got
}

func TestMailpit(t *testing.T) {
	mp := mailpittest.Start(t, "--smtp-auth-allow-insecure")
	key, txt := dkimKeyPair(t, "ed25519")
	o := testOptions()
	o.DKIM = []DKIM{{Key: key}}
	o.Greeting = true
	c := newTestComposer(t, o)
	r := testRecipient()
	post, err := c.Post(r, testPosts()[0], "post/2025-01-14-failover/17", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	r2 := r
	r2.Email, r2.Name, r2.UnsubscribeURL = "bob@example.net", "", ""
	digest, err := c.Digest(r2, testPosts(), "digest/weekly 2025-W03/18", sendDate)
	if err != nil {
		t.Fatal(err)
	}

	s := dial(t, SMTPConfig{Host: "127.0.0.1", Port: mp.SMTPPort, TLS: TLSNone, Username: "ann", Password: "pw", Timeout: 5 * time.Second})
	for _, m := range []*Message{post, digest} {
		checkOutcome(t, s.Send(t.Context(), m), Sent, "")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}

	got := mailpitReceived(t, mp)
	for _, tt := range []struct {
		m          *Message
		recipient  Recipient
		unsub      string
		links      []string
		post       string
		wantInText []string
	}{
		{
			m: post, recipient: r,
			unsub:      "<https://blog.example.com/unsubscribe?t=abc123>, <mailto:unsubscribe@blog.example.com?subject=unsubscribe>",
			links:      []string{"https://blog.example.com/unsubscribe?t=abc123", "mailto:unsubscribe@blog.example.com?subject=unsubscribe"},
			post:       "List-Unsubscribe=One-Click",
			wantInText: []string{"Hi Ann Smith,", "Failover Conf [1]", "[1] https://failover.example.com/"},
		},
		{
			m: digest, recipient: r2,
			unsub:      "<mailto:unsubscribe@blog.example.com?subject=unsubscribe>",
			links:      []string{"mailto:unsubscribe@blog.example.com?subject=unsubscribe"},
			wantInText: []string{"Hello,", "3 new posts on Example Weblog", "And 1 more"},
		},
	} {
		t.Run(tt.m.Subject, func(t *testing.T) {
			sum, ok := got[strings.Trim(tt.m.MessageID, "<>")]
			if !ok {
				t.Fatalf("mailpit has no message %s (it has %v)", tt.m.MessageID, got)
			}
			raw := mp.Get(t, "/api/v1/message/"+sum.ID+"/raw", nil)
			// mailpit puts Return-Path and Received in front, as a delivering server does; the rest must
			// be the message, byte for byte.
			want := messageBytes(t, tt.m)
			if !bytes.HasSuffix(raw, want) {
				t.Errorf("mailpit's copy does not end with the message:\n%s", firstDiff(raw, want))
			} else {
				for _, l := range strings.SplitAfter(string(raw[:len(raw)-len(want)]), "\r\n") {
					if l != "" && !strings.HasPrefix(l, "Return-Path: ") && !strings.HasPrefix(l, "Received: ") && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
						t.Errorf("mailpit added %q", l)
					}
				}
			}
			verifyDKIM(t, raw, txt)

			// Header by header, as mailpit parsed them.
			var headers map[string][]string
			mp.Get(t, "/api/v1/message/"+sum.ID+"/headers", &headers)
			wantHeaders := map[string]string{
				"Message-Id":       tt.m.MessageID,
				"List-Unsubscribe": tt.unsub,
				"List-Id":          "Example Weblog <blog.example.com>",
				"Precedence":       "bulk",
				"Mime-Version":     "1.0",
				"Date":             "Wed, 15 Jan 2025 09:30:00 +0000",
			}
			if tt.post != "" {
				wantHeaders["List-Unsubscribe-Post"] = tt.post
			}
			for k, v := range wantHeaders {
				if g := headers[k]; len(g) != 1 || g[0] != v {
					t.Errorf("%s: %q, want %q", k, g, v)
				}
			}
			if tt.post == "" && len(headers["List-Unsubscribe-Post"]) != 0 {
				t.Errorf("List-Unsubscribe-Post %q without an https URL", headers["List-Unsubscribe-Post"])
			}
			for _, k := range []string{"From", "To", "Subject", "Content-Type", "Dkim-Signature"} {
				if len(headers[k]) != 1 {
					t.Errorf("%d %s headers, want 1", len(headers[k]), k)
				}
			}
			if mt, _, _ := mime.ParseMediaType(headers["Content-Type"][0]); mt != "multipart/alternative" {
				t.Errorf("Content-Type %s, want multipart/alternative", mt)
			}

			var msg mailpitMessage
			mp.Get(t, "/api/v1/message/"+sum.ID, &msg)
			if msg.Subject != tt.m.Subject {
				t.Errorf("Subject %q, want %q", msg.Subject, tt.m.Subject)
			}
			if msg.From == nil || msg.From.Address != "jane@blog.example.com" || msg.From.Name != "Jane Doe" {
				t.Errorf("From %v, want Jane Doe <jane@blog.example.com>", msg.From)
			}
			if len(msg.To) != 1 || msg.To[0].Address != tt.recipient.Email || msg.To[0].Name != tt.recipient.Name {
				t.Errorf("To %v, want %s <%s>", msg.To, tt.recipient.Name, tt.recipient.Email)
			}
			if msg.ListUnsubscribe.Errors != "" {
				t.Errorf("mailpit finds List-Unsubscribe wrong: %s", msg.ListUnsubscribe.Errors)
			}
			if !slices.Equal(msg.ListUnsubscribe.Links, tt.links) {
				t.Errorf("List-Unsubscribe links %q, want %q", msg.ListUnsubscribe.Links, tt.links)
			}
			if msg.ListUnsubscribe.HeaderPost != tt.post {
				t.Errorf("List-Unsubscribe-Post %q, want %q", msg.ListUnsubscribe.HeaderPost, tt.post)
			}
			for _, w := range append(tt.wantInText, o.PostalAddress) {
				if !strings.Contains(msg.Text, w) {
					t.Errorf("the text part lacks %q:\n%s", w, msg.Text)
				}
			}
			if !strings.Contains(msg.HTML, o.PostalAddress) || !strings.Contains(msg.HTML, `style="`) {
				t.Errorf("the HTML part lacks the postal address or inline styles")
			}

			// mailpit's HTML check (caniemail.com's data, no network): Gmail and Apple Mail support every
			// feature the HTML uses, but in Gmail's mobile webmail the <style> element and so its @media
			// rules (the styles are inline: the element is only there for the @media rules), and
			// display:none, where the preheader's max-height:0 and overflow:hidden hide it instead. What
			// Outlook lacks is logged.
			var check struct {
				Warnings []struct {
					Slug    string
					Results []struct {
						Family, Platform, Version, Support string
					}
				}
			}
			mp.Get(t, "/api/v1/message/"+sum.ID+"/html-check", &check)
			if len(check.Warnings) == 0 {
				t.Error("html-check found nothing to say: is it checking?")
			}
			for _, w := range check.Warnings {
				for _, r := range w.Results {
					if r.Support != "no" {
						continue
					}
					switch {
					case r.Family == "gmail" && r.Platform == "mobile-webmail" && slices.Contains([]string{"html-style", "css-at-media", "css-display-none"}, w.Slug):
					case (r.Family == "gmail" || r.Family == "apple-mail") && w.Slug != "html-style":
						t.Errorf("html-check: %s is not supported by %s %s %s", w.Slug, r.Family, r.Platform, r.Version)
					case r.Family == "outlook":
						t.Logf("html-check: %s is not supported by %s %s %s", w.Slug, r.Family, r.Platform, r.Version)
					}
				}
			}
		})
	}
}

// TestMailpitSTARTTLS sends through mailpit when it requires STARTTLS, with its certificate trusted.
func TestMailpitSTARTTLS(t *testing.T) {
	cert := selfSignedCert(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, cert.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, cert.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	mp := mailpittest.Start(t, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls")

	ms := testMessages(t, 2)
	s := dial(t, SMTPConfig{Host: "127.0.0.1", Port: mp.SMTPPort, Username: "ann", Password: "pw",
		TLSConfig: &tls.Config{RootCAs: cert.pool}, Timeout: 5 * time.Second})
	checkOutcome(t, s.Send(t.Context(), ms[0]), Sent, "")

	// Without STARTTLS, mailpit refuses the mail: a 5xx, Failed.
	plain := dial(t, SMTPConfig{Host: "127.0.0.1", Port: mp.SMTPPort, TLS: TLSNone, Timeout: 5 * time.Second})
	checkOutcome(t, plain.Send(t.Context(), ms[1]), Failed, "MAIL FROM: 5")

	got := mailpitReceived(t, mp)
	if _, ok := got[strings.Trim(ms[0].MessageID, "<>")]; !ok || len(got) != 1 {
		t.Errorf("mailpit holds %v, want only %s", got, ms[0].MessageID)
	}
}

// TestMailpitChaos makes mailpit fail MAIL, RCPT and AUTH on purpose.
func TestMailpitChaos(t *testing.T) {
	mp := mailpittest.Start(t, "--smtp-auth-allow-insecure")
	cfg := SMTPConfig{Host: "127.0.0.1", Port: mp.SMTPPort, TLS: TLSNone, Username: "ann", Password: "pw", Timeout: 5 * time.Second}
	ms := testMessages(t, 4)
	s := dial(t, cfg)

	mp.Chaos(t, map[string]int{"Recipient": 550})
	checkOutcome(t, s.Send(t.Context(), ms[0]), Failed, "RCPT TO: 550")
	mp.Chaos(t, map[string]int{"Recipient": 452})
	checkOutcome(t, s.Send(t.Context(), ms[1]), Deferred, "RCPT TO: 452")
	mp.Chaos(t, map[string]int{"Sender": 451})
	checkOutcome(t, s.Send(t.Context(), ms[2]), Deferred, "MAIL FROM: 451")
	mp.Chaos(t, map[string]int{"Sender": 553})
	checkOutcome(t, s.Send(t.Context(), ms[2]), Failed, "MAIL FROM: 553")

	mp.Chaos(t, map[string]int{"Authentication": 535})
	if s2, err := DialSMTP(t.Context(), cfg); err == nil {
		s2.Close()
		t.Error("DialSMTP succeeded while AUTH fails")
	} else if !strings.Contains(err.Error(), "535") || strings.Contains(err.Error(), "pw") && strings.Contains(err.Error(), "password pw") {
		t.Errorf("AUTH error %q: want the 535", err)
	}

	mp.Chaos(t, nil)
	checkOutcome(t, s.Send(t.Context(), ms[3]), Sent, "")
	got := mailpitReceived(t, mp)
	if _, ok := got[strings.Trim(ms[3].MessageID, "<>")]; !ok || len(got) != 1 {
		t.Errorf("mailpit holds %v, want only %s", got, ms[3].MessageID)
	}
}
