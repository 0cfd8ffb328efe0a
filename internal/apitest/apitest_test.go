package apitest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that keeps what the server reports instead of failing the test.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) reported() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

// TestStandInsCatchBadRequests sends each stand-in requests that break its provider's reference: each is
// answered with the provider's documented error and reported, so that a transport making it fails its test.
// A request as the reference wants it is accepted and reported nothing.
func TestStandInsCatchBadRequests(t *testing.T) {
	const postmarkOK = `{"From":"Jane <jane@blog.example.com>","To":"ann@example.org","Subject":"Hi","TextBody":"Hello","MessageStream":"broadcast"}`
	const resendOK = `{"from":"Jane <jane@blog.example.com>","to":["ann@example.org"],"subject":"Hi","text":"Hello"}`
	tests := []struct {
		name       string
		kind       Kind
		path       string
		header     map[string]string // "KEY" stands for the server's key
		body       string
		wantStatus int
		wantReport string // "" for a valid request
	}{
		{"postmark valid", Postmark, "/email", map[string]string{"X-Postmark-Server-Token": "KEY", "Accept": "application/json", "Content-Type": "application/json"}, postmarkOK, 200, ""},
		{"postmark no token", Postmark, "/email", map[string]string{"Accept": "application/json", "Content-Type": "application/json"}, postmarkOK, 401, "X-Postmark-Server-Token"},
		{"postmark unknown field", Postmark, "/email", map[string]string{"X-Postmark-Server-Token": "KEY", "Accept": "application/json", "Content-Type": "application/json"}, strings.Replace(postmarkOK, `"Subject"`, `"Subjet"`, 1), 422, "unknown field"},
		{"postmark no body", Postmark, "/email", map[string]string{"X-Postmark-Server-Token": "KEY", "Accept": "application/json", "Content-Type": "application/json"}, strings.Replace(postmarkOK, `"TextBody":"Hello",`, ``, 1), 422, "TextBody or HtmlBody"},
		{"postmark form, not JSON", Postmark, "/email", map[string]string{"X-Postmark-Server-Token": "KEY", "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}, "a=b", 422, "application/json"},
		{"resend valid", Resend, "/emails", map[string]string{"Authorization": "Bearer KEY", "User-Agent": "t", "Content-Type": "application/json", "Idempotency-Key": "k1"}, resendOK, 200, ""},
		{"resend no user agent", Resend, "/emails", map[string]string{"Authorization": "Bearer KEY", "User-Agent": "", "Content-Type": "application/json"}, resendOK, 403, "User-Agent"},
		{"resend wrong key", Resend, "/emails", map[string]string{"Authorization": "Bearer nope", "User-Agent": "t", "Content-Type": "application/json"}, resendOK, 403, "Authorization"},
		{"resend key too long", Resend, "/emails", map[string]string{"Authorization": "Bearer KEY", "User-Agent": "t", "Content-Type": "application/json", "Idempotency-Key": strings.Repeat("k", 257)}, resendOK, 400, "Idempotency-Key"},
		{"resend no subject", Resend, "/emails", map[string]string{"Authorization": "Bearer KEY", "User-Agent": "t", "Content-Type": "application/json"}, strings.Replace(resendOK, `"subject":"Hi",`, ``, 1), 422, "required"},
		{"mailgun wrong path", Mailgun, "/v3/mg.blog.example.com/messages", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, "", 404, "messages.mime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			s := Start(rec, tt.kind)
			req, err := http.NewRequest(http.MethodPost, s.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, strings.ReplaceAll(v, "KEY", s.Key))
			}
			req.SetBasicAuth("api", s.Key)
			if tt.kind != Mailgun {
				req.Header.Del("Authorization")
				if v, ok := tt.header["Authorization"]; ok {
					req.Header.Set("Authorization", strings.ReplaceAll(v, "KEY", s.Key))
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			got := rec.reported()
			switch {
			case tt.wantReport == "" && len(got) > 0:
				t.Errorf("a valid request was reported: %v", got)
			case tt.wantReport != "" && (len(got) != 1 || !strings.Contains(got[0], tt.wantReport)):
				t.Errorf("reported %v, want one report saying %q", got, tt.wantReport)
			}
			if wantStored := tt.wantReport == ""; (len(s.Messages()) == 1) != wantStored {
				t.Errorf("%d messages stored", len(s.Messages()))
			}
		})
	}
}
