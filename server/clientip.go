package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address of whoever sent r. The peer's address, unless the peer is a trusted proxy:
// then the nearest address in X-Forwarded-For that is not a trusted proxy (the entries to its left can
// be written by anyone). X-Real-IP is not read: a proxy that sets only it passes on the client's own
// X-Forwarded-For, forged or not, so reading both would believe the forgery.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := peer.Addr().Unmap()
	if !s.trusted(ip) {
		return ip
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage (or no header): trust nothing beyond it
		}
		ip = a.Unmap()
		if !s.trusted(ip) {
			return ip
		}
	}
	return ip
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.o.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ipKey is a rate limit's key for ip: for IPv6, its /bits prefix (a /64 is one user, a /48 one
// site), so that one user cannot dodge the limit by walking their prefix.
func ipKey(ip netip.Addr, bits int) string {
	if ip.Is6() {
		p, _ := ip.Prefix(bits)
		return p.String()
	}
	return ip.String()
}
