// Command smtpsink is an SMTP server that accepts every message and throws it away: the fast peer of the
// mail benchmarks (bench/send.sh, bench/ledger.sh). It counts what it took and prints the count when
// stopped. With -delay it waits that long before each reply to MAIL, RCPT and the end of DATA, as a server
// across a network does.
//
//	smtpsink [-delay 1ms] 127.0.0.1:PORT
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald/internal/smtpsink"
)

var received atomic.Int64

func main() {
	delay := flag.Duration("delay", 0, "how long to wait before each reply to MAIL, RCPT and the end of DATA")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: smtpsink [-delay 1ms] 127.0.0.1:PORT")
		os.Exit(2)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return smtpsink.Session{Delay: *delay, Received: &received}, nil
	}))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		fmt.Printf("smtpsink: %d messages\n", received.Load())
		os.Exit(0)
	}()
	log.Fatal(s.Serve(l))
}
