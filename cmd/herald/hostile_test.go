package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildRefusesLinksToPrivateFiles: a site file linked to the secret (or to the store, wherever herald.yaml
// puts it) stops the build with an error naming the file, and nothing is written: the secret that signs every
// unsubscribe link never reaches a feed.
func TestBuildRefusesLinksToPrivateFiles(t *testing.T) {
	sqliteOnly(t)
	const secret = "0123456789abcdef0123456789abcdef-not-for-feeds"
	tests := []struct {
		name, herald, file, target, want string
		keyVar                           string // a variable naming the target as a secret's file
	}{
		{"include to the secret", "", "_includes/footer.html", ".herald/secret", "_includes/footer.html: it is, or links to, Herald's private .herald", ""},
		{"post to the secret", "", "_posts/2021-02-02-leak.md", ".herald/secret", "_posts/2021-02-02-leak.md: it is, or links to, Herald's private .herald", ""},
		{"post to a store set in herald.yaml", "store: state/herald.db\n", "_posts/2021-02-02-leak.md", "state/herald.db", "_posts/2021-02-02-leak.md: it is, or links to, Herald's private state/herald.db", ""},
		{"post to an API key's file", "", "_posts/2021-02-02-leak.md", "state/herald.db", "_posts/2021-02-02-leak.md: it is, or links to, Herald's private", "HERALD_POSTMARK_TOKEN_FILE"},
		{"post to a webhook key's file", "", "_posts/2021-02-02-leak.md", "state/herald.db", "_posts/2021-02-02-leak.md: it is, or links to, Herald's private", "HERALD_RESEND_WEBHOOK_KEY_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copySite(t, "seed-jekyll")
			write := func(rel, s string) {
				t.Helper()
				p := filepath.Join(dir, filepath.FromSlash(rel))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write(".herald/secret", secret+"\n")
			write("state/herald.db", secret+"\n")
			write("_posts/2021-02-01-footer.md", "---\ntitle: Footer\n---\nHello {% include footer.html %}\n")
			if tt.herald != "" {
				write("herald.yaml", tt.herald)
			}
			link := filepath.Join(dir, filepath.FromSlash(tt.file))
			os.MkdirAll(filepath.Dir(link), 0o755)
			if err := os.Symlink(filepath.Join(dir, filepath.FromSlash(tt.target)), link); err != nil {
				t.Fatal(err)
			}
			env := testEnv()
			if tt.keyVar != "" {
				env = testEnv(tt.keyVar, filepath.Join(dir, filepath.FromSlash(tt.target)))
			}
			out, errOut, err := runHerald(t, env, "build", "-C", dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("build: %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(out+errOut+err.Error(), secret) {
				t.Errorf("the secret was printed")
			}
			if _, err := os.Stat(filepath.Join(dir, "_site")); err == nil {
				t.Errorf("a refused build wrote _site")
			}
		})
	}
}

// TestBuildBounds: the bounds are settings; the error names the file, the bound and the setting.
func TestBuildBounds(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte("max_file_bytes: 20000\nmax_front_matter_bytes: 1000\nliquid_max_bytes: 100000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	post := filepath.Join(dir, "_posts", "2021-03-03-big.md")
	for _, tc := range []struct{ content, want string }{
		{"---\ntitle: Big\n---\n" + strings.Repeat("word ", 5000), "_posts/2021-03-03-big.md: larger than 20000 bytes, the most Herald reads of a site file; if it is meant to be that large, raise max_file_bytes in herald.yaml"},
		{"---\ntitle: Big\n" + strings.Repeat("tags: x\n", 150) + "---\nbody\n", "_posts/2021-03-03-big.md:1: front matter of 1211 bytes, where Herald parses at most 1000; move the data into a data file: posts: front matter too large; if it is meant to be that large, raise max_front_matter_bytes in herald.yaml"},
		{"---\ntitle: Big\n---\n{% assign s = 'ab' %}" + strings.Repeat("{% assign s = s | append: s %}", 40), "_posts/2021-03-03-big.md: posts: Liquid bound reached: the filter append makes a string or list of more than 100000 bytes or items; if the site needs more, raise liquid_timeout, liquid_max_bytes or liquid_max_includes in herald.yaml"},
	} {
		if err := os.WriteFile(post, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := runHerald(t, testEnv(), "build", "-C", dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("build: %v, want an error containing %q", err, tc.want)
		}
	}
}

// TestBuildStopsWhenInterrupted: the first SIGINT or SIGTERM (a cancelled context: main makes one of
// them) stops a build busy rendering within a second, and nothing is written.
func TestBuildStopsWhenInterrupted(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	slow := "---\ntitle: Slow\n---\n{% for i in (1..2500) %}{% for j in (1..2500) %}{% endfor %}{% endfor %}\n"
	for _, name := range []string{"2021-04-01-slow.md", "2021-04-02-slow.md"} {
		if err := os.WriteFile(filepath.Join(dir, "_posts", name), []byte(slow), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	err := run(ctx, []string{"build", "-C", dir, "--limit", "0"}, testEnv(), io.Discard, io.Discard)
	if took := time.Since(start); took > 300*time.Millisecond+time.Second {
		t.Errorf("the build stopped %s after it was interrupted, want within a second", took-300*time.Millisecond)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the interruption", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "_site")); err == nil {
		t.Errorf("an interrupted build wrote _site")
	}
}

// TestPublishRefusesEmptyStore: a store file of 0 bytes (truncated, or made by something else) is not
// taken for a new store: publish stops, says so, and leaves the file as it is.
func TestPublishRefusesEmptyStore(t *testing.T) {
	sqliteOnly(t)
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, ".herald", "state.db")
	for _, p := range []string{store + "-wal", store + "-shm"} {
		os.Remove(p)
	}
	if err := os.Truncate(store, 0); err != nil {
		t.Fatal(err)
	}
	_, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--backfill", "1")
	if err == nil || !strings.Contains(err.Error(), "is empty (0 bytes), which a Herald store never is") {
		t.Fatalf("publish: %v, want the empty store refused", err)
	}
	if fi, err := os.Stat(store); err != nil || fi.Size() != 0 {
		t.Errorf("the store was changed: %v, %v", fi, err)
	}
}

// TestNeverASilentNewBaseline: a store deleted after runs were recorded is not taken for a first run when
// the output folder holds the feed those runs wrote, nor under CI=true: publish stops, records nothing and
// mails nobody, until told --init.
func TestNeverASilentNewBaseline(t *testing.T) {
	sqliteOnly(t)
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, ".herald")); err != nil {
		t.Fatal(err)
	}
	_, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--backfill", "1")
	if err == nil || !strings.Contains(err.Error(), "the store has no history, but the site looks published before") || !strings.Contains(err.Error(), "herald publish --init") {
		t.Fatalf("publish with the store deleted: %v, want it refused", err)
	}
	// In CI, even without a feed in the output folder.
	if err := os.RemoveAll(filepath.Join(dir, "_site")); err != nil {
		t.Fatal(err)
	}
	_, _, err = runHerald(t, testEnv("CI", "true"), "publish", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "this run is in CI") {
		t.Fatalf("publish in CI with no store: %v, want it refused", err)
	}
	out, _, err := runHerald(t, testEnv("CI", "true"), "publish", "-C", dir, "--init")
	if err != nil || !strings.Contains(out, "first run:") {
		t.Fatalf("publish --init: %v\n%s", err, out)
	}
	if out, _, err := runHerald(t, testEnv("CI", "true"), "publish", "-C", dir); err != nil || strings.Contains(out, "first run") {
		t.Errorf("publish after --init: %v\n%s", err, out)
	}
}

// TestPrivateFilesBesideTheStore: every file Herald keeps for a store wherever herald.yaml puts it (its
// write-ahead log among them, which holds subscribers' addresses), the outbox as send resolves it, and the
// SMTP password file are private: an include linked to any of them stops the build.
func TestPrivateFilesBesideTheStore(t *testing.T) {
	sqliteOnly(t)
	for _, tc := range []struct{ name, herald, target string }{
		{"the store's log", "store: state/herald.db\n", "state/herald.db-wal"},
		{"the posts cache", "store: state/herald.db\n", "state/herald.db.posts-cache"},
		{"the default outbox beside the store", "store: state/herald.db\n", "state/outbox/new/m"},
		{"a relative outbox", "outbox: mail\n", "mail/new/m"},
		{"the SMTP password file", "", "pw.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copySite(t, "seed-jekyll")
			for _, f := range []struct{ name, content string }{
				{"herald.yaml", tc.herald},
				{tc.target, "victim@example.org hunter2\n"},
				{"_posts/2021-02-01-footer.md", "---\ntitle: Footer\n---\nHello {% include footer.html %}\n"},
			} {
				p := filepath.Join(dir, filepath.FromSlash(f.name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(f.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			link := filepath.Join(dir, "_includes", "footer.html")
			os.MkdirAll(filepath.Dir(link), 0o755)
			if err := os.Symlink(filepath.Join(dir, filepath.FromSlash(tc.target)), link); err != nil {
				t.Fatal(err)
			}
			_, _, err := runHerald(t, testEnv("HERALD_SMTP_PASSWORD_FILE", filepath.Join(dir, "pw.txt")), "build", "-C", dir)
			if err == nil || !strings.Contains(err.Error(), "_includes/footer.html: it is, or links to, Herald's private") {
				t.Fatalf("build: %v, want the include refused", err)
			}
		})
	}
}

// TestSiteThroughALink: a site reached through a link to its folder is the site: its posts are found.
func TestSiteThroughALink(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	link := filepath.Join(t.TempDir(), "site")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	out, _, err := runHerald(t, testEnv(), "build", "-C", link)
	if err != nil || !strings.Contains(out, "wrote _site/feed.xml (") || strings.Contains(out, "(0 items") {
		t.Errorf("build through a link: %v\n%s", err, out)
	}
}
