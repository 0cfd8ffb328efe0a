package mailer

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func testConfirmation() Confirmation {
	return Confirmation{
		Email:   "ann@example.org",
		URL:     "https://news.example.com/confirm?token=abc_-123",
		Expires: sendDate.Add(7 * 24 * time.Hour),
	}
}

// TestConfirmHeaders: a confirmation is transactional: none of the list's headers, Auto-Submitted set,
// the link in both parts, and no name: the address alone, a greeting that names nobody.
func TestConfirmHeaders(t *testing.T) {
	o := testOptions()
	o.PostalAddress = "" // not required for a confirmation
	c := newTestComposer(t, o)
	cf := testConfirmation()
	m, err := c.Confirm(cf, "confirm/1/ann@example.org", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, messageBytes(t, m))
	want := []string{"Auto-Submitted", "Content-Type", "Date", "Feedback-Id", "From", "Message-Id", "Mime-Version", "Subject", "To"}
	if got := headerKeys(p.header); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got headers %v, want %v", got, want)
	}
	if got, want := p.header.Get("Feedback-ID"), "signup:blog.example.com:confirm:herald"; got != want {
		t.Errorf("got Feedback-ID %q, want %q", got, want)
	}
	if got := p.header.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("got Auto-Submitted %q, want auto-generated", got)
	}
	if got := p.header.Get("Subject"); got != "Confirm your subscription to Example Weblog" {
		t.Errorf("got Subject %q", got)
	}
	if got := p.header.Get("To"); got != "<ann@example.org>" {
		t.Errorf("got To %q, want the address alone", got)
	}
	for part, body := range map[string]string{"text": p.text, "html": p.html} {
		if !strings.Contains(body, cf.URL) {
			t.Errorf("the %s part has no confirm link:\n%s", part, body)
		}
		if !strings.Contains(body, "15 January 2025") && !strings.Contains(body, "22 January 2025") {
			t.Errorf("the %s part does not say until when the link works", part)
		}
		if !strings.Contains(body, "Hello,") {
			t.Errorf("the %s part does not greet with Hello:\n%s", part, body)
		}
		if strings.Contains(body, "unsubscribe") {
			t.Errorf("the %s part offers to unsubscribe from a list not joined yet", part)
		}
	}
}

func TestConfirmRefuses(t *testing.T) {
	c := newTestComposer(t, testOptions())
	for _, cf := range []Confirmation{
		{Email: "not an address", URL: "https://news.example.com/confirm?token=x"},
		{Email: "Ann <ann@example.org>", URL: "https://news.example.com/confirm?token=x"},
		{Email: "ann@example.org", URL: "/confirm?token=x"},
		{Email: "ann@example.org", URL: "javascript:alert(1)"},
	} {
		if _, err := c.Confirm(cf, "k", sendDate); err == nil {
			t.Errorf("Confirm(%+v) did not fail", cf)
		}
	}
}

func TestConfirmTemplateOverride(t *testing.T) {
	o := testOptions()
	o.Templates = fstest.MapFS{"confirm.txt": {Data: []byte("Press {{.Confirm.URL}} for {{.Site.Title}}.\n")}}
	m, err := newTestComposer(t, o).Confirm(testConfirmation(), "k", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Press https://news.example.com/confirm?token=abc_-123 for Example Weblog.\n"; m.Text != want {
		t.Errorf("got text %q, want %q", m.Text, want)
	}
}
