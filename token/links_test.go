package token

import (
	"net/url"
	"testing"
	"time"
)

// TestLinks: a link's token verifies for its own page and subscriber, and for no other page.
func TestLinks(t *testing.T) {
	l := Links{Base: "https://news.example.com/list", Secret: []byte("0123456789abcdef0123")}
	for _, page := range []string{Unsubscribe, Preferences} {
		u, err := url.Parse(l.URL(page, 42))
		if err != nil {
			t.Fatal(err)
		}
		if want := "/list/" + page; u.Path != want {
			t.Errorf("path %q, want %q", u.Path, want)
		}
		tok := u.Query().Get("token")
		if id, err := Verify(l.Secret, page, tok, time.Now()); err != nil || id != 42 {
			t.Errorf("Verify(%s) = %d, %v; want 42", page, id, err)
		}
		other := map[string]string{Unsubscribe: Preferences, Preferences: Unsubscribe}[page]
		if _, err := Verify(l.Secret, other, tok, time.Now()); err == nil {
			t.Errorf("a %s token opens %s", page, other)
		}
	}
}
