package mailer

import (
	"net/http"
	"testing"
	"time"
)

// TestRetryAfterForms: the header's delay-seconds of any length (RFC 9110 section 10.2.3: 1*DIGIT) asks
// for at least as long as it says, so one too large for 32 bits is a day, as a week is; a negative
// number, a fraction or a sign is no delay-seconds and asks for nothing.
func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	deferral := apiRefusal("Test", retryLater, 429, "Rate limit exceeded")
	if out, _ := Classify(deferral); out != Deferred {
		t.Fatalf("the test's error is %s, not a deferral", out)
	}
	for _, tc := range []struct {
		name, v string
		want    time.Duration // 0: none
	}{
		{"seconds", "120", 120 * time.Second},
		{"over 32 bits", "4294967296", 24 * time.Hour},
		{"over 64 bits", "99999999999999999999999", 24 * time.Hour},
		{"leading zeros", "0000000060", time.Minute},
		{"zero", "0", 0},
		{"negative", "-120", 0},
		{"signed", "+120", 0},
		{"fraction", "1.5", 0},
		{"HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"RFC 850 date", now.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second},
		{"a date past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"a date in ten years", now.AddDate(10, 0, 0).Format(http.TimeFormat), 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RetryAfter(withRetryAfter(deferral, http.StatusTooManyRequests, http.Header{"Retry-After": {tc.v}}, now))
			want := time.Time{}
			if tc.want != 0 {
				want = now.Add(tc.want)
			}
			if !got.Equal(want) {
				t.Errorf("Retry-After %q: got %v, want %v", tc.v, got, want)
			}
		})
	}
}
