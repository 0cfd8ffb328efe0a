// Package tooltest holds the rule for a test that needs a tool the machine may lack (a browser, a server,
// a command): outside CI the test is skipped; under CI=true, where .ci/run installs every tool, it fails,
// so that CI never passes by skipping.
package tooltest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Missing ends t for a missing tool, which the message names with how to install it: a failure under
// CI=true, a skip otherwise.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: missing under CI=true, where .ci/run must install it", msg)
	}
	t.Skip(msg)
}

// Find returns the path of the first of names found (on PATH, or as a path), or ends t through Missing,
// naming names[0] and install, how to install it.
func Find(t testing.TB, install string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, "%s is not installed (%s)", names[0], install)
	return ""
}
