package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestPreviewSendTo: preview --send-to mails a test copy of a post that was never due (nothing was
// published), through the configured SMTP server, and records nothing.
func TestPreviewSendTo(t *testing.T) {
	var g greylister
	dir := mailSite(t, fmt.Sprintf("smtp: smtp://%s?tls=none\n", g.start(t)))
	out, errOut, err := runHerald(t, testEnv(), "preview", "-C", dir, "--send-to", "jane@example.net")
	if err != nil {
		t.Fatalf("preview --send-to: %v\n%s", err, errOut)
	}
	if g.accepted.Load() != 1 {
		t.Fatalf("the server got %d messages, want 1", g.accepted.Load())
	}
	msg, _ := g.last.Load().(string)
	for _, want := range []string{"To: <jane@example.net>", "Subject: [TEST] "} {
		if !strings.Contains(msg, want) {
			t.Errorf("the test copy has no %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(out, "sent \"[TEST] ") || !strings.Contains(out, "to jane@example.net; nothing was recorded") {
		t.Errorf("preview --send-to says:\n%s", out)
	}
	if out, _, _ := runHerald(t, testEnv(), "status", "-C", dir); strings.Contains(out, "deliveries: 1") || strings.Contains(out, "runs: 1") {
		t.Errorf("preview --send-to recorded something:\n%s", out)
	}
	for _, args := range [][]string{{"--send-to", "not an address"}, {"--send-to", "a@example.net", "--serve"}} {
		_, _, err := runHerald(t, testEnv(), append([]string{"preview", "-C", dir}, args...)...)
		var u errUsage
		if !errors.As(err, &u) {
			t.Errorf("preview %q: got %v, want a usage error", args, err)
		}
	}
}

// TestPreviewServeListen: preview --serve listens where --listen says.
func TestPreviewServeListen(t *testing.T) {
	dir := mailSite(t, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"preview", "-C", dir, "--serve", "--listen", addr}, testEnv(), &stdout, &stderr)
	}()
	waitFor(t, "the preview's address", func() bool { return strings.Contains(stdout.String(), "at http://"+addr+"/") })
	resp, err := http.Get("http://" + addr + "/text")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Errorf("GET /text: %s\n%s", resp.Status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
