package mailer

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestPipelinedEnvelope: to a server that offers PIPELINING, MAIL FROM and RCPT TO go out together, before
// the reply to MAIL FROM; to one that does not, RCPT TO waits for it (RFC 2920 §3.1). The server is a
// script on a raw connection, which sees when each command arrives.
func TestPipelinedEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pipelining bool
	}{{"offered", true}, {"not offered", false}} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			early := make(chan bool, 1) // whether RCPT TO came before the reply to MAIL FROM
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				r := bufio.NewReader(c)
				say := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
				say("220 script ESMTP")
				r.ReadString('\n') // EHLO
				if tc.pipelining {
					say("250-script\r\n250 PIPELINING")
				} else {
					say("250-script\r\n250 8BITMIME")
				}
				if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "MAIL FROM:") {
					early <- false
					return
				}
				c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				line, err := r.ReadString('\n')
				early <- err == nil && strings.HasPrefix(line, "RCPT TO:")
				c.SetReadDeadline(time.Time{})
				say("250 sender ok")
				if err != nil { // RCPT TO waited for the reply
					r.ReadString('\n')
				}
				say("250 recipient ok")
				r.ReadString('\n') // DATA
				say("354 go on")
				for {
					if line, err := r.ReadString('\n'); err != nil || line == ".\r\n" {
						break
					}
				}
				say("250 queued")
				r.ReadString('\n') // QUIT
				say("221 bye")
			}()
			port := l.Addr().(*net.TCPAddr).Port
			s, err := DialSMTP(t.Context(), SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone, HELO: "herald.test", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			c := newTestComposer(t, testOptions())
			m, err := c.Post(testRecipient(), testPosts()[0], "delivery/1", sendDate)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if got := <-early; got != tc.pipelining {
				t.Errorf("RCPT TO before the reply to MAIL FROM: got %v, want %v", got, tc.pipelining)
			}
		})
	}
}

// TestPipelinedEnvelopeRefused: when the server refuses a pipelined MAIL FROM, the send fails at MAIL FROM,
// its RCPT TO's reply is read, and the connection carries the next message.
func TestPipelinedEnvelopeRefused(t *testing.T) {
	refused := false
	ts := startServer(t, false, func(ts *testServer) {
		ts.mail = func(_ *smtp.Conn, from string) error {
			if !refused {
				refused = true
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "not now"}
			}
			return nil
		}
	})
	s, err := DialSMTP(t.Context(), ts.config())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newTestComposer(t, testOptions())
	for i, want := range []string{"MAIL FROM", ""} {
		m, err := c.Post(testRecipient(), testPosts()[0], fmt.Sprintf("delivery/%d", i), sendDate)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(t.Context(), m)
		if _, reason := Classify(err); !strings.HasPrefix(reason, want) || (want == "") != (err == nil) {
			t.Errorf("message %d: got %v (%q), want a failure at %q", i, err, reason, want)
		}
	}
	if got := len(ts.messages()); got != 1 {
		t.Errorf("the server got %d messages, want 1", got)
	}
}
