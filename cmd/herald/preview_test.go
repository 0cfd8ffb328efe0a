package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/token"
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

// herald init keeps the secret out of herald.yaml, which Jekyll publishes, in .herald/secret, which it
// does not (a dot-folder), readable by its owner alone and kept out of git.
func TestInitSecret(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "init", "-C", dir); err != nil {
		t.Fatal(err)
	}
	yml, err := os.ReadFile(filepath.Join(dir, "herald.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, ".herald", "secret")
	secret, err := os.ReadFile(secretFile)
	if err != nil {
		t.Fatalf("init made no secret file: %v", err)
	}
	key := strings.TrimSpace(string(secret))
	if len(key) != 64 {
		t.Errorf("secret: got %d characters, want 64", len(key))
	}
	if strings.Contains(string(yml), key) || strings.Contains(string(yml), "\nsecret:") {
		t.Errorf("herald.yaml holds the secret:\n%s", yml)
	}
	if !strings.Contains(string(yml), ".herald/secret") {
		t.Errorf("herald.yaml does not say where the secret is:\n%s", yml)
	}
	if fi, err := os.Stat(secretFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode: got %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if ig, err := os.ReadFile(filepath.Join(dir, ".herald", ".gitignore")); err != nil || !strings.Contains(string(ig), "*") {
		t.Errorf(".herald/.gitignore: %v %q", err, ig)
	}
	if cfg, err := loadConfig(dir, testEnv()); err != nil || cfg.Secret != key {
		t.Errorf("loadConfig: secret %q (%v), want the one in .herald/secret", cfg.Secret, err)
	}

	// A second init, herald.yaml removed, keeps the secret: links in mail already sent go on working.
	os.Remove(filepath.Join(dir, "herald.yaml"))
	out, _, err := runHerald(t, testEnv(), "init", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(secretFile); string(again) != string(secret) {
		t.Errorf("a second init replaced the secret")
	}
	if !strings.Contains(out, "kept the secret") {
		t.Errorf("init does not say it kept the secret:\n%s", out)
	}
}

// herald.yaml's secret, then HERALD_SECRET, win over .herald/secret.
func TestSecretSources(t *testing.T) {
	const file, inYAML, inEnv = "from-the-secret-file-0123456789", "from-herald-yaml-0123456789", "from-the-environment-0123456789"
	for _, tc := range []struct {
		name, yml string
		env       []string
		want      string
	}{
		{name: "file", want: file},
		{name: "herald.yaml", yml: "secret: " + inYAML + "\n", want: inYAML},
		{name: "environment", yml: "secret: " + inYAML + "\n", env: []string{"HERALD_SECRET", inEnv}, want: inEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, ".herald"), 0o755)
			os.WriteFile(filepath.Join(dir, ".herald", "secret"), []byte(file+"\n"), 0o600)
			os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(tc.yml), 0o644)
			cfg, err := loadConfig(dir, testEnv(tc.env...))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Secret != tc.want {
				t.Errorf("secret: got %q, want %q", cfg.Secret, tc.want)
			}
		})
	}
}

// After herald init, a preview's unsubscribe link is signed with the secret in .herald/secret.
func TestInitSecretSignsLinks(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "init", "-C", dir, "--from", "Jane <jane@blog.example.com>",
		"--postal-address", "1 Main St", "--base-url", "https://news.example.com"); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, _, err := runHerald(t, testEnv(), "preview", "-C", dir, "--out", out); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(out, "herald-preview.html"))
	_, tok, ok := strings.Cut(string(html), "https://news.example.com/unsubscribe?token=")
	if !ok {
		t.Fatalf("no unsubscribe link in the preview:\n%.500s", html)
	}
	tok = strings.FieldsFunc(tok, func(r rune) bool { return r == '"' || r == '<' || r == '&' })[0]
	secret, _ := os.ReadFile(filepath.Join(dir, ".herald", "secret"))
	if _, err := token.Verify([]byte(strings.TrimSpace(string(secret))), "unsubscribe", tok, time.Now()); err != nil {
		t.Errorf("the unsubscribe token does not verify with .herald/secret: %v", err)
	}
}

// A secret in herald.yaml on a Jekyll site gets published with it, unless _config.yml excludes the file:
// publish and send say so.
func TestSecretPublishedWarning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		exclude string // appended to _config.yml
		inFile  bool   // the secret in .herald/secret, not herald.yaml
		want    bool
	}{
		{name: "in herald.yaml", want: true},
		{name: "excluded", exclude: "exclude:\n  - Gemfile\n  - herald.yaml\n"},
		{name: "excluded by a glob", exclude: "exclude: [\"*.yaml\"]\n"},
		{name: "in .herald/secret", inFile: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mailSite(t, "")
			if tc.exclude != "" {
				f, _ := os.OpenFile(filepath.Join(dir, "_config.yml"), os.O_APPEND|os.O_WRONLY, 0)
				f.WriteString(tc.exclude)
				f.Close()
			}
			if tc.inFile {
				yml, _ := os.ReadFile(filepath.Join(dir, "herald.yaml"))
				os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(strings.Replace(string(yml), "secret:", "# secret:", 1)), 0o644)
				os.WriteFile(filepath.Join(dir, ".herald", "secret"), []byte("0123456789abcdef0123456789abcdef"), 0o600)
			}
			for _, cmd := range []string{"publish", "send"} {
				_, errOut, err := runHerald(t, testEnv(), cmd, "-C", dir)
				if err != nil {
					t.Fatalf("%s: %v", cmd, err)
				}
				got := strings.Contains(errOut, "warning: herald.yaml:4: secret: Jekyll publishes herald.yaml with the site (as _site/herald.yaml)")
				if got != tc.want {
					t.Errorf("%s: warned %v, want %v; stderr:\n%s", cmd, got, tc.want, errOut)
				}
			}
		})
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

// Without --out, preview writes into .herald/preview in the site, which Jekyll does not publish, and not
// into the working directory, which is often the site's root.
func TestPreviewDefaultOut(t *testing.T) {
	dir := mailSite(t, "")
	wd := t.TempDir()
	t.Chdir(wd)
	out, _, err := runHerald(t, testEnv(), "preview", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, ".herald", "preview", "herald-preview.eml")
	if eml, err := os.ReadFile(want); err != nil || !strings.Contains(string(eml), "Subject: ") {
		t.Errorf("%s: %v", want, err)
	}
	if !strings.Contains(out, "wrote "+want) {
		t.Errorf("output does not name %s:\n%s", want, out)
	}
	for _, d := range []string{wd, dir} {
		if m, _ := filepath.Glob(filepath.Join(d, "herald-preview.*")); len(m) > 0 {
			t.Errorf("preview wrote %v", m)
		}
	}
}

// preview writes no feed: the build flags about feed files are refused, not ignored.
func TestPreviewFeedFlags(t *testing.T) {
	dir := mailSite(t, "")
	for _, args := range [][]string{{"--output", t.TempDir()}, {"--limit", "3"}} {
		_, _, err := runHerald(t, testEnv(), append([]string{"preview", "-C", dir}, args...)...)
		var u errUsage
		if !errors.As(err, &u) {
			t.Errorf("preview %s: got %v, want a usage error", args[0], err)
		}
	}
}

// jekyllNoURL is the seed site with the url: "" that jekyll new writes.
func jekyllNoURL(t *testing.T) string {
	t.Helper()
	dir := copySite(t, "seed-jekyll")
	cfg, err := os.ReadFile(filepath.Join(dir, "_config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "url: https://blog.example.com", `url: ""`, 1))
	if err := os.WriteFile(filepath.Join(dir, "_config.yml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A Jekyll site without a url gets a herald.yaml with a url: line to fill in, which is all it then needs.
func TestInitNoURL(t *testing.T) {
	dir := jekyllNoURL(t)
	out, _, err := runHerald(t, testEnv(), "init", "-C", dir)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	if !strings.Contains(out, "missing for every command: url in herald.yaml") {
		t.Errorf("init does not say url is missing:\n%s", out)
	}
	yml, _ := os.ReadFile(filepath.Join(dir, "herald.yaml"))
	const placeholder = "\nurl: # https://blog.example.com\n"
	if !strings.Contains(string(yml), placeholder) {
		t.Fatalf("herald.yaml has no url line to fill in:\n%s", yml)
	}
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err == nil {
		t.Errorf("build without a url succeeded")
	}
	filled := strings.Replace(string(yml), placeholder, "\nurl: https://blog.example.com\n", 1)
	os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(filled), 0o644)
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil {
		t.Errorf("build with the url filled in: %v", err)
	}
}

// --url writes the site's URL, and a plain folder is taken with --posts-dir.
func TestInitURLAndPlain(t *testing.T) {
	t.Run("jekyll --url", func(t *testing.T) {
		dir := jekyllNoURL(t)
		out, _, err := runHerald(t, testEnv(), "init", "-C", dir, "--url", "https://notes.example.org")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "url in herald.yaml") {
			t.Errorf("init says url is missing after --url:\n%s", out)
		}
		if cfg, err := loadConfig(dir, testEnv()); err != nil || cfg.URL != "https://notes.example.org" {
			t.Errorf("url: got %q (%v)", cfg.URL, err)
		}
		if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil {
			t.Errorf("build: %v", err)
		}
		feed, _ := os.ReadFile(filepath.Join(dir, "_site", "feed.xml"))
		if !strings.Contains(string(feed), "<link>https://notes.example.org/</link>") {
			t.Errorf("the feed does not link to the site given by --url:\n%.400s", feed)
		}
	})
	t.Run("plain", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "notes"), 0o755)
		os.WriteFile(filepath.Join(dir, "notes", "2024-03-01-hello.md"), []byte("---\ntitle: Hello\n---\nHi.\n"), 0o644)
		if _, _, err := runHerald(t, testEnv(), "init", "-C", dir); err == nil || !strings.Contains(err.Error(), "--posts-dir") {
			t.Errorf("init in a folder with no site: got %v, want a hint about --posts-dir", err)
		}
		out, _, err := runHerald(t, testEnv(), "init", "-C", dir, "--posts-dir", "notes", "--url", "https://notes.example.org")
		if err != nil || !strings.Contains(out, "a plain site, 1 post)") {
			t.Fatalf("init: %v\n%s", err, out)
		}
		if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil {
			t.Fatalf("build: %v", err)
		}
		if feed, err := os.ReadFile(filepath.Join(dir, "public", "feed.xml")); err != nil || !strings.Contains(string(feed), "<title>Hello</title>") {
			t.Errorf("feed: %v\n%.400s", err, feed)
		}
	})
	t.Run("bad --url", func(t *testing.T) {
		_, _, err := runHerald(t, testEnv(), "init", "-C", jekyllNoURL(t), "--url", "notes.example.org")
		var u errUsage
		if !errors.As(err, &u) {
			t.Errorf("got %v, want a usage error", err)
		}
	})
}

// After init, the output names exactly the settings email still needs, counting the environment.
func TestInitMissing(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"nothing given", nil, nil, "missing for email: from; postal_address; base_url or unsubscribe_mailto (in herald.yaml"},
		{"from and postal", []string{"--from", "Jane <jane@blog.example.com>", "--postal-address", "1 Main St"}, nil,
			"missing for email: base_url or unsubscribe_mailto (in herald.yaml"},
		{"from in the environment", []string{"--postal-address", "1 Main St", "--unsubscribe-mailto", "unsubscribe@blog.example.com"},
			[]string{"HERALD_FROM", "Jane <jane@blog.example.com>"}, "nothing missing"},
		{"everything", []string{"--from", "Jane <jane@blog.example.com>", "--postal-address", "1 Main St", "--base-url", "https://news.example.com"}, nil,
			"nothing missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copySite(t, "seed-jekyll")
			out, _, err := runHerald(t, testEnv(tc.env...), append([]string{"init", "-C", dir}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("got\n%s\nwant a line with %q", out, tc.want)
			}
			yml, _ := os.ReadFile(filepath.Join(dir, "herald.yaml"))
			if !strings.Contains(string(yml), "\nunsubscribe_mailto: ") {
				t.Errorf("herald.yaml has no unsubscribe_mailto line:\n%s", yml)
			}
		})
	}
}

// Right after init with --from and --postal-address, preview works: with no way to unsubscribe set yet
// it shows a placeholder and says so; with --unsubscribe-mailto it shows that address.
func TestInitThenPreview(t *testing.T) {
	for _, tc := range []struct {
		name, mailto, want string
		warn               bool
	}{
		{name: "no way to unsubscribe", want: "mailto:unsubscribe@example.invalid", warn: true},
		{name: "mailto", mailto: "unsubscribe@blog.example.com", want: "mailto:unsubscribe@blog.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copySite(t, "seed-jekyll")
			args := []string{"init", "-C", dir, "--from", "Jane <jane@blog.example.com>", "--postal-address", "1 Main St"}
			if tc.mailto != "" {
				args = append(args, "--unsubscribe-mailto", tc.mailto)
			}
			if _, _, err := runHerald(t, testEnv(), args...); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			_, errOut, err := runHerald(t, testEnv(), "preview", "-C", dir, "--out", out)
			if err != nil {
				t.Fatalf("preview after init: %v", err)
			}
			html, _ := os.ReadFile(filepath.Join(out, "herald-preview.html"))
			if !strings.Contains(string(html), tc.want) {
				t.Errorf("the preview has no %s", tc.want)
			}
			if got := strings.Contains(errOut, "warning: no way to unsubscribe is set"); got != tc.warn {
				t.Errorf("warned %v, want %v: %s", got, tc.warn, errOut)
			}
		})
	}
}

// POST may be a slug, a draft's included (its file name has no date).
func TestPreviewSlug(t *testing.T) {
	dir := mailSite(t, "")
	os.MkdirAll(filepath.Join(dir, "_drafts"), 0o755)
	os.WriteFile(filepath.Join(dir, "_drafts", "launch.md"), []byte("---\ntitle: Launch Day\n---\nSoon.\n"), 0o644)
	for _, tc := range []struct {
		name    string
		args    []string
		subject string
	}{
		{"draft", []string{"launch", "--drafts"}, "Subject: Launch Day"},
		{"post", []string{"failover-conf"}, "Subject: Failover Conf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			if _, _, err := runHerald(t, testEnv(), append(append([]string{"preview"}, tc.args...), "-C", dir, "--out", out)...); err != nil {
				t.Fatal(err)
			}
			if eml, _ := os.ReadFile(filepath.Join(out, "herald-preview.eml")); !strings.Contains(string(eml), tc.subject) {
				t.Errorf("got\n%.300s\nwant %q", eml, tc.subject)
			}
		})
	}
}
