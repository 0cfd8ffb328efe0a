package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/tooltest"
)

// SESVersion is the aws-ses-v2-local the tests are written against; .ci/run installs it with npm into
// .ci/node.
const SESVersion = "2.10.2"

// SES is a running aws-ses-v2-local.
type SES struct {
	URL string // its base URL: the SES endpoint, and its /store
}

// SESEmail is one message the emulator stored, as its GET /store gives it.
type SESEmail struct {
	MessageID   string `json:"messageId"`
	From        string `json:"from"`
	Subject     string `json:"subject"`
	Destination struct {
		To []string `json:"to"`
	} `json:"destination"`
	Body struct {
		Text string `json:"text"`
		HTML string `json:"html"`
	} `json:"body"`
}

// sesCLI finds the emulator's command: $AWS_SES_V2_LOCAL, else .ci/node's install in this module. Without
// it the test is skipped, except under CI=true, where .ci/run installs it and its absence is a failure.
func sesCLI(t testing.TB) (node, cli string) {
	t.Helper()
	cli = os.Getenv("AWS_SES_V2_LOCAL")
	if cli == "" {
		if root := moduleRoot(); root != "" {
			cli = filepath.Join(root, ".ci", "node", "node_modules", "aws-ses-v2-local", "dist", "cli.js")
		}
	}
	node, nerr := exec.LookPath("node")
	_, cerr := os.Stat(cli)
	if nerr == nil && cerr == nil && cli != "" {
		return node, cli
	}
	const how = "npm install --prefix .ci/node aws-ses-v2-local@" + SESVersion + " (and Debian's nodejs)"
	tooltest.Missing(t, "the SES emulator is missing (node: %v; %s: %v): %s", nerr, cli, cerr, how)
	return "", ""
}

// moduleRoot is the folder of this module's go.mod, found from the working folder up.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// StartSES runs the emulator on a free loopback port, waits until it answers, and stops it when the test
// ends.
func StartSES(t testing.TB) *SES {
	t.Helper()
	node, cli := sesCLI(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(node, cli, "--host", "127.0.0.1", "--port", fmt.Sprint(port))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	s := &SES{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/health-check")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("aws-ses-v2-local exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-ses-v2-local did not answer on %s in 30 s:\n%s", s.URL, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Emails reads back every message the emulator stored.
func (s *SES) Emails(t testing.TB) []SESEmail {
	t.Helper()
	resp, err := http.Get(s.URL + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Emails []SESEmail }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("aws-ses-v2-local /store: %v", err)
	}
	return st.Emails
}
