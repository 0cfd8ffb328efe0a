package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestServePrintForm: serve --print-form prints a form that posts to base_url's /subscribe, and that
// form, posted from the blog's own origin as a browser would, signs the reader up.
func TestServePrintForm(t *testing.T) {
	dir := mailSite(t, "")
	form, _, err := runHerald(t, testEnv(), "serve", "-C", dir, "--print-form")
	if err != nil {
		t.Fatal(err)
	}
	action := regexp.MustCompile(`<form [^>]*method="post" action="([^"]+)"`).FindStringSubmatch(form)
	if action == nil || action[1] != "https://news.example.com/subscribe" {
		t.Fatalf("the form does not post to base_url/subscribe:\n%s", form)
	}
	var names []string
	for _, m := range regexp.MustCompile(`<input [^>]*name="([^"]+)"`).FindAllStringSubmatch(form, -1) {
		names = append(names, m[1])
	}
	if strings.Join(names, ",") != "email,website" {
		t.Fatalf("the form's fields are %q, want email and the honeypot website", names)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-C", dir, "--listen", "127.0.0.1:0"}, testEnv(), &stdout, &stderr)
	}()
	listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	waitFor(t, "the listening line", func() bool {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		return base != ""
	})
	u, _ := url.Parse(action[1])
	req, _ := http.NewRequest("POST", base+u.Path, strings.NewReader(url.Values{"email": {"dee@example.net"}, "website": {""}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://blog.example.com")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Check your inbox") {
		t.Fatalf("the pasted form's sign-up: %s\n%s", resp.Status, body)
	}
	// The sign-up is queued, then taken in by the server: the reader waits as pending.
	waitFor(t, "dee@example.net pending", func() bool { return subscriberStatus(t, dir, "dee@example.net") == "pending" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
