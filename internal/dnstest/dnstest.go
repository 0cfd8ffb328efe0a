// Package dnstest runs a DNS server for tests: it answers TXT queries from records a test sets, on a
// loopback UDP port, so that lookups go over real DNS without reaching the network.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server answers TXT queries from its records, NXDOMAIN for a name it has none for, and an empty answer
// (NODATA) for any other type at a name it knows. It is safe for concurrent use.
type Server struct {
	Addr string // host:port to send queries to

	mu      sync.Mutex
	records map[string][][]string // by lower-case FQDN: each TXT record's character-strings
	queries int
}

// New starts a server on 127.0.0.1 and stops it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: pc.LocalAddr().String(), records: map[string][][]string{}}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("dnstest: serve: %v", err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
	return s
}

// SetTXT replaces the TXT records at name, one record per value. A value longer than 255 bytes is split
// into several character-strings, as a DNS host does (RFC 7208 §3.3).
func (s *Server) SetTXT(name string, values ...string) {
	rrs := make([][]string, len(values))
	for i, v := range values {
		for len(v) > 255 {
			rrs[i] = append(rrs[i], v[:255])
			v = v[255:]
		}
		rrs[i] = append(rrs[i], v)
	}
	s.SetTXTStrings(name, rrs...)
}

// SetTXTStrings replaces the TXT records at name with these, each given as its character-strings. None
// removes the name.
func (s *Server) SetTXTStrings(name string, rrs ...[]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(dns.Fqdn(name))
	if len(rrs) == 0 {
		delete(s.records, key)
		return
	}
	s.records[key] = rrs
}

// Queries is how many queries the server has answered.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

func (s *Server) serve(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	s.mu.Lock()
	s.queries++
	if len(q.Question) == 1 {
		qn := q.Question[0]
		rrs, ok := s.records[strings.ToLower(qn.Name)]
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case qn.Qtype == dns.TypeTXT:
			for _, txt := range rrs {
				m.Answer = append(m.Answer, &dns.TXT{
					Hdr: dns.RR_Header{Name: qn.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300},
					Txt: txt,
				})
			}
		}
	} else {
		m.Rcode = dns.RcodeFormatError
	}
	s.mu.Unlock()
	w.WriteMsg(m)
}
