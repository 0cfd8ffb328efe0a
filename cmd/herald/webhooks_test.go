package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWebhooks runs herald serve with Mailgun's and Postmark's webhooks on a site that mailed one post
// to ann: a forged complaint and a Postmark event without its credentials are refused and change
// nothing; Mailgun's complaint, matched by the Message-ID Herald sent, unsubscribes ann, and Postmark's
// hard bounce, matched by address, makes bob bounced; herald status then counts them, gives the post's
// complaint rate and warns about it.
func TestWebhooks(t *testing.T) {
	dir := mailSiteWithNewPost(t, "")
	if out, _, err := runHerald(t, testEnv(), "send", "-C", dir); err != nil || !strings.Contains(out, "sent 1,") {
		t.Fatalf("send: %v\n%s", err, out)
	}
	msgs := maildir(t, filepath.Join(dir, ".herald", "outbox"))
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want ann's", len(msgs))
	}
	mid := strings.Trim(msgs[0].Header.Get("Message-Id"), "<>")

	const mailgunKey = "key-test-0123456789abcdef"
	postmarkFile := filepath.Join(t.TempDir(), "postmark")
	if err := os.WriteFile(postmarkFile, []byte("herald:a-long-postmark-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testEnv("HERALD_MAILGUN_WEBHOOK_KEY", mailgunKey, "HERALD_POSTMARK_WEBHOOK_KEY_FILE", postmarkFile)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-C", dir, "--listen", "127.0.0.1:0"}, env, &stdout, &stderr)
	}()
	listening := regexp.MustCompile(`herald serve: listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	waitFor(t, "the listening line", func() bool {
		select {
		case err := <-done:
			t.Fatalf("herald serve ended: %v\n%s", err, stderr.String())
		default:
		}
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		return base != "" && strings.Contains(stdout.String(), "\n")
	})
	waitFor(t, "the webhooks line", func() bool {
		return strings.Contains(stdout.String(), "herald serve: webhooks at https://news.example.com/webhooks/{postmark,mailgun}\n")
	})

	post := func(path string, body string, header http.Header) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/webhooks/"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	mailgun := func(key, event string) string {
		ts := time.Now().Unix()
		mac := hmac.New(sha256.New, []byte(key))
		fmt.Fprintf(mac, "%d%s", ts, "token-1")
		return fmt.Sprintf(`{"signature":{"timestamp":"%d","token":"token-1","signature":"%s"},"event-data":%s}`, ts, hex.EncodeToString(mac.Sum(nil)), event)
	}
	complaint := fmt.Sprintf(`{"id":"mg-1","event":"complained","timestamp":%d,"recipient":"ann@example.com","message":{"headers":{"message-id":%q}}}`,
		time.Now().Unix(), mid)
	json := http.Header{"Content-Type": {"application/json"}}
	if code := post("mailgun", mailgun("key-forged", complaint), json); code != http.StatusForbidden {
		t.Errorf("forged Mailgun event: got %d, want 403", code)
	}
	bounce := `{"RecordType":"Bounce","ID":77,"Type":"HardBounce","TypeCode":1,"MessageID":"b7c3","Email":"bob@example.org",
		"BouncedAt":"` + time.Now().UTC().Format(time.RFC3339) + `","Details":"550 5.1.1 unknown user"}`
	if code := post("postmark", bounce, json); code != http.StatusUnauthorized {
		t.Errorf("Postmark event without credentials: got %d, want 401", code)
	}
	out, _, err := runHerald(t, testEnv(), "status", "-C", dir)
	if err != nil || !strings.Contains(out, "providers' reports, last 30 days: 0 hard bounces, 0 soft bounces, 0 complaints, 0 deliveries\n") {
		t.Errorf("status after refused events: %v\n%s", err, out)
	}

	if code := post("mailgun", mailgun(mailgunKey, complaint), json); code != http.StatusOK {
		t.Errorf("Mailgun complaint: got %d, want 200", code)
	}
	if code := post("mailgun", mailgun(mailgunKey, complaint), json); code != http.StatusOK {
		t.Errorf("Mailgun complaint again: got %d, want 200", code)
	}
	auth := http.Header{"Content-Type": {"application/json"}}
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	req.SetBasicAuth("herald", "a-long-postmark-password")
	auth.Set("Authorization", req.Header.Get("Authorization"))
	if code := post("postmark", bounce, auth); code != http.StatusOK {
		t.Errorf("Postmark bounce: got %d, want 200", code)
	}
	if strings.Contains(stderr.String(), "a-long-postmark-password") || strings.Contains(stderr.String(), mailgunKey) {
		t.Errorf("the log shows a webhook's key:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "ann@example.com") {
		t.Errorf("the log shows an address at info level:\n%s", stderr.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	out, errOut, err := runHerald(t, testEnv(), "status", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"providers' reports, last 30 days: 1 hard bounce, 0 soft bounces, 1 complaint, 0 deliveries\n",
		"complaints by post, last 30 days:\n  tag:blog.example.com,2021-01-01:hello  Hello: sent 1, hard bounces 0, complaints 1 (100.00%)  ABOVE 0.1%\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status: no %q in\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "warning: tag:blog.example.com,2021-01-01:hello drew complaints from 100.00% of its 1 messages, above 0.1%") {
		t.Errorf("status: no warning on stderr:\n%s", errOut)
	}
	for status, want := range map[string]string{"unsubscribed": "ann@example.com", "bounced": "bob@example.org"} {
		out, _, err := runHerald(t, testEnv(), "subscribers", "list", "-C", dir, "--status", status)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("subscribers %s: %v\n%s", status, err, out)
		}
	}
	// A subscriber's data says when they complained; one who never did has none.
	for _, s := range listJSON(t, dir) {
		complained, _ := s["complained_at"].(string)
		if (s["email"] == "ann@example.com") != (complained != "") {
			t.Errorf("%s: complained_at %q", s["email"], complained)
		}
	}
}

// TestWebhooksSettings: a Postmark key that is not USER:PASSWORD, an empty key file, a topic that is no
// ARN and a Resend secret that is not whsec_ are refused, without showing the secret.
func TestWebhooksSettings(t *testing.T) {
	dir := mailSite(t, "")
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	for _, tc := range []struct{ name, k, v, want string }{
		{"postmark without a password", "HERALD_POSTMARK_WEBHOOK_KEY", "onlyauser-secretvalue", "USER:PASSWORD"},
		{"postmark with a short password", "HERALD_POSTMARK_WEBHOOK_KEY", "u:secretvalue", "at least 16"},
		{"empty key file", "HERALD_MAILGUN_WEBHOOK_KEY_FILE", empty, "empty file"},
		{"no ARN", "HERALD_SES_WEBHOOK_TOPIC", "herald-topic", "not an SNS topic's ARN"},
		{"resend secret", "HERALD_RESEND_WEBHOOK_KEY", "secretvalue-no-prefix", "whsec_"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runHerald(t, testEnv(tc.k, tc.v), "serve", "-C", dir, "--listen", "127.0.0.1:0")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secretvalue") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
