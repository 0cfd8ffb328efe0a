package main

import (
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readBody returns a message's parts decoded, the text part then the HTML part.
func readBody(m *mail.Message) (string, error) {
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		data, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			return "", err
		}
		b.Write(data)
	}
}

// addLongPost adds a post whose email passes Gmail's clip: about 130 KB of HTML.
func addLongPost(t *testing.T, dir, name, title string) {
	t.Helper()
	body := "---\ntitle: " + title + "\ndescription: A very long post.\n---\n" +
		strings.Repeat("A paragraph of a very long post, with [a link](https://example.com/some/long/path) in it, and more words after it.\n\n", 900)
	if err := os.WriteFile(filepath.Join(dir, "_posts", name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGmailClipWarning: herald preview and herald send warn of a post whose email has more than about
// 90 KB of HTML, naming it and its size; with email_clip: excerpt, the post goes as its excerpt.
func TestGmailClipWarning(t *testing.T) {
	for _, clip := range []string{"", "excerpt"} {
		t.Run("email_clip "+clip, func(t *testing.T) {
			extra := ""
			if clip != "" {
				extra = "email_clip: " + clip + "\n"
			}
			dir := mailSite(t, extra)
			if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
				t.Fatal(err)
			}
			addLongPost(t, dir, "2021-01-01-long.md", "A long one")
			addPost(t, dir, "2021-01-02-short.md", "A short one")
			wantWarning := `warning: _posts/2021-01-01-long.md ("A long one"): its email has `
			if clip == "excerpt" {
				wantWarning = `warning: _posts/2021-01-01-long.md ("A long one"): its email would have `
			}
			out := t.TempDir()
			_, stderr, err := runHerald(t, testEnv(), "preview", "long", "-C", dir, "--out", out)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stderr, wantWarning) || !strings.Contains(stderr, " KB of HTML") {
				t.Errorf("preview's warnings:\n%s\nwant %s…", stderr, wantWarning)
			}
			eml, _ := os.ReadFile(filepath.Join(out, "herald-preview.eml"))
			if excerpt := strings.Contains(string(eml), "Read the whole post"); excerpt != (clip == "excerpt") {
				t.Errorf("email_clip %q: the preview is the excerpt: %v", clip, excerpt)
			}
			_, stderr, err = runHerald(t, testEnv(), "preview", "short", "-C", dir, "--out", out)
			if err != nil || strings.Contains(stderr, "KB of HTML") {
				t.Errorf("preview of a short post: %v\n%s", err, stderr)
			}

			if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--record"); err != nil {
				t.Fatal(err)
			}
			_, stderr, err = runHerald(t, testEnv(), "send", "-C", dir)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(stderr, wantWarning) != 1 || strings.Contains(stderr, "short.md") {
				t.Errorf("send's warnings (want one, of the long post):\n%s", stderr)
			}
			var long string
			for _, m := range maildir(t, filepath.Join(dir, ".herald", "outbox")) {
				if m.Header.Get("Subject") == "A long one" {
					b, _ := readBody(m)
					long = b
				}
			}
			if long == "" {
				t.Fatal("the long post was not sent")
			}
			if excerpt := strings.Contains(long, "Read the whole post"); excerpt != (clip == "excerpt") {
				t.Errorf("email_clip %q: the email sent is the excerpt: %v", clip, excerpt)
			}
		})
	}
}

// TestEmailDesignSettings: greeting, subject_post and subject_digest in herald.yaml.
func TestEmailDesignSettings(t *testing.T) {
	dir := mailSite(t, "greeting: true\nsubject_post: \"New on {{.Site.Title}}: {{.Title}}\"\n")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-hello.md", "Hello, readers")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	msgs := maildir(t, filepath.Join(dir, ".herald", "outbox"))
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	if got := msgs[0].Header.Get("Subject"); !strings.HasPrefix(got, "New on ") || !strings.HasSuffix(got, ": Hello, readers") {
		t.Errorf("subject %q, want subject_post's", got)
	}
	if body, _ := readBody(msgs[0]); !strings.Contains(body, "Hi Ann,") {
		t.Errorf("greeting: true, and no greeting:\n%.500s", body)
	}

	// Without them: no greeting, the title as the subject.
	dir = mailSite(t, "")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-hello.md", "Hello, readers")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	msgs = maildir(t, filepath.Join(dir, ".herald", "outbox"))
	if got := msgs[0].Header.Get("Subject"); got != "Hello, readers" {
		t.Errorf("subject %q, want the title", got)
	}
	if body, _ := readBody(msgs[0]); strings.Contains(body, "Hi Ann") {
		t.Errorf("a greeting by default:\n%.500s", body)
	}
}

// TestEmailDesignConfigErrors: a wrong email_clip or a subject template that does not parse is named
// with its line.
func TestEmailDesignConfigErrors(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"email_clip: cut\n", `herald.yaml:5: email_clip "cut": want warn`},
		{"subject_post: \"{{.Title\"\n", `herald.yaml:5: subject_post "{{.Title": want a template such as "{{.Title}}"`},
		{"subject_digest: \"{{.Nope}\"\n", `herald.yaml:5: subject_digest "{{.Nope}": want a template`},
	} {
		dir := copySite(t, "seed-jekyll")
		cfg := "from: \"Jane Doe <jane@blog.example.com>\"\npostal_address: \"1 Main Street, Springfield\"\n" +
			"base_url: https://news.example.com\nsecret: 0123456789abcdef0123456789abcdef\n" + tt.yaml
		if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(dir, testEnv())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %s", tt.yaml, err, tt.want)
		}
	}
}

// TestFootnotesInTextPart: a Markdown footnote, as Herald renders it, reads in the text part as a marker
// of its own after its word and the note after the text, apart from the numbered links.
func TestFootnotesInTextPart(t *testing.T) {
	dir := mailSite(t, "")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	post := "---\ntitle: Notes\n---\nThe difference holds.[^1] See [the docs](https://example.com/docs).\n\n[^1]: A note of its own.\n"
	if err := os.WriteFile(filepath.Join(dir, "_posts", "2021-01-01-notes.md"), []byte(post), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	msgs := maildir(t, filepath.Join(dir, ".herald", "outbox"))
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	body, err := readBody(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(body[:strings.Index(body, "<!DOCTYPE")], "\r\n", "\n")
	for _, want := range []string{"The difference holds.[1] See the docs [2].", "\n[1] A note of its own.\n", "\n[2] https://example.com/docs\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text part lacks %q:\n%s", want, text)
		}
	}
}

// TestDigestOfJekyllReleases previews a digest of Jekyll's own three newest posts: the subject leads with
// the newest one's title, and the post whose first paragraph is "Hello Jekyllers!" is summed up by the
// paragraph after it.
func TestDigestOfJekyllReleases(t *testing.T) {
	dir := copySite(t, "jekyll-docs")
	cfg := "from: \"Jane Doe <jane@blog.example.com>\"\npostal_address: \"1 Main Street, Springfield\"\nunsubscribe_mailto: leave@blog.example.com\n"
	if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, stderr, err := runHerald(t, testEnv(), "preview", "--digest", "3", "-C", dir, "--out", out); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	f, err := os.Open(filepath.Join(out, "herald-preview.eml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("Subject"); got != "Jekyll 4.4.1 Released and 2 more" {
		t.Errorf("subject %q, want the newest post's title and 2 more", got)
	}
	body, err := readBody(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "Hello Jekyllers") || !strings.Contains(body, "Jekyll 4.3.4 Released") {
		t.Errorf("the digest shows the greeting, or not the post:\n%.3000s", body)
	}
}
