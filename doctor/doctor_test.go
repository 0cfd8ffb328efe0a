package doctor

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/dnstest"
)

// keyRecord makes a key of kind and the record that publishes it.
func keyRecord(t *testing.T, kind string) string {
	t.Helper()
	var pub []byte
	switch kind {
	case "ed25519":
		p, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = p
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if pub, err = x509.MarshalPKIXPublicKey(&k.PublicKey); err != nil {
			t.Fatal(err)
		}
	}
	return "v=DKIM1; k=" + kind + "; p=" + base64.StdEncoding.EncodeToString(pub)
}

// site is a correct set-up: two keys, their records, SPF and DMARC, served by a DNS server of the test's.
type site struct {
	dns   *dnstest.Server
	r     *Resolver
	setup Setup
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{dns: dnstest.New(t)}
	var err error
	if s.r, err = NewResolver(s.dns.Addr, ""); err != nil {
		t.Fatal(err)
	}
	s.setup = Setup{FromDomain: "blog.example.com", SPFInclude: SPFInclude("smtp.postmarkapp.com")}
	for _, kind := range []string{"ed25519", "rsa"} {
		k := Key{Selector: "herald-" + kind, Domain: "blog.example.com", Record: keyRecord(t, kind)}
		s.setup.Keys = append(s.setup.Keys, k)
		s.dns.SetTXT(k.Name(), k.Record)
	}
	s.dns.SetTXT("blog.example.com", "google-site-verification=abc", "v=spf1 include:spf.mtasv.net ~all")
	s.dns.SetTXT("_dmarc.blog.example.com", "v=DMARC1; p=quarantine; rua=mailto:dmarc@blog.example.com")
	return s
}

// levels sums findings up as "CHECK:level" lines, and the messages for a failure's report.
func levels(fs []Finding) (string, string) {
	var ls, all []string
	for _, f := range fs {
		ls = append(ls, f.Check+":"+f.Level.String())
		all = append(all, fmt.Sprintf("%s %s: %s [fix: %s]", f.Level, f.Check, f.Message, f.Fix))
	}
	return strings.Join(ls, " "), strings.Join(all, "\n")
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		change   func(t *testing.T, s *site)
		want     string // the levels of the findings
		wantText string // in a finding's message or fix
	}{
		{
			name: "correct",
			want: "DKIM:ok DKIM:ok SPF:ok DMARC:ok DMARC:ok",
		},
		{
			name:     "missing DMARC",
			change:   func(t *testing.T, s *site) { s.dns.SetTXTStrings("_dmarc.blog.example.com") },
			want:     "DKIM:ok DKIM:ok SPF:ok DMARC:FAIL",
			wantText: `_dmarc.blog.example.com. 3600 IN TXT "v=DMARC1; p=none"`,
		},
		{
			name: "DMARC at the organizational domain",
			change: func(t *testing.T, s *site) {
				s.dns.SetTXTStrings("_dmarc.blog.example.com")
				s.dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=reject; adkim=r")
			},
			want:     "DKIM:ok DKIM:ok SPF:ok DMARC:ok DMARC:ok",
			wantText: "_dmarc.example.com: v=DMARC1; p=reject",
		},
		{
			name: "DMARC without a policy",
			change: func(t *testing.T, s *site) {
				s.dns.SetTXT("_dmarc.blog.example.com", "v=DMARC1; rua=mailto:a@blog.example.com")
			},
			want:     "DKIM:ok DKIM:ok SPF:ok DMARC:FAIL DMARC:ok",
			wantText: "no policy",
		},
		{
			name: "strict alignment and a key under the parent domain",
			change: func(t *testing.T, s *site) {
				s.dns.SetTXT("_dmarc.blog.example.com", "v=DMARC1; p=none; adkim=s")
				for i := range s.setup.Keys {
					s.setup.Keys[i].Domain = "example.com"
					s.dns.SetTXT(s.setup.Keys[i].Name(), s.setup.Keys[i].Record)
				}
			},
			want:     "DKIM:ok DKIM:ok SPF:ok DMARC:ok DMARC:FAIL",
			wantText: "does not align",
		},
		{
			name: "relaxed alignment and a key under the parent domain",
			change: func(t *testing.T, s *site) {
				for i := range s.setup.Keys {
					s.setup.Keys[i].Domain = "example.com"
					s.dns.SetTXT(s.setup.Keys[i].Name(), s.setup.Keys[i].Record)
				}
			},
			want:     "DKIM:ok DKIM:ok SPF:ok DMARC:ok DMARC:ok",
			wantText: "aligns with From's blog.example.com (relaxed)",
		},
		{
			name: "wrong DKIM key",
			change: func(t *testing.T, s *site) {
				s.dns.SetTXT("herald-rsa._domainkey.blog.example.com", keyRecord(t, "rsa"))
			},
			want:     "DKIM:ok DKIM:FAIL SPF:ok DMARC:ok DMARC:ok",
			wantText: "publishes another key",
		},
		{
			name:     "missing DKIM record",
			change:   func(t *testing.T, s *site) { s.dns.SetTXTStrings("herald-ed25519._domainkey.blog.example.com") },
			want:     "DKIM:FAIL DKIM:ok SPF:ok DMARC:ok DMARC:ok",
			wantText: `herald-ed25519._domainkey.blog.example.com. 3600 IN TXT "v=DKIM1; k=ed25519; p=`,
		},
		{
			name: "DKIM record in testing mode",
			change: func(t *testing.T, s *site) {
				s.dns.SetTXT("herald-ed25519._domainkey.blog.example.com", s.setup.Keys[0].Record+"; t=y")
			},
			want:     "DKIM:warn DKIM:ok SPF:ok DMARC:ok DMARC:ok",
			wantText: "t=y",
		},
		{
			name:     "missing SPF",
			change:   func(t *testing.T, s *site) { s.dns.SetTXT("blog.example.com", "google-site-verification=abc") },
			want:     "DKIM:ok DKIM:ok SPF:FAIL DMARC:ok DMARC:ok",
			wantText: `blog.example.com. 3600 IN TXT "v=spf1 include:spf.mtasv.net ~all"`,
		},
		{
			name:     "two SPF records",
			change:   func(t *testing.T, s *site) { s.dns.SetTXT("blog.example.com", "v=spf1 -all", "v=spf1 mx ~all") },
			want:     "DKIM:ok DKIM:ok SPF:FAIL DMARC:ok DMARC:ok",
			wantText: "2 SPF records",
		},
		{
			name:     "SPF that allows everyone",
			change:   func(t *testing.T, s *site) { s.dns.SetTXT("blog.example.com", "v=spf1 include:spf.mtasv.net +all") },
			want:     "DKIM:ok DKIM:ok SPF:FAIL DMARC:ok DMARC:ok",
			wantText: "any host",
		},
		{
			name:     "SPF without the relay's include",
			change:   func(t *testing.T, s *site) { s.dns.SetTXT("blog.example.com", "v=spf1 mx -all") },
			want:     "DKIM:ok DKIM:ok SPF:ok SPF:warn DMARC:ok DMARC:ok",
			wantText: "include:spf.mtasv.net",
		},
		{
			name: "SPF of an unknown relay",
			change: func(t *testing.T, s *site) {
				s.setup.SPFInclude = SPFInclude("mail.example.net")
				s.dns.SetTXT("blog.example.com", "v=spf1 mx ?all")
			},
			want:     "DKIM:ok DKIM:ok SPF:warn DMARC:ok DMARC:ok",
			wantText: "does not end in ~all or -all",
		},
		{
			name:     "no keys",
			change:   func(t *testing.T, s *site) { s.setup.Keys = nil },
			want:     "DKIM:FAIL SPF:ok DMARC:ok DMARC:FAIL",
			wantText: "herald dkim init",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t)
			if tt.change != nil {
				tt.change(t, s)
			}
			fs := Check(t.Context(), s.r, s.setup)
			got, all := levels(fs)
			if got != tt.want {
				t.Errorf("got %s, want %s\n%s", got, tt.want, all)
			}
			if tt.wantText != "" && !strings.Contains(all, tt.wantText) {
				t.Errorf("no finding says %q:\n%s", tt.wantText, all)
			}
		})
	}
}

// TestLookupTXT: a record longer than 255 bytes arrives joined, an unknown name has no records, and a
// server that does not answer is an error rather than "no record".
func TestLookupTXT(t *testing.T) {
	srv := dnstest.New(t)
	r, err := NewResolver(srv.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	long := keyRecord(t, "rsa")
	if len(long) <= 255 {
		t.Fatalf("an RSA-2048 record of %d bytes; the test wants one over 255", len(long))
	}
	srv.SetTXTStrings("k._domainkey.example.org", TXTStrings(long))
	got, err := r.LookupTXT(t.Context(), "k._domainkey.example.org")
	if err != nil || len(got) != 1 || got[0] != long {
		t.Errorf("got %q, %v; want the record joined", got, err)
	}
	if got, err := r.LookupTXT(t.Context(), "nothing.example.org"); err != nil || len(got) != 0 {
		t.Errorf("an unknown name: got %q, %v; want nothing and no error", got, err)
	}

	dead, err := NewResolver("127.0.0.1:1", "")
	if err != nil {
		t.Fatal(err)
	}
	dead.client.Timeout = 500 * time.Millisecond
	if _, err := dead.LookupTXT(t.Context(), "example.org"); err == nil {
		t.Error("a server that does not answer: got no error")
	}
}

func TestZoneLine(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct{ name, value, want string }{
		{name: "short", value: "v=DMARC1; p=none", want: `_dmarc.example.org. 3600 IN TXT "v=DMARC1; p=none"`},
		{name: "long", value: long, want: `_dmarc.example.org. 3600 IN TXT ( "` + long[:255] + `" "` + long[255:] + `" )`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ZoneLine("_dmarc.example.org", tt.value); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSPFInclude(t *testing.T) {
	tests := []struct{ host, want string }{
		{"smtp.postmarkapp.com", "spf.mtasv.net"},
		{"email-smtp.eu-west-1.amazonaws.com", "amazonses.com"},
		{"smtp.eu.mailgun.org", "mailgun.org"},
		{"SMTP.Gmail.com.", "_spf.google.com"},
		{"mail.example.net", ""},
		{"notmailgun.org", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := SPFInclude(tt.host); got != tt.want {
			t.Errorf("SPFInclude(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
	if got := ProviderSPFInclude("Postmark"); got != "spf.mtasv.net" {
		t.Errorf("ProviderSPFInclude(Postmark) = %q, want spf.mtasv.net", got)
	}
}
