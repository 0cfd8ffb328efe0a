package main

import (
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/heraldhq/herald/internal/imaptest"
	"github.com/heraldhq/herald/internal/mailpittest"
	"github.com/heraldhq/herald/store"
)

// inboxSite is mailSite with a new post sent to ann, cy, dee and eve (bob is weekly: nothing yet); it
// returns the site and, for mail sent to the outbox, the Message-ID each was sent.
func inboxSite(t *testing.T, extra string) (string, map[string]string) {
	t.Helper()
	dir := mailSite(t, "unsubscribe_mailto: mailto:unsubscribe@blog.example.com?subject=unsubscribe\n"+extra)
	list := filepath.Join(t.TempDir(), "more.csv")
	os.WriteFile(list, []byte("email,name,frequency\ncy@example.org,Cy,immediate\ndee@example.org,Dee,immediate\neve@example.org,Eve,immediate\n"), 0o644)
	if _, _, err := runHerald(t, testEnv(), "subscribers", "import", "-C", dir, list); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runHerald(t, testEnv(), "publish", "-C", dir); err != nil {
		t.Fatal(err)
	}
	addPost(t, dir, "2021-01-01-hello.md", "Hello")
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--record"); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runHerald(t, testEnv(), "send", "-C", dir); err != nil || !strings.Contains(out, "sent 4,") {
		t.Fatalf("send: %v\n%s", err, out)
	}
	ids := map[string]string{}
	if strings.Contains(extra, "transport:") {
		return dir, nil // sent over SMTP: the test reads its server
	}
	for _, m := range maildir(t, filepath.Join(dir, ".herald", "outbox")) {
		to, err := mail.ParseAddress(m.Header.Get("To"))
		if err != nil {
			t.Fatal(err)
		}
		ids[to.Address] = m.Header.Get("Message-Id")
	}
	if len(ids) != 4 {
		t.Fatalf("sent to %v, want ann, cy, dee and eve", ids)
	}
	return dir, ids
}

// dsn is a delivery status notification about the message msgID to rcpt, with status (5.1.1, 4.2.2).
func dsn(id, rcpt, msgID, status string) string {
	action := "failed"
	if status[0] == '4' {
		action = "delayed"
	}
	return fmt.Sprintf(`From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: jane@blog.example.com
Subject: Undelivered Mail Returned to Sender
Date: Mon, 7 Dec 2026 10:12:01 +0000
Message-Id: %s
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; %s
Action: %s
Status: %s
Diagnostic-Code: smtp; 550 %s mailbox problem

--b1
Content-Type: text/rfc822-headers

From: Jane Doe <jane@blog.example.com>
To: %s
Message-ID: %s

--b1--
`, id, rcpt, action, status, status, rcpt, msgID)
}

// arf is a complaint (RFC 5965) about the message msgID.
func arf(id, msgID string) string {
	return fmt.Sprintf(`From: feedback@fbl.example.org
To: jane@blog.example.com
Subject: complaint
Date: Mon, 7 Dec 2026 11:00:00 +0000
Message-ID: %s
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b2"

--b2
Content-Type: text/plain

A complaint.

--b2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: fbl/1.0
Version: 1

--b2
Content-Type: message/rfc822

From: Jane Doe <jane@blog.example.com>
Message-ID: %s
Subject: Hello

The post.
--b2--
`, id, msgID)
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// TestInboxIMAP runs herald inbox against a real IMAP server (Dovecot): a hard bounce of ann's message,
// a soft one of cy's, a complaint about dee's, eve's mail to the unsubscribe address, a bounce of a
// message Herald never sent and someone's reply. A dry run changes and moves nothing; the run marks ann
// bounced, dee unsubscribed with her complaint recorded, eve unsubscribed, and leaves cy; it moves those
// four into Herald/Processed (made for it) and leaves the other two, naming the unmatched one. A second
// run changes nothing.
func TestInboxIMAP(t *testing.T) {
	srv := imaptest.Start(t)
	dir, ids := inboxSite(t, "")
	msgs := []string{
		dsn("<dsn.ann@mx.example.org>", "ann@example.com", ids["ann@example.com"], "5.1.1"),
		dsn("<dsn.cy@mx.example.org>", "cy@example.org", ids["cy@example.org"], "4.2.2"),
		arf("<arf.dee@fbl.example.org>", ids["dee@example.org"]),
		"From: Eve <eve@example.org>\nTo: unsubscribe@blog.example.com\nSubject: unsubscribe\nMessage-ID: <unsub.eve@example.org>\n\nunsubscribe\n",
		dsn("<dsn.unknown@mx.example.org>", "zed@example.org", "<never.sent@blog.example.com>", "5.1.1"),
		"From: Zed <zed@example.org>\nTo: jane@blog.example.com\nSubject: Re: Hello\nMessage-ID: <reply.zed@example.org>\n\nNice post.\n",
	}
	c, err := imapclient.DialInsecure(srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(imaptest.User, imaptest.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		m = crlf(m)
		w := c.Append("INBOX", int64(len(m)), nil)
		w.Write([]byte(m))
		w.Close()
		if _, err := w.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Logout().Wait()

	env := testEnv("HERALD_INBOX", "imap://"+imaptest.User+"@"+srv.Addr+"/INBOX", "HERALD_INBOX_PASSWORD", imaptest.Password)
	count := func(folder string) int {
		t.Helper()
		n := 0
		for _, sub := range []string{"new", "cur"} {
			e, _ := os.ReadDir(filepath.Join(srv.Folder(folder), sub))
			n += len(e)
		}
		return n
	}
	statuses := func() string {
		t.Helper()
		st, err := openTestStore(t, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var b strings.Builder
		for _, e := range []string{"ann@example.com", "cy@example.org", "dee@example.org", "eve@example.org"} {
			s, err := st.SubscriberByEmail(t.Context(), e)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %s complained=%v; ", e, s.Status, !s.ComplainedAt.IsZero())
		}
		return b.String()
	}
	before := statuses()

	out, _, err := runHerald(t, env, "inbox", "-C", dir, "--dry-run")
	if err != nil {
		t.Fatalf("inbox --dry-run: %v\n%s", err, out)
	}
	if got := statuses(); got != before || count("INBOX") != 6 {
		t.Errorf("a dry run changed %s to %s, or moved messages (%d left)", before, got, count("INBOX"))
	}
	for _, want := range []string{"would record hard bounce of delivery", "would unsubscribe subscriber", "hard bounces to record:   1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run's output lacks %q:\n%s", want, out)
		}
	}

	out, stderr, err := runHerald(t, env, "inbox", "-C", dir)
	if err != nil {
		t.Fatalf("inbox: %v\n%s\n%s", err, out, stderr)
	}
	want := "ann@example.com bounced complained=false; cy@example.org active complained=false; " +
		"dee@example.org unsubscribed complained=true; eve@example.org unsubscribed complained=false; "
	if got := statuses(); got != want {
		t.Errorf("after herald inbox:\n got %s\nwant %s", got, want)
	}
	for _, line := range []string{"6 messages read\n", "hard bounces recorded:   1\n", "soft bounces recorded:   1\n",
		"complaints recorded:     1\n", "unsubscribe requests:  1 (1 unsubscribed)\n", "moved to processed:    4\n",
		"not Herald's, left:    1\n", "unmatched, left:       1\n    <dsn.unknown@mx.example.org>\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	if strings.Contains(out+stderr, imaptest.Password) {
		t.Errorf("the output shows the password")
	}
	if in, done := count("INBOX"), count("Herald/Processed"); in != 2 || done != 4 {
		t.Errorf("INBOX holds %d, Herald/Processed %d; want 2 and 4", in, done)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.Events(t.Context(), time.Time{})
	st.Close()
	if err != nil || len(evs) != 3 {
		t.Fatalf("events: %v, %+v; want 3", err, evs)
	}
	for _, e := range evs {
		if e.Provider != "inbox" || e.DeliveryID == 0 || e.SubscriberID == 0 {
			t.Errorf("event %+v: want provider inbox, matched to its delivery and subscriber", e)
		}
	}

	// herald status counts them with the providers' reports.
	if out, _, err := runHerald(t, testEnv(), "status", "-C", dir); err != nil ||
		!strings.Contains(out, "providers' reports, last 30 days: 1 hard bounce, 1 soft bounce, 1 complaint, 0 deliveries\n") {
		t.Errorf("status: %v\n%s", err, out)
	}

	// Again: nothing changes, nothing moves, the unmatched message is reported again.
	out, _, err = runHerald(t, env, "inbox", "-C", dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(); got != want || !strings.Contains(out, "2 messages read\n") || !strings.Contains(out, "moved to processed:    0\n") ||
		!strings.Contains(out, "<dsn.unknown@mx.example.org>") {
		t.Errorf("a second run: %s\n%s", got, out)
	}
}

// TestInboxSettings: the password never comes from the URL, and without one herald inbox says where it goes.
func TestInboxSettings(t *testing.T) {
	dir := mailSite(t, "")
	_, _, err := runHerald(t, testEnv("HERALD_INBOX", "imap://herald:s3cret@127.0.0.1:1/INBOX"), "inbox", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "HERALD_INBOX_PASSWORD") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a password in the URL: %v", err)
	}
	_, _, err = runHerald(t, testEnv("HERALD_INBOX", "imap://herald@127.0.0.1:1/INBOX"), "inbox", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "HERALD_INBOX_PASSWORD_FILE") {
		t.Errorf("no password: %v", err)
	}
	_, _, err = runHerald(t, testEnv("HERALD_RETURN_PATH", "bounces@blog.example.com"), "inbox", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "{token}") {
		t.Errorf("a return path without {token}: %v", err)
	}
	_, _, err = runHerald(t, testEnv(), "inbox", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "set inbox") {
		t.Errorf("no inbox: %v", err)
	}
}

// TestInboxReturnPath: with return_path set, each message goes out over SMTP (mailpit) from its own VERP
// address; a bounce sent back to that address, which quotes nothing of the message (no Message-ID, no
// headers), is matched by the address alone in a Maildir inbox and marks ann bounced; a bounce to a
// forged token stays unmatched.
func TestInboxReturnPath(t *testing.T) {
	mp := mailpittest.Start(t, "--smtp-auth-allow-insecure")
	box := filepath.Join(t.TempDir(), "Maildir")
	dir, _ := inboxSite(t, fmt.Sprintf("transport: smtp://127.0.0.1:%d?tls=none\nreturn_path: bounces+{token}@blog.example.com\ninbox: %s\n", mp.SMTPPort, box))
	paths := map[string]string{}
	for _, m := range mp.Messages(t) {
		rp := mp.Headers(t, m.ID)["Return-Path"]
		if len(rp) != 1 || len(m.To) != 1 {
			t.Fatalf("message to %v: Return-Path %q", m.To, rp)
		}
		paths[m.To[0].Address] = strings.Trim(rp[0], "<>")
	}
	ann := paths["ann@example.com"]
	if !strings.HasPrefix(ann, "bounces+") || !strings.HasSuffix(ann, "@blog.example.com") || ann == paths["cy@example.org"] || len(paths) != 4 {
		t.Fatalf("return paths %q: want one bounces+TOKEN@blog.example.com each", paths)
	}
	bounce := func(id, to string) string {
		return crlf(fmt.Sprintf(`From: MAILER-DAEMON@mx.example.com
To: %s
Subject: failure notice
Message-ID: %s
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; ann@example.com
Action: failed
Status: 5.1.1

--b--
`, to, id))
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		os.MkdirAll(filepath.Join(box, sub), 0o700)
	}
	forged := strings.Replace(ann, "bounces+", "bounces+x", 1)
	os.WriteFile(filepath.Join(box, "new", "1.dsn"), []byte(bounce("<b1@mx.example.com>", ann)), 0o600)
	os.WriteFile(filepath.Join(box, "new", "2.dsn"), []byte(bounce("<b2@mx.example.com>", forged)), 0o600)
	out, _, err := runHerald(t, testEnv(), "inbox", "-C", dir)
	if err != nil {
		t.Fatalf("inbox: %v\n%s", err, out)
	}
	if !strings.Contains(out, "hard bounces recorded:   1\n") || !strings.Contains(out, "unmatched, left:       1\n    <b2@mx.example.com>\n") {
		t.Errorf("output:\n%s", out)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for email, want := range map[string]string{"ann@example.com": store.Bounced, "cy@example.org": store.Active} {
		if s, err := st.SubscriberByEmail(t.Context(), email); err != nil || s.Status != want {
			t.Errorf("%s: %s, %v; want %s", email, s.Status, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(box, ".Processed", "cur", "1.dsn:2,S")); err != nil {
		t.Errorf("the handled bounce was not moved: %v", err)
	}
	if _, err := os.Stat(filepath.Join(box, "new", "2.dsn")); err != nil {
		t.Errorf("the unmatched bounce was not left: %v", err)
	}
}
