package posts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/sitefs"
)

// hostileSecret stands for the secret that signs every unsubscribe link: it must never reach output.
const hostileSecret = "d6f1c0ffee5ecret5ecret5ecret5ecret"

var hostileSites = map[string]map[string]string{
	"jekyll": {
		"_config.yml":                  "title: T\nurl: https://example.com\n",
		"_posts/2020-01-01-a.md":       "---\ntitle: A\n---\nHello {% include footer.html %}\n",
		"_includes/footer.html":        "footer",
		"_data/menu.yml":               "- home\n",
		"herald-templates/email.css":   "p {}",
		".herald/secret":               hostileSecret + "\n",
		"herald.yaml":                  "secret: " + hostileSecret + "\n",
		"_posts/2020-01-02-ok-link.md": "---\ntitle: B\n---\nB\n",
	},
	"hugo": {
		"hugo.toml":             "title = 'T'\nbaseURL = 'https://example.com/'\n",
		"content/posts/a.md":    "---\ntitle: A\ndate: 2020-01-01\n---\nHello\n",
		".herald/secret":        hostileSecret + "\n",
		"content/posts/ok.md":   "---\ntitle: B\ndate: 2020-01-02\n---\nB\n",
		"herald-templates/x.md": "x",
	},
	"plain": {
		"posts/a.md":     "---\ntitle: A\ndate: 2020-01-01\n---\nHello\n",
		".herald/secret": hostileSecret + "\n",
		"posts/ok.md":    "---\ntitle: B\ndate: 2020-01-02\n---\nB\n",
	},
}

// TestHostileSiteFiles: a site file that is a link leaving the site, a link to Herald's private state, or not
// a regular file, stops the build with an error naming it, for every kind of site and every kind of file
// Herald reads; nothing of the secret reaches a post.
func TestHostileSiteFiles(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(outside, []byte("root:x:0:0:"+hostileSecret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, kind string
		file       string // the site file made hostile
		target     string // what it links to: "outside", a site path, or "fifo" for a FIFO in its place
		want       string // in the error
	}{
		{"jekyll post to outside", "jekyll", "_posts/2020-01-03-p.md", "outside", "outside the site's folder"},
		{"jekyll post to secret", "jekyll", "_posts/2020-01-03-p.md", ".herald/secret", "Herald's private .herald"},
		{"jekyll post to herald.yaml", "jekyll", "_posts/2020-01-03-p.md", "herald.yaml", "Herald's private herald.yaml"},
		{"jekyll include to secret", "jekyll", "_includes/footer.html", ".herald/secret", "Herald's private .herald"},
		{"jekyll include to outside", "jekyll", "_includes/footer.html", "outside", "outside the site's folder"},
		{"jekyll data to outside", "jekyll", "_data/menu.yml", "outside", "outside the site's folder"},
		{"jekyll data to secret", "jekyll", "_data/menu.yml", ".herald/secret", "Herald's private .herald"},
		{"jekyll config to outside", "jekyll", "_config.yml", "outside", "outside the site's folder"},
		{"jekyll post FIFO", "jekyll", "_posts/2020-01-03-p.md", "fifo", "not a regular file (a FIFO)"},
		{"hugo post to outside", "hugo", "content/posts/p.md", "outside", "outside the site's folder"},
		{"hugo post to secret", "hugo", "content/posts/p.md", ".herald/secret", "Herald's private .herald"},
		{"hugo config to secret", "hugo", "hugo.toml", ".herald/secret", "Herald's private .herald"},
		{"hugo post FIFO", "hugo", "content/posts/p.md", "fifo", "not a regular file (a FIFO)"},
		{"plain post to outside", "plain", "posts/p.md", "outside", "outside the site's folder"},
		{"plain post to secret", "plain", "posts/p.md", ".herald/secret", "Herald's private .herald"},
		{"plain post FIFO", "plain", "posts/p.md", "fifo", "not a regular file (a FIFO)"},
		{"plain post to a device", "plain", "posts/p.md", "/dev/zero", "outside the site's folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeSite(t, hostileSites[tc.kind])
			name := filepath.Join(dir, filepath.FromSlash(tc.file))
			os.Remove(name)
			switch tc.target {
			case "fifo":
				if err := syscall.Mkfifo(name, 0o644); err != nil {
					t.Fatal(err)
				}
			case "outside":
				symlink(t, outside, name)
			default:
				target := tc.target
				if !filepath.IsAbs(target) {
					target = filepath.Join(dir, target)
				}
				symlink(t, target, name)
			}
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				err = loadAndRender(t, dir, tc.kind)
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the build hangs")
			}
			if err == nil {
				t.Fatal("the build succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to name %s and say %q", err, tc.file, tc.want)
			}
			if !errors.Is(err, sitefs.ErrRefused) {
				t.Errorf("error %v is not sitefs.ErrRefused", err)
			}
			if strings.Contains(err.Error(), hostileSecret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestSiteLinksInside: a link that stays inside the site, outside Herald's private paths, is read as the
// file it links to (a post shared by two folders, say), and the site's templates are read through the same
// checks.
func TestSiteLinksInside(t *testing.T) {
	for _, kind := range []string{"jekyll", "hugo", "plain"} {
		t.Run(kind, func(t *testing.T) {
			dir := writeSite(t, hostileSites[kind])
			link := map[string]string{"jekyll": "_posts/2020-01-03-link.md", "hugo": "content/posts/link.md", "plain": "posts/link.md"}[kind]
			if err := os.WriteFile(filepath.Join(dir, "elsewhere.md"), []byte("---\ntitle: C\ndate: 2020-01-03\n---\nC\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			symlink(t, filepath.Join(dir, "elsewhere.md"), filepath.Join(dir, filepath.FromSlash(link)))
			s := loadHostile(t, dir, kind)
			if _, err := s.Render(t.Context(), s.Posts); err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got := len(s.Posts); got != 3 {
				t.Errorf("got %d posts, want 3 (two of them links inside the site)", got)
			}
			// The site's templates: a link to the secret is refused, not read.
			symlink(t, filepath.Join(dir, ".herald", "secret"), filepath.Join(dir, "herald-templates", "email.html"))
			_, err := fs.ReadFile(s.Files("herald-templates"), "email.html")
			if !errors.Is(err, sitefs.ErrRefused) {
				t.Errorf("reading a template linked to the secret: %v, want refused", err)
			}
			if _, err := fs.ReadFile(s.Files("herald-templates"), "missing.html"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("reading a missing template: %v, want fs.ErrNotExist", err)
			}
		})
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func hostileOptions(dir, kind string) Options {
	o := Options{Dir: dir, Kind: kind, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Private: []string{".herald", "herald.yaml"}}
	if kind == "plain" {
		o.PostsDir, o.URL = "posts", "https://example.com"
	}
	return o
}

func loadHostile(t *testing.T, dir, kind string) *Site {
	t.Helper()
	s, err := Load(t.Context(), hostileOptions(dir, kind))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

// loadAndRender loads the site and renders every post, returning the first error; output holding the
// secret fails the test.
func loadAndRender(t *testing.T, dir, kind string) error {
	s, err := Load(t.Context(), hostileOptions(dir, kind))
	if err != nil {
		return err
	}
	if _, err := s.Render(t.Context(), s.Posts); err != nil {
		return err
	}
	for _, p := range s.Posts {
		if strings.Contains(p.ContentHTML, hostileSecret) || strings.Contains(p.Title, hostileSecret) {
			t.Errorf("%s shows the secret", p.Path)
		}
	}
	return nil
}

// TestBounds: a site file larger than MaxFileBytes (a post, an include, a data file) and front matter
// larger than MaxFrontMatterBytes stop the build with an error naming the file and the bound, before
// anything parses them.
func TestBounds(t *testing.T) {
	big := strings.Repeat("word ", 400) // 2,000 bytes
	var manyKeys strings.Builder        // 60 keys, some 600 bytes
	for i := range 60 {
		fmt.Fprintf(&manyKeys, "key%d: v\n", i)
	}
	tests := []struct {
		name, file, content string
		want                error
		wantMsg             string
	}{
		{"post", "_posts/2020-01-05-big.md", "---\ntitle: Big\n---\n" + big, sitefs.ErrTooLarge, "_posts/2020-01-05-big.md: larger than 1024 bytes"},
		{"include", "_includes/footer.html", big, sitefs.ErrTooLarge, "_includes/footer.html: larger than 1024 bytes"},
		{"data file", "_data/menu.yml", "- " + big + "\n", sitefs.ErrTooLarge, "_data/menu.yml: larger than 1024 bytes"},
		{"front matter", "_posts/2020-01-05-keys.md", "---\n" + manyKeys.String() + "---\nbody\n", ErrFrontMatterTooLarge, "_posts/2020-01-05-keys.md:1: front matter of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeSite(t, hostileSites["jekyll"])
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(tc.file)), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			o := hostileOptions(dir, "jekyll")
			o.MaxFileBytes, o.MaxFrontMatterBytes = 1024, 512
			var err error
			if s, lerr := Load(t.Context(), o); lerr != nil {
				err = lerr
			} else {
				_, err = s.Render(t.Context(), s.Posts)
			}
			if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.wantMsg) {
				t.Errorf("got %v, want %v saying %q", err, tc.want, tc.wantMsg)
			}
		})
	}
}

// TestHardLinkToPrivate: a hard link names the secret without its path; it is refused all the same.
func TestHardLinkToPrivate(t *testing.T) {
	dir := writeSite(t, hostileSites["jekyll"])
	if err := os.Remove(filepath.Join(dir, "_includes", "footer.html")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, ".herald", "secret"), filepath.Join(dir, "_includes", "footer.html")); err != nil {
		t.Fatal(err)
	}
	err := loadAndRender(t, dir, "jekyll")
	if !errors.Is(err, sitefs.ErrRefused) || !strings.Contains(err.Error(), "_includes/footer.html: it is, or links to, Herald's private .herald") {
		t.Errorf("got %v, want the hard link refused", err)
	}
}
