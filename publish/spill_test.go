package publish

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/posts"
)

// TestBuildSpill: feeds larger than SpillBytes go straight into temp files beside their paths, which hold
// the very bytes the in-memory feeds have; WriteFiles renames them into place, leaves a file whose bytes
// did not change alone (and removes its temp), and Discard leaves no temp file behind.
func TestBuildSpill(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "posts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		body := fmt.Sprintf("---\ntitle: Post %d\ndate: 2024-01-%02d\ntags: [go]\n---\n%s\n", i, i%28+1, strings.Repeat("Words & <em>more</em> \"quoted\" words. ", 60))
		if err := os.WriteFile(filepath.Join(dir, "posts", fmt.Sprintf("p%02d.md", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	site, err := posts.Load(t.Context(), posts.Options{Dir: dir, Kind: "plain", PostsDir: "posts", URL: "https://blog.example.com", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "public")
	f := Feeds{Dir: out, RSS: "feed.xml", Atom: "atom.xml", JSON: "feed.json", TagFeeds: true}
	mem, err := Build(t.Context(), site, f, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f.SpillBytes = 1
	build := func() []Output {
		t.Helper()
		outs, err := Build(t.Context(), site, f, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	write := func(outs []Output) []bool {
		t.Helper()
		files := make([]feed.File, len(outs))
		for i, o := range outs {
			files[i] = feed.File{Path: o.Path, Data: o.Data, Temp: o.Temp}
		}
		changed, err := feed.WriteFiles(files)
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	spilled := build()
	for i, o := range spilled {
		if o.Temp == "" || o.Data != nil {
			t.Fatalf("%s: Temp %q, %d bytes of Data; want a temp file and no Data", o.Path, o.Temp, len(o.Data))
		}
		if filepath.Dir(o.Temp) != filepath.Dir(o.Path) {
			t.Errorf("%s: temp file %s is not beside it", o.Path, o.Temp)
		}
		got, err := os.ReadFile(o.Temp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, mem[i].Data) || o.Size != int64(len(got)) || o.Items != mem[i].Items {
			t.Errorf("%s: the spilled feed (%d bytes, %d items) differs from the one in memory (%d bytes, %d items)", o.Path, o.Size, o.Items, len(mem[i].Data), mem[i].Items)
		}
	}
	if changed := write(spilled); !changed[0] || !changed[len(changed)-1] {
		t.Errorf("first write: changed %v, want all", changed)
	}
	for i, o := range spilled {
		if got, err := os.ReadFile(o.Path); err != nil || !bytes.Equal(got, mem[i].Data) {
			t.Errorf("%s: written bytes differ from the feed (%v)", o.Path, err)
		}
	}
	again := build()
	if changed := write(again); strings.Contains(fmt.Sprint(changed), "true") {
		t.Errorf("second write of the same feeds: changed %v, want none", changed)
	}
	Discard(build()) // a run that stops before writing
	for _, d := range []string{out, filepath.Join(out, "tags", "go")} {
		left, _ := filepath.Glob(filepath.Join(d, ".*tmp*"))
		if len(left) > 0 {
			t.Errorf("temp files left in %s: %q", d, left)
		}
	}
}
