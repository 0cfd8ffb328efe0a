package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/publish"
	"github.com/heraldhq/herald/store"
)

func addPost(t *testing.T, dir, name, title string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "_posts", name), []byte("---\ntitle: "+title+"\n---\nText of "+title+".\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

type jsonDiff struct {
	New, Updated, Removed []struct{ ID, URL, Title, Date string }
	Baseline              bool
	Continues             map[string]string
}

func diffJSON(t *testing.T, dir string, args ...string) jsonDiff {
	t.Helper()
	out, _, err := runHerald(t, testEnv(), append([]string{"diff", "-C", dir, "--json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var d jsonDiff
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return d
}

// TestPublishEndToEnd: a baseline, then exactly the added post is new, then nothing is.
func TestPublishEndToEnd(t *testing.T) {
	dir := copySite(t, "jekyll-docs")
	out, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wrote _site/feed.xml", "first run: 102 posts are the baseline; nothing counts as new", "recorded run #1"} {
		if !strings.Contains(out, want) {
			t.Errorf("first publish: output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, ".herald", ".gitignore")); err != nil || !strings.Contains(string(b), "*") {
		t.Errorf("the store's folder has no .gitignore: %v", err)
	}
	addPost(t, dir, "2026-11-01-herald-arrives.md", "Herald arrives")
	d := diffJSON(t, dir)
	if len(d.New) != 1 || d.New[0].ID != "tag:jekyllrb.com,2026-11-01:herald-arrives" || d.New[0].Title != "Herald arrives" ||
		d.New[0].URL != "https://jekyllrb.com/news/2026/11/01/herald-arrives/" || !strings.HasPrefix(d.New[0].Date, "2026-11-01T00:00:00") {
		t.Errorf("diff: got %+v, want the one added post", d)
	}
	if len(d.Updated)+len(d.Removed) != 0 || d.Baseline {
		t.Errorf("diff: got %+v", d)
	}
	out, _, err = runHerald(t, testEnv(), "publish", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "new: 1\n  2026-11-01  tag:jekyllrb.com,2026-11-01:herald-arrives  Herald arrives\n") || !strings.Contains(out, "recorded run #2") {
		t.Errorf("second publish:\n%s", out)
	}
	out, _, err = runHerald(t, testEnv(), "publish", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "new: 0\n") || strings.Contains(out, "wrote ") {
		t.Errorf("third publish: want nothing new and nothing written:\n%s", out)
	}
	out, _, err = runHerald(t, testEnv(), "status", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"items: 103 known (0 removed); runs: 3", "#3", "#1", "(baseline)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

// TestPublishEditRemoveRestore: an edit is an update, a deleted post is removed, and restored it is not new.
func TestPublishEditRemoveRestore(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	addPost(t, dir, "2021-01-01-a.md", "A")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-a.md", "A, edited")
	if d := diffJSON(t, dir); len(d.Updated) != 1 || len(d.New) != 0 {
		t.Errorf("after an edit: got %+v, want one updated", d)
	}
	a := filepath.Join(dir, "_posts", "2021-01-01-a.md")
	saved, _ := os.ReadFile(a)
	os.Remove(a)
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(a, saved, 0o644)
	if d := diffJSON(t, dir); len(d.New) != 0 || len(d.Removed) != 0 {
		t.Errorf("after restoring: got %+v, want nothing new", d)
	}
}

// TestPublishIDsChangedURLsKept: when every post's id changes but its URL stays (an older Herald's ids,
// another id scheme), the posts carry on under their new ids: nothing is new, the flood guard does not
// fire, and nobody is mailed.
func TestPublishIDsChangedURLsKept(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte("from: \"Jane <jane@blog.example.com>\"\n"+
		"postal_address: 1 Main St\nsecret: 0123456789abcdef0123456789\nunsubscribe_mailto: leave@blog.example.com\n"), 0o644)
	post := func(i int, id string) {
		front := fmt.Sprintf("---\ntitle: P%d\n", i)
		if id != "" {
			front += "id: " + id + "\n"
		}
		os.WriteFile(filepath.Join(dir, "_posts", fmt.Sprintf("2021-01-0%d-p%d.md", i, i)), []byte(front+"---\nText.\n"), 0o644)
	}
	for i := 1; i <= 4; i++ {
		post(i, fmt.Sprintf("urn:old:%d", i))
	}
	list := filepath.Join(t.TempDir(), "list.csv")
	os.WriteFile(list, []byte("email\nann@example.com\n"), 0o644)
	for _, args := range [][]string{{"subscribers", "import", "-C", dir, list}, {"publish", "-C", dir}} {
		if _, _, err := runHerald(t, testEnv(), args...); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 4; i++ {
		post(i, "") // the id the file's name and date make
	}
	d := diffJSON(t, dir)
	if len(d.New) != 0 || len(d.Updated) != 4 || len(d.Removed) != 4 || len(d.Continues) != 4 || d.Continues[d.Updated[0].ID] == "" {
		t.Fatalf("got %+v, want the 4 posts updated, each continuing its old id", d)
	}
	if out, _, err := runHerald(t, testEnv(), "diff", "-C", dir); err != nil || !strings.Contains(out, "id changed (updated, not new): 4") ||
		!strings.Contains(out, "tag:blog.example.com,2021-01-01:p1  was  urn:old:1") {
		t.Errorf("herald diff: %v\n%s", err, out)
	}
	out, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if box, _ := os.ReadDir(filepath.Join(dir, ".herald", "outbox", "new")); len(box) != 0 {
		t.Errorf("mailed %d messages, want none:\n%s", len(box), out)
	}
}

// TestPublishRebaseline: a move to another domain changes every id and URL, and the posts carry on under
// their new ids (the ids differ in the host alone). When ids and URLs change in a way that ties nothing
// together, the flood guard stops the run and names --rebaseline, which records the posts under their
// new ids, says which, and mails nobody; the next new post is mailed as usual.
func TestPublishRebaseline(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte("from: \"Jane <jane@blog.example.com>\"\n"+
		"postal_address: 1 Main St\nsecret: 0123456789abcdef0123456789\nunsubscribe_mailto: leave@blog.example.com\n"), 0o644)
	for i := 1; i <= 3; i++ {
		addPost(t, dir, fmt.Sprintf("2021-01-0%d-p%d.md", i, i), fmt.Sprintf("P%d", i))
	}
	list := filepath.Join(t.TempDir(), "list.csv")
	os.WriteFile(list, []byte("email\nann@example.com\n"), 0o644)
	for _, args := range [][]string{{"subscribers", "import", "-C", dir, list}, {"publish", "-C", dir}} {
		if _, _, err := runHerald(t, testEnv(), args...); err != nil {
			t.Fatal(err)
		}
	}
	box := filepath.Join(dir, ".herald", "outbox", "new")
	config := filepath.Join(dir, "_config.yml")
	edit := func(old, new string) {
		b, _ := os.ReadFile(config)
		os.WriteFile(config, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	}

	edit("https://blog.example.com", "https://jane.example.org")
	if d := diffJSON(t, dir); len(d.New) != 0 || len(d.Updated) != 4 || len(d.Continues) != 4 {
		t.Errorf("after a move to another domain: got %+v, want the 4 posts updated, each continuing its old id", d)
	}
	if out, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	// Other ids (given in the front matter) and other URLs at once.
	edit("permalink: /:year/:month/:day/:title:output_ext", "permalink: /:title/")
	for i := 1; i <= 3; i++ {
		os.WriteFile(filepath.Join(dir, "_posts", fmt.Sprintf("2021-01-0%d-p%d.md", i, i)),
			[]byte(fmt.Sprintf("---\ntitle: P%d\nid: urn:p%d\n---\nText of P%d.\n", i, i, i)), 0o644)
	}
	_, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "--rebaseline") {
		t.Fatalf("got %v, want the flood guard naming --rebaseline", err)
	}
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--rebaseline", "--force"); err == nil || !strings.Contains(err.Error(), "give one of them") {
		t.Errorf("--rebaseline --force: got %v, want a usage error", err)
	}
	out, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--rebaseline")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"rebaseline: 4 posts are the baseline; nothing counts as new", "recorded, not mailed: 3", "urn:p1", "removed: 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("output without %q:\n%s", want, out)
		}
	}
	if mails, _ := os.ReadDir(box); len(mails) != 0 {
		t.Errorf("mailed %d messages, want none", len(mails))
	}
	if d := diffJSON(t, dir); len(d.New)+len(d.Updated)+len(d.Removed) != 0 {
		t.Errorf("after the rebaseline: got %+v, want nothing", d)
	}
	addPost(t, dir, "2021-02-01-next.md", "Next")
	if out, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if mails, _ := os.ReadDir(box); len(mails) != 1 {
		t.Errorf("the next post: %d messages, want 1", len(mails))
	}
}

// TestPublishFloodGuard: too many new posts stop the run and change nothing; --force goes on.
func TestPublishFloodGuard(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	feedBefore, _ := os.ReadFile(filepath.Join(dir, "_site", "feed.xml"))
	for i := 1; i <= 6; i++ {
		addPost(t, dir, fmt.Sprintf("2021-01-0%d-p%d.md", i, i), fmt.Sprintf("P%d", i))
	}
	_, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "6 posts look new") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("got %v, want the flood guard", err)
	}
	feedAfter, _ := os.ReadFile(filepath.Join(dir, "_site", "feed.xml"))
	if string(feedAfter) != string(feedBefore) {
		t.Errorf("a stopped run rewrote the feed")
	}
	if d := diffJSON(t, dir); len(d.New) != 6 {
		t.Errorf("a stopped run recorded something: diff now %+v", d)
	}
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--force"); err != nil {
		t.Fatal(err)
	}
	if d := diffJSON(t, dir); len(d.New) != 0 {
		t.Errorf("after --force: got %+v", d)
	}
}

// TestPublishDryRunAndBackfill: a dry run creates and records nothing; --backfill counts the newest as new.
func TestPublishDryRunAndBackfill(t *testing.T) {
	dir := copySite(t, "jekyll-docs")
	out, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--dry-run", "--backfill", "2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "would write _site/feed.xml") || !strings.Contains(out, "the 2 newest count as new") || !strings.Contains(out, "dry run") {
		t.Errorf("dry run output:\n%s", out)
	}
	for _, p := range []string{"_site", ".herald"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("a dry run created %s", p)
		}
	}
	d := diffJSON(t, dir, "--backfill", "2")
	if !d.Baseline || len(d.New) != 2 || d.New[0].ID != "tag:jekyllrb.com,2025-01-29:jekyll-4-4-1-released" {
		t.Errorf("backfill diff: %+v", d)
	}
}

// TestPublishLocked: a second publishing run against a locked store stops at once and changes nothing,
// while diff and status keep working.
func TestPublishLocked(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := st.Lock(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-a.md", "A")
	_, _, err = runHerald(t, testEnv(), "publish", "-C", dir)
	if !errors.Is(err, store.ErrLocked) {
		t.Errorf("got %v, want ErrLocked", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "_site", "tags")); err == nil {
		t.Errorf("the locked-out run wrote files")
	}
	if d := diffJSON(t, dir); len(d.New) != 1 {
		t.Errorf("diff under the lock: %+v", d)
	}
	if _, _, err := runHerald(t, testEnv(), "status", "-C", dir); err != nil {
		t.Errorf("status under the lock: %v", err)
	}
	l.Unlock()
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Errorf("after unlock: %v", err)
	}
}

// TestDiffWithoutStore: diff and status on a site never published create nothing.
func TestDiffWithoutStore(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	out, _, err := runHerald(t, testEnv(), "diff", "-C", dir)
	if err != nil || !strings.Contains(out, "first run: 1 post is the baseline") {
		t.Errorf("diff: %v\n%s", err, out)
	}
	out, _, err = runHerald(t, testEnv(), "status", "-C", dir)
	if err != nil || !strings.Contains(out, "no runs recorded yet") {
		t.Errorf("status: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".herald")); err == nil {
		t.Errorf("diff or status created the store")
	}
}

// TestBuildRecord: build records nothing unless asked; build --record records a run like publish.
func TestBuildRecord(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".herald")); err == nil {
		t.Errorf("build without --record created the store")
	}
	// The feed build wrote holds posts: a store with no history looks lost, unless told it is new.
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--record"); !errors.Is(err, publish.ErrStoreLooksNew) {
		t.Fatalf("build --record after build: %v, want the new store refused", err)
	}
	out, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--record", "--init")
	if err != nil || !strings.Contains(out, "recorded run #1") {
		t.Fatalf("build --record: %v\n%s", err, out)
	}
	out, _, _ = runHerald(t, testEnv(), "status", "-C", dir)
	if !strings.Contains(out, "build --record") {
		t.Errorf("status does not show the recorded build:\n%s", out)
	}
}

// TestBadStore: a corrupt store stops every command with an error naming it; it is never taken for an
// empty history, and it is left as it was.
func TestBadStore(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	p := filepath.Join(dir, "state.db")
	junk := []byte(strings.Repeat("not a database ", 500))
	os.WriteFile(p, junk, 0o644)
	env := testEnv("HERALD_STORE", p)
	for _, cmd := range []string{"publish", "diff", "status"} {
		_, _, err := runHerald(t, env, cmd, "-C", dir)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: got %v, want an error naming %s", cmd, err, p)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != string(junk) {
		t.Errorf("the corrupt store was changed")
	}
}

// TestPublishMarksNewPostsSendable: baseline posts are never mailed; a post new in a later run is.
func TestPublishMarksNewPostsSendable(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-a.md", "A")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	items, err := st.Items(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, it := range items {
		got[it.ID] = it.Sendable
	}
	want := map[string]bool{"tag:blog.example.com,2020-05-10:failover-conf": false, "tag:blog.example.com,2021-01-01:a": true}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: got sendable %v, want %v", id, got[id], w)
		}
	}
}
