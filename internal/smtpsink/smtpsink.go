// Package smtpsink is the SMTP session of the mail benchmarks' sink: it accepts every message and throws
// it away, counting it, and with a delay waits that long before each reply to MAIL, RCPT and the end of
// DATA, as a server across a network does. bench/smtpsink serves it in a process of its own, and
// cmd/herald's send benchmarks in theirs.
package smtpsink

import (
	"io"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Session is one connection's session; Received, when set, counts the messages taken.
type Session struct {
	Delay    time.Duration
	Received *atomic.Int64
}

func (s Session) Mail(string, *smtp.MailOptions) error {
	time.Sleep(s.Delay)
	return nil
}

func (s Session) Rcpt(string, *smtp.RcptOptions) error {
	time.Sleep(s.Delay)
	return nil
}

func (s Session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if s.Received != nil {
		s.Received.Add(1)
	}
	time.Sleep(s.Delay)
	return nil
}

func (Session) Reset()        {}
func (Session) Logout() error { return nil }
