package server

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/subscribers"
	"github.com/heraldhq/herald/token"
)

// FuzzTokens: whatever token a link or a form carries, the routes answer 400 (never 500, never a
// panic) and change nothing, unless it is the real token; and no change to a real token's bytes
// unsubscribes anyone.
func FuzzTokens(f *testing.F) {
	e := newEnv(f, nil)
	sub := e.add("ann@example.com", store.Active)
	good := token.Sign(secret, "unsubscribe", sub.ID, time.Time{})
	f.Add("", 0, byte('A'))
	f.Add(good, 3, byte('B'))
	goodConfirm := token.Sign(secret, confirmPurpose(sub.ConsentAt), sub.ID, time.Time{})
	f.Add(goodConfirm, 10, byte('_'))
	f.Add(token.Sign([]byte("another-secret-0123456789"), "unsubscribe", sub.ID, time.Time{}), 5, byte('-'))
	f.Add("%zz&token=x", 1, byte(0))
	f.Fuzz(func(t *testing.T, tok string, pos int, c byte) {
		e := *e
		e.t = t // testing.F's methods may not be called inside the fuzz function
		if tok != good && tok != goodConfirm {
			for _, req := range []struct {
				method, target string
				form           url.Values
			}{
				{"GET", "/confirm?token=" + url.QueryEscape(tok), nil},
				{"POST", "/confirm", url.Values{"token": {tok}}},
				{"GET", "/unsubscribe?token=" + url.QueryEscape(tok), nil},
				{"POST", "/unsubscribe?token=" + url.QueryEscape(tok), url.Values{"List-Unsubscribe": {"One-Click"}}},
				{"POST", "/unsubscribe", url.Values{"token": {tok}}},
				{"GET", "/preferences?token=" + url.QueryEscape(tok), nil},
				{"POST", "/preferences", url.Values{"token": {tok}, "frequency": {"weekly"}, "action": {"unsubscribe"}}},
			} {
				w := e.do(req.method, req.target, req.form, nil)
				if w.Code != http.StatusBadRequest {
					t.Fatalf("%s %s: got %d, want 400", req.method, req.target, w.Code)
				}
			}
		}
		// A real token with one byte changed.
		b := []byte(good)
		if pos < 0 {
			pos = -pos
		}
		i := pos % len(b)
		b[i] = c
		mutated := string(b)
		if d1, err1 := base64.RawURLEncoding.DecodeString(good); err1 == nil {
			if d2, err2 := base64.RawURLEncoding.DecodeString(mutated); err2 == nil && string(d1) == string(d2) {
				return // only base64's unused bits changed: the same token
			}
		}
		w := e.do("POST", "/unsubscribe?token="+url.QueryEscape(mutated), url.Values{"List-Unsubscribe": {"One-Click"}}, nil)
		if w.Code == http.StatusOK {
			t.Fatalf("a mutated token %q unsubscribed", mutated)
		}
		if got := e.sub("ann@example.com"); got.Status != store.Active {
			t.Fatalf("the subscriber became %s", got.Status)
		}
	})
}

// FuzzCheckAddress: an address the form accepts is one plain address that net/mail reads back as it is,
// with nothing that could break a header, and that herald subscribers import reads back from a CSV
// export as it is; an address the import takes, the form takes.
func FuzzCheckAddress(f *testing.F) {
	for _, s := range []string{"ann@example.com", " ann@example.com ", "Ann <ann@example.com>", "a@b", "\"a b\"@example.com",
		"ann@example.com\r\nBcc: x@y", "a@b, c@d", "(comment)a@b", "ünï@example.com", "",
		"root@localhost", "x@[10.0.0.1]", "ann\u2028x@example.com", "ann\u200b@example.com", "=1+2@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, ok := checkAddress(s)
		imported := importCSV(t, s)
		if ok != (imported != "") {
			t.Fatalf("%q: the form accepts it: %t; the import reads %q", s, ok, imported)
		}
		if !ok {
			return
		}
		if imported != addr {
			t.Fatalf("the form stores %q, the import of its export reads %q", addr, imported)
		}
		if strings.ContainsAny(addr, "\r\n\x00,") && !strings.HasPrefix(addr, "\"") {
			t.Fatalf("accepted %q", addr)
		}
		if strings.ContainsAny(addr, "\r\n") || len(addr) > 254 {
			t.Fatalf("accepted %q", addr)
		}
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr || a.Name != "" {
			t.Fatalf("%q: net/mail reads %v, %v", addr, a, err)
		}
	})
}

// FuzzCleanName: a name from a form has no control characters or line breaks and at most 100 runes.
func FuzzCleanName(f *testing.F) {
	f.Add("Ann Smith")
	f.Add("Ann\r\nBcc: x")
	f.Add(strings.Repeat("é", 200))
	f.Fuzz(func(t *testing.T, s string) {
		n := cleanName(s)
		if strings.ContainsFunc(n, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' || r == 0x85 }) {
			t.Fatalf("cleanName(%q) = %q", s, n)
		}
		if len([]rune(n)) > 100 {
			t.Fatalf("cleanName(%q) has %d runes", s, len([]rune(n)))
		}
	})
}

// importCSV is the address that herald subscribers import reads from a one-row CSV, written the way
// herald subscribers export writes it, or "" when the import refuses it.
func importCSV(t *testing.T, addr string) string {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll([][]string{{"email"}, {subscribers.CSVText(addr)}}); err != nil {
		t.Fatal(err)
	}
	recs, _, err := subscribers.Parse("list.csv", &b)
	if err != nil || len(recs) != 1 {
		return ""
	}
	return recs[0].Email
}
