package server

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/events"
	"github.com/heraldhq/herald/store"
)

// TestWebhooksMounted: the providers' webhooks answer under /webhooks/ when set, past the cross-origin
// check (a provider's request is no browser's, whatever headers it carries), and the pages' 404 answers
// there when they are not.
func TestWebhooksMounted(t *testing.T) {
	bounce := `{"RecordType":"Bounce","ID":1,"Type":"HardBounce","Email":"ann@example.com","BouncedAt":"2025-03-01T11:00:00Z"}`
	send := func(e *env, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", baseURL+"/webhooks/postmark", strings.NewReader(bounce))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", "https://elsewhere.example")
		if auth != "" {
			r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return w
	}

	e := newEnv(t, func(o *Options) {
		h, err := events.Handler("/webhooks", events.Options{Store: o.Store.(events.Recorder), Logger: o.Logger,
			PostmarkUser: "u", PostmarkPassword: "a-password-of-some-length"})
		if err != nil {
			t.Fatal(err)
		}
		o.Webhooks = h
	})
	ann, err := e.st.AddSubscriber(t.Context(), store.Subscriber{Email: "ann@example.com", Status: store.Active}, e.now)
	if err != nil {
		t.Fatal(err)
	}
	if w := send(e, "u:wrong"); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong credentials: got %d, want 401", w.Code)
	}
	if w := send(e, "u:a-password-of-some-length"); w.Code != http.StatusOK {
		t.Errorf("a provider's bounce from another origin: got %d, want 200\n%s", w.Code, w.Body)
	}
	if got, err := e.st.Subscriber(t.Context(), ann.ID); err != nil || got.Status != store.Bounced {
		t.Errorf("ann after the bounce: %v, %v, want bounced", got.Status, err)
	}
	if evs, err := e.st.Events(t.Context(), time.Time{}); err != nil || len(evs) != 1 {
		t.Errorf("events: %v, %v, want one", evs, err)
	}

	none := newEnv(t, nil)
	if w := send(none, "u:a-password-of-some-length"); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Form refused") {
		t.Errorf("no webhooks: got %d, want the pages' cross-origin refusal (403)", w.Code)
	}
}
