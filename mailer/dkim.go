package mailer

import (
	"crypto"
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// dkimHeaders are the headers the signature covers. RFC 8058 wants List-Unsubscribe and
// List-Unsubscribe-Post signed; each is listed twice ("oversigned"), so that a relay can neither change
// nor add one (a header absent when signing is signed as absent).
var dkimHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence",
}

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
