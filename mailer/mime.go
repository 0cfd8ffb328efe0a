package mailer

import (
	"bytes"
	"mime"
	"mime/quotedprintable"
	"slices"
	"strings"
	"time"
)

// Herald writes its messages itself, in the shape go-mail gave them when it composed them (the golden
// files in testdata hold that shape): the generic headers sorted by name, each folded at spaces before
// 76 characters, then From, To and the multipart/alternative Content-Type; a quoted-printable text part,
// then the HTML part. Writing them here lets a prepared email be filled in and encoded once per
// recipient, without building a go-mail message and encoding both parts again for each.

// field is one generic header field, its value printable ASCII already (encodeText, phrase).
type field struct{ name, value string }

// partHeaders are each part's own headers, as mime/multipart writes them (sorted).
const (
	textPartHeader = "Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
	htmlPartHeader = "Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n"
)

// writeMessage writes a whole message: its headers, then the two parts, which text and html append
// encoded to the message's bytes (size is about what they add). With DKIM keys, each signature covers the
// message as written without any of them, and they go first among the headers, in the keys' order.
func (c *Composer) writeMessage(gen []field, to, boundary string, size int, text, html func([]byte) []byte, date time.Time) ([]byte, error) {
	gen = append(gen, field{"MIME-Version", "1.0"})
	var h bytes.Buffer
	c.writeHead(&h, gen, to, boundary)
	b := c.buffer(h.Len() + size + len(textPartHeader) + len(htmlPartHeader) + 4*len(boundary) + 512)
	b = append(b, h.Bytes()...)
	head := len(b)
	b = append(b, "--"+boundary+"\r\n"+textPartHeader...)
	b = text(b)
	b = append(b, "\r\n--"+boundary+"\r\n"+htmlPartHeader...)
	b = html(b)
	b = append(b, "\r\n--"+boundary+"--\r\n"...)
	if len(c.dkim) == 0 {
		return b, nil
	}
	sigs, err := signAll(c.dkim, b[:head-2], b[head:], date)
	if err != nil {
		return nil, err
	}
	h.Reset()
	c.writeHead(&h, append(gen, sigs...), to, boundary)
	signed := append(h.Bytes(), b[head:]...)
	b = b[:0]
	c.bufs.Put(&b)
	return signed, nil
}

// qpSize is about the length of s encoded, when it is mostly ASCII.
func qpSize(s string) int { return len(s) + len(s)/8 + 64 }

// encoded returns a writeMessage part that appends s encoded.
func encoded(s string) func([]byte) []byte {
	return func(b []byte) []byte { return appendQP(b, s) }
}

// writeHead writes the header section and the blank line after it.
func (c *Composer) writeHead(b *bytes.Buffer, gen []field, to, boundary string) {
	slices.SortStableFunc(gen, func(a, b field) int { return strings.Compare(a.name, b.name) })
	for _, f := range gen {
		// What go-mail's SetGenHeader did to every value: nothing, to the printable ASCII Herald
		// writes, but a URL may carry other bytes in its query.
		writeField(b, f.name, mime.QEncoding.Encode("UTF-8", f.value))
	}
	writeField(b, "From", c.fromHeader)
	writeField(b, "To", to)
	b.WriteString("Content-Type: multipart/alternative;\r\n boundary=" + boundary + "\r\n\r\n")
}

// writeField writes one header field folded as go-mail folds it: a line break (and a space) goes before a
// word that would reach the 76th character, never inside a word, and no space is left before a break.
func writeField(b *bytes.Buffer, name, value string) {
	const maxLen = 76
	var f strings.Builder
	f.Grow(len(name) + len(value) + 16)
	left := maxLen - 2 - len(name) - 2
	f.WriteString(name)
	f.WriteString(": ")
	words := strings.Split(value, " ")
	for i, word := range words {
		if left-len(word) <= 1 {
			f.WriteString("\r\n ")
			left = maxLen - 3
		}
		f.WriteString(word)
		if i < len(words)-1 {
			f.WriteByte(' ')
			left--
		}
		left -= len(word)
	}
	b.WriteString(strings.ReplaceAll(f.String(), " \r\n", "\r\n"))
	b.WriteString("\r\n")
}

// appendQP appends s quoted-printable encoded, as mime/quotedprintable's Writer encodes it.
func appendQP(dst []byte, s string) []byte {
	a := appender(dst)
	w := quotedprintable.NewWriter(&a)
	w.Write([]byte(s)) // an appender does not fail
	w.Close()
	return a
}

type appender []byte

func (a *appender) Write(p []byte) (int, error) {
	*a = append(*a, p...)
	return len(p), nil
}
