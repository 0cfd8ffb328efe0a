package mailer

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimKeyPair makes a key and the DNS TXT record that publishes it.
func dkimKeyPair(t *testing.T, kind string) (pemKey []byte, txt string) {
	t.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var pub []byte
	switch k := key.Public().(type) {
	case ed25519.PublicKey:
		pub = k
	default:
		if pub, err = x509.MarshalPKIXPublicKey(k); err != nil {
			t.Fatal(err)
		}
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"v=DKIM1; k=" + kind + "; p=" + base64.StdEncoding.EncodeToString(pub)
}

// verifyDKIM checks raw's DKIM signature with go-msgauth, an implementation independent of go-mail's.
func verifyDKIM(t *testing.T, raw []byte, txt string) *dkim.Verification {
	t.Helper()
	var asked string
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			asked = domain
			return []string{txt}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d DKIM signatures, want 1", len(vs))
	}
	if vs[0].Err != nil {
		t.Fatalf("DKIM signature does not verify: %v", vs[0].Err)
	}
	if asked != "herald._domainkey.blog.example.com" {
		t.Errorf("verifier looked up %q, want herald._domainkey.blog.example.com", asked)
	}
	return vs[0]
}

func TestDKIM(t *testing.T) {
	for _, kind := range []string{"ed25519", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			key, txt := dkimKeyPair(t, kind)
			o := testOptions()
			o.DKIM = []DKIM{{Key: key}}
			c := newTestComposer(t, o)
			m, err := c.Post(testRecipient(), testPosts()[0], "post/a/1", sendDate)
			if err != nil {
				t.Fatal(err)
			}
			raw := messageBytes(t, m)
			v := verifyDKIM(t, raw, txt)
			if v.Domain != "blog.example.com" {
				t.Errorf("signing domain %q, want blog.example.com", v.Domain)
			}
			signed := strings.Join(v.HeaderKeys, ":")
			for _, h := range []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"} {
				if !slices.ContainsFunc(v.HeaderKeys, func(k string) bool { return strings.EqualFold(k, h) }) {
					t.Errorf("the signature does not cover %s (h=%s)", h, signed)
				}
			}
			if !v.Time.Equal(sendDate) {
				t.Errorf("signature time %v, want the message's date %v", v.Time, sendDate)
			}
			p := parse(t, raw)
			if want := withHeaders("List-Unsubscribe-Post", "Dkim-Signature"); !slices.Equal(headerKeys(p.header), want) {
				t.Errorf("headers %v, want %v", headerKeys(p.header), want)
			}
			if again := messageBytes(t, m); !bytes.Equal(again, raw) {
				t.Errorf("a second write differs:\n%s", firstDiff(again, raw))
			}

			// A changed header breaks the signature: the verifier is not just saying yes.
			tampered := bytes.Replace(raw, []byte("Precedence: bulk"), []byte("Precedence: list"), 1)
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{
				LookupTXT: func(string) ([]string, error) { return []string{txt}, nil },
			})
			if err != nil || len(vs) != 1 || vs[0].Err == nil {
				t.Errorf("a tampered message verifies (err %v)", err)
			}
		})
	}
}

// TestGoldenDKIM checks that the golden signed messages verify with the test key's public half.
func TestGoldenDKIM(t *testing.T) {
	pemKey, err := os.ReadFile("testdata/dkim-test-ed25519.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemKey)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	txt := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(key.(ed25519.PrivateKey).Public().(ed25519.PublicKey))
	for _, name := range []string{"post-dkim.eml", "digest-dkim.eml"} {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
			LookupTXT: func(domain string) ([]string, error) {
				if domain != "s2025._domainkey.blog.example.com" {
					t.Errorf("looked up %s, want s2025._domainkey.blog.example.com", domain)
				}
				return []string{txt}, nil
			},
		})
		if err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Errorf("%s does not verify: %v %v", name, err, vs)
		}
	}
}

// TestDKIMDual: with an Ed25519 key and an RSA key, each under its own selector, a message carries two
// signatures, each of which verifies on its own; a Reply-To or Cc added on the way breaks both.
func TestDKIMDual(t *testing.T) {
	records := map[string]string{}
	o := testOptions()
	for _, kind := range []string{DKIMEd25519, DKIMRSA} {
		key, err := GenerateDKIMKey(kind)
		if err != nil {
			t.Fatal(err)
		}
		rec, gotKind, err := DKIMRecord(key)
		if err != nil {
			t.Fatal(err)
		}
		if gotKind != kind {
			t.Errorf("DKIMRecord kind %q, want %q", gotKind, kind)
		}
		if want := "v=DKIM1; k=" + kind + "; p="; !strings.HasPrefix(rec, want) {
			t.Errorf("record %q, want it to start %q", rec, want)
		}
		records["herald-"+kind+"._domainkey.blog.example.com"] = rec
		o.DKIM = append(o.DKIM, DKIM{Key: key, Selector: "herald-" + kind})
	}
	c := newTestComposer(t, o)
	m, err := c.Post(testRecipient(), testPosts()[0], "post/a/1", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	raw := messageBytes(t, m)
	verify := func(raw []byte) []*dkim.Verification {
		t.Helper()
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
			LookupTXT: func(domain string) ([]string, error) {
				if r, ok := records[domain]; ok {
					return []string{r}, nil
				}
				return nil, fmt.Errorf("no TXT record at %s", domain)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	vs := verify(raw)
	if len(vs) != 2 {
		t.Fatalf("%d DKIM signatures, want 2", len(vs))
	}
	for i, v := range vs {
		if v.Err != nil {
			t.Errorf("signature %d does not verify: %v", i, v.Err)
		}
		for _, h := range []string{"Reply-To", "Cc", "Feedback-ID"} {
			if !slices.ContainsFunc(v.HeaderKeys, func(k string) bool { return strings.EqualFold(k, h) }) {
				t.Errorf("signature %d does not cover %s (h=%s)", i, h, strings.Join(v.HeaderKeys, ":"))
			}
		}
	}
	for _, added := range []string{"Reply-To: someone@else.example\r\n", "Cc: someone@else.example\r\n"} {
		for i, v := range verify(append([]byte(added), raw...)) {
			if v.Err == nil {
				t.Errorf("signature %d verifies with %q added", i, strings.TrimSpace(added))
			}
		}
	}
}

func TestDKIMSameSelector(t *testing.T) {
	a, _ := dkimKeyPair(t, "ed25519")
	b, _ := dkimKeyPair(t, "rsa")
	o := testOptions()
	o.DKIM = []DKIM{{Key: a}, {Key: b}}
	if _, err := NewComposer(o); err == nil || !strings.Contains(err.Error(), "selector") {
		t.Errorf("two keys under one selector: got %v, want an error about the selector", err)
	}
}
