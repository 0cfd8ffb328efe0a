package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Limit allows N requests per key in each fixed Window.
type Limit struct {
	N      int
	Window time.Duration
}

// limits are the sign-up form's limits. Their counts are kept in the store (Store.TakeLimit), so that a
// restart resets none of them, each under a keyed hash of what it counts.
//
// Two of them are shared by everyone: all sign-ups, and each domain's. Left alone, a few sources would
// use either up and shut out every reader for the rest of the hour (ten IPs at the per-IP limit fill the
// global cap). So once a shared limit is half used, only sources that have signed up at most share times
// in their window may take the other half; a source is an IPv4 address or an IPv6 /48 (one site's
// network). A reader, who signs up once or twice, still gets in; the sources that filled the first half
// do not. Ten IPv4 addresses then get at most 115 of the 200 (five fill 100, the other five 3 each), and
// four /48s at most 106; using the whole cap takes 39 sources. A domain's 50 takes at least 11 (two fill
// 25, nine more 3 each), so that ten IPs cannot shut out a mail provider's readers either. The cap itself
// stays: the form must never become a bulk mailer, whoever asks.
type limits struct {
	ip, net    Limit // per client IP (IPv6: per /64); per IPv6 /48, whose owner can walk its /64s
	address    Limit // per address key (addressKey)
	addressDay Limit // per address key a day: past it the answer is the usual one, but nothing is sent
	domain     Limit // per registrable domain: a catch-all domain takes any address
	all        Limit // every sign-up
	share      int   // a source's sign-ups in its window that a half-used shared limit still takes
}

func newLimits(o Options) limits {
	return limits{
		ip:      o.IPLimit,
		net:     Limit{N: 60, Window: time.Hour},
		address: o.AddressLimit,
		// Each +tag or Gmail dot variant is a subscriber of its own, sent its own link, so the hourly limit
		// alone would still let anyone send one inbox 72 links a day.
		addressDay: Limit{N: 5, Window: 24 * time.Hour},
		domain:     o.DomainLimit,
		all:        Limit{N: 200, Window: time.Hour}, // more is an attack, not a readership
		share:      3,                                // a sign-up and a retry or two
	}
}

// admit counts a sign-up of addr from ip at now against the limits, in order, each only if those
// before had room, and says whether all had. The address's day limit is not among them: see subscribe.
func (s *Server) admit(ctx context.Context, ip netip.Addr, addr string, now time.Time) (bool, error) {
	l := s.limits
	source, err := s.take(ctx, "ip", ipKey(ip, 64), l.ip, now)
	if err != nil || source == 0 {
		return false, err
	}
	if ip.Is6() {
		if source, err = s.take(ctx, "net", ipKey(ip, 48), l.net, now); err != nil || source == 0 {
			return false, err
		}
	}
	key := addressKey(addr)
	if n, err := s.take(ctx, "address", key, l.address, now); err != nil || n == 0 {
		return false, err
	}
	for _, c := range []struct {
		kind, value string
		limit       Limit
	}{{"domain", registrableDomain(key), l.domain}, {"all", "", l.all}} {
		if source > l.share {
			c.limit.N /= 2
		}
		if n, err := s.take(ctx, c.kind, c.value, c.limit, now); err != nil || n == 0 {
			return false, err
		}
	}
	return true, nil
}

// take counts one request for value against the limit of its kind, and returns the count in its
// window, or 0 when it had no room.
func (s *Server) take(ctx context.Context, kind, value string, l Limit, now time.Time) (int, error) {
	began := time.Now()
	n, err := s.o.Store.TakeLimit(ctx, s.limitKey(kind, value), l.N, l.Window, now)
	if err != nil {
		s.wrote(began, err)
		return 0, fmt.Errorf("sign-up limit %s: %w", kind, err)
	}
	return n, nil
}

// limitSecret is the key of the limits' hashes, made from the secret for this use alone.
func limitSecret(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("herald serve: sign-up limit keys"))
	return m.Sum(nil)
}

// limitKey names the count of a limit of kind for value in the store: a keyed hash, so that the store
// holds no address or IP for the limits, and nobody without the secret can tell whose a count is.
func (s *Server) limitKey(kind, value string) string {
	m := hmac.New(sha256.New, s.limitID)
	m.Write([]byte(kind + "\x00" + value))
	return kind + ":" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// registrableDomain is the per-domain limit's key for an address key: its domain's registrable part
// (the public suffix and one label more), in ASCII, so that a catch-all domain's subdomains
// (a.example.com, b.example.com) and the Unicode and punycode spellings of one name count as one. A
// domain that is a public suffix itself counts on its own.
func registrableDomain(addrKey string) string {
	d := strings.TrimRight(addrKey[strings.LastIndexByte(addrKey, '@')+1:], ".")
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		d = a
	}
	if r, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return r
	}
	return d
}

// health is what /healthz knows of the store's writes: how the one that began last went. Writes run
// concurrently (a request's, the sign-up queue's), and one that began earlier may report later: a success
// that began before a failure must not hide it.
type health struct {
	mu    sync.Mutex
	began time.Time // when the write reported below began
	ok    time.Time // when a write last went through
	err   error     // that write's error; nil when it went through
}

// healthFresh is how long a write that went through vouches for the store: /healthz checks with a write
// of its own only when there has been none for that long, so that a monitor polling it costs little.
const healthFresh = 10 * time.Second

// wrote records how a write to the store that began at began went, unless a write that began later has
// reported already.
func (s *Server) wrote(began time.Time, err error) {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if began.Before(s.health.began) {
		return
	}
	s.health.began = began
	s.health.err = err
	if err == nil {
		s.health.ok = time.Now()
	}
}

// writable says whether the store takes writes: nil when the last write went through less than
// healthFresh ago, or else when a write check goes through now.
func (s *Server) writable(ctx context.Context) error {
	s.health.mu.Lock()
	fresh := s.health.err == nil && !s.health.ok.IsZero() && time.Since(s.health.ok) < healthFresh
	s.health.mu.Unlock()
	if fresh {
		return nil
	}
	began := time.Now()
	err := s.o.Store.CheckWrite(ctx, s.o.Now())
	s.wrote(began, err)
	return err
}
