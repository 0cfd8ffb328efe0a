package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apitest"
	"github.com/heraldhq/herald/store"
)

// providerSetup is one transport under test: its setting, the environment that holds its key, and how to
// read back what the provider got.
type providerSetup struct {
	name      string
	transport string
	env       []string                               // pairs for testEnv
	got       func(t *testing.T) map[string][]string // recipient → Message-IDs (or the provider's ids, for SES)
	idOnly    bool                                   // got gives no Message-IDs (the SES emulator keeps none of a raw message's headers)
	api       *apitest.Server                        // nil for SES
}

// setups starts a stand-in of each provider (and the SES emulator).
func setups(t *testing.T) []providerSetup {
	t.Helper()
	var ps []providerSetup
	for _, kind := range []apitest.Kind{apitest.Postmark, apitest.Mailgun, apitest.Resend} {
		srv := apitest.Start(t, kind)
		p := providerSetup{name: string(kind), api: srv}
		switch kind {
		case apitest.Postmark:
			p.transport = "postmark://?endpoint=" + srv.URL
			p.env = []string{"HERALD_POSTMARK_TOKEN", srv.Key}
		case apitest.Mailgun:
			p.transport = "mailgun://" + srv.Domain + "?endpoint=" + srv.URL
			p.env = []string{"HERALD_MAILGUN_KEY", srv.Key}
		case apitest.Resend:
			p.transport = "resend://?endpoint=" + srv.URL
			p.env = []string{"HERALD_RESEND_KEY", srv.Key}
		}
		p.got = func(*testing.T) map[string][]string {
			m := map[string][]string{}
			for to, msgs := range srv.ByRecipient() {
				for _, msg := range msgs {
					m[to] = append(m[to], msg.MessageID)
				}
			}
			return m
		}
		ps = append(ps, p)
	}
	emu := apitest.StartSES(t)
	ps = append(ps, providerSetup{name: "ses", transport: "ses://us-east-1?endpoint=" + emu.URL,
		env:    []string{"AWS_ACCESS_KEY_ID", "AKIDTEST", "AWS_SECRET_ACCESS_KEY", "test-secret"},
		idOnly: true,
		got: func(t *testing.T) map[string][]string {
			m := map[string][]string{}
			for _, e := range emu.Emails(t) {
				for _, to := range e.Destination.To {
					m[to] = append(m[to], e.MessageID)
				}
			}
			return m
		}})
	return ps
}

// transportSite makes a site configured as README's example (from, postal_address, base_url, the secret in
// .herald/secret) with transport, n subscribers and one new post to send them.
func transportSite(t *testing.T, transport string, env []string, subscribers, conns int) string {
	t.Helper()
	dir := copySite(t, "seed-jekyll")
	cfg := fmt.Sprintf("transport: %s\nfrom: \"Jane Doe <jane@blog.example.com>\"\n"+
		"postal_address: \"Jane Doe, 1 Main Street, Springfield, IL 62701, USA\"\nbase_url: https://news.blog.example.com\n"+
		"connections: %d\nper_connection: 50\n", transport, conns)
	if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, ".herald"), 0o700)
	if err := os.WriteFile(secretPath(dir), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("email\n")
	for i := 0; i < subscribers; i++ {
		fmt.Fprintf(&csv, "r%04d@example.com\n", i)
	}
	list := filepath.Join(t.TempDir(), "list.csv")
	os.WriteFile(list, []byte(csv.String()), 0o644)
	for _, args := range [][]string{{"subscribers", "import", "-C", dir, list}, {"publish", "-C", dir}} {
		if _, errOut, err := runHerald(t, testEnv(env...), args...); err != nil {
			t.Fatalf("%v\n%s", err, errOut)
		}
	}
	addPost(t, dir, "2021-01-01-news.md", "News")
	if _, errOut, err := runHerald(t, testEnv(env...), "build", "-C", dir, "--record"); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	return dir
}

// TestTransportsSend sends a post to 1,000 subscribers through each provider, on a site configured as
// README's example: every subscriber gets it once, with the Message-ID the ledger recorded, and the run's
// summary names the provider. Postmark's stand-in throttles (429) the first request to every hundredth
// subscriber, which the run sends again after a backoff.
func TestTransportsSend(t *testing.T) {
	const subscribers = 1000
	for _, p := range setups(t) {
		t.Run(p.name, func(t *testing.T) {
			if p.api != nil && p.api.Kind == apitest.Postmark {
				var mu sync.Mutex
				seen := map[string]bool{}
				p.api.Refuse(func(to string, _ int) (int, string) {
					mu.Lock()
					defer mu.Unlock()
					if strings.HasSuffix(to, "00@example.com") && !seen[to] {
						seen[to] = true
						return 429, `{"ErrorCode":429,"Message":"Rate limit exceeded"}`
					}
					return 0, ""
				})
			}
			dir := transportSite(t, p.transport, p.env, subscribers, 4)
			out, errOut, err := runHerald(t, testEnv(p.env...), "send", "-C", dir)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			if want := fmt.Sprintf("sent %d, deferred 0, failed 0, unknown 0", subscribers); !strings.Contains(out, want) {
				t.Errorf("summary %q, want %q", out, want)
			}
			if !strings.Contains(strings.ToLower(out), strings.TrimSuffix(p.name, "s")) && !strings.Contains(out, "SES") {
				t.Errorf("the summary %q does not name the provider", out)
			}
			got := p.got(t)
			ledger := readLedger(t, dir)
			if len(got) != subscribers || len(ledger) != subscribers {
				t.Errorf("the provider has mail for %d recipients, the ledger %d; want %d", len(got), len(ledger), subscribers)
			}
			for to, d := range ledger {
				ids := got[to]
				if len(ids) != 1 || d.status != store.Sent {
					t.Errorf("%s: %d messages, delivery %s; want 1, sent", to, len(ids), d.status)
					continue
				}
				if !p.idOnly && ids[0] != d.messageID {
					t.Errorf("%s got Message-ID %s, the ledger says %s", to, ids[0], d.messageID)
				}
			}
			if p.api != nil && p.api.Kind == apitest.Postmark && p.api.Requests() != subscribers+subscribers/100 {
				t.Errorf("Postmark answered %d requests, want %d: each throttled one, then again", p.api.Requests(), subscribers+subscribers/100)
			}
			if out, _, err := runHerald(t, testEnv(p.env...), "send", "-C", dir); err != nil || strings.TrimSpace(out) != "mail: nothing to send" {
				t.Errorf("a second send: %q, %v; want nothing to send", out, err)
			}
		})
	}
}

// TestTransportKill kills herald send (SIGKILL) while it sends a post to 300 subscribers through each
// provider, at the moment the provider has stored its 100th message and before it answers, then lets a run
// finish. The kill leaves at most one delivery sending per connection. With Postmark, Mailgun and SES those
// become unknown: the next run says so and sends everything else once. With Resend, whose requests carry the
// delivery's idempotency key, the next run sends the unknown ones again at once with the same key, and Resend
// answers with the first send's id: every subscriber has the post exactly once, and nothing is left unknown.
func TestTransportKill(t *testing.T) {
	const subscribers, conns, at = 300, 4, 100
	for _, p := range setups(t) {
		t.Run(p.name, func(t *testing.T) {
			dir := transportSite(t, p.transport, p.env, subscribers, conns)
			cmd := exec.Command(os.Args[0], "send", "-C", dir)
			cmd.Env = append(childEnv(), p.env[0]+"="+p.env[1])
			if len(p.env) > 2 {
				cmd.Env = append(cmd.Env, p.env[2]+"="+p.env[3])
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			killed := make(chan struct{})
			var once sync.Once
			var procMu sync.Mutex // the process is set by Start, which the race detector cannot see come first
			kill := func() {
				once.Do(func() {
					procMu.Lock()
					cmd.Process.Signal(syscall.SIGKILL)
					procMu.Unlock()
					close(killed)
				})
			}
			if p.api != nil {
				p.api.OnStore(func(n int) {
					if n >= at {
						kill()
						<-killed
						time.Sleep(20 * time.Millisecond) // the answer goes to a dead process
					}
				})
			}
			procMu.Lock()
			err := cmd.Start()
			procMu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if p.api == nil { // the emulator has no hook: watch its store
				go func() {
					for {
						select {
						case <-killed:
							return
						default:
						}
						n := 0
						for _, ids := range p.got(t) {
							n += len(ids)
						}
						if n >= at {
							kill()
							return
						}
						time.Sleep(2 * time.Millisecond)
					}
				}()
			}
			err = cmd.Wait()
			// Killed by the test's SIGKILL, the process may be reaped before kill has said so.
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
					<-killed
				}
			}
			select {
			case <-killed:
			default:
				t.Fatalf("herald send ended before the kill (%v):\n%s", err, stderr.String())
			}
			if p.api != nil {
				p.api.OnStore(nil)
			}
			sending := deliveryCounts(t, dir)[store.Sending]
			if sending > conns {
				t.Errorf("the kill left %d deliveries sending, more than one per connection (%d)", sending, conns)
			}
			if p.api != nil && sending == 0 {
				t.Errorf("herald died waiting for the provider's answer, yet no delivery was left sending")
			}

			out, errOut, err := runHerald(t, testEnv(p.env...), "send", "-C", dir)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			ledger := readLedger(t, dir)
			got := p.got(t)
			unknown := 0
			for to, d := range ledger {
				n := len(got[to])
				switch {
				case d.status == store.Unknown:
					unknown++
					if n > 1 {
						t.Errorf("%s (unknown) got the post %d times", to, n)
					}
				case d.status != store.Sent || n != 1:
					t.Errorf("%s: delivery %s, %d copies; want sent, once", to, d.status, n)
				}
			}
			if len(ledger) != subscribers {
				t.Errorf("%d deliveries, want %d", len(ledger), subscribers)
			}
			if p.name == "resend" {
				if replayed := p.api.Requests() - len(p.api.Messages()); replayed < 1 {
					t.Errorf("no request was answered from its idempotency key (%d requests, %d messages): the retry of the message the kill held did not reach Resend", p.api.Requests(), len(p.api.Messages()))
				}
				if unknown != 0 || !strings.Contains(out, "unknown 0") {
					t.Errorf("with Resend, %d deliveries are left unknown after the next run (%q); want none: they are sent again with their idempotency keys", unknown, out)
				}
			} else if unknown != sending {
				t.Errorf("%d deliveries unknown, but the kill left %d sending", unknown, sending)
			}
			if sending > 0 && !strings.Contains(errOut, "left by a run that stopped") {
				t.Errorf("the next run does not tell of the messages the kill left:\n%s", errOut)
			}
			t.Logf("the kill left %d sending; then: %s", sending, strings.TrimSpace(out))
		})
	}
}

// TestTransportSetting checks the transport setting's errors: each names what to set, and none shows a key.
func TestTransportSetting(t *testing.T) {
	srv := apitest.Start(t, apitest.Postmark)
	keyFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(keyFile, []byte(srv.Key+"\n"), 0o600)
	tests := []struct {
		name      string
		transport string
		env       []string
		yamlExtra string
		want      string // in the error; "" for a send that works
	}{
		{"postmark, token from a file", "postmark://?endpoint=" + srv.URL, []string{"HERALD_POSTMARK_TOKEN_FILE", keyFile}, "", ""},
		{"no token", "postmark://?endpoint=" + srv.URL, nil, "", "HERALD_POSTMARK_TOKEN"},
		{"a key in the URL", "resend://re_secret123@", []string{"HERALD_RESEND_KEY", "x"}, "", "takes no user or password"},
		{"unknown parameter", "mailgun://mg.example.com?regoin=eu", []string{"HERALD_MAILGUN_KEY", "x"}, "", `unknown parameter "regoin"`},
		{"mailgun without a domain", "mailgun://", []string{"HERALD_MAILGUN_KEY", "x"}, "", "mailgun://DOMAIN"},
		{"ses without a region", "ses://", nil, "", "ses://REGION"},
		{"plain http elsewhere", "resend://?endpoint=http://api.example.com", []string{"HERALD_RESEND_KEY", "re_secret123"}, "", "plain http only to this machine"},
		{"transport and smtp", "resend://", []string{"HERALD_RESEND_KEY", "x"}, "smtp: smtp://mail.example.com:587\n", "smtp is the old name of transport"},
		{"unknown scheme", "sendgrid://", nil, "", "smtp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := transportSite(t, "", nil, 1, 1)
			cfg, _ := os.ReadFile(filepath.Join(dir, "herald.yaml"))
			cfg = bytes.Replace(cfg, []byte("transport: \n"), []byte("transport: "+tt.transport+"\n"+tt.yamlExtra), 1)
			os.WriteFile(filepath.Join(dir, "herald.yaml"), cfg, 0o644)
			out, errOut, err := runHerald(t, testEnv(tt.env...), "send", "-C", dir)
			if tt.want == "" {
				if err != nil || !strings.Contains(out, "sent 1,") {
					t.Fatalf("%q %v\n%s", out, err, errOut)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one that says %q", err, tt.want)
			}
			if strings.Contains(err.Error()+out+errOut, "re_secret123") {
				t.Errorf("a key shows: %v", err)
			}
		})
	}
	// SES without credentials stops at the first dial, with nothing marked sending.
	t.Run("ses without credentials", func(t *testing.T) {
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // no instance role to ask on a test machine
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
		for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
			t.Setenv(v, "")
		}
		dir := transportSite(t, "ses://us-east-1?endpoint=http://127.0.0.1:9", nil, 2, 1)
		_, _, err := runHerald(t, testEnv(), "send", "-C", dir)
		if err == nil || !strings.Contains(err.Error(), "no AWS credentials") {
			t.Fatalf("error %v, want one that says there are no AWS credentials", err)
		}
		if c := deliveryCounts(t, dir); c[store.Queued] != 2 {
			t.Errorf("deliveries %v, want both still queued", c)
		}
	})
	// HERALD_TRANSPORT wins over herald.yaml, as every HERALD_ variable does.
	dir := transportSite(t, "", nil, 1, 1)
	env := testEnv("HERALD_TRANSPORT", "postmark://?endpoint="+srv.URL, "HERALD_POSTMARK_TOKEN", srv.Key)
	if out, errOut, err := runHerald(t, env, "send", "-C", dir); err != nil || !strings.Contains(out, "Postmark") {
		t.Errorf("HERALD_TRANSPORT: %q %v\n%s", out, err, errOut)
	}
}
