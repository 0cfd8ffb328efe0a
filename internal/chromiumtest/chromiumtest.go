// Package chromiumtest finds Debian's chromium for the tests that render pages and emails in a real
// browser (through chromedp).
package chromiumtest

import (
	"os"
	"os/exec"
	"testing"
)

// Path returns chromium's path. Without it the test is skipped, except under CI=true, where .ci/run
// installs it and a missing browser is a failure.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}
