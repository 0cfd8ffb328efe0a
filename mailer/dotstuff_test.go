package mailer

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/textproto"
	"testing"
)

// FuzzDotStuffed: what appendStuffed puts on the wire after DATA, the terminating "." included, is what
// textproto's DotWriter writes for the same bytes, whatever they are: leading dots, bare LFs and CRs,
// runs of CRs before an LF. A message that does not end in CRLF, or ends in CR CR LF, is left to the
// DotWriter: appendStuffed says so, and only then.
func FuzzDotStuffed(f *testing.F) {
	for _, s := range []string{
		"Subject: x\r\n\r\nbody\r\n",
		".\r\n",
		"..\r\n.a\r\n",
		"a\n.b\r\n",
		"a\r\r\n.b\r\n",
		"a\r\r\r\n.b\r\n",
		"\r\n\r\n",
		"a\rb\r\n.\r\r\n",
		"no final line break",
		"ends in CR\r",
		"ends in LF\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want bytes.Buffer
		tw := textproto.NewWriter(bufio.NewWriter(&want))
		dw := tw.DotWriter()
		dw.Write(raw)
		if err := dw.Close(); err != nil {
			t.Fatal(err)
		}
		got, ok := appendStuffed([]byte("kept"), raw)
		leftOut := !bytes.HasSuffix(raw, []byte("\r\n")) || bytes.HasSuffix(raw, []byte("\r\r\n"))
		switch {
		case ok == leftOut:
			t.Errorf("for %q: got ok %v, want %v", raw, ok, !leftOut)
		case !ok && string(got) != "kept":
			t.Errorf("for %q: got %q appended to what was there, want nothing", raw, got)
		case ok && !bytes.Equal(got, append([]byte("kept"), want.Bytes()...)):
			t.Errorf("for %q: got %q, want %q", raw, got[len("kept"):], want.Bytes())
		}
	})
}

// BenchmarkDotStuffed writes a message of 25 kB after DATA to a loopback TCP connection, through
// textproto's DotWriter and as SMTPSender.data does: go test ./mailer -run '^$' -bench DotStuffed
func BenchmarkDotStuffed(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
		}
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var raw []byte
	for len(raw) < 25<<10 {
		raw = append(raw, "Some text of the post, as quoted-printable lines of at most 76 characters=\r\n"...)
	}
	tw := textproto.NewWriter(bufio.NewWriter(conn))
	b.Run("DotWriter", func(b *testing.B) {
		for b.Loop() {
			dw := tw.DotWriter()
			dw.Write(raw)
			if err := dw.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendStuffed", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = appendStuffed(buf[:0], raw)
			if _, err := tw.W.Write(buf); err != nil {
				b.Fatal(err)
			}
			if err := tw.W.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
