package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// site is a real store with two active subscribers, each sent one post, and the webhooks on a loopback
// server in front of it.
type site struct {
	t        *testing.T
	st       store.Store
	ann, bob store.Subscriber
	mid      map[int64]string // the Message-ID each was sent
	url      string           // the webhooks' base URL
	now      time.Time
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func newSite(t *testing.T, o Options) *site {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &site{t: t, st: st, mid: map[int64]string{}, now: t0}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Record(ctx, &store.Run{Started: t0.Add(-3 * time.Hour), Command: "publish", Baseline: true}, nil))
	for _, e := range []string{"ann@example.com", "bob@example.com"} {
		sub, err := st.AddSubscriber(ctx, store.Subscriber{Email: e, Status: store.Active}, t0.Add(-2*time.Hour))
		must(err)
		if s.ann.ID == 0 {
			s.ann = sub
		} else {
			s.bob = sub
		}
	}
	must(st.Record(ctx, &store.Run{Started: t0.Add(-time.Hour), Command: "publish", New: 1},
		[]store.Item{{ID: "p1", URL: "https://blog.example.com/p1", Title: "P1", Hash: "h", Sendable: true}}))
	if _, err := st.Plan(ctx, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	ds, err := st.Due(ctx, t0.Add(-time.Hour), 10)
	must(err)
	if len(ds) != 2 {
		t.Fatalf("due: %d deliveries, want 2", len(ds))
	}
	for _, d := range ds {
		s.mid[d.SubscriberID] = fmt.Sprintf("<p1.%d@blog.example.com>", d.SubscriberID)
		_, err := st.Sending(ctx, []store.Attempt{{DeliveryID: d.ID, MessageID: s.mid[d.SubscriberID]}}, t0.Add(-time.Hour))
		must(err)
		must(st.Finish(ctx, []store.Outcome{{DeliveryID: d.ID, Status: store.Sent, At: t0.Add(-time.Hour)}}))
	}
	o.Store = st
	o.Now = func() time.Time { return s.now }
	h, err := Handler("/webhooks", o)
	must(err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/webhooks"
	return s
}

// post sends a webhook request and returns its status.
func (s *site) post(path string, body []byte, header http.Header) int {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// state is what the store says of the subscribers and events, briefly.
func (s *site) state() string {
	s.t.Helper()
	var b strings.Builder
	for _, id := range []int64{s.ann.ID, s.bob.ID} {
		sub, err := s.st.Subscriber(s.t.Context(), id)
		if err != nil {
			s.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s complained=%v; ", sub.Email, sub.Status, !sub.ComplainedAt.IsZero())
	}
	evs, err := s.st.Events(s.t.Context(), time.Time{})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range evs {
		fmt.Fprintf(&b, "%s %s s%d d%v; ", e.Provider, e.Kind, e.SubscriberID, e.DeliveryID != 0)
	}
	return b.String()
}

// expect checks a request's status and what the store says after it.
func (s *site) expect(what string, got, want int, state string) {
	s.t.Helper()
	if got != want {
		s.t.Errorf("%s: got status %d, want %d", what, got, want)
	}
	if st := s.state(); st != state {
		s.t.Errorf("%s: store says\n  %s\nwant\n  %s", what, st, state)
	}
}

// reactivate makes a subscriber active again, as a new sign-up would, so that a replay's effect shows.
func (s *site) reactivate(id int64) {
	s.t.Helper()
	if err := s.st.UpdateSubscriber(s.t.Context(), id, s.now, func(sub *store.Subscriber) { sub.Status = store.Active }); err != nil {
		s.t.Fatal(err)
	}
}

const (
	annActive = "ann@example.com active complained=false; "
	bobActive = "bob@example.com active complained=false; "
)

func TestPostmark(t *testing.T) {
	var log lockedBuffer
	s := newSite(t, Options{PostmarkUser: "herald", PostmarkPassword: "s3cret-pass",
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	defer func() {
		if l := log.String(); strings.Contains(l, "s3cret-pass") || strings.Contains(strings.ToLower(l), "example.com") || !strings.Contains(l, "webhook: event") {
			t.Errorf("the log shows a secret or an address, or no event:\n%s", l)
		}
	}()
	auth := func(user, pass string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		return h
	}
	good := auth("herald", "s3cret-pass")
	bounce := []byte(`{"RecordType":"Bounce","ID":4323372036,"Type":"HardBounce","TypeCode":1,"Name":"Hard bounce",
		"MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","Description":"The server was unable to deliver your message",
		"Details":"smtp;550 5.1.1 The email account that you tried to reach does not exist","Email":"Ann@Example.com",
		"BouncedAt":"2026-03-02T09:58:10Z","Inactive":true,"MessageStream":"broadcast"}`)

	s.expect("no credentials", s.post("/postmark", bounce, http.Header{}), 401, annActive+bobActive)
	s.expect("wrong password", s.post("/postmark", bounce, auth("herald", "guess")), 401, annActive+bobActive)
	s.expect("wrong user", s.post("/postmark", bounce, auth("admin", "s3cret-pass")), 401, annActive+bobActive)

	bounced := "ann@example.com bounced complained=false; " + bobActive + fmt.Sprintf("postmark hard_bounce s%d dfalse; ", s.ann.ID)
	s.expect("hard bounce", s.post("/postmark", bounce, good), 200, bounced)
	s.reactivate(s.ann.ID)
	s.expect("the bounce again", s.post("/postmark", bounce, good), 200, strings.Replace(bounced, "bounced", "active", 1))

	complaint := []byte(`{"RecordType":"SpamComplaint","ID":42,"Type":"SpamComplaint","TypeCode":512,"MessageID":"00000000-0000-0000-0000-000000000000",
		"Email":"bob@example.com","BouncedAt":"2026-03-02T09:59:00Z","Details":"Test spam complaint details"}`)
	after := annActive + "bob@example.com unsubscribed complained=true; " +
		fmt.Sprintf("postmark hard_bounce s%d dfalse; postmark complaint s%d dfalse; ", s.ann.ID, s.bob.ID)
	s.expect("complaint", s.post("/postmark", complaint, good), 200, after)

	delivery := []byte(`{"RecordType":"Delivery","ServerID":23,"MessageStream":"broadcast","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483",
		"Recipient":"ann@example.com","Tag":"","DeliveredAt":"2026-03-02T09:57:00Z","Details":"Test delivery webhook details"}`)
	after = annActive + "bob@example.com unsubscribed complained=true; " +
		fmt.Sprintf("postmark delivered s%d dfalse; postmark hard_bounce s%d dfalse; postmark complaint s%d dfalse; ", s.ann.ID, s.ann.ID, s.bob.ID)
	s.expect("delivery", s.post("/postmark", delivery, good), 200, after)
	s.expect("the delivery again", s.post("/postmark", delivery, good), 200, after)
	s.expect("an open", s.post("/postmark", []byte(`{"RecordType":"Open","MessageID":"x","Recipient":"ann@example.com"}`), good), 200, after)

	// The Metadata Herald sent comes back in the event: it names the delivery.
	meta := []byte(fmt.Sprintf(`{"RecordType":"Bounce","ID":4323372099,"Type":"SoftBounce","TypeCode":4096,"MessageID":"9a1b",
		"Details":"452 4.2.2 mailbox full","Email":"ann@example.com","BouncedAt":"2026-03-02T10:00:00Z",
		"Metadata":{"herald_message_id":%q}}`, strings.Trim(s.mid[s.ann.ID], "<>")))
	after = annActive + "bob@example.com unsubscribed complained=true; " +
		fmt.Sprintf("postmark delivered s%d dfalse; postmark hard_bounce s%d dfalse; postmark complaint s%d dfalse; postmark soft_bounce s%d dtrue; ",
			s.ann.ID, s.ann.ID, s.bob.ID, s.ann.ID)
	s.expect("a bounce with Herald's Message-ID in its Metadata", s.post("/postmark", meta, good), 200, after)
	s.expect("another provider's path", s.post("/mailgun", delivery, good), 404, after)
}

// mailgunBody signs event-data as Mailgun does, at ts, with token.
func mailgunBody(key string, ts int64, token, eventData string) []byte {
	mac := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(mac, "%d%s", ts, token)
	return []byte(fmt.Sprintf(`{"signature":{"timestamp":"%d","token":%q,"signature":%q},"event-data":%s}`,
		ts, token, hex.EncodeToString(mac.Sum(nil)), eventData))
}

func TestMailgun(t *testing.T) {
	const key = "key-0123456789abcdef0123456789abcdef"
	s := newSite(t, Options{MailgunKey: key})
	mid := strings.Trim(s.mid[s.ann.ID], "<>") // Mailgun drops the brackets
	failed := fmt.Sprintf(`{"id":"CPgfbmQMTCKtHW6uIWtuVe","event":"failed","severity":"permanent","timestamp":%d.33,
		"recipient":"ann@example.com","reason":"bounce","message":{"headers":{"message-id":%q}},
		"delivery-status":{"code":550,"message":"5.1.1 no such user","description":"Not delivered"}}`, t0.Add(-time.Minute).Unix(), mid)
	now := t0.Unix()
	h := http.Header{"Content-Type": {"application/json"}}

	s.expect("wrong key", s.post("/mailgun", mailgunBody("key-guessed", now, "tok1", failed), h), 403, annActive+bobActive)
	// The signature covers only the timestamp and token: the body's event is believed once it is fresh
	// and signed, as Mailgun documents.
	tampered := mailgunBody(key, now, "tok1", failed)
	tampered = bytes.Replace(tampered, []byte(`"timestamp":"`+strconv.FormatInt(now, 10)), []byte(`"timestamp":"`+strconv.FormatInt(now+1, 10)), 1)
	s.expect("timestamp changed after signing", s.post("/mailgun", tampered, h), 403, annActive+bobActive)
	s.expect("stale", s.post("/mailgun", mailgunBody(key, now-6*60, "tok1", failed), h), 403, annActive+bobActive)
	s.expect("not JSON", s.post("/mailgun", []byte("timestamp=1&token=x&signature=y"), h), 403, annActive+bobActive)

	bounced := "ann@example.com bounced complained=false; " + bobActive + fmt.Sprintf("mailgun hard_bounce s%d dtrue; ", s.ann.ID)
	s.expect("permanent failure", s.post("/mailgun", mailgunBody(key, now, "tok1", failed), h), 200, bounced)
	s.reactivate(s.ann.ID)
	// A replay signed anew (the same event id) and the same request again do nothing.
	replayed := strings.Replace(bounced, "bounced", "active", 1)
	s.expect("replay", s.post("/mailgun", mailgunBody(key, now, "tok1", failed), h), 200, replayed)
	s.expect("replay signed anew", s.post("/mailgun", mailgunBody(key, now+60, "tok2", failed), h), 200, replayed)

	temp := strings.Replace(strings.Replace(failed, "permanent", "temporary", 1), "CPgfbmQMTCKtHW6uIWtuVe", "temp-1", 1)
	want := replayed + fmt.Sprintf("mailgun soft_bounce s%d dtrue; ", s.ann.ID)
	s.expect("temporary failure", s.post("/mailgun", mailgunBody(key, now, "tok3", temp), h), 200, want)
	complained := fmt.Sprintf(`{"id":"c-1","event":"complained","timestamp":%d,"recipient":"bob@example.com",
		"message":{"headers":{"message-id":%q}}}`, t0.Unix(), strings.Trim(s.mid[s.bob.ID], "<>"))
	want = annActive + "bob@example.com unsubscribed complained=true; " + strings.TrimPrefix(want, annActive+bobActive) +
		fmt.Sprintf("mailgun complaint s%d dtrue; ", s.bob.ID)
	s.expect("complaint", s.post("/mailgun", mailgunBody(key, now, "tok4", complained), h), 200, want)
}

// svix signs body as Svix does, with id at ts.
func svix(key []byte, id string, ts int64, body []byte) http.Header {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	h := http.Header{"Content-Type": {"application/json"}}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", strconv.FormatInt(ts, 10))
	h.Set("svix-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return h
}

func TestResend(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := newSite(t, Options{ResendSecret: "whsec_" + base64.StdEncoding.EncodeToString(key)})
	bounced := []byte(`{"type":"email.bounced","created_at":"2026-03-02T09:59:00.000Z","data":{"email_id":"56761188-7520-42d8-8898-ff6fc54ce618",
		"from":"Jane <jane@blog.example.com>","to":["ann@example.com"],"subject":"P1","created_at":"2026-03-02T09:58:00.000Z",
		"bounce":{"message":"The recipient's email address does not exist.","subType":"General","type":"Permanent"}}}`)
	now := t0.Unix()

	s.expect("no headers", s.post("/resend", bounced, http.Header{}), 403, annActive+bobActive)
	s.expect("wrong secret", s.post("/resend", bounced, svix([]byte("another key of 32 bytes, exactly"), "msg_1", now, bounced)), 403, annActive+bobActive)
	h := svix(key, "msg_1", now, bounced)
	h.Set("svix-id", "msg_2")
	s.expect("id changed after signing", s.post("/resend", bounced, h), 403, annActive+bobActive)
	s.expect("stale", s.post("/resend", bounced, svix(key, "msg_1", now-301, bounced)), 403, annActive+bobActive)
	s.expect("from the future", s.post("/resend", bounced, svix(key, "msg_1", now+301, bounced)), 403, annActive+bobActive)

	// Two signatures, as while a secret is rotated: one of them is good.
	h = svix(key, "msg_1", now, bounced)
	h.Set("svix-signature", "v1,bm90IGl0 "+h.Get("svix-signature"))
	want := "ann@example.com bounced complained=false; " + bobActive + fmt.Sprintf("resend hard_bounce s%d dfalse; ", s.ann.ID)
	s.expect("bounce", s.post("/resend", bounced, h), 200, want)
	s.reactivate(s.ann.ID)
	want = strings.Replace(want, "bounced", "active", 1)
	s.expect("replay", s.post("/resend", bounced, svix(key, "msg_1", now+10, bounced)), 200, want)

	// A complaint whose headers carry the Message-ID Herald sent: matched to its delivery.
	complained := []byte(fmt.Sprintf(`{"type":"email.complained","created_at":"2026-03-02T09:59:30.000Z","data":{"email_id":"x",
		"to":["bob@example.com"],"headers":[{"name":"Message-ID","value":%q}]}}`, s.mid[s.bob.ID]))
	want = annActive + "bob@example.com unsubscribed complained=true; " + fmt.Sprintf("resend hard_bounce s%d dfalse; resend complaint s%d dtrue; ", s.ann.ID, s.bob.ID)
	s.expect("complaint", s.post("/resend", complained, svix(key, "msg_3", now, complained)), 200, want)
	delayed := []byte(`{"type":"email.delivery_delayed","created_at":"2026-03-02T09:59:40.000Z","data":{"to":["ann@example.com"]}}`)
	want += fmt.Sprintf("resend soft_bounce s%d dfalse; ", s.ann.ID)
	s.expect("delayed", s.post("/resend", delayed, svix(key, "msg_4", now, delayed)), 200, want)
}

func TestResendSecret(t *testing.T) {
	for _, secret := range []string{"0123456789abcdef", "whsec_", "whsec_not base64!"} {
		if _, err := Handler("/webhooks", Options{Store: nopStore{}, ResendSecret: secret}); err == nil {
			t.Errorf("secret %q: got no error", secret)
		} else if secret != "whsec_" && strings.Contains(err.Error(), secret) {
			t.Errorf("secret %q: the error shows it: %v", secret, err)
		}
	}
}

// lockedBuffer is a log written by the server's goroutines and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type nopStore struct{}

func (nopStore) RecordEvent(context.Context, store.Event) (bool, error) { return false, nil }
