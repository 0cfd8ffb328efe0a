package events

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SignatureVersion 1
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// snsCA is a CA made for the test, and a signing certificate it issued to sns.amazonaws.com, as SNS's
// are; other is a certificate of the same name that no trusted CA issued.
type snsCA struct {
	roots     *x509.CertPool
	key       *rsa.PrivateKey
	certPEM   []byte
	otherKey  *rsa.PrivateKey
	otherPEM  []byte
	fetched   []string
	confirmed []string
	mu        sync.Mutex
}

func newSNSCA(t testing.TB) *snsCA {
	t.Helper()
	mk := func(tmpl, parent *x509.Certificate, pub, priv any) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	key := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	pemOf := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	ca := mk(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	leaf := func(serial int64, parent *x509.Certificate, parentKey any, k *rsa.PrivateKey) *x509.Certificate {
		return mk(&x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
			DNSNames: []string{"sns.amazonaws.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature}, parent, &k.PublicKey, parentKey)
	}
	c := &snsCA{roots: x509.NewCertPool(), key: key(), otherKey: key()}
	c.roots.AddCert(ca)
	c.certPEM = pemOf(leaf(2, ca, caKey, c.key))
	selfTmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	c.otherPEM = pemOf(mk(selfTmpl, selfTmpl, &c.otherKey.PublicKey, c.otherKey))
	return c
}

const (
	goodCertURL  = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
	otherCertURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-other.pem"
	topic        = "arn:aws:sns:us-east-1:123456789012:herald-ses"
)

// options are the SNS options of the test: the certificates served offline, confirmations noted.
func (c *snsCA) options() *SNSOptions {
	return &SNSOptions{TopicARNs: []string{topic}, Roots: c.roots,
		Fetch: func(ctx context.Context, u string) ([]byte, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.fetched = append(c.fetched, u)
			switch u {
			case goodCertURL:
				return c.certPEM, nil
			case otherCertURL:
				return c.otherPEM, nil
			}
			return nil, errors.New("404 Not Found")
		},
		Confirm: func(ctx context.Context, u string) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.confirmed = append(c.confirmed, u)
			return nil
		}}
}

// sign fills in m's signature fields as SNS does, with key, and returns the JSON SNS would POST.
func sign(t *testing.T, m snsMessage, version string, key *rsa.PrivateKey, certURL string) []byte {
	t.Helper()
	m.SignatureVersion, m.SigningCertURL = version, certURL
	s, err := m.stringToSign()
	if err != nil {
		t.Fatal(err)
	}
	var sig []byte
	if version == "1" {
		d := sha1.Sum([]byte(s)) //nolint:gosec // SignatureVersion 1
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(s))
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sesBounce is an SNS notification of an SES bounce (or complaint) of the message Herald sent with mid.
func sesNotice(id, kind, mid, to string) snsMessage {
	var body string
	mail := fmt.Sprintf(`"mail":{"timestamp":"2026-03-02T09:00:00.000Z","messageId":"0100018e-ses-id","source":"jane@blog.example.com",
		"headersTruncated":false,"headers":[{"name":"From","value":"Jane <jane@blog.example.com>"},{"name":"Message-ID","value":%q}],
		"commonHeaders":{"messageId":"<0100018e-ses-id@email.amazonses.com>"}}`, mid)
	switch kind {
	case "Bounce":
		body = fmt.Sprintf(`{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General",
			"bouncedRecipients":[{"emailAddress":%q,"action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],
			"timestamp":"2026-03-02T09:58:00.000Z","feedbackId":"0100-fb"},%s}`, to, mail)
	case "Complaint":
		body = fmt.Sprintf(`{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":%q}],
			"timestamp":"2026-03-02T09:59:00.000Z","feedbackId":"0100-fb2","complaintFeedbackType":"abuse"},%s}`, to, mail)
	case "Delivery":
		body = fmt.Sprintf(`{"notificationType":"Delivery","delivery":{"timestamp":"2026-03-02T09:57:00.000Z","recipients":[%q],
			"smtpResponse":"250 2.0.0 OK"},%s}`, to, mail)
	}
	return snsMessage{Type: "Notification", MessageID: id, TopicArn: topic, Message: body, Timestamp: "2026-03-02T09:58:01.000Z"}
}

func TestSES(t *testing.T) {
	ca := newSNSCA(t)
	s := newSite(t, Options{SES: ca.options()})
	h := http.Header{"Content-Type": {"text/plain; charset=UTF-8"}, "X-Amz-Sns-Message-Type": {"Notification"}}
	bounce := sesNotice("b-1", "Bounce", s.mid[s.ann.ID], "ann@example.com")
	subj := "Amazon SES Email Event Notification"
	withSubject := bounce
	withSubject.Subject = &subj

	tampered := sign(t, bounce, "2", ca.key, goodCertURL)
	tampered = []byte(strings.Replace(string(tampered), "ann@example.com", "bob@example.com", 1))
	otherTopic := bounce
	otherTopic.TopicArn = "arn:aws:sns:us-east-1:999999999999:someone-else"
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"signed by a certificate no trusted CA issued", sign(t, bounce, "2", ca.otherKey, otherCertURL)},
		{"signed with another key than the certificate's", sign(t, bounce, "2", ca.otherKey, goodCertURL)},
		{"changed after signing", tampered},
		{"certificate on another host", sign(t, bounce, "2", ca.key, "https://sns.us-east-1.amazonaws.com.evil.example/x.pem")},
		{"certificate over http", sign(t, bounce, "2", ca.key, strings.Replace(goodCertURL, "https:", "http:", 1))},
		{"certificate not on an SNS host", sign(t, bounce, "2", ca.key, "https://s3.amazonaws.com/SimpleNotificationService-x.pem")},
		{"unknown signature version", sign(t, bounce, "3", ca.key, goodCertURL)},
		{"another topic", sign(t, otherTopic, "2", ca.key, goodCertURL)},
		{"not JSON", []byte("Type=Notification")},
	} {
		s.expect(tc.name, s.post("/ses", tc.body, h), 403, annActive+bobActive)
	}
	for _, u := range ca.fetched {
		if u != goodCertURL && u != otherCertURL {
			t.Errorf("fetched %s, which is no certificate URL of SNS", u)
		}
	}

	for _, v := range []string{"1", "2"} {
		t.Run("SignatureVersion "+v, func(t *testing.T) {
			s := newSite(t, Options{SES: ca.options()})
			want := "ann@example.com bounced complained=false; " + bobActive + fmt.Sprintf("ses hard_bounce s%d dtrue; ", s.ann.ID)
			s.expect("bounce", s.post("/ses", sign(t, withSubject, v, ca.key, goodCertURL), h), 200, want)
			s.reactivate(s.ann.ID)
			want = strings.Replace(want, "bounced", "active", 1)
			s.expect("replay", s.post("/ses", sign(t, withSubject, v, ca.key, goodCertURL), h), 200, want)
			complaint := sign(t, sesNotice("c-1", "Complaint", s.mid[s.bob.ID], "bob@example.com"), v, ca.key, goodCertURL)
			want = annActive + "bob@example.com unsubscribed complained=true; " +
				fmt.Sprintf("ses hard_bounce s%d dtrue; ses complaint s%d dtrue; ", s.ann.ID, s.bob.ID)
			s.expect("complaint", s.post("/ses", complaint, h), 200, want)
			delivery := sign(t, sesNotice("d-1", "Delivery", s.mid[s.ann.ID], "ann@example.com"), v, ca.key, goodCertURL)
			want = annActive + "bob@example.com unsubscribed complained=true; " +
				fmt.Sprintf("ses delivered s%d dtrue; ses hard_bounce s%d dtrue; ses complaint s%d dtrue; ", s.ann.ID, s.ann.ID, s.bob.ID)
			s.expect("delivery", s.post("/ses", delivery, h), 200, want)
		})
	}
}

func TestSESSubscriptionConfirmation(t *testing.T) {
	ca := newSNSCA(t)
	s := newSite(t, Options{SES: ca.options()})
	subscribe := "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=2336412f37fb687f5d51e6e2425c464de"
	m := snsMessage{Type: "SubscriptionConfirmation", MessageID: "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", Token: "2336412f37fb687f5d51e6e2425c464de",
		TopicArn: topic, Message: "You have chosen to subscribe to the topic " + topic + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		SubscribeURL: subscribe, Timestamp: "2026-03-02T09:50:00.000Z"}
	h := http.Header{"Content-Type": {"text/plain; charset=UTF-8"}, "X-Amz-Sns-Message-Type": {"SubscriptionConfirmation"}}

	forged := m
	forged.SubscribeURL = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=attacker"
	body := sign(t, m, "1", ca.key, goodCertURL)
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	raw["SubscribeURL"] = forged.SubscribeURL
	changed, _ := json.Marshal(raw)
	s.expect("URL changed after signing", s.post("/ses", changed, h), 403, annActive+bobActive)
	s.expect("signed by an untrusted certificate", s.post("/ses", sign(t, m, "1", ca.otherKey, otherCertURL), h), 403, annActive+bobActive)
	elsewhere := m
	elsewhere.SubscribeURL = "https://attacker.example/confirm"
	s.expect("signed, but SubscribeURL not SNS's", s.post("/ses", sign(t, elsewhere, "2", ca.key, goodCertURL), h), 400, annActive+bobActive)
	if len(ca.confirmed) != 0 {
		t.Fatalf("confirmed %v for refused messages", ca.confirmed)
	}
	for _, v := range []string{"1", "2"} {
		s.expect("confirmation, version "+v, s.post("/ses", sign(t, m, v, ca.key, goodCertURL), h), 200, annActive+bobActive)
	}
	if len(ca.confirmed) != 2 || ca.confirmed[0] != subscribe || ca.confirmed[1] != subscribe {
		t.Errorf("confirmed %q, want %q twice", ca.confirmed, subscribe)
	}
}

func TestSESNeedsTopics(t *testing.T) {
	if _, err := Handler("/webhooks", Options{Store: nopStore{}, SES: &SNSOptions{}}); err == nil {
		t.Error("SES's webhook without topics: got no error")
	}
}
