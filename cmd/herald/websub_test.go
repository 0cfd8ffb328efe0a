package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// hubRecorder is a WebSub hub that records the topics of the publish requests it takes (a form POST with
// hub.mode=publish and one hub.url), and answers status.
type hubRecorder struct {
	mu     sync.Mutex
	topics []string
	bad    []string
	status int
}

func (h *hubRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := r.ParseForm()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || err != nil ||
		r.PostForm.Get("hub.mode") != "publish" || len(r.PostForm["hub.url"]) != 1 || len(r.PostForm) != 2 {
		h.bad = append(h.bad, r.Method+" "+r.Header.Get("Content-Type")+" "+r.PostForm.Encode())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.topics = append(h.topics, r.PostForm.Get("hub.url"))
	w.WriteHeader(h.status)
}

// take returns the topics recorded since the last call, sorted.
func (h *hubRecorder) take(t *testing.T) []string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Errorf("the hub got requests that break the rules: %v", h.bad)
	}
	got := h.topics
	h.topics = nil
	slices.Sort(got)
	return got
}

// TestPublishPingsHubs: herald publish tells the hubs of the feeds it changed, and only those; a dry run
// and a run that changes nothing tell them nothing; a hub that fails is a warning, not a failed publish.
func TestPublishPingsHubs(t *testing.T) {
	hub := &hubRecorder{status: http.StatusNoContent}
	srv := httptest.NewServer(hub)
	defer srv.Close()
	dir := copySite(t, "seed-jekyll")
	env := testEnv("HERALD_HUBS", srv.URL+"/hub")
	all := []string{"https://blog.example.com/atom.xml", "https://blog.example.com/feed.json", "https://blog.example.com/feed.xml"}

	out, _, err := runHerald(t, env, "publish", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := hub.take(t); !slices.Equal(got, all) {
		t.Errorf("first publish told the hub of %v, want %v", got, all)
	}
	if want := "told WebSub hub " + srv.URL + "/hub of 3 changed feeds"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}

	if _, _, err := runHerald(t, env, "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	if got := hub.take(t); len(got) != 0 {
		t.Errorf("a publish that changed no feed told the hub of %v", got)
	}

	addPost(t, dir, "2026-11-01-websub.md", "WebSub")
	if _, _, err := runHerald(t, env, "publish", "-C", dir, "--dry-run"); err != nil {
		t.Fatal(err)
	}
	if got := hub.take(t); len(got) != 0 {
		t.Errorf("a dry run told the hub of %v", got)
	}

	hub.status = http.StatusInternalServerError
	out, errOut, err := runHerald(t, env, "publish", "-C", dir)
	if err != nil {
		t.Fatalf("a hub that fails failed the publish: %v", err)
	}
	if !strings.Contains(out, "recorded run #3") {
		t.Errorf("the run was not recorded:\n%s", out)
	}
	if got := hub.take(t); len(got) != 2*len(all) {
		t.Errorf("the hub got %v, want each feed twice (the first try and one retry)", got)
	}
	for _, f := range all {
		if want := "warning: WebSub hub " + srv.URL + "/hub was not told of " + f + ": it answered 500 Internal Server Error"; !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
