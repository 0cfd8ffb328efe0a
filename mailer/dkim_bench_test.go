package mailer

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"
)

// BenchmarkDKIMSign is what one signature costs a message of about 10 kB, whole (canonicalization, hashes,
// the signature) and the bare signature of a hash alone, for each kind of key: what DKIM adds to each
// message of a send.
//
//	go test ./mailer -run '^$' -bench DKIM
func BenchmarkDKIMSign(b *testing.B) {
	header := []byte("From: Jane <jane@blog.example.com>\r\nTo: reader@example.com\r\nSubject: A post\r\n" +
		"Date: Mon, 07 Dec 2026 12:00:00 +0000\r\nMessage-ID: <x@blog.example.com>\r\nMIME-Version: 1.0\r\n")
	body := make([]byte, 0, 10<<10)
	for len(body) < 10<<10 {
		body = append(body, "Some text of the post, as quoted-printable lines of at most 76 characters.\r\n"...)
	}
	for _, kind := range []string{DKIMRSA, DKIMEd25519} {
		pem, err := GenerateDKIMKey(kind)
		if err != nil {
			b.Fatal(err)
		}
		k, err := parseDKIM(DKIM{Key: pem}, "blog.example.com")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(kind+"/message", func(b *testing.B) {
			for b.Loop() {
				if _, err := k.sign(header, body, time.Unix(0, 0)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(kind+"/signature", func(b *testing.B) {
			sum := sha256.Sum256(body)
			var opts crypto.SignerOpts = crypto.SHA256
			msg := sum[:]
			if kind == DKIMEd25519 {
				opts = crypto.Hash(0)
			}
			for b.Loop() {
				if _, err := k.key.Sign(rand.Reader, msg, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
