package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInit(t *testing.T) {
	dir := copySite(t, "jekyll-docs")
	out, _, err := runHerald(t, testEnv(), "init", "-C", dir, "--postal-address", "1 Main St")
	if err != nil || !strings.Contains(out, "a jekyll site, 102 posts") {
		t.Fatalf("init: %v\n%s", err, out)
	}
	cfg, err := loadConfig(dir, testEnv())
	if err != nil {
		t.Fatalf("the written herald.yaml does not load: %v", err)
	}
	if len(cfg.Secret) != 64 || cfg.PostalAddress != "1 Main St" || cfg.From != "" {
		t.Errorf("config: secret %d chars, postal %q, from %q", len(cfg.Secret), cfg.PostalAddress, cfg.From)
	}
	if _, _, err := runHerald(t, testEnv(), "init", "-C", dir); err == nil {
		t.Errorf("a second init overwrote herald.yaml")
	}
}

func TestPreview(t *testing.T) {
	dir := mailSite(t, "")
	out := t.TempDir()
	if _, _, err := runHerald(t, testEnv(), "preview", "failover-conf", "-C", dir, "--out", out); err != nil {
		t.Fatal(err)
	}
	eml, err := os.ReadFile(filepath.Join(out, "herald-preview.eml"))
	if err != nil || !strings.Contains(string(eml), "Subject: Failover Conf") {
		t.Errorf("preview .eml: %v\n%.300s", err, eml)
	}
	html, _ := os.ReadFile(filepath.Join(out, "herald-preview.html"))
	if !strings.Contains(string(html), "https://re-deploy.io/") {
		t.Errorf("preview .html lacks the post's links")
	}
	if _, _, err := runHerald(t, testEnv(), "preview", "nope", "-C", dir, "--out", out); err == nil {
		t.Errorf("preview of a missing post succeeded")
	}
}

func TestPreviewServe(t *testing.T) {
	dir := mailSite(t, "")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"preview", "-C", dir, "--serve"}, testEnv(), pw, io.Discard)
		pw.Close()
	}()
	buf := make([]byte, 512)
	n, _ := pr.Read(buf)
	line := string(buf[:n])
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("no URL in %q", line)
	}
	url := strings.Fields(line[i:])[0]
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Failover Conf") {
		t.Errorf("GET %s: %d\n%.200s", url, resp.StatusCode, body)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("preview --serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("preview --serve did not stop")
	}
}
