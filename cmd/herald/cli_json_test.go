package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/mail"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/heraldhq/herald/store"
)

// greylister is an SMTP server that answers 451 to every recipient while grey is set, as a greylisting
// server does to a sender it has not seen, and takes the mail otherwise.
type greylister struct {
	grey     atomic.Bool
	accepted atomic.Int32
	last     atomic.Value // the last message's bytes, a string
}

func (g *greylister) start(t *testing.T) string {
	t.Helper()
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &greySession{g}, nil }))
	s.Domain, s.ErrorLog = "localhost", log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

type greySession struct{ g *greylister }

func (s *greySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *greySession) Rcpt(string, *smtp.RcptOptions) error {
	if s.g.grey.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"}
	}
	return nil
}
func (s *greySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.g.last.Store(string(b))
	s.g.accepted.Add(1)
	return err
}
func (s *greySession) Reset()        {}
func (s *greySession) Logout() error { return nil }

// TestStatusWaitingAndRetryNow: a message a server deferred shows in herald status (text and --json) with
// its subscriber and its next try; herald send leaves it until then, and send --retry-now sends it at
// once; publish --json says what the run recorded and sent.
func TestStatusWaitingAndRetryNow(t *testing.T) {
	var g greylister
	g.grey.Store(true)
	dir := mailSite(t, fmt.Sprintf("smtp: smtp://%s?tls=none\n", g.start(t)))
	out, _, err := runHerald(t, testEnv(), "publish", "-C", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var pub struct {
		DryRun bool  `json:"dry_run"`
		Run    int64 `json:"run"`
		Diff   struct {
			New      []struct{ ID, Title string } `json:"new"`
			Baseline bool                         `json:"baseline"`
		} `json:"diff"`
		Mail struct {
			Where                                    string
			Sent, Deferred, Failed, Unknown, Skipped int
		} `json:"mail"`
	}
	if err := json.Unmarshal([]byte(out), &pub); err != nil {
		t.Fatalf("publish --json: %v\n%s", err, out)
	}
	if pub.Run != 1 || !pub.Diff.Baseline || len(pub.Diff.New) != 0 || pub.Mail.Where != "" {
		t.Errorf("the baseline's publish --json: %+v\n%s", pub, out)
	}

	addPost(t, dir, "2021-01-01-hello.md", "Hello")
	before := time.Now()
	out, _, err = runHerald(t, testEnv(), "publish", "-C", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	pub.Diff.New = nil
	if err := json.Unmarshal([]byte(out), &pub); err != nil {
		t.Fatalf("publish --json: %v\n%s", err, out)
	}
	if pub.Run != 2 || pub.Diff.Baseline || len(pub.Diff.New) != 1 || pub.Diff.New[0].Title != "Hello" ||
		pub.Mail.Deferred != 1 || pub.Mail.Sent != 0 || !strings.HasPrefix(pub.Mail.Where, "127.0.0.1:") {
		t.Errorf("publish --json with a new post, greylisted: %+v\n%s", pub, out)
	}

	out, _, err = runHerald(t, testEnv(), "status", "-C", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Recorded bool           `json:"recorded"`
		Runs     int            `json:"runs"`
		Mail     map[string]int `json:"mail"`
		Waiting  []struct {
			Email            string
			Queued, Deferred int
			NextTry          *time.Time `json:"next_try"`
		} `json:"waiting"`
		RecentRuns []struct {
			ID      int64
			Command string
		} `json:"recent_runs"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if !st.Recorded || st.Runs != 2 || st.Mail["deferred"] != 1 || st.Mail["failed"] != 0 || len(st.RecentRuns) != 2 || st.RecentRuns[0].ID != 2 {
		t.Errorf("status --json: %+v\n%s", st, out)
	}
	if len(st.Waiting) != 1 || st.Waiting[0].Email != "ann@example.com" || st.Waiting[0].Deferred != 1 || st.Waiting[0].NextTry == nil ||
		st.Waiting[0].NextTry.Before(before.Add(10*time.Minute)) {
		t.Fatalf("status --json waiting: %+v, want ann's one deferred message, tried again in about 15 minutes", st.Waiting)
	}
	out, _, err = runHerald(t, testEnv(), "status", "-C", dir)
	if want := "  ann@example.com: 1 deferred, next try " + st.Waiting[0].NextTry.Local().Format("2006-01-02 15:04"); err != nil || !strings.Contains(out, want) {
		t.Errorf("status: %v, want %q in:\n%s", err, want, out)
	}

	g.grey.Store(false)
	out, _, err = runHerald(t, testEnv(), "send", "-C", dir)
	if err != nil || !strings.Contains(out, "nothing to send") || g.accepted.Load() != 0 {
		t.Fatalf("send before the next try: %v, %d accepted\n%s", err, g.accepted.Load(), out)
	}
	out, _, err = runHerald(t, testEnv(), "send", "-C", dir, "--retry-now")
	if err != nil || !strings.Contains(out, "sent 1, deferred 0") || g.accepted.Load() != 1 {
		t.Fatalf("send --retry-now: %v, %d accepted\n%s", err, g.accepted.Load(), out)
	}
	out, _, _ = runHerald(t, testEnv(), "status", "-C", dir, "--json")
	st.Waiting = nil
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Waiting) != 0 || st.Mail["sent"] != 1 {
		t.Errorf("status --json after the retry: %v %+v\n%s", err, st, out)
	}
}

// TestStatusNoStore: status --json of a site with no store yet has the same shape, with recorded false.
func TestStatusNoStore(t *testing.T) {
	dir := siteDir(t)
	out, _, err := runHerald(t, testEnv(), "status", "-C", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"store", "recorded", "items", "runs", "subscribers", "deliveries", "mail", "waiting", "events", "complaints_by_post", "recent_runs"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status --json has no %q:\n%s", k, out)
		}
	}
	if st["recorded"] != false || len(st["waiting"].([]any)) != 0 {
		t.Errorf("status --json without a store:\n%s", out)
	}
}

// TestStatusDigests: status shows, for each kind of digest with subscribers, how many and when the next
// falls due: at digest_hour (here 7) in the site's time zone, on digest_weekday for a weekly one.
func TestStatusDigests(t *testing.T) {
	dir := mailSite(t, "digest_hour: 7\ndigest_weekday: wednesday\n")
	if _, _, err := runHerald(t, testEnv(), "subscribers", "add", "-C", dir, "--confirmed", "--frequency", "daily", "dan@example.net"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	out, _, err := runHerald(t, testEnv(), "status", "-C", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Digests []struct {
			Frequency   string
			Subscribers int
			Next        time.Time
		} `json:"digests"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if len(st.Digests) != 2 || st.Digests[0].Frequency != "daily" || st.Digests[1].Frequency != "weekly" ||
		st.Digests[0].Subscribers != 1 || st.Digests[1].Subscribers != 1 {
		t.Fatalf("status --json digests: %+v\n%s", st.Digests, out)
	}
	loc, err := time.LoadLocation("America/Chicago") // the fixture site's timezone in _config.yml
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range st.Digests {
		limit := 24 * time.Hour
		if d.Frequency == "weekly" {
			limit = 7 * 24 * time.Hour
			if d.Next.In(loc).Weekday() != time.Wednesday {
				t.Errorf("the weekly digest falls due on %s, want a Wednesday", d.Next.In(loc).Weekday())
			}
		}
		if !d.Next.After(now) || d.Next.Sub(now) > limit || d.Next.In(loc).Hour() != 7 || d.Next.Minute() != 0 {
			t.Errorf("%s digest next at %s, want 07:00 within %s of %s", d.Frequency, d.Next, limit, now)
		}
	}
	out, _, _ = runHerald(t, testEnv(), "status", "-C", dir)
	if !strings.Contains(out, "weekly digests: 1 subscriber, next period from ") || !strings.Contains(out, "daily digests: 1 subscriber") {
		t.Errorf("status:\n%s", out)
	}
}

// TestVerboseSend: --verbose logs each message's outcome at debug level; without it there is no such line.
func TestVerboseSend(t *testing.T) {
	var g greylister
	g.grey.Store(true)
	dir := mailSite(t, fmt.Sprintf("smtp: smtp://%s?tls=none\n", g.start(t)))
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-hello.md", "Hello")
	_, errOut, err := runHerald(t, testEnv(), "-v", "publish", "-C", dir) // -v is --verbose
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`level=DEBUG msg=message delivery=\d+ outcome=deferred reason=`).MatchString(errOut) {
		t.Errorf("publish -v logs no outcome:\n%s", errOut)
	}
	g.grey.Store(false)
	_, errOut, err = runHerald(t, testEnv(), "send", "-C", dir, "--retry-now")
	if err != nil || strings.Contains(errOut, "DEBUG") {
		t.Errorf("send without --verbose: %v\n%s", err, errOut)
	}
}

// TestStatusDueNow: the digests herald status counts as due now are those the next herald send sends,
// as the store plans them: none while no post waits, however long ago the last digest was; then one
// for each subscriber whose period has passed, and none for one who confirmed in this period.
func TestStatusDueNow(t *testing.T) {
	dir := mailSite(t, "")  // Ann immediate, Bob weekly
	back := map[string]int{ // days since they confirmed: enough for a digest, or 0 for none yet
		"carl@example.com": 2, "dora@example.com": 0, "eve@example.com": 8, "fay@example.com": 40, "gus@example.com": 0}
	freq := map[string]string{"carl@example.com": "daily", "dora@example.com": "daily", "eve@example.com": "weekly",
		"fay@example.com": "monthly", "gus@example.com": "monthly"}
	for _, email := range slices.Sorted(maps.Keys(freq)) {
		if _, _, err := runHerald(t, testEnv(), "subscribers", "add", "-C", dir, "--confirmed", "--frequency", freq[email], email); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil { // the baseline
		t.Fatal(err)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	for email, days := range back {
		sub, err := st.SubscriberByEmail(t.Context(), email)
		if err == nil && days > 0 {
			err = st.UpdateSubscriber(t.Context(), sub.ID, time.Now(), func(s *store.Subscriber) {
				s.ConfirmedAt, s.LastDigestAt = time.Now().AddDate(0, 0, -days), time.Time{}
			})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	dueNow := func() map[string]int {
		t.Helper()
		out, _, err := runHerald(t, testEnv(), "status", "-C", dir, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var r statusReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, d := range r.Digests {
			got[d.Frequency] = d.DueNow
		}
		return got
	}
	want := map[string]int{"daily": 0, "weekly": 0, "monthly": 0}
	if got := dueNow(); !maps.Equal(got, want) {
		t.Errorf("due now with no post waiting: got %v, want %v", got, want)
	}

	addPost(t, dir, "2021-01-01-hello.md", "Hello")
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--record"); err != nil {
		t.Fatal(err)
	}
	got := dueNow()
	want = map[string]int{"daily": 1, "weekly": 1, "monthly": 1}
	if !maps.Equal(got, want) {
		t.Errorf("due now with a post waiting: got %v, want %v", got, want)
	}
	if out, _, _ := runHerald(t, testEnv(), "status", "-C", dir); !strings.Contains(out, "daily digests: 2 subscribers") ||
		!strings.Contains(out, "; 1 due now, for the next herald send") {
		t.Errorf("status:\n%s", out)
	}
	if _, _, err := runHerald(t, testEnv(), "send", "-C", dir); err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{}
	for _, m := range maildir(t, filepath.Join(dir, ".herald", "outbox")) {
		to, err := mail.ParseAddress(m.Header.Get("To"))
		if err != nil {
			t.Fatal(err)
		}
		if f := freq[to.Address]; f != "" || to.Address == "bob@example.org" {
			sent[cmp.Or(f, "weekly")]++
		}
	}
	if !maps.Equal(sent, got) {
		t.Errorf("herald send sent digests %v; status said %v were due", sent, got)
	}
	if got := dueNow(); !maps.Equal(got, map[string]int{"daily": 0, "weekly": 0, "monthly": 0}) {
		t.Errorf("due now after the send: got %v, want none", got)
	}
}
