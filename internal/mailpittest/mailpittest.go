// Package mailpittest runs mailpit (github.com/axllent/mailpit), a real mail server with an HTTP API, for
// tests on loopback ports, and reads back what it received.
//
// Without the binary a test that needs it is skipped, except under CI=true, where .ci/run installs it
// (go install github.com/axllent/mailpit@v1.27.11) and a missing binary is a failure.
package mailpittest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/porttest"
	"github.com/heraldhq/herald/internal/tooltest"
)

// Version is the mailpit the tests are written against.
const Version = "v1.27.11"

// Binary returns the mailpit binary: $MAILPIT, else mailpit on PATH, else in GOPATH/bin.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MAILPIT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "mailpit")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	tooltest.Missing(t, "mailpit not found (on PATH, in GOPATH/bin or in $MAILPIT): go install github.com/axllent/mailpit@%s", Version)
	return ""
}

// Server is a running mailpit.
type Server struct {
	SMTPPort int
	API      string // the base URL of its HTTP API
}

// Start runs mailpit with args added to its defaults (SMTP and HTTP on free loopback ports, a database in
// a temp folder, any SMTP login accepted, no reverse DNS, chaos triggers enabled, room for 10,000
// messages), waits until both ports answer, and stops it when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	s := &Server{SMTPPort: porttest.FreeT(t)}
	httpPort := porttest.FreeT(t)
	s.API = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	args = append([]string{
		"--smtp", fmt.Sprintf("127.0.0.1:%d", s.SMTPPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--database", filepath.Join(dir, "mailpit.db"),
		"--smtp-auth-accept-any", "--smtp-disable-rdns",
		"--enable-chaos", "--quiet",
		"--max", "10000", // its default, 500, would silently drop the oldest messages of a bigger test
	}, args...)
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mailpit's output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.API + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not get ready: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.SMTPPort))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit's SMTP port does not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// Get fetches path from the API, fails the test unless the answer is 200, decodes the JSON into v unless
// v is nil, and returns the body.
func (s *Server) Get(t testing.TB, path string, v any) []byte {
	t.Helper()
	resp, err := http.Get(s.API + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return b
}

// Chaos sets mailpit's chaos triggers: each maps a stage (Sender, Recipient, Authentication) to an SMTP
// code, returned every time; an absent stage is turned off.
func (s *Server) Chaos(t testing.TB, codes map[string]int) {
	t.Helper()
	body := map[string]any{}
	for _, stage := range []string{"Sender", "Recipient", "Authentication"} {
		trigger := map[string]int{"ErrorCode": 451, "Probability": 0}
		if code, ok := codes[stage]; ok {
			trigger = map[string]int{"ErrorCode": code, "Probability": 100}
		}
		body[stage] = trigger
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPut, s.API+"/api/v1/chaos", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /api/v1/chaos: %s", resp.Status)
	}
}

// Summary is a message as mailpit's message list shows it.
type Summary struct {
	ID        string // mailpit's own id, for /api/v1/message/ID
	MessageID string // the Message-ID header, without angle brackets
	To, Bcc   []*mail.Address
	Subject   string
}

// Messages returns every message mailpit holds, newest first, reading the list page by page.
func (s *Server) Messages(t testing.TB) []Summary {
	t.Helper()
	const page = 250
	var all []Summary
	for {
		var list struct {
			MessagesCount int `json:"messages_count"`
			Messages      []Summary
		}
		q := url.Values{"start": {fmt.Sprint(len(all))}, "limit": {fmt.Sprint(page)}}
		s.Get(t, "/api/v1/messages?"+q.Encode(), &list)
		all = append(all, list.Messages...)
		if len(list.Messages) == 0 || len(all) >= list.MessagesCount {
			if len(all) != list.MessagesCount {
				t.Fatalf("mailpit listed %d messages, but says it holds %d", len(all), list.MessagesCount)
			}
			return all
		}
	}
}

// Text returns the plain-text part of message id (mailpit's own id, from Messages).
func (s *Server) Text(t testing.TB, id string) string {
	t.Helper()
	var m struct{ Text string }
	s.Get(t, "/api/v1/message/"+url.PathEscape(id), &m)
	return m.Text
}

// Headers returns the headers of message id (mailpit's own id), decoded, by name.
func (s *Server) Headers(t testing.TB, id string) map[string][]string {
	t.Helper()
	h := map[string][]string{}
	s.Get(t, "/api/v1/message/"+url.PathEscape(id)+"/headers", &h)
	return h
}
