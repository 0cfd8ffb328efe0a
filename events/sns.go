package events

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS's SignatureVersion 1 is SHA1 with RSA: what a topic signs with unless set to 2
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/store"
)

// Amazon SES reports bounces, complaints and deliveries through Amazon SNS, which POSTs each
// notification to an HTTPS subscription, signed. What is checked, as "Verifying the signatures of Amazon
// SNS messages" says (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html):
//   - the signing certificate comes from SigningCertURL, which must be an https URL on an SNS host of
//     AWS (sns.REGION.amazonaws.com, or .amazonaws.com.cn), fetched over HTTPS, so that the TLS
//     certificate of that host vouches for it; when Roots is set, the certificate must also chain to
//     them; either way it must be valid now and be SNS's (its name sns.amazonaws.com or an SNS host);
//   - the signature (base64) is RSA over the string to sign, with SHA1 for SignatureVersion 1 and
//     SHA256 for 2; the string to sign is each field's name and value on lines of their own, in this
//     order: Message, MessageId, Subject (if present), Timestamp, TopicArn, Type for a notification;
//     Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type for a subscription's or an
//     unsubscription's confirmation
//     (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message-verify-message-signature.html);
//   - the topic is one of TopicARNs (the same page: reject an unexpected TopicArn).
//
// A SubscriptionConfirmation, once verified, is confirmed by visiting its SubscribeURL (on an SNS host
// too): https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html. The message format
// of each kind: https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html.
//
// A notification is replayed under its MessageId, which the store keeps: SNS retries a notification
// with its first Timestamp, over a delivery policy an account may stretch to hours, so the age of the
// Timestamp is not checked here (a copy of an old notification is still the same MessageId).

// SNSOptions configure SES's webhook.
type SNSOptions struct {
	// TopicARNs are the SNS topics whose messages are taken; a message of any other is refused.
	TopicARNs []string
	// Roots, when set, are the CAs the signing certificate must chain to (tests set a CA of their own).
	Roots *x509.CertPool
	// Fetch returns the body at an https URL of SNS (the signing certificate, PEM); nil: an HTTPS GET.
	Fetch func(ctx context.Context, url string) ([]byte, error)
	// Confirm visits a subscription's SubscribeURL; nil: an HTTPS GET that must answer 200.
	Confirm func(ctx context.Context, url string) error
	// Client makes the default Fetch and Confirm's requests; nil: one with a 10 s timeout.
	Client *http.Client
}

type snsVerifier struct {
	o     SNSOptions
	mu    sync.Mutex
	certs map[string]*x509.Certificate // by URL: SNS signs with few
}

func newSNS(o SNSOptions) (*snsVerifier, error) {
	if len(o.TopicARNs) == 0 {
		return nil, errors.New("events: SES's webhook needs the ARNs of the SNS topics it takes")
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	v := &snsVerifier{o: o, certs: map[string]*x509.Certificate{}}
	if v.o.Fetch == nil {
		v.o.Fetch = v.get
	}
	if v.o.Confirm == nil {
		v.o.Confirm = func(ctx context.Context, u string) error { _, err := v.get(ctx, u); return err }
	}
	return v, nil
}

// get GETs an https URL and returns its body (at most 64 KB) when the answer is 200.
func (v *snsVerifier) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.o.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<10))
}

// snsMessage is an SNS message as POSTed to an HTTP(S) subscription.
type snsMessage struct {
	Type             string
	MessageID        string `json:"MessageId"`
	Token            string
	TopicArn         string
	Subject          *string
	Message          string
	SubscribeURL     string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
}

// snsHost is an SNS endpoint's host name: sns.REGION.amazonaws.com, or .amazonaws.com.cn in China.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// snsURL says whether u is an https URL on an SNS host, with nothing a browser would read otherwise.
func snsURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "https" && p.User == nil && p.Port() == "" && snsHost.MatchString(p.Hostname())
}

// stringToSign is what SNS signs of m.
func (m *snsMessage) stringToSign() (string, error) {
	var b strings.Builder
	field := func(name, value string) { b.WriteString(name + "\n" + value + "\n") }
	switch m.Type {
	case "Notification":
		field("Message", m.Message)
		field("MessageId", m.MessageID)
		if m.Subject != nil {
			field("Subject", *m.Subject)
		}
		field("Timestamp", m.Timestamp)
		field("TopicArn", m.TopicArn)
		field("Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		field("Message", m.Message)
		field("MessageId", m.MessageID)
		field("SubscribeURL", m.SubscribeURL)
		field("Timestamp", m.Timestamp)
		field("Token", m.Token)
		field("TopicArn", m.TopicArn)
		field("Type", m.Type)
	default:
		return "", fmt.Errorf("%w: SNS message type %q", errForged, m.Type)
	}
	return b.String(), nil
}

// verify checks an SNS request and returns the SES events of a notification; a subscription's
// confirmation is confirmed and carries none.
func (v *snsVerifier) verify(r *http.Request, body []byte) ([]store.Event, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: not an SNS message: %v", errForged, err)
	}
	if err := v.check(r.Context(), &m); err != nil {
		return nil, err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		if !snsURL(m.SubscribeURL) {
			return nil, fmt.Errorf("%w: SubscribeURL is not an https URL of SNS", errBadEvent)
		}
		if err := v.o.Confirm(r.Context(), m.SubscribeURL); err != nil {
			return nil, fmt.Errorf("confirm the subscription to %s: %w", m.TopicArn, err)
		}
		return nil, nil
	case "UnsubscribeConfirmation":
		return nil, nil
	}
	return sesEvents(m.MessageID, []byte(m.Message))
}

// check verifies m's signature and topic.
func (v *snsVerifier) check(ctx context.Context, m *snsMessage) error {
	var h crypto.Hash
	switch m.SignatureVersion {
	case "1":
		h = crypto.SHA1
	case "2":
		h = crypto.SHA256
	default:
		return fmt.Errorf("%w: SignatureVersion %q is neither 1 nor 2", errForged, m.SignatureVersion)
	}
	s, err := m.stringToSign()
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", errForged)
	}
	cert, err := v.cert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: the signing certificate's key is not RSA", errForged)
	}
	var digest []byte
	if h == crypto.SHA1 {
		d := sha1.Sum([]byte(s)) //nolint:gosec // see the import
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(s))
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(key, h, digest, sig); err != nil {
		return fmt.Errorf("%w: bad SNS signature", errForged)
	}
	// After the signature, so that the topic named is the one SNS signed.
	if !slices.Contains(v.o.TopicARNs, m.TopicArn) {
		return fmt.Errorf("%w: topic %s is not one of the SES webhook's topics", errForged, m.TopicArn)
	}
	return nil
}

// cert returns the signing certificate at u, checked.
func (v *snsVerifier) cert(ctx context.Context, u string) (*x509.Certificate, error) {
	if !snsURL(u) || !strings.HasSuffix(u, ".pem") {
		return nil, fmt.Errorf("%w: SigningCertURL %q is not an https URL of a certificate on an SNS host", errForged, u)
	}
	v.mu.Lock()
	c := v.certs[u]
	v.mu.Unlock()
	if c == nil {
		b, err := v.o.Fetch(ctx, u)
		if err != nil {
			// Not the sender's fault, maybe: 500, and SNS tries again.
			return nil, fmt.Errorf("fetch the SNS signing certificate: %w", err)
		}
		if c, err = v.parseCert(b); err != nil {
			return nil, err
		}
		v.mu.Lock()
		v.certs[u] = c
		v.mu.Unlock()
	}
	if now := time.Now(); now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return nil, fmt.Errorf("%w: the SNS signing certificate is not valid now", errForged)
	}
	return c, nil
}

// snsCertName is the name of SNS's signing certificates.
var snsCertName = regexp.MustCompile(`^sns(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$`)

// parseCert reads a signing certificate (PEM; any further certificates are its intermediates) and checks
// that it is SNS's, and chains to Roots when they are set.
func (v *snsVerifier) parseCert(b []byte) (*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: signing certificate: %v", errForged, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no certificate at SigningCertURL", errForged)
	}
	leaf := certs[0]
	names := append([]string{leaf.Subject.CommonName}, leaf.DNSNames...)
	if !slices.ContainsFunc(names, snsCertName.MatchString) {
		return nil, fmt.Errorf("%w: the signing certificate is not SNS's (%s)", errForged, leaf.Subject.CommonName)
	}
	if v.o.Roots != nil {
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: v.o.Roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			return nil, fmt.Errorf("%w: the signing certificate: %v", errForged, err)
		}
	}
	return leaf, nil
}

// sesNotification is an SES notification (notificationType) or event (eventType, from a configuration
// set's event destination), as SNS carries it in Message:
// https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html and
// https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html.
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Mail             struct {
		Headers       []struct{ Name, Value string } `json:"headers"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string    `json:"bounceType"` // Permanent, Transient or Undetermined
		BounceSubType     string    `json:"bounceSubType"`
		Timestamp         time.Time `json:"timestamp"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		Timestamp             time.Time `json:"timestamp"`
		ComplaintFeedbackType string    `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Delivery *struct {
		Timestamp    time.Time `json:"timestamp"`
		Recipients   []string  `json:"recipients"`
		SMTPResponse string    `json:"smtpResponse"`
	} `json:"delivery"`
}

// sesEvents reads an SES notification: one event per recipient, keyed by the SNS message's id and the
// recipient's place in it.
func sesEvents(snsID string, msg []byte) ([]store.Event, error) {
	var n sesNotification
	if err := json.Unmarshal(msg, &n); err != nil {
		return nil, fmt.Errorf("%w: SES notification: %v", errBadEvent, err)
	}
	// The Message-ID Herald wrote: in the original headers, which SES keeps in mail.headers.
	mid := n.Mail.CommonHeaders.MessageID
	for _, h := range n.Mail.Headers {
		if strings.EqualFold(h.Name, "Message-ID") {
			mid = h.Value
			break
		}
	}
	var evs []store.Event
	add := func(kind, to, detail string, at time.Time) {
		evs = append(evs, store.Event{ProviderEventID: fmt.Sprintf("%s/%d", snsID, len(evs)), Kind: kind, At: at,
			Detail: detail, MessageID: mid, Recipient: to})
	}
	switch cmp.Or(n.NotificationType, n.EventType) {
	case "Bounce":
		if n.Bounce == nil {
			return nil, fmt.Errorf("%w: SES bounce without bounce", errBadEvent)
		}
		kind := store.EventSoftBounce
		if n.Bounce.BounceType == "Permanent" {
			kind = store.EventHardBounce
		}
		for _, r := range n.Bounce.BouncedRecipients {
			add(kind, r.EmailAddress, strings.TrimSpace(n.Bounce.BounceType+" "+n.Bounce.BounceSubType+": "+r.DiagnosticCode), n.Bounce.Timestamp)
		}
	case "Complaint":
		if n.Complaint == nil {
			return nil, fmt.Errorf("%w: SES complaint without complaint", errBadEvent)
		}
		for _, r := range n.Complaint.ComplainedRecipients {
			add(store.EventComplaint, r.EmailAddress, n.Complaint.ComplaintFeedbackType, n.Complaint.Timestamp)
		}
	case "Delivery":
		if n.Delivery == nil {
			return nil, fmt.Errorf("%w: SES delivery without delivery", errBadEvent)
		}
		for _, to := range n.Delivery.Recipients {
			add(store.EventDelivered, to, n.Delivery.SMTPResponse, n.Delivery.Timestamp)
		}
	}
	return evs, nil
}
