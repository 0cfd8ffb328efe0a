package server

import (
	"errors"
	"testing"
	"time"
)

// TestWroteKeepsTheLaterWrite: a write that began before a failing one, and reports after it, does not
// hide the failure from /healthz (the sign-up queue's write racing a request's, as in TestRealStoreFull).
func TestWroteKeepsTheLaterWrite(t *testing.T) {
	full := errors.New("disk full")
	earlier := time.Now()
	later := earlier.Add(time.Millisecond)

	var s Server
	s.wrote(later, full)
	s.wrote(earlier, nil) // began first, reported last
	if s.health.err != full {
		t.Errorf("after a late report of an earlier success: got err %v, want %v", s.health.err, full)
	}
	s.wrote(later.Add(time.Millisecond), nil)
	if s.health.err != nil || s.health.ok.IsZero() {
		t.Errorf("after a later success: got err %v, ok %v; want nil and a time", s.health.err, s.health.ok)
	}
}
