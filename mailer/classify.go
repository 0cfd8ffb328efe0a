package mailer

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"

	gomail "github.com/wneessen/go-mail"
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
	var se *gomail.SendError
	switch {
	case errors.As(err, &se):
		return classifySendError(se)
	case errors.Is(err, errConnGone):
		return Deferred, "the connection was gone before the message was sent"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Deferred, "cancelled before the message was sent"
	}
	return Deferred, err.Error()
}

func classifySendError(se *gomail.SendError) (Outcome, string) {
	detail := sendErrorDetail(se)
	if se.Reason == gomail.ErrSMTPReset || se.Msg() != nil && se.Msg().IsDelivered() {
		// go-mail resets the connection after the server's 250; a failure there does not undo delivery.
		return Sent, "delivered; then: " + detail
	}
	code := se.ErrorCode()
	byCode := func(stage string) (Outcome, string) {
		reason := stage + ": " + detail
		switch {
		case code >= 500:
			return Failed, reason
		case code >= 400:
			return Deferred, reason
		}
		return Deferred, reason // a network error: the transaction had not ended
	}
	switch se.Reason {
	case gomail.ErrSMTPMailFrom:
		return byCode("MAIL FROM")
	case gomail.ErrSMTPRcptTo:
		return byCode("RCPT TO")
	case gomail.ErrSMTPData:
		return byCode("DATA")
	case gomail.ErrSMTPDataClose:
		if code == 0 {
			return Unknown, "connection lost after the message was sent, before the server's reply: " + detail
		}
		return byCode("end of DATA")
	case gomail.ErrWriteContent:
		// The final "." was not sent, so the server cannot have taken the message.
		return Deferred, "sending the message: " + detail
	case gomail.ErrConnCheck:
		return Deferred, "connection: " + detail
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		return Failed, se.Reason.String() + ": " + detail
	}
	return Unknown, se.Reason.String() + ": " + detail
}

// sendErrorDetail is go-mail's error text without its stage (which Classify names itself) and without
// the recipients' addresses and the Message-ID that it appends.
func sendErrorDetail(se *gomail.SendError) string {
	s := strings.TrimPrefix(se.Error(), se.Reason.String())
	s = strings.TrimPrefix(s, ":")
	for _, tail := range []string{", affected recipient(s): ", ", affected message ID: "} {
		if i := strings.Index(s, tail); i >= 0 {
			s = s[:i]
		}
	}
	s = strings.TrimSpace(s)
	// go-mail quotes the server's text: 550 "5.1.1 No such user".
	if m := quotedReply.FindStringSubmatch(s); m != nil {
		if text, err := strconv.Unquote(m[2]); err == nil {
			s = m[1] + " " + text + m[3]
		}
	}
	if s == "" {
		s = "no reply"
	}
	return s
}

var quotedReply = regexp.MustCompile(`^([2-5][0-9][0-9]) ("(?:[^"\\]|\\.)*")(.*)$`)

// SMTPStatus returns the SMTP reply code of a Send error (550) and its enhanced status code (5.1.1:
// no such mailbox, which the ledger counts towards marking an address bounced), or 0 and "" when the
// error carries no reply (a network error, a cancel).
func SMTPStatus(err error) (code int, enhanced string) {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return 0, ""
	}
	code, enhanced = se.ErrorCode(), se.EnhancedStatusCode()
	if code != 0 && enhanced == "" {
		// go-mail takes it only from servers that announce ENHANCEDSTATUSCODES; most put it first
		// in their text anyway.
		if m := enhancedCode.FindStringSubmatch(sendErrorDetail(se)); m != nil && m[1][0] == strconv.Itoa(code)[0] {
			enhanced = m[1]
		}
	}
	return code, enhanced
}

var enhancedCode = regexp.MustCompile(`^[245][0-9][0-9] ([245]\.[0-9]{1,3}\.[0-9]{1,3})\b`)
