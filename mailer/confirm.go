package mailer

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// Confirmation is what a confirmation email (double opt-in) needs: whom it is for and the link that
// confirms the subscription. It has no name: the sign-up form's name is whatever a stranger typed,
// and mailing it, signed by the site, to any address would make the form a way to send spam.
type Confirmation struct {
	Email   string
	URL     string    // the absolute http(s) confirm link, with its token
	Expires time.Time // when the link stops working, as the email tells the reader
}

// Confirm composes the email that asks someone who signed up on the web form to confirm. See Post for
// key and date.
//
// It is a transactional message, asked for by its reader a moment before, not a message of the list:
// it has no List-Id, List-Unsubscribe or Precedence: bulk (there is nothing to unsubscribe from yet,
// and a one-click unsubscribe that a mail provider fires on a pending address would be meaningless),
// and it carries Auto-Submitted: auto-generated (RFC 3834) so that vacation responders do not answer
// it. The postal address is shown when set but not required.
func (c *Composer) Confirm(cf Confirmation, key string, date time.Time) (*Message, error) {
	addr, err := plainAddress(cf.Email)
	if err != nil {
		return nil, errors.New("mailer: the recipient's address is not an email address") // the address stays out of logs
	}
	u, err := url.Parse(cf.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("mailer: confirm URL: want an absolute http(s) URL")
	}
	d := &TemplateData{Lang: c.o.Lang, CSS: htmltemplate.CSS(c.css), PostalAddress: strings.TrimSpace(c.o.PostalAddress)}
	d.Site.Title = sanitize(c.o.SiteTitle)
	d.Site.URL = c.o.SiteURL
	d.Recipient.Email = addr
	d.Confirm = &TemplateConfirm{URL: u.String(), Expires: cf.Expires}
	d.Subject = sanitize("Confirm your subscription to " + d.Site.Title)

	// Not through the inliner's frame cache: every confirmation has its own link, so nothing repeats.
	var b bytes.Buffer
	if err := c.confirmHTML.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("mailer: confirm HTML template: %w", err)
	}
	html, err := transform(b.String())
	if err != nil {
		return nil, fmt.Errorf("mailer: inline the stylesheet: %w", err)
	}
	b.Reset()
	if err := c.confirmText.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("mailer: confirm text template: %w", err)
	}
	text := b.String()

	id, boundary := c.messageID(key)
	gen := []field{{"Subject", encodeText(d.Subject)}, {"Date", date.Format(time.RFC1123Z)}, {"Message-ID", id},
		{"Auto-Submitted", "auto-generated"}, {"Feedback-ID", feedbackID("signup", c.feedbackHost, "confirm")}}
	to := (&mail.Address{Address: d.Recipient.Email}).String()
	raw, err := c.writeMessage(gen, to, boundary, qpSize(text)+qpSize(html), encoded(text), encoded(html), date)
	if err != nil {
		return nil, err
	}
	return &Message{To: d.Recipient.Email, MessageID: id, Subject: d.Subject, Date: date, HTML: html, Text: text,
		from: c.envelopeFrom, rcpt: (&mail.Address{Address: d.Recipient.Email}).String(), raw: raw}, nil
}
