package feed

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/posts"
	"github.com/mmcdole/gofeed"
)

// FuzzPostFile: any post file (front matter, title, body) gives either an error that names the file, or
// three feeds that parse.
func FuzzPostFile(f *testing.F) {
	for _, s := range []string{
		"---\ntitle: Hello\n---\nBody *text*.\n",
		"---\ntitle: \"]]> & <b>x</b>\"\ntags: [a, b]\nauthor: {name: A, email: a@b.c}\n---\n<div>raw ]]> \x01</div>\n",
		"---\ndate: 2001-02-03 04:05:06 +0100\npermalink: /:title/\nimage: x.png\n---\n![i](a b.png)\n",
		"---\nenclosure: {url: /a.mp3, length: 12, type: audio/mpeg}\n---\n{{ page.title }} {% raw %}x{% endraw %}\n",
		"no front matter at all\n\n<!--more-->\nrest",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, post string) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "_posts"), 0o755)
		os.WriteFile(filepath.Join(dir, "_config.yml"), []byte("url: https://ex.org\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "_posts", "2020-01-02-p.md"), []byte(post), 0o644)
		s, err := posts.Load(t.Context(), posts.Options{Dir: dir, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			var pe *posts.Error
			if !errors.As(err, &pe) || pe.File != "_posts/2020-01-02-p.md" {
				t.Fatalf("error does not name the post: %v", err)
			}
			return
		}
		if _, err := s.Render(t.Context(), s.Posts); err != nil {
			t.Fatalf("render: %v", err)
		}
		o := Options{Title: s.Title, SiteURL: s.URL + "/", AtomURL: s.URL + "/atom.xml"}
		for name, r := range map[string]func(Options, []*posts.Post) ([]byte, error){"rss": RSS, "atom": Atom, "json": JSON} {
			b, err := r(o, s.Posts)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if name == "json" {
				if !json.Valid(b) {
					t.Fatalf("invalid JSON:\n%s", b)
				}
				continue
			}
			wellFormed(t, b)
			fd, err := gofeed.NewParser().ParseString(string(b))
			if err != nil || len(fd.Items) != len(s.Posts) {
				t.Fatalf("%s: gofeed: %v\n%s", name, err, b)
			}
		}
	})
}
