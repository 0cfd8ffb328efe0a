package inbox

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// sample reads testdata/name with the placeholders MSGID (the Message-ID Herald sent) and TOKEN (a
// return path's token) filled in.
func sample(t testing.TB, name, msgID, tok string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "<MSGID>", msgID)
	return []byte(strings.ReplaceAll(s, "TOKEN", tok))
}

func TestParse(t *testing.T) {
	const herald = "<post.1f2e3d@blog.example.com>"
	for _, tc := range []struct {
		name, file string
		crlf       bool
		want       Report
	}{
		{name: "RFC 3464 appendix: failed after 5 days with 4.0.0 is soft", file: "rfc3464-timeout.eml",
			want: Report{Kind: KindBounce, ID: "<199407072116.RAA14128@CS.UTK.EDU>",
				Date: time.Date(1994, 7, 7, 21, 16, 5, 0, time.UTC), From: "MAILER-DAEMON@CS.UTK.EDU",
				OriginalID: "<199407022110.RAA00001@CS.UTK.EDU>", Addresses: []string{"owner-info-mime@cs.utk.edu"},
				Recipients: []Recipient{{"louisl@larry.slip.umd.edu", store.EventSoftBounce, "4.0.0; failed; smtp; 426 connection timed out"}}}},
		{name: "RFC 3464 appendix: several recipients", file: "rfc3464-multiple.eml", crlf: true,
			want: Report{Kind: KindBounce, ID: "<199509200019.12345@sun2.nsfnet-relay.ac.uk>",
				From: "MAILER-DAEMON@sun2.nsfnet-relay.ac.uk", OriginalID: "<9509200018.AA01234@CS.UTK.EDU>",
				Addresses: []string{"owner-ups-mib@CS.UTK.EDU"}, Recipients: []Recipient{
					{"arathib@vnet.ibm.com", store.EventHardBounce, "5.0.0 (permanent failure); failed; smtp; 550 'arathib@vnet.IBM.COM' is not a registered gateway user"},
					{"johnh@hpnjld.njd.hp.com", store.EventSoftBounce, "4.0.0 (hpnjld.njd.jp.com: host name lookup failure); delayed"},
					{"wsnell@sdcc13.ucsd.edu", store.EventHardBounce, "5.0.0; failed; smtp; 550 user unknown"},
				}}},
		{name: "Postfix, with the original's headers and a VERP address", file: "postfix-headers.eml",
			want: Report{Kind: KindBounce, ID: "<20261207101201.4Bz3Yq0xYbz9sVq@mail.blog.example.com>",
				Date: time.Date(2026, 12, 7, 10, 12, 1, 0, time.UTC), From: "MAILER-DAEMON@mail.blog.example.com",
				OriginalID: herald, Addresses: []string{"bounces+tok@blog.example.com", "bounces+tok@blog.example.com", "bounces+tok@blog.example.com"},
				Recipients: []Recipient{{"gone@example.org", store.EventHardBounce,
					"5.1.1; failed; smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual mailbox table"}}}},
		{name: "Gmail", file: "gmail.eml", crlf: true,
			want: Report{Kind: KindBounce, ID: "<5f1b2c3d.170a0220.abcd.1234.GMR@mx.google.com>",
				Date: time.Date(2026, 12, 7, 10, 12, 3, 0, time.UTC), From: "mailer-daemon@googlemail.com", OriginalID: herald,
				Addresses: []string{"jane@blog.example.com", "jane@blog.example.com", "jane@blog.example.com"},
				Recipients: []Recipient{{"nobody.here.1234@gmail.com", store.EventHardBounce,
					"5.1.1; failed; smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser"}}}},
		{name: "Yahoo, a delay, its status in base64", file: "yahoo-deferred.eml",
			want: Report{Kind: KindBounce, ID: "<1765103400.77771.yahoo@mta1012.mail.gq1.yahoo.com>",
				Date: time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC), From: "MAILER-DAEMON@yahoo.com", OriginalID: herald,
				Addresses: []string{"jane@blog.example.com"},
				Recipients: []Recipient{{"full.box@yahoo.com", store.EventSoftBounce,
					"4.7.0; delayed; smtp; 421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred"}}}},
		{name: "RFC 5965 example: no Message-ID of its own, the original's without brackets", file: "rfc5965.eml",
			// net/mail reads the zone EDT as UTC (it knows no zone names), which is near enough for an event.
			want: Report{Kind: KindComplaint, From: "abusedesk@example.com", Date: time.Date(2005, 3, 8, 17, 40, 36, 0, time.UTC),
				OriginalID: "<8787KJKJ3K4J3K4J3K4J3.mail@example.net>", Addresses: []string{"abuse@example.net"},
				Recipients: []Recipient{{"user@example.com", store.EventComplaint, "feedback-type abuse"}}}},
		{name: "Yahoo's complaint feedback loop", file: "yahoo-arf.eml", crlf: true,
			want: Report{Kind: KindComplaint, ID: "<cfl.1765105200.42@arf.mail.yahoo.com>",
				Date: time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC), From: "feedback@arf.mail.yahoo.com", OriginalID: herald,
				Addresses:  []string{"jane@blog.example.com", "jane@blog.example.com", "bounces+tok@blog.example.com"},
				Recipients: []Recipient{{"redacted@yahoo.com", store.EventComplaint, "feedback-type abuse"}}}},
		{name: "a not-spam report is no complaint", file: "not-spam.eml",
			want: Report{Kind: KindOther, ID: "<notspam.1@example.com>", Date: time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC),
				From: "fbl@example.com", OriginalID: herald, Addresses: []string{"jane@blog.example.com"}}},
		{name: "a mail to the unsubscribe address", file: "unsubscribe-mailto.eml",
			want: Report{Kind: KindUnsubscribe, ID: "<CAF=unsub.1@mail.example.org>", Date: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC),
				From: "ann@example.org", Addresses: []string{"unsubscribe@blog.example.com"}}},
		{name: "a reply whose first line is unsubscribe", file: "unsubscribe-reply.eml", crlf: true,
			want: Report{Kind: KindUnsubscribe, ID: "<reply.2@example.org>", Date: time.Date(2026, 12, 7, 12, 5, 0, 0, time.UTC),
				From: "bea@example.org", Addresses: []string{"jane@blog.example.com"}}},
		{name: "a reply that only mentions unsubscribing", file: "reply.eml",
			want: Report{Kind: KindOther, ID: "<reply.3@example.org>", Date: time.Date(2026, 12, 7, 12, 6, 0, 0, time.UTC),
				From: "cy@example.org", Addresses: []string{"jane@blog.example.com"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := sample(t, tc.file, herald, "tok")
			if tc.crlf {
				raw = []byte(strings.ReplaceAll(string(raw), "\n", "\r\n"))
			}
			got, err := Parse(raw, "Unsubscribe@blog.example.com")
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.ID == "" && strings.HasPrefix(got.ID, "sha256:") && len(got.ID) == 7+64 {
				tc.want.ID = got.ID
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

func TestParseUnsubscribeSubjects(t *testing.T) {
	for _, tc := range []struct {
		subject, body string
		want          string
	}{
		{"unsubscribe", "", KindUnsubscribe},
		{"Re: RE: unsubscribe me", "", KindUnsubscribe},
		{"=?UTF-8?Q?Unsubscribe?=", "", KindUnsubscribe},
		{"Re: A post", "\n\n  UNSUBSCRIBE\nthanks", KindUnsubscribe},
		{"Re: A post", "Thanks!\nunsubscribe", KindOther},
		{"How to unsubscribe", "", KindOther},
		{"unsubscribed", "", KindOther},
	} {
		raw := "From: a@example.org\r\nTo: jane@blog.example.com\r\nSubject: " + tc.subject + "\r\nMessage-ID: <x@y>\r\n\r\n" + tc.body
		r, err := Parse([]byte(raw), "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind != tc.want {
			t.Errorf("subject %q, body %q: got %s, want %s", tc.subject, tc.body, r.Kind, tc.want)
		}
	}
	// An automatic reply that quotes the word is none.
	r, _ := Parse([]byte("From: a@example.org\r\nAuto-Submitted: auto-replied\r\nSubject: unsubscribe\r\n\r\n"), "")
	if r.Kind != KindOther {
		t.Errorf("an auto-reply: got %s, want other", r.Kind)
	}
}

func TestParseRefusesLarge(t *testing.T) {
	if _, err := Parse(make([]byte, MaxSize+1), ""); err != ErrTooLarge {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
}
