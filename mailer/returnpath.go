package mailer

import (
	"fmt"
	"net/mail"
)

// SetReturnPath makes addr the message's envelope sender (SMTP's MAIL FROM, which the receiving server
// writes as Return-Path), where bounces go, in place of the From address: a VERP address that names the
// message's delivery lets a bounce be matched to it even when the bounce quotes nothing of the message.
// The headers, the From and the DKIM signature are unchanged.
func (m *Message) SetReturnPath(addr string) error {
	a, err := plainAddress(addr)
	if err != nil {
		return fmt.Errorf("mailer: return path %q: not an email address", addr)
	}
	m.from = (&mail.Address{Address: a}).String()
	return nil
}
