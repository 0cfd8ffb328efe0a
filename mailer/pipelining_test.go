package mailer

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestPipelinedEnvelope: to a server that offers PIPELINING, MAIL FROM, RCPT TO and DATA go out together,
// before the reply to MAIL FROM; to one that does not, RCPT TO waits for it (RFC 2920 §3.1). The server is
// a script on a raw connection, which sees when each command arrives.
func TestPipelinedEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pipelining bool
	}{{"offered", true}, {"not offered", false}} {
		t.Run(tc.name, func(t *testing.T) {
			early := make(chan string, 1) // the commands that came before the reply to MAIL FROM
			ext := "8BITMIME"
			if tc.pipelining {
				ext = "PIPELINING"
			}
			s := scriptServer(t, ext, func(sc *script) {
				c, r, say := sc.c, sc.r, sc.say
				if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "MAIL FROM:") {
					early <- "no MAIL FROM"
					return
				}
				var before []string
				c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				for len(before) < 2 {
					line, err := r.ReadString('\n')
					if err != nil {
						break
					}
					before = append(before, strings.TrimSpace(strings.SplitN(line, ":", 2)[0]))
				}
				c.SetReadDeadline(time.Time{})
				early <- strings.Join(before, ", ")
				say("250 sender ok")
				if len(before) == 0 { // RCPT TO waited for the reply
					r.ReadString('\n')
				}
				say("250 recipient ok")
				if len(before) < 2 { // DATA too
					r.ReadString('\n')
				}
				say("354 go on")
				for {
					if line, err := r.ReadString('\n'); err != nil || line == ".\r\n" {
						break
					}
				}
				say("250 queued")
				r.ReadString('\n') // QUIT
				say("221 bye")
			})
			c := newTestComposer(t, testOptions())
			m, err := c.Post(testRecipient(), testPosts()[0], "delivery/1", sendDate)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			s.Close()
			want := ""
			if tc.pipelining {
				want = "RCPT TO, DATA"
			}
			if got := <-early; got != want {
				t.Errorf("before the reply to MAIL FROM came %q, want %q", got, want)
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
	sendTwo(t, s, "MAIL FROM", Deferred)
	if got := len(ts.messages()); got != 1 {
		t.Errorf("the server got %d messages, want 1", got)
	}
}

// TestPipelinedDataAfterRefusal: a server that takes a pipelined DATA though it refused the recipient gets a
// lone "." (RFC 2920 §3.1), none of the message; the send fails at RCPT TO, and the connection carries the
// next message.
func TestPipelinedDataAfterRefusal(t *testing.T) {
	got := make(chan string, 1) // what came after the first 354
	s := scriptServer(t, "PIPELINING", func(sc *script) {
		r, say, read := sc.r, sc.say, sc.read
		read() // MAIL FROM
		read() // RCPT TO
		read() // DATA
		say("250 sender ok")
		say("550 5.1.1 no such user")
		say("354 go on, wrongly")
		got <- read()
		say("554 5.5.1 no valid recipients")
		if line := read(); line != "RSET\r\n" {
			return
		}
		say("250 reset")
		read() // MAIL FROM
		read() // RCPT TO
		read() // DATA
		say("250 sender ok")
		say("250 recipient ok")
		say("354 go on")
		for {
			if line, err := r.ReadString('\n'); err != nil || line == ".\r\n" {
				break
			}
		}
		say("250 queued")
		read() // QUIT
		say("221 bye")
	})
	sendTwo(t, s, "RCPT TO", Failed)
	if line := <-got; line != ".\r\n" {
		t.Errorf("after the wrongly taken DATA came %q, want a lone \".\"", line)
	}
}

// sendTwo sends two messages on s: the first must fail at stage with outcome, the second go out.
func sendTwo(t *testing.T, s *SMTPSender, stage string, outcome Outcome) {
	t.Helper()
	c := newTestComposer(t, testOptions())
	for i, want := range []string{stage, ""} {
		m, err := c.Post(testRecipient(), testPosts()[0], fmt.Sprintf("delivery/%d", i), sendDate)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(t.Context(), m)
		if got, reason := Classify(err); !strings.HasPrefix(reason, want) || (want == "") != (err == nil) || (want != "" && got != outcome) {
			t.Errorf("message %d: got %v (%s, %q), want a failure at %q (%s)", i, err, got, reason, want, outcome)
		}
	}
}

// TestPipelinedServerGaveUp: a server waiting for the content of a pipelined DATA while the ledger
// writes may give up meanwhile (a timeout): with a 554 and a 421 (go-smtp), a 421, or by just closing.
// None of the message goes out after that, and the send is Deferred: the server cannot have it. Sent
// anyway, the message got a lost reply (Unknown) or the 554 of the wait (Failed).
func TestPipelinedServerGaveUp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		giveUp func(c net.Conn) // after the 354
	}{
		{"closes", func(c net.Conn) { c.Close() }},
		{"421 and closes", func(c net.Conn) { fmt.Fprint(c, "421 4.4.2 timeout\r\n"); c.Close() }},
		{"554, then 421 and closes", func(c net.Conn) {
			fmt.Fprint(c, "554 5.0.0 Error: transaction failed: i/o timeout\r\n421 4.4.2 Idle timeout, bye bye\r\n")
			c.Close()
		}},
		{"554, and waits", func(c net.Conn) { fmt.Fprint(c, "554 5.0.0 Error: transaction failed: i/o timeout\r\n") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gaveUp := make(chan struct{})
			after := make(chan string, 1) // what came after the server gave up
			m := testMessages(t, 1)[0]
			s := scriptServer(t, "PIPELINING", func(sc *script) {
				c, say, read := sc.c, sc.say, sc.read
				read() // MAIL FROM
				read() // RCPT TO
				read() // DATA
				say("250 sender ok\r\n250 recipient ok\r\n354 go on")
				tc.giveUp(c)
				close(gaveUp)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				after <- read()
			})
			err := s.SendAfter(t.Context(), m, func() error {
				<-gaveUp
				time.Sleep(50 * time.Millisecond) // for the server's bytes to come in
				return nil
			})
			checkOutcome(t, err, Deferred, "DATA")
			if got := <-after; got != "" {
				t.Errorf("after the server gave up came %q, want nothing", got)
			}
		})
	}
}

// TestPipelinedServerTimeout: go-smtp, whose DATA times out while the ledger writes, has no message, and
// the send is Deferred. The message is composed before the connection opens, and the server's timeout is
// half a second, so that only the ledger's wait (three times as long) outlasts it, even under -race on a
// loaded machine (with 200 ms and the message composed after the dial, the server once timed out before
// MAIL FROM).
func TestPipelinedServerTimeout(t *testing.T) {
	m := testMessages(t, 1)[0]
	ts := startServer(t, false, nil, func(s *smtp.Server, _ *testServer) { s.ReadTimeout = 500 * time.Millisecond })
	s := dial(t, ts.config())
	err := s.SendAfter(t.Context(), m, func() error { time.Sleep(1500 * time.Millisecond); return nil })
	checkOutcome(t, err, Deferred, "DATA")
	if n := len(ts.messages()); n != 0 {
		t.Errorf("the server has %d messages, want 0", n)
	}
}

// TestPipelinedReadyOverTLS: over TLS, what the socket holds is TLS records, not replies; the look for a
// server that gave up finds none after a wait for the ledger, and each message goes out.
func TestPipelinedReadyOverTLS(t *testing.T) {
	cert := selfSignedCert(t)
	for _, implicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("implicit %v", implicit), func(t *testing.T) {
			var opts []serverOption
			mode := TLSStartTLS
			if implicit {
				mode = TLSImplicit
			} else {
				opts = append(opts, withSTARTTLS(t))
			}
			ts := startServer(t, implicit, nil, opts...)
			s := dial(t, SMTPConfig{Host: "127.0.0.1", Port: ts.port, TLS: mode, HELO: "herald.test",
				TLSConfig: &tls.Config{RootCAs: cert.pool}, Timeout: 5 * time.Second})
			for _, m := range testMessages(t, 3) {
				err := s.SendAfter(t.Context(), m, func() error { time.Sleep(20 * time.Millisecond); return nil })
				checkOutcome(t, err, Sent, "")
			}
			if got := ts.messages(); len(got) != 3 || !got[0].tls {
				t.Errorf("the server has %d messages (TLS %v), want 3 over TLS", len(got), len(got) > 0 && got[0].tls)
			}
		})
	}
}

// script is a test server's end of a raw connection, spoken a line at a time.
type script struct {
	c net.Conn
	r *bufio.Reader
}

func (s *script) say(line string) { fmt.Fprintf(s.c, "%s\r\n", line) }

func (s *script) read() string {
	line, _ := s.r.ReadString('\n')
	return line
}

// scriptServer starts a server on a loopback port that greets, answers EHLO offering ext ("PIPELINING"),
// and then runs play on the connection; it returns a sender connected to it. The script sees when each
// command arrives, which a library's server hides.
func scriptServer(t *testing.T, ext string, play func(s *script)) *SMTPSender {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		s := &script{c: c, r: bufio.NewReader(c)}
		s.say("220 script ESMTP")
		s.read() // EHLO
		s.say("250-script\r\n250 " + ext)
		play(s)
	}()
	return dial(t, SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: TLSNone, HELO: "herald.test", Timeout: 5 * time.Second})
}

// TestPipelinedLoneDotFails: when the lone "." after a DATA taken despite a refused recipient cannot go
// out, the result is still the refusal (Failed at RCPT TO), not a network error (Deferred), and the
// connection is closed.
func TestPipelinedLoneDotFails(t *testing.T) {
	sender := make(chan *SMTPSender, 1)
	s := scriptServer(t, "PIPELINING", func(sc *script) {
		sc.read() // MAIL FROM
		sc.read() // RCPT TO
		sc.read() // DATA
		sc.say("250 sender ok")
		sc.say("550 5.1.1 no such user")
		// Before the 354 reaches it, the client's side of the connection stops sending: its "." fails.
		snd := <-sender
		snd.mu.Lock()
		conn := snd.conn
		snd.mu.Unlock()
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Error(err)
		}
		sc.say("354 go on, wrongly")
		sc.read()
	})
	sender <- s
	c := newTestComposer(t, testOptions())
	m, err := c.Post(testRecipient(), testPosts()[0], "delivery/1", sendDate)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(t.Context(), m)
	if got, reason := Classify(err); got != Failed || !strings.HasPrefix(reason, "RCPT TO") || !errors.Is(err, errClosed) {
		t.Errorf("got %v (%s, %q), want Failed at RCPT TO, the connection closed", err, got, reason)
	}
	if err := s.Send(t.Context(), m); !errors.Is(err, errConnGone) {
		t.Errorf("the next send: got %v, want the connection gone", err)
	}
}
