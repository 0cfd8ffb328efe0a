package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TestKnownEnvVars: every HERALD_ name the command's code reads is known, so that it is never warned of.
func TestKnownEnvVars(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	known := knownEnvVars()
	name := regexp.MustCompile(`"(HERALD_[A-Z0-9_]+)"`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range name.FindAllStringSubmatch(string(src), -1) {
			n++
			if !slices.Contains(known, m[1]) && !strings.HasPrefix(m[1], "HERALD_TEST_") && !strings.HasPrefix(m[1], "HERALD_BENCH_") {
				t.Errorf("%s reads %s, which knownEnvVars does not hold: add it to otherEnvVars", f, m[1])
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d HERALD_ names in the code", n)
	}
}

// TestUnknownEnv: a HERALD_ variable Herald does not read is warned of, with the name it most likely
// meant, and without its value; --quiet keeps the warning back; the tests' own variables are no setting.
func TestUnknownEnv(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	env := []string{"HERALD_SMPT_PASSWORD=hunter2-secret", "HERALD_URL=https://blog.example.com", "HERALD_TEST_STORE=postgres",
		"HERALD_ZZZZZZZZZZZZZZZ=1", "PATH=/usr/bin"}
	run1 := func(args ...string) string {
		t.Helper()
		var out, errOut strings.Builder
		if err := run(withEnviron(t.Context(), env), args, testEnv(), &out, &errOut); err != nil {
			t.Fatalf("herald %s: %v\n%s", args, err, errOut.String())
		}
		return errOut.String()
	}
	errOut := run1("build", "-C", dir)
	for _, want := range []string{
		"warning: HERALD_SMPT_PASSWORD is set, but Herald reads no such variable; did you mean HERALD_SMTP_PASSWORD?\n",
		"warning: HERALD_ZZZZZZZZZZZZZZZ is set, but Herald reads no such variable\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("no %q in:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "hunter2") || strings.Contains(errOut, "HERALD_URL") || strings.Contains(errOut, "HERALD_TEST_STORE") {
		t.Errorf("the warnings show a value or a known variable:\n%s", errOut)
	}
	if errOut := run1("build", "-C", dir, "--quiet"); errOut != "" {
		t.Errorf("build --quiet wrote to stderr:\n%s", errOut)
	}
}

// TestUnknownSettingSuggests: a misspelt herald.yaml key is an error that names its line and the key meant.
func TestUnknownSettingSuggests(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(dir, "herald.yaml"), []byte("limit: 3\nbase_ulr: https://news.example.com\npostal_adress: x\nfrobnicate: 1\n"), 0o644)
	_, _, err := runHerald(t, testEnv(), "build", "-C", dir)
	for _, want := range []string{
		`herald.yaml:2: unknown setting "base_ulr"; did you mean base_url?`,
		`herald.yaml:3: unknown setting "postal_adress"; did you mean postal_address?`,
		`herald.yaml:4: unknown setting "frobnicate"; see the configuration reference`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

// refusingAuth is an SMTP session that refuses every login with 535, as a server does a wrong password.
type refusingAuth struct{ *greySession }

func (refusingAuth) AuthMechanisms() []string { return []string{sasl.Plain} }
func (refusingAuth) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, _, _ string) error {
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	}), nil
}

// TestSMTPAuthRefused: a login the SMTP server refuses (535) is an error that names HERALD_SMTP_PASSWORD,
// and never shows the password.
func TestSMTPAuthRefused(t *testing.T) {
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return refusingAuth{&greySession{&greylister{}}}, nil }))
	s.Domain, s.ErrorLog, s.AllowInsecureAuth = "localhost", log.New(io.Discard, "", 0), true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	dir := mailSite(t, fmt.Sprintf("smtp: smtp://jane@%s?tls=none&auth=plain\n", l.Addr()))
	_, _, err = runHerald(t, testEnv("HERALD_SMTP_PASSWORD", "wrong-pass-123"), "preview", "-C", dir, "--send-to", "jane@example.net")
	if err == nil || !strings.Contains(err.Error(), "refused the login (535)") || !strings.Contains(err.Error(), "HERALD_SMTP_PASSWORD") {
		t.Fatalf("got %v, want an error that names HERALD_SMTP_PASSWORD", err)
	}
	if strings.Contains(err.Error(), "wrong-pass-123") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestHTTPBaseURLWarns: an http base_url works, with a warning that the messages go without one-click
// unsubscribe; an https one has no warning.
func TestHTTPBaseURLWarns(t *testing.T) {
	for _, tc := range []struct {
		url  string
		warn bool
	}{{"http://news.example.com", true}, {"https://news.example.com", false}} {
		dir := mailSite(t, "")
		if tc.warn {
			replaceConfig(t, dir, `(?m)^base_url: .*$`, "base_url: "+tc.url)
		}
		_, errOut, err := runHerald(t, testEnv(), "preview", "-C", dir, "--out", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(errOut, "warning: base_url "+tc.url+" is http: one-click unsubscribe"); got != tc.warn {
			t.Errorf("%s: warned %v, want %v:\n%s", tc.url, got, tc.warn, errOut)
		}
	}
}
