package publish

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/history"
	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

// testSite is a plain site in a temp folder, its store, and an outbox: the use-cases run on real parts,
// without the command line.
type testSite struct {
	t      *testing.T
	dir    string
	st     store.Store
	outbox string
}

func newTestSite(t *testing.T) *testSite {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(t.Context(), filepath.Join(dir, ".herald", "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.LockSend(t.Context(), "publish"); err != nil { // Close releases it
		t.Fatal(err)
	}
	s := &testSite{t: t, dir: dir, st: st, outbox: filepath.Join(dir, ".herald", "outbox")}
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		sub := store.Subscriber{Email: email, Status: store.Active, Frequency: store.Immediate, ConsentSource: store.FromCommand}
		if _, err := st.AddSubscriber(t.Context(), sub, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *testSite) write(name, title, date string) {
	s.t.Helper()
	p := filepath.Join(s.dir, "posts", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	body := "---\ntitle: " + title + "\ndate: " + date + "\n---\n" + title + " says hello.\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// publish runs what herald publish does: compare, record, send; it returns the diff and Send's summary.
func (s *testSite) publish(o history.Options) (history.Diff, string) {
	s.t.Helper()
	ctx := s.t.Context()
	site, err := posts.Load(ctx, posts.Options{Dir: s.dir, Kind: "plain", PostsDir: "posts", URL: "https://blog.example.com", Now: time.Now()})
	if err != nil {
		s.t.Fatal(err)
	}
	d, err := Compare(ctx, s.st, site, o)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := Record(ctx, s.st, site, d, store.Run{Started: time.Now(), Command: "publish"}, RecordOptions{}); err != nil {
		s.t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Send(ctx, site, s.st, s.mail(site), SendOptions{Connections: 1, PerConnection: 10, DeferredMaxAge: time.Hour, Out: &out, Log: &out}); err != nil {
		s.t.Fatal(err)
	}
	return d, out.String()
}

func (s *testSite) mail(site *posts.Site) func() (*Mail, error) {
	return func() (*Mail, error) {
		c, err := mailer.NewComposer(mailer.Options{From: mail.Address{Name: "Author", Address: "author@blog.example.com"},
			SiteTitle: site.Title, SiteURL: site.URL, PostalAddress: "1 Main St", FullContent: true})
		if err != nil {
			return nil, err
		}
		return &Mail{Composer: c, Where: s.outbox, Links: token.Links{Base: "https://blog.example.com/news", Secret: []byte("0123456789abcdef0123")},
			Dial: func(context.Context) (mailer.Sender, error) { return mailer.NewOutbox(s.outbox) }}, nil
	}
}

// inbox counts the messages in the outbox for each recipient and subject.
func (s *testSite) inbox() map[string]int {
	s.t.Helper()
	got := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(s.outbox, "new", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			s.t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			s.t.Fatal(err)
		}
		got[m.Header.Get("To")+" "+m.Header.Get("Subject")]++
	}
	return got
}

// TestPublishAndSend runs the use-cases as herald publish does, with a real store and outbox: a backfilled
// first run mails the newest post to each subscriber once; a run with nothing new mails nothing; a new post
// goes once; a post whose date was corrected (a new id) is the same post and goes to nobody again.
func TestPublishAndSend(t *testing.T) {
	s := newTestSite(t)
	s.write("a.md", "Alpha", "2024-01-01")
	s.write("b.md", "Beta", "2024-02-01")
	d, out := s.publish(history.Options{Backfill: 1})
	if !d.Baseline || len(d.New) != 1 || d.New[0].Title != "Beta" {
		t.Fatalf("first run: %+v, want a baseline with Beta new", d)
	}
	if !strings.Contains(out, "sent 2,") {
		t.Errorf("first run sent: %q, want 2", out)
	}
	if _, out := s.publish(history.Options{}); !strings.Contains(out, "nothing to send") {
		t.Errorf("second run: %q, want nothing to send", out)
	}
	s.write("c.md", "Gamma", "2024-03-01")
	if d, out := s.publish(history.Options{}); len(d.New) != 1 || !strings.Contains(out, "sent 2,") {
		t.Errorf("a new post: %d new, %q; want 1 new, sent 2", len(d.New), out)
	}
	s.write("c.md", "Gamma", "2024-03-02") // the date corrected: the id holds it
	d, out = s.publish(history.Options{})
	if len(d.New) != 0 || len(d.Continues) != 1 || !strings.Contains(out, "nothing to send") {
		t.Errorf("a re-dated post: %d new, continues %v, %q; want none new, one continuing, nothing sent", len(d.New), d.Continues, out)
	}
	want := map[string]int{
		"<ann@example.com> Beta": 1, "<bob@example.com> Beta": 1, "<ann@example.com> Gamma": 1, "<bob@example.com> Gamma": 1,
	}
	got := s.inbox()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d messages, want %d (inbox %v)", k, got[k], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("inbox %v, want %v", got, want)
	}
}

// TestBuild: the site's three feeds and each tag's, in memory and nothing written; a tag's slug keeps to
// letters and digits, so it cannot leave the output folder.
func TestBuild(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"a.md": "---\ntitle: A\ndate: 2024-01-01\ntags: [Go, ../../etc]\n---\na\n",
		"b.md": "---\ntitle: B\ndate: 2024-01-02\ntags: [go]\n---\nb\n",
	} {
		if err := os.MkdirAll(filepath.Join(dir, "posts"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "posts", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	site, err := posts.Load(t.Context(), posts.Options{Dir: dir, Kind: "plain", PostsDir: "posts", URL: "https://blog.example.com", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "public")
	f := Feeds{Dir: out, RSS: "feed.xml", Atom: "atom.xml", JSON: "feed.json", Limit: 1, TagFeeds: true}
	outs, err := Build(t.Context(), site, f, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range outs {
		rel, _ := filepath.Rel(out, o.Path)
		got = append(got, fmt.Sprintf("%s %d", filepath.ToSlash(rel), o.Items))
	}
	want := []string{"feed.xml 1", "atom.xml 1", "feed.json 1", "tags/etc/feed.xml 1", "tags/etc/atom.xml 1", "tags/etc/feed.json 1",
		"tags/go/feed.xml 1", "tags/go/atom.xml 1", "tags/go/feed.json 1"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("Build wrote files")
	}
	if l := f.Links(site); !strings.Contains(l, `href="https://blog.example.com/atom.xml"`) {
		t.Errorf("links %q", l)
	}
}
