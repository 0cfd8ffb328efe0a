package feed

import (
	"math/bits"
	"unicode/utf8"
)

// appendJSONString appends s to dst as a JSON string, byte for byte as encoding/json writes it with
// SetEscapeHTML(false): `"` and `\` escaped, control characters as \b, \f, \n, \r, \t or \u00XX, U+2028
// and U+2029 as \u2028 and \u2029, and each byte of invalid UTF-8 as \ufffd. A full-archive JSON feed is
// a hundred megabytes of post HTML; encoding/json read it a byte at a time, behind reflection and a copy
// into its own buffer. FuzzAppendJSONString compares the two.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			m := jsonSpecial8(s[i : i+8])
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += n
			continue
		}
		i += n
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonSpecial8 has the high bit set of each of the 8 bytes of s (the first in the lowest) that
// appendJSONString must look at (below 0x20, `"`, `\`, or from 0x80 up), and maybe of some after the first
// such; its lowest bit set is always the first such byte's. A byte equal to c is a zero byte of x^c, which
// (y - 0x01...) & ^y finds, with borrows that flag only bytes after the first.
func jsonSpecial8(s string) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	quote, backslash := x^('"'*ones), x^('\\'*ones)
	return (x - 0x20*ones | x | (quote-ones)&^quote | (backslash-ones)&^backslash) & highs
}
