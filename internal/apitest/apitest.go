// Package apitest runs stand-ins for the email providers' HTTP APIs in tests: small in-process servers for
// Postmark, Mailgun and Resend that check each request against the provider's published API reference and
// answer as it documents, and the SES emulator aws-ses-v2-local (an npm package) as a child process.
//
// A request that breaks the reference fails the test that made it (and is answered with the provider's
// documented error): a server that accepted anything would let a wrong request pass.
package apitest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Kind names a provider.
type Kind string

const (
	Postmark Kind = "postmark"
	Mailgun  Kind = "mailgun"
	Resend   Kind = "resend"
)

// Message is one message a server accepted.
type Message struct {
	To        string            // the recipient's address
	MessageID string            // its Message-ID header, with the angle brackets
	Subject   string            // as the recipient reads it
	Headers   map[string]string // Postmark, Resend: the custom headers; Mailgun: the message's headers
	Text      string            // Postmark, Resend: the text part
	HTML      string            // Postmark, Resend: the HTML part
	Raw       []byte            // Mailgun: the MIME as posted
	Key       string            // Resend: the Idempotency-Key
	Metadata  map[string]string // Postmark: the Metadata, which its webhooks echo
	ID        string            // the id the server gave it
}

// Server is a running stand-in for one provider.
type Server struct {
	Kind   Kind
	URL    string // its base URL, for the transport's endpoint
	Key    string // the token or key it takes
	Domain string // Mailgun: the sending domain it knows

	t        testing.TB
	mu       sync.Mutex
	refuse   func(to string, n int) (status int, body string)
	onStore  func(total int)
	msgs     []Message
	requests int
	byKey    map[string]keyed // Resend's idempotency keys
}

type keyed struct{ body, id string }

// Start starts a stand-in for kind on a loopback port until the test ends.
func Start(t testing.TB, kind Kind) *Server {
	t.Helper()
	s := &Server{Kind: kind, Key: "test-key-" + string(kind), Domain: "mg.blog.example.com", t: t, byKey: map[string]keyed{}}
	var h http.HandlerFunc
	switch kind {
	case Postmark:
		h = s.postmark
	case Mailgun:
		h = s.mailgun
	case Resend:
		h = s.resend
	default:
		t.Fatalf("apitest: unknown provider %q", kind)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Refuse makes the server ask f about each valid request before it is stored, with the recipient and the
// request's number (from 1): a status other than 0 is answered with body instead. nil stops it.
func (s *Server) Refuse(f func(to string, n int) (status int, body string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = f
}

// OnStore makes the server call f after a message is stored and before its answer is written, with the
// number stored so far. nil stops it.
func (s *Server) OnStore(f func(total int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onStore = f
}

// Messages returns what the server accepted, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// ByRecipient groups the accepted messages by recipient.
func (s *Server) ByRecipient() map[string][]Message {
	m := map[string][]Message{}
	for _, msg := range s.Messages() {
		m[msg.To] = append(m[msg.To], msg)
	}
	return m
}

// Requests is how many requests the server answered, valid or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// violation fails the test for a request that breaks the provider's reference.
func (s *Server) violation(format string, args ...any) {
	s.t.Errorf("apitest: %s: a request breaks the API reference: %s", s.Kind, fmt.Sprintf(format, args...))
}

// count counts a request and returns its number.
func (s *Server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	return s.requests
}

// store keeps msg, calls OnStore, and returns the id it gets.
func (s *Server) store(msg Message) string {
	s.mu.Lock()
	msg.ID = fmt.Sprintf("%s-%06d", s.Kind, len(s.msgs)+1)
	s.msgs = append(s.msgs, msg)
	n, hook := len(s.msgs), s.onStore
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return msg.ID
}

// refused asks Refuse, and writes its answer when it refuses.
func (s *Server) refused(w http.ResponseWriter, to string, n int) bool {
	s.mu.Lock()
	refuse := s.refuse
	s.mu.Unlock()
	if refuse == nil {
		return false
	}
	status, body := refuse(to, n)
	if status == 0 {
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write([]byte(body))
	return true
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// headerNames lists a header map's names, for messages.
func headerNames(h map[string]string) string {
	var n []string
	for k := range h {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}
