package main

import (
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// mailSite is the seed site with mail configured and two subscribers (one weekly).
func mailSite(t *testing.T, extra string) string {
	t.Helper()
	dir := copySite(t, "seed-jekyll")
	cfg := "from: \"Jane Doe <jane@blog.example.com>\"\npostal_address: \"1 Main Street, Springfield\"\n" +
		"base_url: https://news.example.com\nsecret: 0123456789abcdef0123456789abcdef\n" + extra
	os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(cfg), 0o644)
	list := filepath.Join(t.TempDir(), "subs.csv")
	os.WriteFile(list, []byte("email,name,frequency\nann@example.com,Ann,immediate\nbob@example.org,Bob,weekly\n"), 0o644)
	if _, _, err := runHerald(t, testEnv(), "subscribers", "import", "-C", dir, list); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mailSiteWithNewPost is mailSite after a first publish, with one new post, "Hello", recorded and not
// yet sent.
func mailSiteWithNewPost(t *testing.T, extra string) string {
	t.Helper()
	dir := mailSite(t, extra)
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-hello.md", "Hello")
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--record"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// maildir reads the messages in a Maildir's new/ folder, sorted by file name.
func maildir(t *testing.T, dir string) []*mail.Message {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(dir, "new"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out []*mail.Message
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, "new", n))
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(f)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out = append(out, m)
		t.Cleanup(func() { f.Close() })
	}
	return out
}

// TestPublishSendsToOutbox: the baseline sends nothing; a new post goes to the immediate subscriber,
// once, with its unsubscribe headers; the weekly subscriber waits for the digest.
func TestPublishSendsToOutbox(t *testing.T) {
	dir := mailSite(t, "")
	out, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "mail: nothing to send") {
		t.Errorf("baseline publish:\n%s", out)
	}
	addPost(t, dir, "2021-01-01-hello.md", "Hello, readers")
	out, _, err = runHerald(t, testEnv(), "publish", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "sent 1, deferred 0, failed 0, unknown 0") {
		t.Errorf("second publish:\n%s", out)
	}
	box := filepath.Join(dir, ".herald", "outbox")
	msgs := maildir(t, box)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages in the outbox, want 1", len(msgs))
	}
	h := msgs[0].Header
	for _, c := range []struct{ name, want string }{
		{"To", "<ann@example.com>"},
		{"Subject", "Hello, readers"},
		{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
		{"Precedence", "bulk"},
	} {
		if got := h.Get(c.name); !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	if lu := h.Get("List-Unsubscribe"); !strings.Contains(lu, "<https://news.example.com/unsubscribe?token=") {
		t.Errorf("List-Unsubscribe: %q", lu)
	}
	if !strings.HasSuffix(h.Get("Message-Id"), "@blog.example.com>") {
		t.Errorf("Message-ID %q is not at the author's domain", h.Get("Message-Id"))
	}
	// Sending again sends nothing more.
	out, _, err = runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "nothing to send") || len(maildir(t, box)) != 1 {
		t.Errorf("send after publish:\n%s", out)
	}
}

// TestSendRefusesWithoutPostalAddress: with mail to send and no postal address, the run stops and says
// what to set; nothing is sent.
func TestSendRefusesWithoutPostalAddress(t *testing.T) {
	dir := mailSite(t, "")
	os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte("from: jane@blog.example.com\nbase_url: https://n.example.com\nsecret: 0123456789abcdef0123\n"), 0o644)
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-hello.md", "Hello")
	_, _, err := runHerald(t, testEnv(), "publish", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "postal_address") {
		t.Fatalf("got %v, want an error naming postal_address", err)
	}
	if msgs := maildir(t, filepath.Join(dir, ".herald", "outbox")); len(msgs) != 0 {
		t.Errorf("%d messages went out without a postal address", len(msgs))
	}
}

// TestSendDryRun: --dry-run writes the messages to the folder and changes nothing.
func TestSendDryRun(t *testing.T) {
	dir := mailSiteWithNewPost(t, "")
	dry := filepath.Join(t.TempDir(), "dry")
	out, _, err := runHerald(t, testEnv(), "send", "-C", dir, "--dry-run", dry)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(maildir(t, dry)); n != 1 || !strings.Contains(out, "sent 1") {
		t.Errorf("dry run: %d messages\n%s", n, out)
	}
	// The post is edited after it was recorded: the send says so, and mails the version on disk.
	addPost(t, dir, "2021-01-01-hello.md", "Hello again")
	out, errOut, err := runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil || !strings.Contains(out, "sent 1") {
		t.Errorf("the real send after a dry run: %v\n%s", err, out)
	}
	if want := "_posts/2021-01-01-hello.md changed since herald publish recorded it"; !strings.Contains(errOut, want) {
		t.Errorf("stderr: got %q, want it to contain %q", errOut, want)
	}
	msgs := maildir(t, filepath.Join(dir, ".herald", "outbox"))
	if len(msgs) != 1 || msgs[0].Header.Get("Subject") != "Hello again" {
		t.Errorf("the outbox after the send: got %d messages, want 1 with the edited title", len(msgs))
	}
}

// TestSendTestTo: --test-to sends one copy of each due message to the address given, marked [TEST], and
// records nothing: the real send afterwards still sends everything. The copy is nobody's: no reader's
// name, no link that would unsubscribe one, and a Message-ID of its own, even when the author tests to
// their own subscribed address (a provider drops a message whose Message-ID it has seen).
func TestSendTestTo(t *testing.T) {
	dir := mailSiteWithNewPost(t, "")
	out, _, err := runHerald(t, testEnv(), "send", "-C", dir, "--test-to", "me@example.net")
	if err != nil || !strings.Contains(out, "sent 1 test message to me@example.net") {
		t.Fatalf("test send: %v\n%s", err, out)
	}
	box := filepath.Join(dir, ".herald", "outbox")
	msgs := maildir(t, box)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Header.Get("To"), "me@example.net") || !strings.HasPrefix(msgs[0].Header.Get("Subject"), "[TEST] Hello") {
		t.Fatalf("test message: %d messages, %v", len(msgs), msgs[0].Header)
	}
	if _, _, err := runHerald(t, testEnv(), "send", "-C", dir, "--test-to", "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	out, _, err = runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil || !strings.Contains(out, "sent 1,") {
		t.Errorf("the real send after a test: %v\n%s", err, out)
	}
	msgs = maildir(t, box)
	var tests, real []mail.Header
	for _, m := range msgs {
		if strings.HasPrefix(m.Header.Get("Subject"), "[TEST]") {
			tests = append(tests, m.Header)
		} else {
			real = append(real, m.Header)
		}
	}
	if len(tests) != 2 || len(real) != 1 {
		t.Fatalf("got %d test and %d real messages in the outbox, want 2 and 1", len(tests), len(real))
	}
	if out, _, err := runHerald(t, testEnv(), "status", "-C", dir); err != nil || !strings.Contains(out, "\nmail: queued 0, sent 1\n") {
		t.Errorf("status after the send: %v\n%s", err, out)
	}
	ids := map[string]bool{real[0].Get("Message-Id"): true}
	for _, h := range tests {
		if ids[h.Get("Message-Id")] {
			t.Errorf("two messages share the Message-ID %s", h.Get("Message-Id"))
		}
		ids[h.Get("Message-Id")] = true
		if strings.Contains(h.Get("To"), "Ann") || h.Get("List-Unsubscribe") == real[0].Get("List-Unsubscribe") ||
			!strings.Contains(h.Get("List-Unsubscribe"), "token=test") {
			t.Errorf("a test copy carries a reader's name or unsubscribe link:\nTo: %s\nList-Unsubscribe: %s", h.Get("To"), h.Get("List-Unsubscribe"))
		}
	}
	if _, _, err := runHerald(t, testEnv(), "send", "-C", dir, "--test-to", "not an address"); err == nil {
		t.Errorf("--test-to accepted a bad address")
	}
	for _, flag := range []string{"--drafts", "--future"} {
		if _, _, err := runHerald(t, testEnv(), "send", "-C", dir, flag); err == nil {
			t.Errorf("send %s: no error; a draft must never be mailed", flag)
		}
	}
}

// blockedMailSite is mailSite after a first publish, with an outbox that cannot be opened until
// block(false) lets mail through (block(true) stops it again).
func blockedMailSite(t *testing.T) (dir string, block func(bool)) {
	t.Helper()
	dir = mailSite(t, "outbox: blocker\n")
	cfgPath := filepath.Join(dir, "herald.yaml")
	cfg, _ := os.ReadFile(cfgPath)
	os.WriteFile(filepath.Join(dir, "blocker"), nil, 0o644) // a file, where the outbox needs a folder
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	return dir, func(blocked bool) {
		if blocked {
			os.WriteFile(cfgPath, cfg, 0o644)
		} else {
			os.WriteFile(cfgPath, []byte(strings.Replace(string(cfg), "outbox: blocker\n", "", 1)), 0o644)
		}
	}
}

// TestRemovedPostDoesNotBlock: a queued post that left the site leaves the queue. herald publish takes it
// out when it records the post gone, and mails it when it comes back; herald send, which records nothing,
// leaves it waiting for that, and sends the rest.
func TestRemovedPostDoesNotBlock(t *testing.T) {
	dir, block := blockedMailSite(t)
	queue := func(name, title string) string {
		t.Helper()
		addPost(t, dir, name, title)
		if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err == nil || !strings.Contains(err.Error(), "cannot connect") {
			t.Fatalf("got %v, want the outbox to fail", err) // the post is queued now
		}
		path := filepath.Join(dir, "_posts", name)
		saved, _ := os.ReadFile(path)
		os.Remove(path)
		return string(saved)
	}
	subjects := func() []string {
		var got []string
		for _, m := range maildir(t, filepath.Join(dir, ".herald", "outbox")) {
			got = append(got, m.Header.Get("Subject"))
		}
		slices.Sort(got)
		return got
	}

	addPost(t, dir, "2021-01-02-b.md", "B")
	queue("2021-01-01-a.md", "A") // A and B are queued, and A leaves the site
	block(false)
	out, stderr, err := runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil || !strings.Contains(out, "sent 1, deferred 0, failed 0, unknown 0, skipped 1") || !strings.Contains(stderr, "waits") {
		t.Fatalf("send: %v\n%s%s", err, out, stderr)
	}

	block(true)
	c := queue("2021-01-03-c.md", "C")
	block(false)
	addPost(t, dir, "2021-01-04-d.md", "D")
	out, _, err = runHerald(t, testEnv(), "publish", "-C", dir)
	if err != nil || !strings.Contains(out, "sent 1, deferred 0, failed 0, unknown 0, skipped 0") {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	if out, _, _ := runHerald(t, testEnv(), "send", "-C", dir); !strings.Contains(out, "nothing to send") {
		t.Errorf("after publish recorded A and C gone, mail is still due:\n%s", out)
	}
	if got := subjects(); !slices.Equal(got, []string{"B", "D"}) {
		t.Errorf("outbox: %q, want B and D", got)
	}
	os.WriteFile(filepath.Join(dir, "_posts", "2021-01-03-c.md"), []byte(c), 0o644) // C is back
	if out, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	if got := subjects(); !slices.Equal(got, []string{"B", "C", "D"}) {
		t.Errorf("outbox: %q, want B, C and D", got)
	}
}

// TestDigestWaitsForItsPost: a digest one of whose posts left the site since publish recorded it waits,
// as that post's own message does, rather than going without it (the ledger would then say the
// subscriber had it); when the post is back, both go, with it.
func TestDigestWaitsForItsPost(t *testing.T) {
	dir, block := blockedMailSite(t)
	// Bob's weekly digest is due at the next run: he confirmed more than a week ago.
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := st.SubscriberByEmail(t.Context(), "bob@example.org")
	if err == nil {
		err = st.UpdateSubscriber(t.Context(), bob.ID, time.Now(), func(s *store.Subscriber) { s.ConfirmedAt = time.Now().AddDate(0, 0, -8) })
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-x.md", "X")
	addPost(t, dir, "2021-01-02-y.md", "Y")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err == nil || !strings.Contains(err.Error(), "cannot connect") {
		t.Fatalf("got %v, want the outbox to fail", err) // Ann's X and Y, Bob's digest, queued
	}
	x := filepath.Join(dir, "_posts", "2021-01-01-x.md")
	saved, _ := os.ReadFile(x)
	os.Remove(x)
	block(false)
	if out, _, err := runHerald(t, testEnv(), "send", "-C", dir, "--test-to", "me@example.com"); err != nil || !strings.Contains(out, "sent 1 test message") {
		t.Fatalf("a test copy of what can go: %v\n%s", err, out)
	}
	out, stderr, err := runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil || !strings.Contains(out, "sent 1, deferred 0, failed 0, unknown 0, skipped 2") || strings.Count(stderr, "waits") != 2 {
		t.Fatalf("send without X: %v\n%s%s", err, out, stderr)
	}
	os.WriteFile(x, saved, 0o644)
	if out, stderr, err := runHerald(t, testEnv(), "send", "-C", dir); err != nil || !strings.Contains(out, "sent 2, deferred 0, failed 0, unknown 0, skipped 0") {
		t.Fatalf("send with X back: %v\n%s%s", err, out, stderr)
	}
	var got []string
	for _, m := range maildir(t, filepath.Join(dir, ".herald", "outbox")) {
		got = append(got, m.Header.Get("To")+": "+m.Header.Get("Subject"))
	}
	slices.Sort(got)
	want := []string{"\"Ann\" <ann@example.com>: X", "\"Ann\" <ann@example.com>: Y", "\"Bob\" <bob@example.org>: Y and 1 more",
		"<me@example.com>: [TEST] Y"}
	if !slices.Equal(got, want) {
		t.Errorf("outbox:\n%q\nwant\n%q", got, want)
	}
}

// TestRetriedUnknownOfRemovedPost: a message once unknown and queued again by --retry-unknown stays in the
// queue when its post leaves (a server may have it), and herald send then closes it: its post can never
// go again.
func TestRetriedUnknownOfRemovedPost(t *testing.T) {
	dir := mailSite(t, "")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-a.md", "A")
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--record"); err != nil {
		t.Fatal(err)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Plan(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	due, err := st.Due(t.Context(), time.Now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due: %+v, %v; want Ann's A", due, err)
	}
	// Killed while it went out, then --retry-unknown.
	if _, err := st.Sending(t.Context(), []store.Attempt{{DeliveryID: due[0].ID, MessageID: "<a@blog.example.com>"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := st.RetryUnknown(t.Context(), time.Time{}); err != nil || n != 1 {
		t.Fatalf("retry unknown: %d, %v", n, err)
	}
	os.Remove(filepath.Join(dir, "_posts", "2021-01-01-a.md"))
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--record"); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil || !strings.Contains(out, "sent 0, deferred 0, failed 0, unknown 0, skipped 1") || !strings.Contains(stderr, "not sent") {
		t.Fatalf("send: %v\n%s%s", err, out, stderr)
	}
	if c, err := st.DeliveryCounts(t.Context()); err != nil || c[store.Failed] != 1 || c[store.Queued] != 0 {
		t.Errorf("got %v, %v; want the delivery failed", c, err)
	}
}

// TestTestToOnlyWaiting: when all that is due waits for a post that left the site, --test-to says so and
// does not connect (this outbox cannot be opened).
func TestTestToOnlyWaiting(t *testing.T) {
	dir, _ := blockedMailSite(t)
	addPost(t, dir, "2021-01-01-x.md", "X")
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err == nil || !strings.Contains(err.Error(), "cannot connect") {
		t.Fatalf("got %v, want the outbox to fail", err) // Ann's X is queued
	}
	os.Remove(filepath.Join(dir, "_posts", "2021-01-01-x.md"))
	out, _, err := runHerald(t, testEnv(), "send", "-C", dir, "--test-to", "me@example.com")
	if err != nil || !strings.Contains(out, "nothing would go now") || !strings.Contains(out, "1 message waits") {
		t.Fatalf("got %v\n%s", err, out)
	}
}

func TestPublishRefusesDraftsAndFuture(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	for _, args := range [][]string{{"publish", "--drafts"}, {"publish", "--future"}, {"build", "--record", "--drafts"}} {
		_, _, err := runHerald(t, testEnv(), append(args, "-C", dir)...)
		var u errUsage
		if !errorsAs(err, &u) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

// TestSendSecretSettings: a setting meant to name a file that is given the secret itself does not show
// the secret in its error, and a user with no password is said to be that, before any connection.
func TestSendSecretSettings(t *testing.T) {
	dir := mailSiteWithNewPost(t, "smtp: smtp://apikey@127.0.0.1:1\n")
	_, _, err := runHerald(t, testEnv(), "send", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "no password") || !strings.Contains(err.Error(), "HERALD_SMTP_PASSWORD") {
		t.Errorf("a user and no password: got %v, want it said", err)
	}
	const secret = "S3cretWrongPass"
	_, _, err = runHerald(t, testEnv("HERALD_SMTP_PASSWORD_FILE", secret), "send", "-C", dir)
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "HERALD_SMTP_PASSWORD_FILE") {
		t.Errorf("the password in HERALD_SMTP_PASSWORD_FILE: got %v, want an error without it", err)
	}
	const key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIL"
	_, _, err = runHerald(t, testEnv("HERALD_DKIM_KEY_FILE", key), "send", "-C", dir, "--dry-run", t.TempDir())
	if err == nil || strings.Contains(err.Error(), "MC4CAQAw") || !strings.Contains(err.Error(), "dkim_key_file") {
		t.Errorf("the key in HERALD_DKIM_KEY_FILE: got %v, want an error without it", err)
	}
}
