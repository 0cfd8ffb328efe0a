package main

import (
	"context"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/doctor"
	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/token"
)

func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", stderr, `Usage: herald doctor [flags]

Checks what makes receivers trust the site's mail, and prints each finding with what to publish or set:
that the DKIM records at SELECTOR._domainkey.DOMAIN publish the configured keys; that the From domain
has one SPF record, ending in ~all or -all (and including a known SMTP relay's hosts); that a DMARC
record exists with a policy, and that the DKIM signatures align with From; that base_url is https (as
one-click unsubscribe needs), and that the postal address and a way to unsubscribe are set. It asks a
DNS server directly (--dns, else the first in /etc/resolv.conf). Exits 1 when something is wrong; a
warning alone exits 0.

Flags:
`)
	var dir, server string
	siteFlag(fs, &dir)
	fs.StringVar(&server, "dns", "", "the DNS `server` to ask, host or host:port (default: those in /etc/resolv.conf)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	siteDir, cfg, err := configure(dir, getenv)
	if err != nil {
		return err
	}
	r, err := doctor.NewResolver(server, "/etc/resolv.conf")
	if err != nil {
		return fmt.Errorf("%w; name a DNS server with --dns", err)
	}
	findings := settingsFindings(cfg)
	if from, err := mail.ParseAddress(cfg.From); err == nil {
		_, domain, _ := strings.Cut(from.Address, "@")
		setup := doctor.Setup{FromDomain: strings.ToLower(domain)}
		var f []doctor.Finding
		setup.Keys, f = configuredKeys(siteDir, cfg)
		findings = append(findings, f...)
		setup.SPFInclude, f = spfInclude(cfg)
		findings = append(findings, f...)
		findings = append(findings, doctor.Check(ctx, r, setup)...)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	failed := 0
	for _, f := range findings {
		fmt.Fprintf(stdout, "%-5s %-9s %s\n", f.Level, f.Check, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(stdout, "%16s%s\n", "", f.Fix)
		}
		if f.Level == doctor.Fail {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d problem%s to fix (above)", failed, plural(failed))
	}
	fmt.Fprintln(stdout, "\nNo problems found.")
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// settingsFindings checks the settings every message needs: a sender, a postal address, a way to
// unsubscribe, and base_url in https, which one-click unsubscribe (RFC 8058) requires and Gmail and Yahoo
// ask of bulk senders.
func settingsFindings(cfg config) []doctor.Finding {
	var fs []doctor.Finding
	add := func(l doctor.Level, msg, fix string) {
		fs = append(fs, doctor.Finding{Level: l, Check: "settings", Message: msg, Fix: fix})
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		add(doctor.Fail, "no sender: from is not set to an address", `set from: "Your Name <you@example.com>" in herald.yaml (or HERALD_FROM); the DNS checks need its domain`)
	} else {
		add(doctor.OK, "from: "+cfg.From, "")
	}
	if strings.TrimSpace(cfg.PostalAddress) == "" {
		add(doctor.Fail, "no postal address: the law in most countries requires one in every email", "set postal_address in herald.yaml (or HERALD_POSTAL_ADDRESS)")
	} else {
		add(doctor.OK, "postal_address is set", "")
	}
	switch u, err := url.Parse(cfg.BaseURL); {
	case cfg.BaseURL == "" && cfg.UnsubscribeMailto == "":
		add(doctor.Fail, "no way to unsubscribe: neither base_url nor unsubscribe_mailto is set", "set base_url to the https address herald serve answers at (HERALD_BASE_URL)")
	case cfg.BaseURL == "":
		add(doctor.Warn, "only unsubscribe_mailto: no one-click unsubscribe, which Gmail and Yahoo ask of bulk senders", "set base_url to the https address herald serve answers at (HERALD_BASE_URL)")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		add(doctor.Fail, fmt.Sprintf("base_url %q is not an https URL", cfg.BaseURL), "set base_url to the https address herald serve answers at")
	case u.Scheme != "https":
		add(doctor.Fail, fmt.Sprintf("base_url %s is http: one-click unsubscribe (RFC 8058) needs https", cfg.BaseURL), "serve herald serve behind HTTPS and set base_url to its https:// address")
	case len(cfg.Secret) < token.MinSecret:
		add(doctor.Fail, "base_url is set but the secret that signs its links is missing or short", "herald init writes one to .herald/secret (or set HERALD_SECRET)")
	default:
		add(doctor.OK, "base_url "+cfg.BaseURL+" is https: messages offer one-click unsubscribe", "")
	}
	return fs
}

// configuredKeys are the DKIM keys with the records that publish them.
func configuredKeys(siteDir string, cfg config) ([]doctor.Key, []doctor.Finding) {
	fail := func(err error) []doctor.Finding {
		return []doctor.Finding{{Level: doctor.Fail, Check: "DKIM", Message: err.Error(), Fix: "set dkim_key_file and dkim_selector as herald dkim init prints them"}}
	}
	ks, err := dkimKeys(siteDir, cfg)
	if err != nil {
		return nil, fail(err)
	}
	domain, err := dkimDomain(cfg)
	if err != nil {
		return nil, fail(err)
	}
	var keys []doctor.Key
	for _, k := range ks {
		rec, _, err := mailer.DKIMRecord(k.Key)
		if err != nil {
			return nil, fail(err)
		}
		keys = append(keys, doctor.Key{Selector: k.Selector, Domain: domain, Record: rec})
	}
	return keys, nil
}

// spfInclude is the SPF include the configured transport usually needs, "" when not known.
func spfInclude(cfg config) (string, []doctor.Finding) {
	t := cfg.transport()
	switch {
	case t == "":
		return "", []doctor.Finding{{Level: doctor.Warn, Check: "settings", Message: "no transport: mail goes to the outbox folder, not to readers",
			Fix: "set transport in herald.yaml (or HERALD_TRANSPORT) to send"}}
	case isAPITransport(t):
		scheme, _, _ := strings.Cut(strings.TrimSpace(t), "://")
		return doctor.ProviderSPFInclude(scheme), nil
	}
	sc, err := mailer.ParseSMTPURL(t)
	if err != nil {
		return "", []doctor.Finding{{Level: doctor.Fail, Check: "settings", Message: err.Error()}}
	}
	return doctor.SPFInclude(sc.Host), nil
}
