package mailer

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests send through mailpit (github.com/axllent/mailpit), a real mail server with an HTTP API,
// started on loopback ports, and read each message back. Without the binary they are skipped, except
// under CI=true, where .ci/run installs it (go install github.com/axllent/mailpit@v1.27.11).

func mailpitBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MAILPIT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	for _, dir := range filepath.SplitList(gopath) {
		if p := filepath.Join(dir, "bin", "mailpit"); fileExists(p) {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("mailpit not found (on PATH, in GOPATH/bin or in $MAILPIT): .ci/run must go install github.com/axllent/mailpit@v1.27.11")
	}
	t.Skip("mailpit not found: go install github.com/axllent/mailpit@v1.27.11 to run this test")
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type mailpit struct {
	smtpPort int
	api      string
}

// startMailpit runs mailpit with args added to its defaults and waits until its API answers.
func startMailpit(t *testing.T, args ...string) *mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	dir := t.TempDir()
	mp := &mailpit{smtpPort: freePort(t)}
	httpPort := freePort(t)
	mp.api = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	args = append([]string{
		"--smtp", fmt.Sprintf("127.0.0.1:%d", mp.smtpPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--database", filepath.Join(dir, "mailpit.db"),
		"--smtp-auth-accept-any", "--smtp-disable-rdns",
		"--enable-chaos", "--quiet",
	}, args...)
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mailpit's output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(mp.api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not get ready: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Wait for its SMTP port too.
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", mp.smtpPort))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit's SMTP port does not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return mp
}

func (mp *mailpit) get(t *testing.T, path string, v any) []byte {
	t.Helper()
	resp, err := http.Get(mp.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return b
}

// chaos sets mailpit's chaos triggers: each maps a stage (Sender, Recipient, Authentication) to an SMTP
// code, returned every time; an absent stage is turned off.
func (mp *mailpit) chaos(t *testing.T, codes map[string]int) {
	t.Helper()
	body := map[string]any{}
	for _, stage := range []string{"Sender", "Recipient", "Authentication"} {
		trigger := map[string]int{"ErrorCode": 451, "Probability": 0}
		if code, ok := codes[stage]; ok {
			trigger = map[string]int{"ErrorCode": code, "Probability": 100}
		}
		body[stage] = trigger
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPut, mp.api+"/api/v1/chaos", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /api/v1/chaos: %s", resp.Status)
	}
}

type mailpitSummary struct {
	ID        string
	MessageID string
}

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

// received returns the messages mailpit holds, by Message-ID (without angle brackets).
func (mp *mailpit) received(t *testing.T) map[string]mailpitSummary {
	t.Helper()
	var list struct {
		Messages []mailpitSummary
	}
	mp.get(t, "/api/v1/messages?limit=1000", &list)
	got := map[string]mailpitSummary{}
	for _, m := range list.Messages {
		got[m.MessageID] = m
	}
	return got
}

func TestMailpit(t *testing.T) {
	mp := startMailpit(t, "--smtp-auth-allow-insecure")
	key, txt := dkimKeyPair(t, "ed25519")
	o := testOptions()
	o.DKIM = &DKIM{Key: key}
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

	s := dial(t, SMTPConfig{Host: "127.0.0.1", Port: mp.smtpPort, TLS: TLSNone, Username: "ann", Password: "pw", Timeout: 5 * time.Second})
	for _, m := range []*Message{post, digest} {
		checkOutcome(t, s.Send(t.Context(), m), Sent, "")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}

	got := mp.received(t)
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
			raw := mp.get(t, "/api/v1/message/"+sum.ID+"/raw", nil)
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
			mp.get(t, "/api/v1/message/"+sum.ID+"/headers", &headers)
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
			mp.get(t, "/api/v1/message/"+sum.ID, &msg)
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
			// feature the HTML uses, but the <style> element in Gmail's mobile webmail (the styles are
			// inline: the element is only there for the @media rules). What Outlook lacks is logged.
			var check struct {
				Warnings []struct {
					Slug    string
					Results []struct {
						Family, Platform, Version, Support string
					}
				}
			}
			mp.get(t, "/api/v1/message/"+sum.ID+"/html-check", &check)
			if len(check.Warnings) == 0 {
				t.Error("html-check found nothing to say: is it checking?")
			}
			for _, w := range check.Warnings {
				for _, r := range w.Results {
					if r.Support != "no" {
						continue
					}
					switch {
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
	mp := startMailpit(t, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls")

	ms := testMessages(t, 2)
	s := dial(t, SMTPConfig{Host: "127.0.0.1", Port: mp.smtpPort, Username: "ann", Password: "pw",
		TLSConfig: &tls.Config{RootCAs: cert.pool}, Timeout: 5 * time.Second})
	checkOutcome(t, s.Send(t.Context(), ms[0]), Sent, "")

	// Without STARTTLS, mailpit refuses the mail: a 5xx, Failed.
	plain := dial(t, SMTPConfig{Host: "127.0.0.1", Port: mp.smtpPort, TLS: TLSNone, Timeout: 5 * time.Second})
	checkOutcome(t, plain.Send(t.Context(), ms[1]), Failed, "MAIL FROM: 5")

	got := mp.received(t)
	if _, ok := got[strings.Trim(ms[0].MessageID, "<>")]; !ok || len(got) != 1 {
		t.Errorf("mailpit holds %v, want only %s", got, ms[0].MessageID)
	}
}

// TestMailpitChaos makes mailpit fail MAIL, RCPT and AUTH on purpose.
func TestMailpitChaos(t *testing.T) {
	mp := startMailpit(t, "--smtp-auth-allow-insecure")
	cfg := SMTPConfig{Host: "127.0.0.1", Port: mp.smtpPort, TLS: TLSNone, Username: "ann", Password: "pw", Timeout: 5 * time.Second}
	ms := testMessages(t, 4)
	s := dial(t, cfg)

	mp.chaos(t, map[string]int{"Recipient": 550})
	checkOutcome(t, s.Send(t.Context(), ms[0]), Failed, "RCPT TO: 550")
	mp.chaos(t, map[string]int{"Recipient": 452})
	checkOutcome(t, s.Send(t.Context(), ms[1]), Deferred, "RCPT TO: 452")
	mp.chaos(t, map[string]int{"Sender": 451})
	checkOutcome(t, s.Send(t.Context(), ms[2]), Deferred, "MAIL FROM: 451")
	mp.chaos(t, map[string]int{"Sender": 553})
	checkOutcome(t, s.Send(t.Context(), ms[2]), Failed, "MAIL FROM: 553")

	mp.chaos(t, map[string]int{"Authentication": 535})
	if s2, err := DialSMTP(t.Context(), cfg); err == nil {
		s2.Close()
		t.Error("DialSMTP succeeded while AUTH fails")
	} else if !strings.Contains(err.Error(), "535") || strings.Contains(err.Error(), "pw") && strings.Contains(err.Error(), "password pw") {
		t.Errorf("AUTH error %q: want the 535", err)
	}

	mp.chaos(t, nil)
	checkOutcome(t, s.Send(t.Context(), ms[3]), Sent, "")
	got := mp.received(t)
	if _, ok := got[strings.Trim(ms[3].MessageID, "<>")]; !ok || len(got) != 1 {
		t.Errorf("mailpit holds %v, want only %s", got, ms[3].MessageID)
	}
}
