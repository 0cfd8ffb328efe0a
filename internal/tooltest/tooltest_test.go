package tooltest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	if got := Find(t, "apt-get install nothing", "herald-no-such-tool", "sh"); got != sh {
		t.Errorf("Find: got %q, want %q, the first name found", got, sh)
	}
}

// TestMissing runs TestMissingTool in a child test process: a skip outside CI, a failure under CI=true.
func TestMissing(t *testing.T) {
	for _, tt := range []struct {
		name, ci string
		fails    bool
		want     string
	}{
		{"outside CI", "", false, "--- SKIP: TestMissingTool"},
		{"under CI", "true", true, "--- FAIL: TestMissingTool"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMissingTool$", "-test.v")
			cmd.Env = append(os.Environ(), "HERALD_TOOLTEST_CHILD=1", "CI="+tt.ci)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tt.fails || !strings.Contains(string(out), tt.want) ||
				strings.Contains(string(out), "missing under CI=true") != tt.fails ||
				!strings.Contains(string(out), "herald-no-such-tool is not installed (apt-get install nothing)") {
				t.Errorf("got %v:\n%s\nwant failed=%v and %q, naming the tool", err, out, tt.fails, tt.want)
			}
		})
	}
}

func TestMissingTool(t *testing.T) {
	if os.Getenv("HERALD_TOOLTEST_CHILD") != "1" {
		t.Skip("run by TestMissing")
	}
	Find(t, "apt-get install nothing", "herald-no-such-tool")
	t.Error("Find returned for a missing tool")
}
