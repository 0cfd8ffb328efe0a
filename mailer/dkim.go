package mailer

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// dkimHeaders are the headers the signature covers. RFC 8058 wants List-Unsubscribe and
// List-Unsubscribe-Post signed; each is listed twice ("oversigned"), so that a relay can neither change
// nor add one (a header absent when signing is signed as absent: Reply-To and Cc, which Herald's own
// messages do not carry, are covered so that none can be added on the way).
var dkimHeaders = []string{
	"From", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence", "Feedback-ID",
}

// DKIM key kinds, as the k= tag of a key record names them (RFC 6376 §3.6.1, RFC 8463).
const (
	DKIMEd25519 = "ed25519"
	DKIMRSA     = "rsa"
)

type dkimKey struct {
	domain, selector string
	key              crypto.Signer
}

func parseDKIM(d DKIM, fromDomain string) (*dkimKey, error) {
	k := &dkimKey{domain: d.Domain, selector: d.Selector}
	if k.domain == "" {
		k.domain = fromDomain
	}
	if k.selector == "" {
		k.selector = "herald"
	}
	key, err := gomail.PrivKeyFromPEM(d.Key)
	if err != nil {
		return nil, fmt.Errorf("mailer: DKIM key: %w (want a PEM RSA or Ed25519 private key, PKCS #1 or #8)", err)
	}
	k.key = key
	// Check now, so that a key go-mail cannot use fails here and not at the first message.
	if err := k.signer(time.Unix(0, 0)).ValidateConfig(); err != nil {
		return nil, fmt.Errorf("mailer: DKIM: %w", err)
	}
	return k, nil
}

// parseDKIMKeys parses each key. Two keys with the same selector and domain could not both be published:
// a selector names one key record.
func parseDKIMKeys(ds []DKIM, fromDomain string) ([]*dkimKey, error) {
	var keys []*dkimKey
	seen := map[string]bool{}
	for _, d := range ds {
		k, err := parseDKIM(d, fromDomain)
		if err != nil {
			return nil, err
		}
		name := k.selector + "._domainkey." + k.domain
		if seen[name] {
			return nil, fmt.Errorf("mailer: DKIM: two keys with the selector %q: each key needs its own", k.selector)
		}
		seen[name] = true
		keys = append(keys, k)
	}
	return keys, nil
}

// signer returns a new signer per message: go-mail's caches its algorithm on first use, which would race
// between messages signed at the same time. The signature's time is the message's date, so that a
// message's bytes depend only on its inputs.
func (k *dkimKey) signer(date time.Time) *gomail.DKIMSigner {
	s := gomail.NewDKIMSigner(k.domain, k.selector, k.key)
	s.SignHeaders(dkimHeaders...)
	s.OversignHeaders(dkimHeaders...)
	s.NowFunc = func() time.Time { return date }
	return s
}

// sign returns the DKIM-Signature header's value for a message's header section (each field ending in
// CRLF) and body, unfolded.
//
// go-mail can sign as it writes (Msg.SetDKIM), but with relaxed header canonicalization it signs the
// signature header unfolded and then folds it in the middle of a tag: once the h= list is longer than a
// line (as it is with the headers above), the folded header no longer matches what was signed and
// verifiers reject it. So Herald asks go-mail's signer for the signature, unfolds it, and writes it as an
// ordinary header, folded only at spaces (harmless under relaxed canonicalization). The message's other
// bytes do not change when the header is added: the MIME boundary is fixed.
func (k *dkimKey) sign(header, body []byte, date time.Time) (string, error) {
	sig, err := k.signer(date).Sign(header, body)
	if err != nil {
		return "", fmt.Errorf("mailer: DKIM: %w", err)
	}
	value := strings.TrimSuffix(strings.TrimPrefix(sig, "DKIM-Signature: "), "\r\n")
	return strings.ReplaceAll(value, "\r\n ", ""), nil
}

// signAll returns one DKIM-Signature field per key, in the keys' order. Each signature covers the message
// without any of them, so each verifies on its own: a receiver that knows only RSA checks the RSA one and
// skips the Ed25519 one (RFC 8463 §1 recommends signing with both while receivers catch up).
func signAll(keys []*dkimKey, header, body []byte, date time.Time) ([]field, error) {
	fields := make([]field, 0, len(keys))
	for _, k := range keys {
		sig, err := k.sign(header, body, date)
		if err != nil {
			return nil, err
		}
		fields = append(fields, field{"DKIM-Signature", sig})
	}
	return fields, nil
}

// GenerateDKIMKey makes a new DKIM private key of the kind (DKIMEd25519, or DKIMRSA for RSA-2048), PEM
// encoded as PKCS #8.
func GenerateDKIMKey(kind string) ([]byte, error) {
	var key crypto.Signer
	var err error
	switch kind {
	case DKIMEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case DKIMRSA:
		// 2048 bits: RFC 8301 asks for at least 1024 and verifiers handle up to 4096, but a 2048-bit
		// key's record (about 400 bytes) is what every DNS host accepts.
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("mailer: DKIM key kind %q: want %s or %s", kind, DKIMEd25519, DKIMRSA)
	}
	if err != nil {
		return nil, fmt.Errorf("mailer: generate a DKIM key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("mailer: encode the DKIM key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// DKIMRecord returns the DNS TXT record (as one string) that publishes the public half of a PEM private
// key, and the key's kind: "v=DKIM1; k=ed25519; p=<the raw 32-byte key>" (RFC 8463 §4.2) or "v=DKIM1;
// k=rsa; p=<SubjectPublicKeyInfo DER>" (RFC 6376 §3.6.1), each base64.
func DKIMRecord(pemKey []byte) (record, kind string, err error) {
	key, err := gomail.PrivKeyFromPEM(pemKey)
	if err != nil {
		return "", "", fmt.Errorf("mailer: DKIM key: %w (want a PEM RSA or Ed25519 private key, PKCS #1 or #8)", err)
	}
	var pub []byte
	switch k := key.Public().(type) {
	case ed25519.PublicKey:
		pub, kind = k, DKIMEd25519
	case *rsa.PublicKey:
		if pub, err = x509.MarshalPKIXPublicKey(k); err != nil {
			return "", "", fmt.Errorf("mailer: DKIM key: %w", err)
		}
		kind = DKIMRSA
	default:
		return "", "", errors.New("mailer: DKIM key: neither RSA nor Ed25519")
	}
	return "v=DKIM1; k=" + kind + "; p=" + base64.StdEncoding.EncodeToString(pub), kind, nil
}
