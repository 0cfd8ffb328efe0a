package mailer

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
)

// Outcome is what became of a message, as the delivery ledger records it.
type Outcome int

const (
	// Sent: the server accepted the message (its 250 after DATA).
	Sent Outcome = iota + 1
	// Deferred: not delivered, and worth trying again later: a 4xx reply, or a network error before the
	// end of DATA (the server cannot have the message).
	Deferred
	// Failed: refused for good (a 5xx reply), or the message itself is unusable: do not retry.
	Failed
	// Unknown: the connection died after the whole message was sent but before the server's reply. The
	// server may have it: do not resend it without being asked to.
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case Sent:
		return "sent"
	case Deferred:
		return "deferred"
	case Failed:
		return "failed"
	case Unknown:
		return "unknown"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Classify says what an error from Sender.Send means for the message, and gives a short reason: the SMTP
// stage and the server's reply as it sent it (code, enhanced status code, text), for the ledger and the
// summary; it holds no recipient address. nil is Sent. SMTPStatus gives the codes alone.
func Classify(err error) (Outcome, string) {
	if err == nil {
		return Sent, ""
	}
	var se *smtpError
	switch {
	case errors.As(err, &se):
		return se.classify()
	case errors.Is(err, errConnGone):
		return Deferred, "the connection was gone before the message was sent"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Deferred, "cancelled before the message was sent"
	}
	return Deferred, err.Error()
}

// The steps of an SMTP transaction, as smtpError and Classify name them.
const (
	stageConn     = "connection"
	stageEnvelope = "envelope"
	stageMail     = "MAIL FROM"
	stageRcpt     = "RCPT TO"
	stageData     = "DATA"
	stageWrite    = "sending the message"
	stageDataEnd  = "end of DATA"
)

// smtpError is a failed step of one message's SMTP transaction: the server's reply (a *textproto.Error)
// or a network error.
type smtpError struct {
	stage    string
	err      error
	enhanced bool // the server announced ENHANCEDSTATUSCODES (RFC 2034)
}

func (e *smtpError) Error() string { return e.stage + ": " + e.detail() }
func (e *smtpError) Unwrap() error { return e.err }

// code is the reply's code, or 0 for a network error.
func (e *smtpError) code() int {
	var te *textproto.Error
	if errors.As(e.err, &te) {
		return te.Code
	}
	return 0
}

// detail is the server's reply on one line ("550 5.1.1 No such user"), or the network error.
func (e *smtpError) detail() string {
	s := e.err.Error()
	var te *textproto.Error
	if errors.As(e.err, &te) {
		s = fmt.Sprintf("%03d %s", te.Code, te.Msg)
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "no reply"
	}
	return s
}

func (e *smtpError) classify() (Outcome, string) {
	reason := e.stage + ": " + e.detail()
	code := e.code()
	switch {
	case e.stage == stageEnvelope:
		return Failed, reason // the message has no usable sender: no retry can help
	case e.stage == stageDataEnd && code == 0:
		return Unknown, "connection lost after the message was sent, before the server's reply: " + e.detail()
	case e.stage == stageWrite:
		// The final "." was not sent, so the server cannot have taken the message.
		return Deferred, reason
	case code >= 500:
		return Failed, reason
	}
	return Deferred, reason // a 4xx, or a network error before the transaction ended
}

// SMTPStatus returns the SMTP reply code of a Send error (550) and its enhanced status code (5.1.1:
// no such mailbox, which the ledger counts towards marking an address bounced), or 0 and "" when the
// error carries no reply (a network error, a cancel).
func SMTPStatus(err error) (code int, enhanced string) {
	var se *smtpError
	if !errors.As(err, &se) {
		return 0, ""
	}
	code = se.code()
	if code == 0 {
		return 0, ""
	}
	// RFC 3463's code, of the reply's class, comes first in the text of most servers; one that announced
	// ENHANCEDSTATUSCODES has it somewhere in the text.
	class := strconv.Itoa(code)[0]
	if m := enhancedCode.FindStringSubmatch(se.detail()); m != nil && m[1][0] == class {
		return code, m[1]
	}
	if se.enhanced {
		for _, c := range enhancedAnywhere.FindAllString(se.detail(), -1) {
			if c[0] == class {
				return code, c
			}
		}
	}
	return code, ""
}

var (
	enhancedCode     = regexp.MustCompile(`^[245][0-9][0-9] ([245]\.[0-9]{1,3}\.[0-9]{1,3})\b`)
	enhancedAnywhere = regexp.MustCompile(`\b[245]\.[0-9]{1,3}\.[0-9]{1,3}\b`)
)
