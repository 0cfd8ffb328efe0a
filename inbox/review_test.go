package inbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// dsn is a delivery status notification with one block per recipient ("address action status"), about
// the message whose Message-ID is msgID.
func dsn(id, msgID string, blocks ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: jane@blog.example.com\r\n"+
		"Message-ID: %s\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"+
		"--B\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n\r\n"+
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n", id)
	for _, bl := range blocks {
		f := strings.Fields(bl)
		fmt.Fprintf(&b, "\r\nFinal-Recipient: rfc822; %s\r\nAction: %s\r\nStatus: %s\r\n", f[0], f[1], f[2])
	}
	fmt.Fprintf(&b, "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: %s\r\nFrom: jane@blog.example.com\r\n\r\n--B--\r\n", msgID)
	return []byte(b.String())
}

// TestBounceOfAnotherRecipient: a report whose blocks name several recipients changes the delivery's
// subscriber only by the block that names them. Herald sends each message to one reader, so a block
// about another address (their alias expanded, a copy forwarded) says nothing of the reader's own
// address: ann, delivered, stays active though a copy to another address failed; bob, whose delivery
// the report is not about, is untouched. A report of one block is taken whatever its address (a
// forward's final recipient).
func TestBounceOfAnotherRecipient(t *testing.T) {
	ctx := t.Context()
	st, ds := sentSite(t, "ann@example.org", "bob@example.org", "cat@example.org")
	dir := writeMaildir(t,
		dsn("<r1@mx.example.org>", ds["ann@example.org"].MessageID, "bob@example.org failed 5.1.1", "ANN@Example.org delivered 2.0.0"),
		dsn("<r2@mx.example.org>", ds["ann@example.org"].MessageID, "ann.work@example.net failed 5.1.1", "ann.home@example.net delivered 2.0.0"),
		dsn("<r3@mx.example.org>", ds["cat@example.org"].MessageID, "cat.forward@example.net failed 5.1.1"),
	)
	src, err := OpenMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s, err := Process(ctx, src, Options{Store: st, Out: &out, Now: func() time.Time { return t0.Add(3 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	for email, want := range map[string]string{"ann@example.org": store.Active, "bob@example.org": store.Active,
		"cat@example.org": store.Bounced} {
		if got := status(t, st, email).Status; got != want {
			t.Errorf("%s: got %s, want %s\n%s", email, got, want, out.String())
		}
	}
	if s.HardBounces != 1 || s.Delivered != 1 {
		t.Errorf("got %+v, want 1 hard bounce (cat's) and 1 delivery (ann's)\n%s", s, out.String())
	}
	// The report that names none of ann's addresses stays, unmatched.
	if len(s.Unmatched) != 1 || s.Unmatched[0] != "<r2@mx.example.org>" || s.Moved != 2 {
		t.Errorf("got unmatched %q and %d moved, want <r2@mx.example.org> and 2\n%s", s.Unmatched, s.Moved, out.String())
	}
}

// TestAutoReplyIsNoUnsubscribe: an automatic reply that reaches the unsubscribe address (the address a
// newsletter goes from, when an author uses one for both) unsubscribes no one, by whichever header its
// responder marks it: Auto-Submitted (RFC 3834), or the older Precedence, X-Autoreply, X-Autorespond
// that vacation programs and Exchange's out-of-office replies use. A request a person sent does.
func TestAutoReplyIsNoUnsubscribe(t *testing.T) {
	const to = "unsubscribe@blog.example.com"
	msg := func(header string) []byte {
		return []byte("From: Ann Reader <ann@example.org>\r\nTo: " + to + "\r\nSubject: Out of office: Re: A new post\r\n" +
			"Message-ID: <ooo.1@mail.example.org>\r\n" + header + "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" +
			"I am away until Monday, with no access to my mail.\r\n")
	}
	for _, tc := range []struct {
		name, header, want string
	}{
		{"a person's request", "", KindUnsubscribe},
		{"Auto-Submitted", "Auto-Submitted: auto-replied\r\n", KindOther},
		{"Precedence: auto_reply", "Precedence: auto_reply\r\n", KindOther},
		{"Precedence: junk", "Precedence: junk\r\n", KindOther},
		{"Precedence: bulk", "Precedence: bulk\r\n", KindOther},
		{"X-Autoreply", "X-Autoreply: yes\r\n", KindOther},
		{"X-Autorespond", "X-Autorespond: Out of office\r\n", KindOther},
		{"Exchange's inbox rule loop", "X-MS-Exchange-Inbox-Rules-Loop: ann@example.org\r\n", KindOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(msg(tc.header), to)
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != tc.want {
				t.Errorf("got %s, want %s", r.Kind, tc.want)
			}
		})
	}
}

// TestUnsubscribeReplayAfterResubscribe: an unsubscribe request read again (a run stopped between the
// change and the move, a restored backup of the mailbox) after its sender subscribed again leaves them
// subscribed: the request is older than their consent.
func TestUnsubscribeReplayAfterResubscribe(t *testing.T) {
	ctx := t.Context()
	st, _ := sentSite(t, "ann@example.org")
	req := sample(t, "unsubscribe-mailto.eml", "", "") // dated 7 Dec 2026 12:00
	dir := writeMaildir(t, req)
	src, err := OpenMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Store: st, UnsubscribeAddress: "unsubscribe@blog.example.com", Now: func() time.Time { return t0.Add(4 * time.Hour) }}
	if s, err := Process(ctx, src, o); err != nil || s.Unsubscribed != 1 {
		t.Fatalf("got %+v, %v; want ann unsubscribed", s, err)
	}
	ann := status(t, st, "ann@example.org")
	// She subscribes again at 13:00, and the request comes back.
	if err := st.UpdateSubscriber(ctx, ann.ID, t0.Add(4*time.Hour), func(s *store.Subscriber) { s.Status = store.Active }); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "new", "000.herald-test"), req, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o.Out = &out
	s, err := Process(ctx, src, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := status(t, st, "ann@example.org").Status; got != store.Active || s.Unsubscribed != 0 {
		t.Errorf("got ann %s and %+v, want her active\n%s", got, s, out.String())
	}
	if s.Moved != 1 {
		t.Errorf("got %d moved, want the stale request moved: it is done with\n%s", s.Moved, out.String())
	}

	// A request whose sender's clock is a few minutes slow, sent right after they subscribed again, is
	// no replay: it unsubscribes.
	if err := st.UpdateSubscriber(ctx, ann.ID, t0.Add(3*time.Hour+2*time.Minute), func(s *store.Subscriber) { s.Status = store.Unsubscribed }); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateSubscriber(ctx, ann.ID, t0.Add(3*time.Hour+5*time.Minute), func(s *store.Subscriber) { s.Status = store.Active }); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "new", "001.herald-test"), bytes.ReplaceAll(req, []byte("unsub.1@"), []byte("unsub.2@")), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Process(ctx, src, o); err != nil || s.Unsubscribed != 1 || status(t, st, "ann@example.org").Status != store.Unsubscribed {
		t.Errorf("a request 5 minutes behind her consent: got %+v, %v; want her unsubscribed", s, err)
	}
}

// TestPolicyRefusalIsNoHardBounce: a permanent refusal that is about the message or its sender, not the
// reader's address (a DMARC or DKIM failure, 5.7.26; a spam block, 5.7.1; a full mailbox, 5.2.2; a
// message too large, 5.3.4; the sender's address, 5.1.8) is recorded as a soft bounce and leaves its
// subscriber active: a site whose DNS went wrong would otherwise lose every reader at that provider in
// one send. An address that does not exist (5.1.1), a dead domain (5.1.2, 5.4.4), a disabled mailbox
// (5.2.1) or an old server's bare 5.0.0 bounce.
func TestPolicyRefusalIsNoHardBounce(t *testing.T) {
	ctx := t.Context()
	codes := map[string]string{ // address: status
		"dmarc@gmail.com": "5.7.26", "spam@example.net": "5.7.1", "full@example.net": "5.2.2", "big@example.net": "5.3.4",
		"sender@example.net": "5.1.8",
		"gone@example.net":   "5.1.1", "nodomain@example.net": "5.1.2", "noroute@example.net": "5.4.4",
		"disabled@example.net": "5.2.1", "old@example.net": "5.0.0",
	}
	var emails []string
	for e := range codes {
		emails = append(emails, e)
	}
	slices.Sort(emails)
	st, ds := sentSite(t, emails...)
	var msgs [][]byte
	for _, e := range emails {
		msgs = append(msgs, dsn("<r."+e+">", ds[e].MessageID, e+" failed "+codes[e]))
	}
	src, err := OpenMaildir(writeMaildir(t, msgs...))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s, err := Process(ctx, src, Options{Store: st, Out: &out, Now: func() time.Time { return t0.Add(3 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	for e, code := range codes {
		want := store.Active
		if !strings.HasPrefix(code, "5.7") && code != "5.2.2" && code != "5.3.4" && code != "5.1.8" {
			want = store.Bounced
		}
		if got := status(t, st, e).Status; got != want {
			t.Errorf("%s (%s): got %s, want %s", e, code, got, want)
		}
	}
	if s.HardBounces != 5 || s.SoftBounces != 5 {
		t.Errorf("got %+v, want 5 hard bounces and 5 soft\n%s", s, out.String())
	}
}

// TestReplyToAPostTitledUnsubscribe: a reader's reply to a post whose title begins with the word ("Re:
// Unsubscribe from the algorithm") is no unsubscribe request; a subject that is the request, with a
// word of politeness, still is.
func TestReplyToAPostTitledUnsubscribe(t *testing.T) {
	for _, tc := range []struct{ subject, want string }{
		{"Re: Unsubscribe from the algorithm", KindOther},
		{"Unsubscribe from the algorithm", KindOther},
		{"Re: Unsubscribe: why I left social media", KindOther},
		{"Unsubscribe", KindUnsubscribe},
		{"Re: unsubscribe me, please!", KindUnsubscribe},
		{"UNSUBSCRIBE NOW", KindUnsubscribe},
	} {
		raw := "From: ann@example.org\r\nTo: jane@blog.example.com\r\nSubject: " + tc.subject +
			"\r\nMessage-ID: <x@example.org>\r\n\r\nWhat a good read, thank you.\r\n"
		r, err := Parse([]byte(raw), "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind != tc.want {
			t.Errorf("subject %q: got %s, want %s", tc.subject, r.Kind, tc.want)
		}
	}
}

// TestReturnPathLength: a return path pattern whose local part, with its token, would be longer than
// SMTP's 64 characters (RFC 5321 section 4.5.3.1.1) is refused: receivers may refuse such a sender.
func TestReturnPathLength(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		ok      bool
	}{
		{"bounces+{token}@blog.example.com", true},
		{"b-{token}@example.com", true},
		{"newsletter-bounces-of-my-blog+{token}@blog.example.com", false},
	} {
		err := CheckReturnPath(tc.pattern)
		if (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want ok %v", tc.pattern, err, tc.ok)
		}
		if err == nil {
			if local, _, _ := strings.Cut(ReturnPath(tc.pattern, secret, 1<<62), "@"); len(local) > 64 {
				t.Errorf("%s: took it, and its local part is %d characters", tc.pattern, len(local))
			}
		}
	}
}

// TestMaildirReadsAsItGoes: a Maildir's messages are read one at a time as they are handled, not all at
// once before (a mailbox where unmatched reports pile up, each with a copy of a newsletter, took its
// whole size in memory): a message removed by a mail client after the first was handled is passed over.
func TestMaildirReadsAsItGoes(t *testing.T) {
	dir := writeMaildir(t, []byte("Subject: one\r\n\r\n1\r\n"), []byte("Subject: two\r\n\r\n2\r\n"), []byte("Subject: three\r\n\r\n3\r\n"))
	src, err := OpenMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m, err := range src.Messages(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Key)
		if len(got) == 1 {
			if err := os.Remove(filepath.Join(dir, "new", "001.herald-test")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := []string{"new/000.herald-test", "new/002.herald-test"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
