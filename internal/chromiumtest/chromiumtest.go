// Package chromiumtest finds Debian's chromium for the tests that render pages and emails in a real
// browser (through chromedp).
package chromiumtest

import (
	"testing"

	"github.com/heraldhq/herald/internal/tooltest"
)

// Path returns chromium's path. Without it the test is skipped, except under CI=true, where .ci/run
// installs it and a missing browser is a failure.
func Path(t testing.TB) string {
	t.Helper()
	return tooltest.Find(t, "apt-get install chromium", "chromium", "chromium-browser", "google-chrome")
}
