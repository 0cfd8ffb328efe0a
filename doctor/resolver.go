package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolver looks up TXT records by asking one DNS server directly, so that a check sees what receivers
// see (not a local hosts file) and tests can point it at a server of their own.
type Resolver struct {
	addrs  []string // host:port, tried in order
	client *dns.Client
}

// NewResolver asks the server at addr (host or host:port, port 53 by default), or when addr is empty
// the servers resolvConf lists (normally /etc/resolv.conf).
func NewResolver(addr, resolvConf string) (*Resolver, error) {
	r := &Resolver{client: &dns.Client{Timeout: 5 * time.Second}}
	if addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(strings.Trim(addr, "[]"), "53")
		}
		r.addrs = []string{addr}
		return r, nil
	}
	cc, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil {
		return nil, fmt.Errorf("doctor: read the DNS servers: %w", err)
	}
	for _, s := range cc.Servers {
		r.addrs = append(r.addrs, net.JoinHostPort(s, cc.Port))
	}
	if len(r.addrs) == 0 {
		return nil, fmt.Errorf("doctor: %s names no DNS server", resolvConf)
	}
	return r, nil
}

// LookupTXT returns the TXT records at name, each one's character-strings joined without spaces (as
// DKIM, SPF and DMARC read them). A name that does not exist, or has no TXT record, gives none and no
// error; a server that fails or does not answer is an error.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	q.SetEdns0(1232, false) // a 2048-bit RSA key record does not fit in 512 bytes
	var errs []error
	for _, addr := range r.addrs {
		m, err := r.exchange(ctx, q, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch m.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
		default:
			errs = append(errs, fmt.Errorf("%s answered %s", addr, dns.RcodeToString[m.Rcode]))
			continue
		}
		var txts []string
		for _, rr := range m.Answer {
			if t, ok := rr.(*dns.TXT); ok {
				txts = append(txts, strings.Join(t.Txt, ""))
			}
		}
		return txts, nil
	}
	return nil, fmt.Errorf("doctor: look up TXT %s: %w", strings.TrimSuffix(name, "."), errors.Join(errs...))
}

// exchange asks over UDP, and again over TCP when the answer did not fit.
func (r *Resolver) exchange(ctx context.Context, q *dns.Msg, addr string) (*dns.Msg, error) {
	m, _, err := r.client.ExchangeContext(ctx, q, addr)
	if err == nil && m.Truncated {
		tcp := *r.client
		tcp.Net = "tcp"
		m, _, err = tcp.ExchangeContext(ctx, q, addr)
	}
	return m, err
}
