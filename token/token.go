// Package token makes and checks the signed tokens in Herald's links (unsubscribe, preferences, confirm):
// an HMAC-SHA256 of what the link is for, whom it is for and until when, with the site's secret.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Errors Verify returns. A caller shows the same page for both; they differ for logs and tests.
var (
	ErrInvalid = errors.New("token: invalid")
	ErrExpired = errors.New("token: expired")
)

// MinSecret is the shortest secret Herald accepts, in bytes.
const MinSecret = 16

// A token is base64url(payload || mac[:16]), payload = purpose length, purpose, subscriber id, expiry
// (Unix seconds; 0 for never). 128 bits of MAC are plenty against forgery and keep links short.
const macLen = 16

// Sign makes a token for purpose ("unsubscribe", "confirm", …) and subscriber id, valid until expires (the
// zero time for never).
func Sign(secret []byte, purpose string, id int64, expires time.Time) string {
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	p := make([]byte, 0, 1+len(purpose)+16+macLen)
	p = append(p, byte(len(purpose)))
	p = append(p, purpose...)
	p = binary.BigEndian.AppendUint64(p, uint64(id))
	p = binary.BigEndian.AppendUint64(p, uint64(exp))
	return base64.RawURLEncoding.EncodeToString(append(p, mac(secret, p)...))
}

// Verify checks tok for purpose and returns the subscriber id it was made for. The MAC is compared in
// constant time; a token made for another purpose, tampered with, or signed with another secret is
// ErrInvalid; one past its expiry is ErrExpired.
func Verify(secret []byte, purpose, tok string, now time.Time) (int64, error) {
	t, ok := decode(tok)
	if !ok || !hmac.Equal(t.sum, mac(secret, t.payload)) || t.purpose != purpose {
		return 0, ErrInvalid
	}
	if t.exp != 0 && now.Unix() > t.exp {
		return t.id, ErrExpired
	}
	return t.id, nil
}

// ID reads the subscriber id a token claims to be for, without checking it. It is for the tokens whose
// purpose depends on the subscriber (a confirmation is bound to the subscriber's current consent time):
// look the subscriber up by the id, build the purpose, then Verify. Never act on the id alone.
func ID(tok string) (int64, error) {
	t, ok := decode(tok)
	if !ok {
		return 0, ErrInvalid
	}
	return t.id, nil
}

// parts is a token taken apart, not yet checked.
type parts struct {
	payload, sum []byte // what the MAC covers, and the MAC
	purpose      string
	id, exp      int64
}

// decode takes tok apart; false when it is not shaped like a token.
func decode(tok string) (parts, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+16+macLen {
		return parts{}, false
	}
	p := b[:len(b)-macLen]
	n := int(p[0])
	if len(p) != 1+n+16 {
		return parts{}, false
	}
	return parts{payload: p, sum: b[len(b)-macLen:], purpose: string(p[1 : 1+n]),
		id: int64(binary.BigEndian.Uint64(p[1+n:])), exp: int64(binary.BigEndian.Uint64(p[1+n+8:]))}, true
}

func mac(secret, p []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(p)
	return h.Sum(nil)[:macLen]
}
