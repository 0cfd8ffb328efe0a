package events

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// FuzzUnsigned: whatever body and headers a request carries, without the key no provider's check
// believes it: each returns an error and no event.
func FuzzUnsigned(f *testing.F) {
	f.Add([]byte(`{"signature":{"timestamp":"1","token":"t","signature":"00"},"event-data":{"id":"x","event":"complained"}}`), "msg_1", "1772445600", "v1,AAAA")
	f.Add([]byte(`{"Type":"Notification","MessageId":"m","TopicArn":"`+topic+`","Message":"{}","Timestamp":"t","SignatureVersion":"1","Signature":"AAAA","SigningCertURL":"`+goodCertURL+`"}`), "", "", "")
	f.Add([]byte(`{"type":"email.complained","data":{"to":["ann@example.com"]}}`), "msg_1", "0", "v1,")
	ca := newSNSCA(f)
	f.Fuzz(func(t *testing.T, body []byte, id, ts, sig string) {
		h := &hooks{o: Options{MailgunKey: "key-secret", PostmarkUser: "u", PostmarkPassword: "p-secret", Now: func() time.Time { return t0 }}}
		sns, err := newSNS(*ca.options())
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("POST", "/webhooks/x", bytes.NewReader(body))
		r.Header.Set("svix-id", id)
		r.Header.Set("svix-timestamp", ts)
		r.Header.Set("svix-signature", sig)
		for name, v := range map[string]verify{
			"ses": sns.verify, "postmark": h.postmark, "mailgun": h.mailgun,
			"resend": func(r *http.Request, b []byte) ([]store.Event, error) { return h.resend(r, b, []byte("resend-key")) },
		} {
			evs, err := v(r, body)
			if err == nil || len(evs) > 0 {
				t.Errorf("%s believed an unsigned request: %v, %v", name, evs, err)
			}
		}
	})
}
