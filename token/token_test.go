package token

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef-test-secret")

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good := Sign(secret, "confirm", 42, now.Add(time.Hour))
	forever := Sign(secret, "unsubscribe", 7, time.Time{})
	flip := []byte(good)
	flip[len(flip)/2] ^= 1
	tests := []struct {
		name, purpose, tok string
		now                time.Time
		wantID             int64
		wantErr            error
	}{
		{"good", "confirm", good, now, 42, nil},
		{"never expires", "unsubscribe", forever, now.Add(10 * 365 * 24 * time.Hour), 7, nil},
		{"expired", "confirm", good, now.Add(2 * time.Hour), 42, ErrExpired},
		{"other purpose", "unsubscribe", good, now, 0, ErrInvalid},
		{"tampered", "confirm", string(flip), now, 0, ErrInvalid},
		{"other secret", "confirm", Sign([]byte("another-secret-0123456"), "confirm", 42, time.Time{}), now, 0, ErrInvalid},
		{"truncated", "confirm", good[:len(good)-3], now, 0, ErrInvalid},
		{"empty", "confirm", "", now, 0, ErrInvalid},
		{"not base64", "confirm", "%%%%", now, 0, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Verify(secret, tt.purpose, tt.tok, tt.now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err == nil && id != tt.wantID {
				t.Errorf("got id %d, want %d", id, tt.wantID)
			}
		})
	}
	if strings.ContainsAny(good, "+/=") {
		t.Errorf("token %q is not URL-safe", good)
	}
}

// FuzzToken: tokens round-trip, and no change to a token's bytes verifies.
func FuzzToken(f *testing.F) {
	f.Add("unsubscribe", int64(1), int64(0), 3)
	f.Add("confirm", int64(-5), int64(1<<40), 0)
	f.Fuzz(func(t *testing.T, purpose string, id, exp int64, pos int) {
		if len(purpose) > 255 {
			return
		}
		var expires time.Time
		if exp > 0 {
			expires = time.Unix(exp%(1<<40), 0)
		}
		tok := Sign(secret, purpose, id, expires)
		got, err := Verify(secret, purpose, tok, time.Unix(0, 0))
		if err != nil || got != id {
			t.Fatalf("round trip: got %d, %v; want %d", got, err, id)
		}
		b := []byte(tok)
		if pos < 0 {
			pos = -pos
		}
		i := pos % len(b)
		orig := b[i]
		for _, c := range []byte("AQgw_-") {
			if c == orig {
				continue
			}
			b[i] = c
			if _, err := Verify(secret, purpose, string(b), time.Unix(0, 0)); err == nil {
				// Changing the last character may only touch the unused bits of base64's last group.
				if dec1, dec2 := decoded(tok), decoded(string(b)); dec1 != dec2 {
					t.Fatalf("a changed token verified: %q", b)
				}
			}
		}
	})
}

func decoded(s string) string {
	b, err := base64RawURL(s)
	if err != nil {
		return "!" + s
	}
	return string(b)
}

func base64RawURL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}

func TestID(t *testing.T) {
	tests := []struct {
		name    string
		tok     string
		wantID  int64
		wantErr error
	}{
		{"signed", Sign(secret, "confirm:1700000000000000000", 42, time.Unix(1_800_000_000, 0)), 42, nil},
		{"other secret", Sign([]byte("another-secret-0123456"), "unsubscribe", 7, time.Time{}), 7, nil},
		{"empty", "", 0, ErrInvalid},
		{"not base64", "%%%%", 0, ErrInvalid},
		{"short", Sign(secret, "x", 1, time.Time{})[:10], 0, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ID(tt.tok)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if id != tt.wantID {
				t.Errorf("got id %d, want %d", id, tt.wantID)
			}
		})
	}
}

// FuzzID: ID never panics, and whenever Verify accepts a token, ID reads the same id from it.
func FuzzID(f *testing.F) {
	f.Add(Sign(secret, "confirm", 42, time.Time{}))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := ID(tok)
		vid, verr := Verify(secret, "confirm", tok, time.Unix(0, 0))
		if verr == nil && (err != nil || id != vid) {
			t.Fatalf("Verify gives %d, ID gives %d, %v", vid, id, err)
		}
	})
}
