// Package doctor checks a sender's DNS as receivers read it: that the DKIM key records publish the keys
// that sign the mail (RFC 6376, RFC 8463), that the From domain has one SPF record that ends in a policy
// (RFC 7208), and that it has a DMARC record with which the DKIM signatures align (RFC 7489). Each
// Finding says what was found and what to publish instead.
package doctor

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Level is how much a finding matters: a Fail keeps mail from being trusted, a Warn may.
type Level int

const (
	OK Level = iota
	Warn
	Fail
)

func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	}
	return "FAIL"
}

// Finding is one thing a check found.
type Finding struct {
	Level   Level
	Check   string // DKIM, SPF or DMARC
	Message string // what was found
	Fix     string // what to publish or change, "" when nothing
}

// Key is a DKIM key that signs the mail, and the record that publishes it.
type Key struct {
	Selector, Domain string
	Record           string // "v=DKIM1; k=...; p=...", as the signer's key gives it
}

// Name is where the key's record goes.
func (k Key) Name() string { return k.Selector + "._domainkey." + k.Domain }

// Setup is what the checks compare DNS with.
type Setup struct {
	FromDomain string // the From address's domain, which is also the envelope sender's
	Keys       []Key
	SPFInclude string // what the sending service's SPF include usually is (SPFInclude, ProviderSPFInclude), "" when unknown
}

// Check runs every DNS check.
func Check(ctx context.Context, r *Resolver, s Setup) []Finding {
	var fs []Finding
	fs = append(fs, CheckDKIM(ctx, r, s.Keys)...)
	fs = append(fs, CheckSPF(ctx, r, s.FromDomain, s.SPFInclude)...)
	fs = append(fs, CheckDMARC(ctx, r, s.FromDomain, s.Keys)...)
	return fs
}

// CheckDKIM looks up each key's record and compares the key it publishes with the key that signs.
func CheckDKIM(ctx context.Context, r *Resolver, keys []Key) []Finding {
	if len(keys) == 0 {
		return []Finding{{Level: Fail, Check: "DKIM", Message: "the mail is not signed: no DKIM key is configured",
			Fix: "make keys and publish their records (herald dkim init prints them)"}}
	}
	var fs []Finding
	for _, k := range keys {
		fs = append(fs, checkKey(ctx, r, k))
	}
	return fs
}

func checkKey(ctx context.Context, r *Resolver, k Key) Finding {
	f := Finding{Check: "DKIM", Level: Fail}
	publish := "publish " + ZoneLine(k.Name(), k.Record)
	want, reason := parseDKIMRecord(k.Record)
	if reason != "" {
		f.Message = fmt.Sprintf("the key for selector %s gives no usable record (%s)", k.Selector, reason)
		return f
	}
	txts, err := r.LookupTXT(ctx, k.Name())
	if err != nil {
		f.Message = err.Error()
		return f
	}
	switch len(txts) {
	case 0:
		f.Message = "no TXT record at " + k.Name()
		f.Fix = publish
		return f
	case 1:
	default:
		// RFC 6376 §3.6.2.2: with several records at a selector the result is undefined.
		f.Message = fmt.Sprintf("%d TXT records at %s, where receivers expect one", len(txts), k.Name())
		f.Fix = "keep only this one: " + publish
		return f
	}
	got, reason := parseDKIMRecord(txts[0])
	switch {
	case reason != "":
		f.Message = fmt.Sprintf("the record at %s is not a usable DKIM key: %s", k.Name(), reason)
		f.Fix = publish
	case got.kind != want.kind || string(got.pub) != string(want.pub):
		f.Message = fmt.Sprintf("the record at %s publishes another key than the %s key that signs (it has k=%s and another p=)", k.Name(), want.kind, got.kind)
		f.Fix = publish + " (or configure the key it publishes)"
	case got.testing:
		f.Level = Warn
		f.Message = fmt.Sprintf("the record at %s matches the %s key, but says t=y (testing): receivers may ignore its signatures", k.Name(), want.kind)
		f.Fix = publish
	default:
		f.Level = OK
		f.Message = fmt.Sprintf("%s publishes the %s key", k.Name(), want.kind)
	}
	return f
}

// CheckSPF checks the From domain's SPF record (RFC 7208): there must be exactly one, and it should end
// in ~all or -all. include is what the sending service usually needs ("" when not known): its absence is
// a warning only, since a service that sends with its own bounce domain is checked against that domain's
// SPF record instead.
func CheckSPF(ctx context.Context, r *Resolver, domain, include string) []Finding {
	f := Finding{Check: "SPF", Level: Fail}
	suggest := "v=spf1 ip4:<your server's address> ~all"
	if include != "" {
		suggest = "v=spf1 include:" + include + " ~all"
	}
	txts, err := r.LookupTXT(ctx, domain)
	if err != nil {
		f.Message = err.Error()
		return []Finding{f}
	}
	var spf []string
	for _, t := range txts {
		if v, _, _ := strings.Cut(t, " "); strings.EqualFold(v, "v=spf1") {
			spf = append(spf, t)
		}
	}
	switch len(spf) {
	case 0:
		f.Message = "no SPF record (TXT v=spf1) at " + domain
		f.Fix = "publish " + ZoneLine(domain, suggest)
		return []Finding{f}
	case 1:
	default:
		// §4.5: more than one is a permanent error, as if there were none that passes.
		f.Message = fmt.Sprintf("%d SPF records at %s: receivers treat that as an error", len(spf), domain)
		f.Fix = "merge them into one v=spf1 record"
		return []Finding{f}
	}
	rec := spf[0]
	terms := strings.Fields(strings.ToLower(rec))
	last := terms[len(terms)-1]
	var fs []Finding
	switch {
	case last == "-all" || last == "~all":
		fs = append(fs, Finding{Level: OK, Check: "SPF", Message: fmt.Sprintf("%s: %s", domain, rec)})
	case hasPrefixTerm(terms, "redirect="):
		fs = append(fs, Finding{Level: OK, Check: "SPF", Message: fmt.Sprintf("%s: %s (the redirected record decides)", domain, rec)})
	case last == "+all" || last == "all":
		fs = append(fs, Finding{Level: Fail, Check: "SPF", Message: fmt.Sprintf("%s: %s lets any host send as the domain", domain, rec),
			Fix: "end the record in ~all or -all"})
	default:
		fs = append(fs, Finding{Level: Warn, Check: "SPF", Message: fmt.Sprintf("%s: %s does not end in ~all or -all", domain, rec),
			Fix: "end the record in ~all (or -all once you are sure it lists every sender)"})
	}
	if include != "" && !hasPrefixTerm(terms, "include:"+include) && !hasPrefixTerm(terms, "redirect=") {
		fs = append(fs, Finding{Level: Warn, Check: "SPF", Message: fmt.Sprintf("the record does not include %s, which your sending service usually needs", include),
			Fix: fmt.Sprintf("add include:%s before the all, unless the provider sends with a return-path domain of its own (then that domain's SPF record counts, and DKIM carries DMARC)", include)})
	}
	return fs
}

// hasPrefixTerm tells whether a term of an SPF record starts with prefix (a qualifier before it counts
// too: ?include:...).
func hasPrefixTerm(terms []string, prefix string) bool {
	for _, t := range terms {
		if strings.HasPrefix(strings.TrimLeft(t, "+-~?"), prefix) {
			return true
		}
	}
	return false
}

// CheckDMARC finds the DMARC record for domain (at _dmarc.DOMAIN, else at its organizational domain's,
// RFC 7489 §6.6.3), checks that it has a policy, and that one of the DKIM keys' domains aligns with the
// From domain as the record's adkim asks (relaxed by default: the same organizational domain).
func CheckDMARC(ctx context.Context, r *Resolver, domain string, keys []Key) []Finding {
	f := Finding{Check: "DMARC", Level: Fail}
	at, rec, n, err := lookupDMARC(ctx, r, domain)
	if err != nil {
		f.Message = err.Error()
		return []Finding{f}
	}
	switch {
	case n == 0:
		f.Message = "no DMARC record at _dmarc." + domain
		f.Fix = "publish " + ZoneLine("_dmarc."+domain, "v=DMARC1; p=none") + " (p=none, which Gmail and Yahoo accept from bulk senders, only monitors; p=quarantine once all your mail passes)"
		return []Finding{f}
	case n > 1:
		f.Message = fmt.Sprintf("%d DMARC records at %s: receivers then apply none", n, at)
		f.Fix = "keep one"
		return []Finding{f}
	}
	t, _ := tags(rec)
	var fs []Finding
	switch p := strings.ToLower(t["p"]); p {
	case "none", "quarantine", "reject":
		fs = append(fs, Finding{Level: OK, Check: "DMARC", Message: fmt.Sprintf("%s: %s", at, rec)})
	case "":
		fs = append(fs, Finding{Level: Fail, Check: "DMARC", Message: fmt.Sprintf("%s: %s has no policy (p=)", at, rec),
			Fix: "add p=none (or quarantine, reject)"})
	default:
		fs = append(fs, Finding{Level: Fail, Check: "DMARC", Message: fmt.Sprintf("%s: policy p=%s is none of none, quarantine, reject", at, p),
			Fix: "set p=none, quarantine or reject"})
	}
	strict := strings.EqualFold(t["adkim"], "s")
	mode := "relaxed"
	if strict {
		mode = "strict"
	}
	var ds []string
	for _, k := range keys {
		if aligned(domain, k.Domain, strict) {
			return append(fs, Finding{Level: OK, Check: "DMARC", Message: fmt.Sprintf("DKIM d=%s aligns with From's %s (%s)", k.Domain, domain, mode)})
		}
		ds = append(ds, k.Domain)
	}
	if len(keys) == 0 {
		return append(fs, Finding{Level: Fail, Check: "DMARC", Message: "no DKIM signature to align with From's " + domain,
			Fix: "sign with DKIM under the From domain (herald dkim init)"})
	}
	return append(fs, Finding{Level: Fail, Check: "DMARC", Message: fmt.Sprintf("DKIM d=%s does not align with From's %s (%s alignment)", strings.Join(ds, ", "), domain, mode),
		Fix: "sign with a key under " + domain + " (or, with relaxed alignment, its organizational domain)"})
}

// lookupDMARC returns where the record was found, the record, and how many DMARC records were there.
func lookupDMARC(ctx context.Context, r *Resolver, domain string) (at, rec string, n int, err error) {
	names := []string{domain}
	if org := orgDomain(domain); org != domain {
		names = append(names, org)
	}
	for _, d := range names {
		at = "_dmarc." + d
		txts, err := r.LookupTXT(ctx, at)
		if err != nil {
			return at, "", 0, err
		}
		for _, t := range txts {
			// §6.6.3: records that do not start with v=DMARC1 are discarded.
			if v, _, _ := strings.Cut(t, ";"); strings.TrimSpace(v) == "v=DMARC1" {
				rec = t
				n++
			}
		}
		if n > 0 {
			return at, rec, n, nil
		}
	}
	return "_dmarc." + domain, "", 0, nil
}

// aligned tells whether a DKIM d= domain aligns with the From domain (RFC 7489 §3.1.1): the same name in
// strict mode, the same organizational domain in relaxed mode.
func aligned(from, d string, strict bool) bool {
	from, d = strings.ToLower(strings.TrimSuffix(from, ".")), strings.ToLower(strings.TrimSuffix(d, "."))
	if from == d {
		return true
	}
	return !strict && orgDomain(from) == orgDomain(d)
}

// orgDomain is a domain's organizational domain: one label below its public suffix.
func orgDomain(domain string) string {
	if o, err := publicsuffix.EffectiveTLDPlusOne(domain); err == nil {
		return o
	}
	return domain
}

// spfIncludes are the SPF includes well-known SMTP relays document, by the end of their host name.
var spfIncludes = []struct{ host, include string }{
	{"smtp.gmail.com", "_spf.google.com"},
	{"smtp-relay.gmail.com", "_spf.google.com"},
	{"smtp.office365.com", "spf.protection.outlook.com"},
	{"smtp-mail.outlook.com", "spf.protection.outlook.com"},
	{".amazonaws.com", "amazonses.com"}, // email-smtp.REGION.amazonaws.com
	{"smtp.sendgrid.net", "sendgrid.net"},
	{"mailgun.org", "mailgun.org"},
	{"smtp.postmarkapp.com", "spf.mtasv.net"},
	{"smtp.resend.com", "amazonses.com"},
	{"smtp.fastmail.com", "spf.messagingengine.com"},
	{"smtp.zoho.com", "zoho.com"},
	{"smtp.zoho.eu", "zoho.eu"},
	{"mailjet.com", "spf.mailjet.com"},
	{"smtp.sparkpostmail.com", "sparkpostmail.com"},
	{"smtp.protonmail.ch", "_spf.protonmail.ch"},
	{"smtp-relay.brevo.com", "spf.brevo.com"},
	{"smtp-relay.sendinblue.com", "spf.brevo.com"},
}

// apiIncludes are the SPF includes of the providers whose APIs Herald sends through, by transport scheme.
// Each sends with a return-path domain of its own unless one under the From domain is set up, so these
// matter only then.
var apiIncludes = map[string]string{"ses": "amazonses.com", "postmark": "spf.mtasv.net", "mailgun": "mailgun.org", "resend": "amazonses.com"}

// ProviderSPFInclude is the SPF include of the provider whose API a transport scheme names (ses,
// postmark, mailgun, resend), "" for another.
func ProviderSPFInclude(scheme string) string { return apiIncludes[strings.ToLower(scheme)] }

// SPFInclude is the SPF include the SMTP relay at host usually needs, "" when Herald does not know it.
func SPFInclude(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, p := range spfIncludes {
		if host == strings.TrimPrefix(p.host, ".") || strings.HasSuffix(host, "."+strings.TrimPrefix(p.host, ".")) {
			return p.include
		}
	}
	return ""
}
