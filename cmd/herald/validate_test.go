package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/tooltest"
)

// needTool finds a command the test needs. Outside CI a missing tool skips the test; under CI=true it fails
// it, so that CI can never pass by skipping.
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	return tooltest.Find(t, install, name)
}

// TestValidateWithRealClients checks every fixture's feeds with xmllint and Python's feedparser, through
// testdata/validate-feeds.sh.
func TestValidateWithRealClients(t *testing.T) {
	needTool(t, "xmllint", "apt-get install libxml2-utils")
	if out, err := exec.Command("/usr/bin/python3", "-c", "import feedparser").CombinedOutput(); err != nil {
		tooltest.Missing(t, "python3-feedparser is missing (apt-get install python3-feedparser): %s", out)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "validate-feeds.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"seed-jekyll", "jekyll-docs", "jekyll-edge"} {
		t.Run(name, func(t *testing.T) {
			dir := copySite(t, name)
			if _, _, err := runHerald(t, testEnv(), "build", "-C", dir, "--limit", "0"); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("bash", script, "--strict", filepath.Join(dir, "_site")).CombinedOutput()
			if err != nil {
				t.Fatalf("validate-feeds.sh failed: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), " 0 failed") {
				t.Errorf("validate-feeds.sh: %s", out)
			}
		})
	}
}
