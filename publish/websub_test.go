package publish

import (
	"context"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/posts"
)

// testHub is a WebSub hub in the test's process. It checks each publish request as public hubs do (a POST,
// form-encoded, hub.mode=publish, one absolute hub.url and nothing else), answers 400 to one that breaks a
// rule, and otherwise answers what answer says for the topic's n-th request (1-based).
type testHub struct {
	t      *testing.T
	answer func(topic string, n int) int // an HTTP status; 0 hangs until the client gives up

	mu     sync.Mutex
	got    map[string]int // topic → requests
	errors []string
}

func newTestHub(t *testing.T, answer func(topic string, n int) int) (*testHub, string) {
	h := &testHub{t: t, answer: answer, got: map[string]int{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/hub"
}

func (h *testHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bad := func(msg string) {
		h.mu.Lock()
		h.errors = append(h.errors, msg)
		h.mu.Unlock()
		http.Error(w, msg, http.StatusBadRequest)
	}
	if r.Method != http.MethodPost {
		bad("method " + r.Method + ", want POST")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		bad("Content-Type " + r.Header.Get("Content-Type") + ", want application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		bad("form: " + err.Error())
		return
	}
	if len(r.URL.Query()) != 0 {
		bad("fields in the query string: " + r.URL.RawQuery)
		return
	}
	if m := r.PostForm["hub.mode"]; len(m) != 1 || m[0] != "publish" {
		bad("hub.mode " + strings.Join(m, ",") + ", want publish")
		return
	}
	topics := r.PostForm["hub.url"]
	if len(topics) != 1 || !strings.HasPrefix(topics[0], "https://") {
		bad("hub.url " + strings.Join(topics, ",") + ", want one absolute URL")
		return
	}
	if len(r.PostForm) != 2 {
		bad("unexpected fields: " + r.Form.Encode())
		return
	}
	if ua := r.Header.Get("User-Agent"); ua != "Herald test" {
		bad("User-Agent " + ua)
		return
	}
	h.mu.Lock()
	h.got[topics[0]]++
	n := h.got[topics[0]]
	h.mu.Unlock()
	code := h.answer(topics[0], n)
	if code == 0 {
		<-r.Context().Done() // hangs until the client gives up
		return
	}
	if code >= 300 && code < 400 {
		w.Header().Set("Location", "https://moved.example/hub")
	}
	w.WriteHeader(code)
	if code >= 400 {
		w.Write([]byte("hub says no\r\nsecond line"))
	}
}

func (h *testHub) requests() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errors) > 0 {
		h.t.Errorf("the hub refused requests: %v", h.errors)
	}
	return maps(h.got)
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestPingHubs(t *testing.T) {
	topics := []string{"https://blog.example.com/feed.xml", "https://blog.example.com/atom.xml", "https://blog.example.com/feed.json"}
	tests := []struct {
		name     string
		answer   func(topic string, n int) int
		told     int    // topics the hub took
		requests int    // per topic
		warn     string // in every warning; "" for none
	}{
		{name: "204", answer: func(string, int) int { return http.StatusNoContent }, told: 3, requests: 1},
		{name: "202", answer: func(string, int) int { return http.StatusAccepted }, told: 3, requests: 1},
		{name: "400 is final", answer: func(string, int) int { return http.StatusBadRequest }, requests: 1, warn: "it answered 400 Bad Request: hub says no"},
		{name: "410 is final", answer: func(string, int) int { return http.StatusGone }, requests: 1, warn: "410 Gone"},
		{name: "429 is tried again", answer: func(_ string, n int) int { return map[int]int{1: 429, 2: 204}[n] }, told: 3, requests: 2},
		{name: "a 503 that passes", answer: func(_ string, n int) int { return map[int]int{1: 503, 2: 204}[n] }, told: 3, requests: 2},
		{name: "500 twice", answer: func(string, int) int { return http.StatusInternalServerError }, requests: 2, warn: "it answered 500 Internal Server Error"},
		{name: "a redirect is not followed", answer: func(string, int) int { return http.StatusMovedPermanently }, requests: 1, warn: `it answered 301 Moved Permanently, to "https://moved.example/hub"`},
		{name: "a hub that hangs", answer: func(string, int) int { return 0 }, requests: 2, warn: "no answer within 200ms"},
		{name: "a hang that passes", answer: func(_ string, n int) int { return map[int]int{1: 0, 2: 204}[n] }, told: 3, requests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, hubURL := newTestHub(t, tt.answer)
			start := time.Now()
			told, warns := PingHubs(t.Context(), Ping{Hubs: []string{hubURL}, Timeout: 200 * time.Millisecond, RetryWait: 10 * time.Millisecond, UserAgent: "Herald test"}, topics)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
			if len(told) != 1 || told[0] != tt.told {
				t.Errorf("told %v, want [%d]", told, tt.told)
			}
			got := hub.requests()
			for _, topic := range topics {
				if got[topic] != tt.requests {
					t.Errorf("%s: %d requests, want %d", topic, got[topic], tt.requests)
				}
			}
			if tt.warn == "" {
				if len(warns) != 0 {
					t.Errorf("warnings: %v", warns)
				}
				return
			}
			if len(warns) != len(topics) {
				t.Fatalf("got %d warnings, want one per topic: %v", len(warns), warns)
			}
			for i, w := range warns {
				want := "WebSub hub " + hubURL + " was not told of " + topics[i] + ": "
				if !strings.HasPrefix(w.Error(), want) || !strings.Contains(w.Error(), tt.warn) || strings.Contains(w.Error(), "second line") {
					t.Errorf("warning %q, want %q… saying %q, on one line", w, want, tt.warn)
				}
			}
		})
	}
}

// TestPingHubsSeveral: every topic goes to every hub, one per request; one hub's failure leaves the
// others alone; a hub that cannot be reached and one whose password is in its URL are warned about
// without the password.
func TestPingHubsSeveral(t *testing.T) {
	topics := []string{"https://blog.example.com/feed.xml", "https://blog.example.com/tags/go/feed.xml"}
	good, goodURL := newTestHub(t, func(string, int) int { return 204 })
	bad, badURL := newTestHub(t, func(string, int) int { return 400 })
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := strings.Replace(closed.URL, "http://", "http://user:hunter2@", 1) + "/hub"
	closed.Close()
	told, warns := PingHubs(t.Context(), Ping{Hubs: []string{badURL, goodURL, closedURL}, Timeout: time.Second, RetryWait: time.Millisecond, UserAgent: "Herald test"}, topics)
	if !slices.Equal(told, []int{0, 2, 0}) {
		t.Errorf("told %v, want [0 2 0]", told)
	}
	for _, h := range []*testHub{good, bad} {
		if got := h.requests(); got[topics[0]] != 1 || got[topics[1]] != 1 {
			t.Errorf("requests %v, want one per topic", got)
		}
	}
	if len(warns) != 4 {
		t.Fatalf("got %d warnings, want 4: %v", len(warns), warns)
	}
	for i, w := range warns[2:] {
		if !strings.Contains(w.Error(), "was not told of "+topics[i]) || strings.Contains(w.Error(), "hunter2") || !strings.Contains(w.Error(), "user:xxxxx@") {
			t.Errorf("warning %q: want the topic and the hub without its password", w)
		}
	}
}

// TestPingHubsCancelled: an interrupted run does not wait for its hubs.
func TestPingHubsCancelled(t *testing.T) {
	_, hubURL := newTestHub(t, func(string, int) int { return 0 })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, warns := PingHubs(ctx, Ping{Hubs: []string{hubURL}, Timeout: 10 * time.Second, RetryWait: 10 * time.Second, UserAgent: "Herald test"}, []string{"https://blog.example.com/feed.xml"})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s after the context ended", d)
	}
	if len(warns) != 1 {
		t.Errorf("warnings %v, want one", warns)
	}
}

// TestChangedFeeds: the topics are the feeds whose bytes change, with the URLs their self links give; the
// stylesheet is not one.
func TestChangedFeeds(t *testing.T) {
	dir := t.TempDir()
	site := &posts.Site{URL: "https://blog.example.com/sub"}
	f := Feeds{Dir: dir, RSS: "feed.xml", Atom: "atom.xml", JSON: "feed.json", Stylesheet: "default"}
	write := func(name, data string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("feed.xml", "same")
	write("atom.xml", "old")
	write("tags/go/feed.json", "same")
	os.Symlink(filepath.Join(dir, "feed.xml"), filepath.Join(dir, "link.xml"))
	outs := []Output{
		{Path: filepath.Join(dir, "feed.xml"), Data: []byte("same")},
		{Path: filepath.Join(dir, "atom.xml"), Data: []byte("new")},
		{Path: filepath.Join(dir, "feed.json"), Data: []byte("first")},
		{Path: filepath.Join(dir, "tags", "go", "feed.json"), Data: []byte("same")},
		{Path: filepath.Join(dir, "tags", "go", "atom.xml"), Data: []byte("first")},
		{Path: filepath.Join(dir, "link.xml"), Data: []byte("same")},
		{Path: filepath.Join(dir, "feed.xsl"), Data: []byte("xsl")},
	}
	got := ChangedFeeds(site, f, outs)
	want := []string{"https://blog.example.com/sub/atom.xml", "https://blog.example.com/sub/feed.json",
		"https://blog.example.com/sub/tags/go/atom.xml", "https://blog.example.com/sub/link.xml"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
