package publish

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFeedItems: feeds are parsed, not searched: an item with a prefix, a newline or a tab in its tag
// counts, an item mentioned in CDATA or escaped text does not, nor a JSON Feed whose items are empty.
func TestFeedItems(t *testing.T) {
	for _, c := range []struct {
		name, feed string
		want       int
	}{
		{"RSS with an item", `<rss><channel><item><title>a</title></item></channel></rss>`, 1},
		{"RSS with two items and a declaration", "\ufeff<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<rss><channel><title>caf\xe9 &amp; &nbsp;</title><item/><item><title>b</title></item></channel></rss>", 2},
		{"RSS 1.0 (RDF) item", `<rdf:RDF><item rdf:about="x"><title>a</title></item></rdf:RDF>`, 1},
		{"Atom", `<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id></entry></feed>`, 1},
		{"Atom, prefixed", `<atom:feed xmlns:atom="http://www.w3.org/2005/Atom"><atom:entry><atom:id>x</atom:id></atom:entry></atom:feed>`, 1},
		{"Atom entry with a newline in the tag", "<feed><entry\n xml:lang=\"en\"><id>x</id></entry></feed>", 1},
		{"RSS item with a tab", "<rss><channel><item\t><title>a</title></item></channel></rss>", 1},
		{"JSON Feed, pretty", "{\n  \"version\": \"https://jsonfeed.org/version/1.1\",\n  \"items\": [\n    {\n      \"id\": \"x\"\n    }\n  ]\n}", 1},
		{"JSON Feed, tab-indented items", "{\"version\":\"1\",\"items\":[\n\t{\"url\":\"u\",\"content_text\":\"t\",\"id\":\"x\"}]}", 1},
		{"empty JSON Feed whose title is an id-like key", `{"version":"https://jsonfeed.org/version/1.1","title":"\"id\"","items":[]}`, 0},
		{"empty JSON Feed", `{"version":"https://jsonfeed.org/version/1.1","title":"t"}`, 0},
		{"empty RSS whose description mentions <item> in CDATA", `<rss><channel><description><![CDATA[How to write an <item> tag]]></description></channel></rss>`, 0},
		{"empty RSS whose description mentions <item> escaped", `<rss><channel><description>How to write an &lt;item&gt; tag</description></channel></rss>`, 0},
		{"empty Atom whose subtitle mentions <entry> in a comment", `<feed><!-- <entry> --><title>t</title></feed>`, 0},
		{"a root named item is no feed", `<item>x</item>`, 0},
		{"not a feed", `hello <item>`, 0},
		{"nothing", "", 0},
	} {
		if got := feedItems([]byte(c.feed)); got != c.want {
			t.Errorf("%s: %d items, want %d", c.name, got, c.want)
		}
	}
}

// rssWithItem is a feed of Herald's (its generator says so) with an item; jekyllFeedWithItem is jekyll-feed's.
const (
	rssWithItem        = `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><generator>Herald v1.0.0</generator><item><title>a</title></item></channel></rss>`
	jekyllFeedWithItem = `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><generator uri="https://jekyllrb.com/" version="4.3.1">Jekyll</generator><entry><id>https://x.example/a</id></entry></feed>`
)

func testFeeds(t *testing.T) Feeds {
	return Feeds{Dir: filepath.Join(t.TempDir(), "_site"), RSS: "feed.xml", Atom: "atom.xml", JSON: "feed.json"}
}

// TestCheckNewHistoryPublishedFeed: jekyll build wipes _site before herald publish runs, so that a lost
// store finds no feed there; the feed published at the site's URL still shows that it was published.
func TestCheckNewHistoryPublishedFeed(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path)
		switch r.URL.Path {
		case "/blog/atom.xml":
			w.Write([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>`)) // no entries
		case "/blog/feed.json":
			w.Write([]byte(`{"version":"https://jsonfeed.org/version/1.1","_herald":{"about":"https://github.com/heraldhq/herald#what-the-feeds-hold"},"items":[{"id":"x"}]}`))
		case "/jekyll-feed/feed.xml":
			w.Write([]byte(jekyllFeedWithItem))
		case "/empty/feed.xml":
			w.Write([]byte(`<rss><channel><description><![CDATA[an <item>]]></description></channel></rss>`))
		case "/gone/feed.xml":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(rssWithItem))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := testFeeds(t)
	err := CheckNewHistory(t.Context(), nil, f, Earlier{SiteURL: srv.URL + "/blog"}, false, false)
	if !errors.Is(err, ErrStoreLooksNew) || !strings.Contains(err.Error(), srv.URL+"/blog/feed.json holds posts") {
		t.Errorf("a published JSON Feed with an item: %v, want ErrStoreLooksNew naming it", err)
	}
	if strings.Join(asked, " ") != "/blog/feed.xml /blog/atom.xml /blog/feed.json" {
		t.Errorf("asked for %q", asked)
	}
	// jekyll-feed's feed.xml, which a site switching to Herald publishes still, is no earlier history's.
	for _, site := range []string{srv.URL + "/empty", srv.URL + "/gone/", srv.URL + "/nothing", srv.URL + "/jekyll-feed"} {
		if err := CheckNewHistory(t.Context(), nil, f, Earlier{SiteURL: site}, false, false); err != nil {
			t.Errorf("%s: %v, want no evidence", site, err)
		}
	}
	if err := CheckNewHistory(t.Context(), nil, f, Earlier{SiteURL: srv.URL + "/blog"}, false, true); err != nil {
		t.Errorf("--init: %v", err)
	}

	// A redirect to another host: not this site's feed.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(rssWithItem)) }))
	defer other.Close()
	redirect := httptest.NewServer(http.RedirectHandler(strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/feed.xml", http.StatusFound))
	defer redirect.Close()
	if err := CheckNewHistory(t.Context(), nil, f, Earlier{SiteURL: redirect.URL}, false, false); err != nil {
		t.Errorf("a redirect to another host: %v, want no evidence", err)
	}
	sameHost := httptest.NewServer(http.RedirectHandler(other.URL+"/feed.xml", http.StatusFound))
	defer sameHost.Close()
	if err := CheckNewHistory(t.Context(), nil, f, Earlier{SiteURL: sameHost.URL}, false, false); !errors.Is(err, ErrStoreLooksNew) {
		t.Errorf("a redirect on the same host: %v, want ErrStoreLooksNew", err)
	}

	// A site that cannot be reached, or does not answer in time, says nothing either way.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if err := CheckNewHistory(t.Context(), nil, f, Earlier{SiteURL: closed.URL}, false, false); err != nil {
		t.Errorf("a site that cannot be reached: %v", err)
	}
	stop := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(stop)
	start := time.Now()
	if err := CheckNewHistory(t.Context(), nil, f, Earlier{SiteURL: slow.URL}, false, false); err != nil {
		t.Errorf("a site that does not answer: %v", err)
	}
	if d := time.Since(start); d > feedTimeout+2*time.Second {
		t.Errorf("a site that does not answer took %s, want about %s", d, feedTimeout)
	}
}

// TestCheckNewHistoryLeftovers: a store deleted by itself leaves the outbox's messages beside it. (Not the
// posts cache: herald build, diff and preview write it before any history, so it proves nothing.)
func TestCheckNewHistoryLeftovers(t *testing.T) {
	f := testFeeds(t)
	dir := t.TempDir()
	outbox := filepath.Join(dir, "outbox")
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(outbox, sub), 0o755)
	}
	os.WriteFile(filepath.Join(outbox, "tmp", "half"), []byte("x"), 0o644) // tmp/ is not a sent message
	e := Earlier{Outbox: outbox}
	if err := CheckNewHistory(t.Context(), nil, f, e, false, false); err != nil {
		t.Errorf("an empty outbox: %v", err)
	}
	for _, sub := range []string{"new", "cur"} {
		msg := filepath.Join(outbox, sub, "herald-1")
		os.WriteFile(msg, []byte("Subject: x\r\n\r\nx\r\n"), 0o644)
		if err := CheckNewHistory(t.Context(), nil, f, e, false, false); !errors.Is(err, ErrStoreLooksNew) || !strings.Contains(err.Error(), filepath.Join(outbox, sub)) {
			t.Errorf("a message in %s/: %v, want ErrStoreLooksNew naming it", sub, err)
		}
		os.Remove(msg)
	}
}

// TestCheckNewHistoryHostileFeeds: a feed in the output folder that is a FIFO or a link to a device is not
// read (it would hang the run or fill its memory); a link to a feed is not followed either.
func TestCheckNewHistoryHostileFeeds(t *testing.T) {
	f := testFeeds(t)
	os.MkdirAll(f.Dir, 0o755)
	if err := syscall.Mkfifo(filepath.Join(f.Dir, "feed.xml"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	os.Symlink("/dev/zero", filepath.Join(f.Dir, "atom.xml"))
	real := filepath.Join(t.TempDir(), "feed.json")
	os.WriteFile(real, []byte(`{"items":[{"id":"x"}]}`), 0o644)
	os.Symlink(real, filepath.Join(f.Dir, "feed.json"))
	done := make(chan error, 1)
	go func() { done <- CheckNewHistory(t.Context(), nil, f, Earlier{}, false, false) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v, want no evidence", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CheckNewHistory hangs on a FIFO or a link to /dev/zero in the output folder")
	}
}

// TestCheckNewHistoryLocalFeed: a regular feed in the output folder still counts, and a large one is
// read only up to the bound.
func TestCheckNewHistoryLocalFeed(t *testing.T) {
	f := testFeeds(t)
	os.MkdirAll(f.Dir, 0o755)
	big := rssWithItem[:len(rssWithItem)-len("</channel></rss>")] + strings.Repeat("<!-- padding -->", maxFeedBytes/16+1)
	os.WriteFile(filepath.Join(f.Dir, "feed.xml"), []byte(big), 0o644)
	if err := CheckNewHistory(t.Context(), nil, f, Earlier{}, false, false); !errors.Is(err, ErrStoreLooksNew) {
		t.Errorf("a feed with an item: %v", err)
	}
	os.WriteFile(filepath.Join(f.Dir, "feed.xml"), []byte(jekyllFeedWithItem), 0o644)
	if err := CheckNewHistory(t.Context(), nil, f, Earlier{}, false, false); err != nil {
		t.Errorf("jekyll-feed's feed with an item: %v, want no evidence of an earlier history", err)
	}
}
