package mailer

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A provider that throttles a request (429) or is down for maintenance (503) may say when to try again,
// in a Retry-After header (RFC 9110 section 10.2.3): a number of seconds, or an HTTP date. The deferral
// then carries that time, and neither the engine's own retry nor a later run tries before it.

// maxRetryAfter bounds what a Retry-After may ask: a day, after which deferred_max_age decides.
const maxRetryAfter = 24 * time.Hour

// retryAfterError is a deferral that names the earliest time to try again.
type retryAfterError struct {
	err error
	at  time.Time
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter returns the earliest time err says the message may be tried again; the zero time when it
// says none.
func RetryAfter(err error) time.Time {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.at
	}
	return time.Time{}
}

// withRetryAfter adds to a deferral answered with status 429 or 503 the time its Retry-After header names,
// read at now; any other error, or an answer without a header that parses, is returned as it is.
func withRetryAfter(err error, status int, h http.Header, now time.Time) error {
	if err == nil || status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return err
	}
	if out, _ := Classify(err); out != Deferred {
		return err
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	var d time.Duration
	if digits(v) {
		// Any number of digits: one too large to parse asks for longer than a day all the same.
		d = maxRetryAfter
		if n, perr := strconv.ParseUint(v, 10, 32); perr == nil {
			d = min(time.Duration(n)*time.Second, maxRetryAfter)
		}
	} else if t, perr := http.ParseTime(v); perr == nil {
		d = t.Sub(now)
	} else {
		return err
	}
	if d <= 0 {
		return err
	}
	return &retryAfterError{err: err, at: now.Add(min(d, maxRetryAfter))}
}

// digits tells Retry-After's delay-seconds: one or more ASCII digits, no sign.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
