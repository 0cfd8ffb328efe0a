package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/heraldhq/herald/doctor"
	"github.com/heraldhq/herald/internal/dnstest"
	"github.com/heraldhq/herald/mailer"
)

// dkimSite is a mail site with one new post to send through a known relay, after herald dkim init, with
// the records dkim init printed published on a DNS server of the test's, beside SPF and DMARC records.
type dkimSite struct {
	dir     string
	dns     *dnstest.Server
	records map[string][]string // dkim init's records, by name: their quoted strings
	out     string              // what dkim init printed
}

var (
	zoneLineRE = regexp.MustCompile(`(?m)^(\S+)\. 3600 IN TXT (.*)$`)
	quotedRE   = regexp.MustCompile(`"([^"]*)"`)
	yamlLineRE = regexp.MustCompile(`(?m)^dkim_(key_file|selector): .*$`)
)

func newDKIMSite(t *testing.T) *dkimSite {
	t.Helper()
	s := &dkimSite{dir: mailSiteWithNewPost(t, ""), dns: dnstest.New(t), records: map[string][]string{}}
	out, _, err := runHerald(t, testEnv(), "dkim", "init", "-C", s.dir)
	if err != nil {
		t.Fatalf("herald dkim init: %v", err)
	}
	s.out = out
	for _, m := range zoneLineRE.FindAllStringSubmatch(out, -1) {
		var strs []string
		for _, q := range quotedRE.FindAllStringSubmatch(m[2], -1) {
			strs = append(strs, q[1])
		}
		s.records[m[1]] = strs
		s.dns.SetTXTStrings(m[1], strs)
	}
	lines := yamlLineRE.FindAllString(out, -1)
	if len(s.records) != 2 || len(lines) != 2 {
		t.Fatalf("dkim init printed %d records and %d herald.yaml lines, want 2 and 2:\n%s", len(s.records), len(lines), out)
	}
	appendConfig(t, s.dir, strings.Join(lines, "\n")+"\nsmtp: smtp://apikey@smtp.postmarkapp.com:587\n")
	s.dns.SetTXT("blog.example.com", "v=spf1 include:spf.mtasv.net ~all")
	s.dns.SetTXT("_dmarc.blog.example.com", "v=DMARC1; p=none")
	return s
}

func appendConfig(t *testing.T, dir, lines string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "herald.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, lines); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// replaceConfig replaces what the regular expression re matches in herald.yaml.
func replaceConfig(t *testing.T, dir, re, with string) {
	t.Helper()
	name := filepath.Join(dir, "herald.yaml")
	cfg, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	changed := regexp.MustCompile(re).ReplaceAll(cfg, []byte(with))
	if bytes.Equal(changed, cfg) {
		t.Fatalf("herald.yaml has nothing that matches %s", re)
	}
	if err := os.WriteFile(name, changed, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *dkimSite) doctor(t *testing.T) (string, error) {
	t.Helper()
	out, _, err := runHerald(t, testEnv(), "doctor", "-C", s.dir, "--dns", s.dns.Addr)
	return out, err
}

// TestDKIMInit: dkim init writes two keys readable by their owner only and prints their records, the RSA
// one split into strings of at most 255 bytes; published as printed, they pass herald doctor, and a
// message herald sends carries two signatures that go-msgauth verifies against the same DNS server.
func TestDKIMInit(t *testing.T) {
	s := newDKIMSite(t)
	for _, name := range []string{"dkim-herald-ed25519.pem", "dkim-herald-rsa.pem"} {
		fi, err := os.Stat(filepath.Join(s.dir, ".herald", name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	ed := s.records["herald-ed25519._domainkey.blog.example.com"]
	rsa := s.records["herald-rsa._domainkey.blog.example.com"]
	if len(ed) != 1 || !strings.HasPrefix(ed[0], "v=DKIM1; k=ed25519; p=") {
		t.Errorf("Ed25519 record %q, want one string v=DKIM1; k=ed25519; p=...", ed)
	}
	if len(rsa) < 2 || !strings.HasPrefix(rsa[0], "v=DKIM1; k=rsa; p=") {
		t.Errorf("RSA record %q, want v=DKIM1; k=rsa; p=... in several strings", rsa)
	}
	for _, str := range rsa {
		if len(str) > 255 {
			t.Errorf("a string of %d bytes in the RSA record; DNS holds at most 255", len(str))
		}
	}
	if !strings.Contains(s.out, "longer than 255 bytes") {
		t.Errorf("dkim init does not say the RSA record is split:\n%s", s.out)
	}

	if out, err := s.doctor(t); err != nil || strings.Count(out, "ok    DKIM") != 2 {
		t.Errorf("herald doctor: %v, want both DKIM records found:\n%s", err, out)
	}

	outbox := t.TempDir()
	if _, _, err := runHerald(t, testEnv(), "send", "-C", s.dir, "--dry-run", outbox); err != nil {
		t.Fatal(err)
	}
	r, err := doctor.NewResolver(s.dns.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) ([]string, error) { return r.LookupTXT(t.Context(), name) }
	msgs := maildirRaw(t, outbox)
	if len(msgs) == 0 {
		t.Fatal("herald send wrote no message")
	}
	for i, raw := range msgs {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 {
			t.Fatalf("message %d: %d DKIM signatures, want 2", i, len(vs))
		}
		for _, v := range vs {
			if v.Err != nil || v.Domain != "blog.example.com" {
				t.Errorf("message %d: signature d=%s does not verify: %v", i, v.Domain, v.Err)
			}
		}
	}

	// A key is never replaced without --force; with it, the published record no longer matches.
	before, _ := os.ReadFile(filepath.Join(s.dir, ".herald", "dkim-herald-rsa.pem"))
	if _, _, err := runHerald(t, testEnv(), "dkim", "init", "-C", s.dir); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("a second dkim init: got %v, want it refused, naming --force", err)
	}
	if after, _ := os.ReadFile(filepath.Join(s.dir, ".herald", "dkim-herald-rsa.pem")); !bytes.Equal(before, after) {
		t.Error("a refused dkim init changed the key")
	}
	if _, _, err := runHerald(t, testEnv(), "dkim", "init", "-C", s.dir, "--force"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(s.dir, ".herald", "dkim-herald-rsa.pem")); bytes.Equal(before, after) {
		t.Error("dkim init --force kept the old key")
	}
	if out, err := s.doctor(t); err == nil || !strings.Contains(out, "publishes another key") {
		t.Errorf("herald doctor after new keys: %v, want the old records found wrong:\n%s", err, out)
	}
}

// maildirRaw reads the messages in a Maildir's new/ folder.
func maildirRaw(t *testing.T, dir string) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDoctor: herald doctor's findings and exit status for a correct set-up and for each thing that
// can be wrong with it.
func TestDoctor(t *testing.T) {
	tests := []struct {
		name     string
		change   func(t *testing.T, s *dkimSite)
		wantErr  bool
		wantText []string
	}{
		{
			name:     "correct",
			wantText: []string{"ok    DMARC", "aligns", "ok    SPF", "one-click", "No problems found."},
		},
		{
			name:     "missing DMARC",
			change:   func(t *testing.T, s *dkimSite) { s.dns.SetTXTStrings("_dmarc.blog.example.com") },
			wantErr:  true,
			wantText: []string{"FAIL  DMARC", `publish _dmarc.blog.example.com. 3600 IN TXT "v=DMARC1; p=none"`},
		},
		{
			name: "wrong DKIM key",
			change: func(t *testing.T, s *dkimSite) {
				s.dns.SetTXT("herald-ed25519._domainkey.blog.example.com", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
			},
			wantErr:  true,
			wantText: []string{"FAIL  DKIM", "publishes another key", "publish herald-ed25519._domainkey.blog.example.com. 3600 IN TXT"},
		},
		{
			name:     "missing SPF",
			change:   func(t *testing.T, s *dkimSite) { s.dns.SetTXT("blog.example.com", "some-verification=1") },
			wantErr:  true,
			wantText: []string{"FAIL  SPF", `publish blog.example.com. 3600 IN TXT "v=spf1 include:spf.mtasv.net ~all"`},
		},
		{
			name:     "http base_url",
			change:   func(t *testing.T, s *dkimSite) { replaceConfig(t, s.dir, `(?m)^base_url: https:`, "base_url: http:") },
			wantErr:  true,
			wantText: []string{"FAIL  settings", "needs https"},
		},
		{
			name: "an API transport and SPF without its include",
			change: func(t *testing.T, s *dkimSite) {
				replaceConfig(t, s.dir, `(?m)^smtp: .*$`, "transport: postmark://")
				s.dns.SetTXT("blog.example.com", "v=spf1 mx ~all")
			},
			wantText: []string{"warn  SPF", "include:spf.mtasv.net", "No problems found."},
		},
		{
			name:     "no postal address",
			change:   func(t *testing.T, s *dkimSite) { replaceConfig(t, s.dir, `(?m)^postal_address:.*\n`, "") },
			wantErr:  true,
			wantText: []string{"FAIL  settings", "postal_address"},
		},
	}
	base := newDKIMSite(t)
	cfg, err := os.ReadFile(filepath.Join(base.dir, "herald.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case starts from the correct set-up: the records and herald.yaml as dkim init left them.
			s := *base
			s.dns = dnstest.New(t)
			for name, strs := range base.records {
				s.dns.SetTXTStrings(name, strs)
			}
			s.dns.SetTXT("blog.example.com", "v=spf1 include:spf.mtasv.net ~all")
			s.dns.SetTXT("_dmarc.blog.example.com", "v=DMARC1; p=none")
			if err := os.WriteFile(filepath.Join(s.dir, "herald.yaml"), cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(t, &s)
			}
			out, err := s.doctor(t)
			if (err != nil) != tt.wantErr {
				t.Errorf("herald doctor: error %v, want error %v:\n%s", err, tt.wantErr, out)
			}
			if err != nil && exitCode(err, io.Discard) != 1 {
				t.Errorf("exit code %d, want 1", exitCode(err, io.Discard))
			}
			for _, want := range tt.wantText {
				if !strings.Contains(out, want) {
					t.Errorf("the output does not say %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestDKIMSingleKey: the single-key settings still work (one file, one selector or none), with the file
// relative to the site's folder, and two keys need a selector each.
func TestDKIMSingleKey(t *testing.T) {
	dir := mailSiteWithNewPost(t, "")
	pemKey, err := mailer.GenerateDKIMKey(mailer.DKIMEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".herald", "dkim.pem"), pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	record, _, err := mailer.DKIMRecord(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, config, wantSelector, wantErr string
	}{
		{name: "with a selector", config: "dkim_key_file: .herald/dkim.pem\ndkim_selector: s2026\n", wantSelector: "s2026"},
		{name: "default selector", config: "dkim_key_file: .herald/dkim.pem\n", wantSelector: "herald"},
		{name: "two keys, one selector", config: "dkim_key_file: [.herald/dkim.pem, .herald/dkim.pem]\ndkim_selector: s2026\n", wantErr: "a selector of its own"},
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "herald.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "herald.yaml"), append(bytes.Clone(cfg), tt.config...), 0o644); err != nil {
				t.Fatal(err)
			}
			outbox := t.TempDir()
			_, _, err := runHerald(t, testEnv(), "send", "-C", dir, "--dry-run", outbox)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs := maildirRaw(t, outbox)
			if len(msgs) == 0 {
				t.Fatal("no message")
			}
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(msgs[0]), &dkim.VerifyOptions{
				LookupTXT: func(name string) ([]string, error) {
					if name != tt.wantSelector+"._domainkey.blog.example.com" {
						t.Errorf("looked up %s, want selector %s", name, tt.wantSelector)
					}
					return []string{record}, nil
				},
			})
			if err != nil || len(vs) != 1 || vs[0].Err != nil {
				t.Errorf("got %v %v, want one signature that verifies", err, vs)
			}
		})
	}
}
