// Package server is herald serve: the web pages where people subscribe (with double opt-in), confirm,
// change their preferences and unsubscribe, including the one-click unsubscribe of RFC 8058.
package server

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

// Confirmer sends the confirmation email of a web sign-up. cmd/herald implements it with package mailer.
type Confirmer interface {
	// SendConfirmation mails sub a link to confirmURL, which works until expires. It must not put
	// sub.Name in the email: anyone can type any name with anyone's address.
	// An error that wraps ErrNotSent says that the email surely did not go (no connection, or a refusal
	// before the server took it); any other, that it may have.
	SendConfirmation(ctx context.Context, sub store.Subscriber, confirmURL string, expires time.Time) error
}

// ErrNotSent is in the error of a confirmation that surely did not go.
var ErrNotSent = errors.New("not sent")

// Settings that no site needs to change.
const (
	confirmExpiry = 7 * 24 * time.Hour // how long a confirm link works
	resendAfter   = 24 * time.Hour     // how soon a pending web sign-up may be sent a new link
)

// Options configure a Server. cmd/herald fills them from herald.yaml.
type Options struct {
	Store     Store
	Confirmer Confirmer
	Logger    *slog.Logger // nil: discard

	// Secret signs and checks the links' tokens (the same secret herald send signs its links with).
	Secret []byte
	// BaseURL is the public URL of the server (base_url), with no trailing slash; its path, if any, is
	// where the routes live, and its origin is trusted by the cross-origin check.
	BaseURL string

	SiteTitle string // default "Newsletter"
	SiteURL   string // the blog; its origin may post the sign-up form from its own pages. Default: BaseURL
	Lang      string // the pages' lang attribute; default "en"
	// LangNames are the names of the site's languages by tag (lower case: "fr" → "Français"), as the
	// forms show them; a language without one shows its tag.
	LangNames map[string]string

	// Templates holds the site's own templates (herald-templates/); pages/NAME.html found there replaces
	// the default. May be nil.
	Templates fs.FS

	// TrustedProxies are the peers whose X-Forwarded-For header is believed. Default:
	// loopback only, for a reverse proxy on the same machine; anyone else could forge the headers to
	// dodge the per-IP limit and put a false IP in the consent record.
	TrustedProxies []netip.Prefix

	IPLimit      Limit // sign-ups per client IP (IPv6: per /64); default 20 an hour
	AddressLimit Limit // sign-ups per address (its +tag ignored); default 3 an hour
	DomainLimit  Limit // sign-ups per registrable domain of the address; default 50 an hour (see limits.go)

	// Webhooks, when set, serves the mail providers' webhooks under BaseURL's path + "/webhooks/"
	// (package events): requests of servers, which the cross-origin check and the pages never see.
	Webhooks http.Handler

	Now func() time.Time // default time.Now
}

// Store is what the pages need of the state store: subscribers; the queue of sign-ups answered and not
// yet handled, and the counts of the sign-up limits, so that a restart loses neither; and, for /healthz,
// the last run and a check that the store takes writes.
type Store interface {
	Runs(ctx context.Context, n int) ([]store.Run, error)
	Subscriber(ctx context.Context, id int64) (store.Subscriber, error)
	SubscriberByEmail(ctx context.Context, email string) (store.Subscriber, error)
	AddSubscriber(ctx context.Context, s store.Subscriber, now time.Time) (store.Subscriber, error)
	UpdateSubscriber(ctx context.Context, id int64, at time.Time, change func(*store.Subscriber)) error
	DeleteExpiredPending(ctx context.Context, before time.Time) (int, error)
	DeleteUnsentSignUp(ctx context.Context, id int64, consentAt time.Time) (bool, error)

	QueueSignUp(ctx context.Context, q store.QueuedSignUp) error
	QueuedSignUps(ctx context.Context, n int) ([]store.QueuedSignUp, error)
	DequeueSignUp(ctx context.Context, id int64) error
	TakeLimit(ctx context.Context, key string, n int, window time.Duration, now time.Time) (int, error)
	PruneLimits(ctx context.Context, now time.Time) (int, error)
	CheckWrite(ctx context.Context, now time.Time) error
	// Choices are the tags and languages of the site's posts: what a reader may pick on the forms.
	Choices(ctx context.Context) (store.Choices, error)
}

// Server serves the pages. Make one with New; it runs a worker that handles the sign-ups queued in the
// store, which Close stops.
type Server struct {
	o       Options
	log     *slog.Logger
	base    string      // BaseURL's path, "" or "/news"
	links   token.Links // the pages' own links, under base
	pages   map[string]*template.Template
	limits  limits
	limitID []byte                      // keys the hashes that name the limits' counts in the store
	health  health                      // the store's writes, for /healthz
	cop     *http.CrossOriginProtection // every POST but the sign-up form
	copSub  *http.CrossOriginProtection // the sign-up form

	closed    atomic.Bool   // by Close: sign-ups are refused
	wake      chan struct{} // a sign-up was queued; one wake-up stands for any number
	closing   chan struct{} // closed by Close: the worker handles what is queued, and stops
	retryWait time.Duration // retryWait; shorter in tests
	done      chan struct{} // closed when the worker has stopped
	work      context.Context
	stop      context.CancelFunc
	once      sync.Once
}

// Errors of Check (and New), for a caller to say which setting to fix.
var (
	ErrBaseURL = errors.New("server: the base URL is not an http(s) URL such as https://news.example.com")
	ErrSecret  = fmt.Errorf("server: the secret is shorter than %d bytes", token.MinSecret)
)

// Check says whether New takes baseURL and secret: nil, or an error wrapping ErrBaseURL or ErrSecret.
func Check(baseURL string, secret []byte) error {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %q", ErrBaseURL, baseURL)
	}
	if len(secret) < token.MinSecret {
		return ErrSecret
	}
	return nil
}

// New checks the options, parses the page templates and starts the sign-up worker.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Confirmer == nil {
		return nil, errors.New("server: no store or no confirmer")
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if err := Check(o.BaseURL, o.Secret); err != nil {
		return nil, err
	}
	bu, _ := url.Parse(o.BaseURL)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Lang == "" {
		o.Lang = "en"
	}
	if o.SiteTitle == "" {
		o.SiteTitle = "Newsletter"
	}
	if o.SiteURL == "" {
		o.SiteURL = o.BaseURL
	}
	if o.IPLimit.N <= 0 {
		o.IPLimit = Limit{N: 20, Window: time.Hour}
	}
	if o.AddressLimit.N <= 0 {
		o.AddressLimit = Limit{N: 3, Window: time.Hour}
	}
	if o.DomainLimit.N <= 0 {
		o.DomainLimit = Limit{N: 50, Window: time.Hour}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TrustedProxies == nil {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	s := &Server{o: o, log: o.Logger, base: bu.Path, links: token.Links{Base: bu.Path, Secret: o.Secret},
		limits: newLimits(o), limitID: limitSecret(o.Secret),
		wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{}), retryWait: retryWait}
	var err error
	if s.pages, err = parsePages(o.Templates); err != nil {
		return nil, err
	}
	// Both trust base_url's origin: behind a reverse proxy, the Host the server sees may not be the
	// public one that browsers put in Origin.
	self := bu.Scheme + "://" + bu.Host
	s.cop, s.copSub = http.NewCrossOriginProtection(), http.NewCrossOriginProtection()
	origins := []string{self}
	if su, err := url.Parse(o.SiteURL); err == nil && su.Host != "" {
		origins = append(origins, su.Scheme+"://"+su.Host)
	}
	if err := s.cop.AddTrustedOrigin(self); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	for _, orig := range origins {
		if err := s.copSub.AddTrustedOrigin(orig); err != nil {
			return nil, fmt.Errorf("server: subscribe origin: %w", err)
		}
	}
	s.work, s.stop = context.WithCancel(context.Background())
	go s.worker(o.Now())
	return s, nil
}

// Timeouts of the HTTP server: the pages are small, so anything slower is a slow client or an attack.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	// ShutdownTimeout bounds how long Serve waits, once ctx is done, for the requests in flight and
	// then again for the sign-ups still queued.
	ShutdownTimeout = 15 * time.Second
)

// Serve answers on ln until ctx is done, then shuts down gracefully: it stops accepting connections,
// lets the requests in flight finish, then handles the sign-ups still queued, and Closes s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
		if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	dctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if cerr := s.Close(dctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// Close stops taking sign-ups and waits until the queued ones are handled (their confirmations sent),
// or until ctx is done, when what is left stays queued in the store for the next start. Later calls
// return nil.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.closing)
		select {
		case <-s.done:
		case <-ctx.Done():
			s.stop()
			<-s.done
			err = fmt.Errorf("sign-ups not handled before shutdown, kept for the next start: %w", ctx.Err())
		}
		s.stop()
	})
	return err
}

// flush waits until the store's queue is empty, every sign-up queued so far handled, or the worker has
// stopped (for tests).
func (s *Server) flush() {
	for {
		qs, err := s.o.Store.QueuedSignUps(context.Background(), 1)
		if err != nil || len(qs) == 0 {
			return
		}
		select {
		case <-s.done:
			return
		case <-time.After(time.Millisecond):
		}
	}
}
