package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// writePost writes a post of the seed site with front matter fm (YAML lines) and the title title.
func writePost(t *testing.T, dir, name, title, fm string) {
	t.Helper()
	src := "---\ntitle: " + title + "\n" + fm + "---\nText of " + title + ".\n"
	if err := os.WriteFile(filepath.Join(dir, "_posts", name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// subjects are the subjects of the messages in the site's outbox, in file order.
func subjects(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, m := range maildir(t, filepath.Join(dir, ".herald", "outbox")) {
		out = append(out, m.Header.Get("Subject"))
	}
	return out
}

// TestPostMailControl: email: false publishes a post in the feeds and mails nobody; email_after holds
// the mail, and a fix made meanwhile is what goes, once.
func TestPostMailControl(t *testing.T) {
	dir := mailSite(t, "")
	mustRun(t, "publish", "-C", dir)
	writePost(t, dir, "2021-01-01-quiet.md", "Quiet", "email: false\n")
	writePost(t, dir, "2021-01-02-later.md", "Later with a tpyo", "email_after: 2s\n")
	out := mustRun(t, "diff", "-C", dir)
	for _, want := range []string{"not mailed (email: false)", "mail waits 2s (email_after)"} {
		if !strings.Contains(out, want) {
			t.Errorf("herald diff does not say %q:\n%s", want, out)
		}
	}
	start := time.Now()
	out = mustRun(t, "publish", "-C", dir)
	if !strings.Contains(out, "not mailed (email: false)") || !strings.Contains(out, "mail: nothing to send") {
		t.Errorf("publish:\n%s", out)
	}
	feed, err := os.ReadFile(filepath.Join(dir, "_site", "feed.xml"))
	if err != nil || !strings.Contains(string(feed), "Quiet") {
		t.Errorf("the feed does not carry the post that is not mailed (%v)", err)
	}
	// The typo is fixed within the wait: the post is updated, and still not sent.
	writePost(t, dir, "2021-01-02-later.md", "Later, fixed", "email_after: 2s\n")
	if out := mustRun(t, "publish", "-C", dir); !strings.Contains(out, "updated: 1") || !strings.Contains(out, "mail: nothing to send") {
		t.Errorf("publish of the fix:\n%s", out)
	}
	time.Sleep(time.Until(start.Add(2100 * time.Millisecond)))
	out = mustRun(t, "send", "-C", dir)
	if !strings.Contains(out, "sent 1,") {
		t.Errorf("send after the wait:\n%s", out)
	}
	mustRun(t, "send", "-C", dir)
	if got := subjects(t, dir); !slices.Equal(got, []string{"Later, fixed"}) {
		t.Errorf("got messages %q, want the fixed post's alone, once", got)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	its, err := st.Items(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range its {
		if strings.Contains(it.URL, "quiet") && (!it.NoEmail || it.Sendable) {
			t.Errorf("the quiet post is recorded as %+v, want NoEmail and not sendable", it)
		}
	}
}

// TestHoldAndApprove: with hold: true every new post's mail waits for herald send --approve.
func TestHoldAndApprove(t *testing.T) {
	dir := mailSite(t, "hold: true\n")
	mustRun(t, "publish", "-C", dir)
	writePost(t, dir, "2021-01-03-held.md", "Held", "")
	out := mustRun(t, "publish", "-C", dir)
	if !strings.Contains(out, "mail held for herald send --approve _posts/2021-01-03-held.md") || !strings.Contains(out, "mail: nothing to send") {
		t.Errorf("publish with hold:\n%s", out)
	}
	if out := mustRun(t, "send", "-C", dir); !strings.Contains(out, "nothing to send") {
		t.Errorf("send before the approval:\n%s", out)
	}
	if out := mustRun(t, "status", "-C", dir); !strings.Contains(out, "mail that waits for a post:") || !strings.Contains(out, "Held: held (herald send --approve") {
		t.Errorf("status does not show the held post:\n%s", out)
	}
	if out := mustRun(t, "status", "-C", dir, "--json"); !strings.Contains(out, `"held": true`) {
		t.Errorf("status --json does not show the held post:\n%s", out)
	}
	if _, _, err := runHerald(t, testEnv(), "send", "-C", dir, "--approve", "no-such-post"); err == nil {
		t.Error("--approve of a post that does not exist: got no error")
	}
	out = mustRun(t, "send", "-C", dir, "--approve", "held")
	if !strings.Contains(out, "approved: _posts/2021-01-03-held.md") || !strings.Contains(out, "sent 1,") {
		t.Errorf("send --approve:\n%s", out)
	}
	if out := mustRun(t, "send", "-C", dir, "--approve", "held"); !strings.Contains(out, "was not held") || !strings.Contains(out, "nothing to send") {
		t.Errorf("send --approve again:\n%s", out)
	}
	if out := mustRun(t, "status", "-C", dir); strings.Contains(out, "mail that waits for a post:") {
		t.Errorf("status shows a held post after its approval:\n%s", out)
	}
	if got := subjects(t, dir); !slices.Equal(got, []string{"Held"}) {
		t.Errorf("got messages %q, want the held post's, once", got)
	}
}

// TestTopicChoice: a subscriber who chose a topic gets only the posts that carry it (a tag or a
// category), and subscribers export shows the choice.
func TestTopicChoice(t *testing.T) {
	dir := mailSite(t, "")
	mustRun(t, "publish", "-C", dir)
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	ann, err := st.SubscriberByEmail(t.Context(), "ann@example.com")
	if err == nil {
		err = st.UpdateSubscriber(t.Context(), ann.ID, time.Now(), func(s *store.Subscriber) { s.Tags = store.MakeTags("Releases") })
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	writePost(t, dir, "2021-01-04-other.md", "Other", "tags: [misc]\n")
	writePost(t, dir, "2021-01-05-release.md", "Release", "categories: [releases]\n")
	mustRun(t, "publish", "-C", dir)
	if got := subjects(t, dir); !slices.Equal(got, []string{"Release"}) {
		t.Errorf("got messages %q, want the release alone", got)
	}
	out := mustRun(t, "subscribers", "export", "-C", dir, "ann@example.com")
	if !strings.Contains(out, `"tags": [`) || !strings.Contains(out, `"releases"`) {
		t.Errorf("the export does not show ann's topics:\n%s", out)
	}
}

// TestDigestSettings: digest_hour and digest_weekday are checked where they are set.
func TestDigestSettings(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"digest_hour: 24\n", "herald.yaml:5: digest_hour 24: want an hour from 0 to 23"},
		{"digest_weekday: someday\n", `herald.yaml:5: digest_weekday "someday": want a day of the week`},
	} {
		dir := mailSite(t, "")
		f, err := os.OpenFile(filepath.Join(dir, "herald.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(tc.cfg)
		f.Close()
		_, _, err = runHerald(t, testEnv(), "send", "-C", dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", strings.TrimSpace(tc.cfg), err, tc.want)
		}
	}
	dir := mailSite(t, "digest_hour: 0\ndigest_weekday: Fri\ntimezone: Europe/Berlin\n")
	if _, _, err := runHerald(t, testEnv(), "send", "-C", dir); err != nil {
		t.Errorf("digest_hour 0, digest_weekday Fri: %v", err)
	}
	// A monthly digest, by add and by import.
	mustRun(t, "subscribers", "add", "-C", dir, "cy@example.com", "--frequency", "monthly", "--confirmed")
	list := filepath.Join(t.TempDir(), "monthly.csv")
	os.WriteFile(list, []byte("email,frequency\ndee@example.com,Monthly\n"), 0o644)
	mustRun(t, "subscribers", "import", "-C", dir, list)
	out := mustRun(t, "subscribers", "list", "-C", dir, "--json")
	for _, who := range []string{"cy@example.com", "dee@example.com"} {
		if !regexp.MustCompile(`"email": "` + regexp.QuoteMeta(who) + `",[^}]*"frequency": "monthly"`).MatchString(out) {
			t.Errorf("%s is not monthly in the list:\n%s", who, out)
		}
	}
}
