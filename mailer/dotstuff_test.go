package mailer

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// FuzzDotStuffed: what writeStuffed puts on the wire after DATA, the terminating "." included, is what
// textproto's DotWriter writes for the same bytes, whatever they are: leading dots, bare LFs and CRs,
// runs of CRs before an LF, a message that does not end in CRLF.
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
		var want, got bytes.Buffer
		tw := textproto.NewWriter(bufio.NewWriter(&want))
		dw := tw.DotWriter()
		dw.Write(raw)
		if err := dw.Close(); err != nil {
			t.Fatal(err)
		}

		tw = textproto.NewWriter(bufio.NewWriter(&got))
		dw = tw.DotWriter()
		if _, err := writeStuffed(tw.W, dw, raw, nil); err != nil {
			t.Fatal(err)
		}
		if err := dw.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("for %q: got %q, want %q", raw, got.Bytes(), want.Bytes())
		}
	})
}
