package posts

import (
	"bytes"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// linkify is goldmark's Linkify extension (GFM's autolinks) with the same parser's results found without its
// regexps: Go's regexp runs their "{1,256}" on its slowest engine (the program is too large for the
// backtracker), and the parser asks linkify at every space of every post: it was 4% of a full-archive
// build's CPU. newMarkdown puts it where extension.GFM puts goldmark's, before Table, Strikethrough and
// TaskList; FuzzLinkify compares the HTML with goldmark's own.
type linkify struct{}

// Extend registers linkifyParser as goldmark's Linkify registers its own, at the same priority.
func (linkify) Extend(m goldmark.Markdown) {
	m.Parser().AddOptions(parser.WithInlineParsers(util.Prioritized(linkifyParser{}, 999)))
}

// linkifyParser finds what goldmark's linkify parser finds, with its default options: a URL of http, https
// or ftp, one that starts with "www.", or an email address, after a space, at a line's start or after
// "*", "_", "~" or "(".
type linkifyParser struct{}

func (linkifyParser) Trigger() []byte { return []byte{' ', '*', '_', '~', '('} }

func (linkifyParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	if pc.IsInLinkLabel() {
		return nil
	}
	line, segment := block.PeekLine()
	consumes, start := 0, segment.Start
	if c := line[0]; c == ' ' || c == '*' || c == '_' || c == '~' || c == '(' {
		consumes, start, line = 1, start+1, line[1:]
	}
	typ := ast.AutoLinkURL
	var protocol []byte
	end := urlEnd(line)
	if end < 0 && len(line) > 0 && line[0] == 'w' && bytes.HasPrefix(line, []byte("www.")) {
		end = hostEnd(line, len("www."), wwwPathByte, false)
		protocol = []byte("http") // goldmark sets it on trying, so an email that starts "www." gets it too
	}
	if end < 0 {
		if end = emailEnd(line); end < 0 {
			return nil
		}
		typ = ast.AutoLinkEmail
	}
	if consumes != 0 {
		ast.MergeOrAppendTextSegment(parent, segment.WithStop(segment.Start+1))
	}
	i := trimLinkEnd(line, end)
	block.Advance(consumes + i)
	link := ast.NewAutoLink(typ, ast.NewTextSegment(text.NewSegment(start, start+i)))
	link.Protocol = protocol
	return link
}

// urlEnd is where goldmark's URL regexp ends its match at line's start, or -1:
// ^(?:http|https|ftp)://[host]{1,256}\.[a-z]+(?::\d+)?(?:[/#?][path]*)?
func urlEnd(line []byte) int {
	if len(line) == 0 || line[0] != 'h' && line[0] != 'f' {
		return -1 // most words: no prefix to compare
	}
	switch {
	case bytes.HasPrefix(line, []byte("http://")):
		return hostEnd(line, len("http://"), urlPathByte, true)
	case bytes.HasPrefix(line, []byte("https://")):
		return hostEnd(line, len("https://"), urlPathByte, true)
	case bytes.HasPrefix(line, []byte("ftp://")):
		return hostEnd(line, len("ftp://"), urlPathByte, true)
	}
	return -1
}

// hostEnd matches [host]{1,256}\.[a-z]+, then a port when port is set, then an optional path, from line[p],
// as a backtracking regexp would: the host takes as many bytes as it can (at most 256) and gives them back
// one at a time until a "." and a lower-case letter follow; all that follows is optional, and each part
// takes all it can. As "." is a host byte, the dot stands inside the run of host bytes. It returns the end,
// or -1.
func hostEnd(line []byte, p int, path *[256]bool, port bool) int {
	run := 0
	for p+run < len(line) && hostByte[line[p+run]] {
		run++
	}
	for n := min(run-1, 256); n >= 1; n-- {
		dot := p + n
		if line[dot] != '.' || dot+1 >= len(line) || !isLowerASCII(line[dot+1]) {
			continue
		}
		j := dot + 1
		for j < len(line) && isLowerASCII(line[j]) {
			j++
		}
		if port && j+1 < len(line) && line[j] == ':' && isDigitASCII(line[j+1]) {
			j += 2
			for j < len(line) && isDigitASCII(line[j]) {
				j++
			}
		}
		if j < len(line) && (line[j] == '/' || line[j] == '#' || line[j] == '?') {
			j++
			for j < len(line) && path[line[j]] {
				j++
			}
		}
		return j
	}
	return -1
}

// emailEnd is where goldmark's linkify ends an email address at line's start, or -1.
func emailEnd(line []byte) int {
	if len(line) > 0 && util.IsPunct(line[0]) {
		return -1
	}
	stop := util.FindEmailIndex(line)
	if stop < 0 {
		return -1
	}
	at := bytes.IndexByte(line, '@')
	if bytes.IndexByte(line[at:stop-1], '.') < 0 {
		return -1
	}
	if line[stop-1] == '.' {
		stop--
	}
	if stop < len(line) && (line[stop] == '-' || line[stop] == '_') {
		return -1
	}
	return stop
}

// trimLinkEnd drops from a match of line[:end] what GFM leaves out of an autolink: trailing punctuation,
// a ")" that closes no "(" inside, and an entity reference ("&amp;").
func trimLinkEnd(line []byte, end int) int {
	opening := bytes.Count(line[:end], []byte{'('})
	closing := bytes.Count(line[:end], []byte{')'})
	i := end
	for i > 1 {
		switch line[i-1] {
		case '?', '!', '.', ',', ':', '*', '_', '~':
			i--
		case ')':
			if closing <= opening {
				return i
			}
			closing--
			i--
		case ';':
			j := i - 2
			for j > 0 && util.IsAlphaNumeric(line[j]) {
				j--
			}
			if j == i-2 || line[j] != '&' {
				return i
			}
			i = j
		default:
			return i
		}
	}
	return i
}

func isLowerASCII(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigitASCII(c byte) bool { return '0' <= c && c <= '9' }

// byteSet is the set of the bytes of s, and of ASCII letters and digits.
func byteSet(s string) *[256]bool {
	var t [256]bool
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for i := range len(s) {
		t[s[i]] = true
	}
	return &t
}

// The character classes of goldmark's linkify regexps: [-a-zA-Z0-9@:%._\+~#=] for the host, and for the path
// [-a-zA-Z0-9@:%_+.~#$!?&/=\(\);,'">\^{}\[\]`] (a URL's) or the same without "$" (after "www.").
var (
	hostByte    = byteSet("-@:%._+~#=")
	urlPathByte = byteSet("-@:%_+.~#$!?&/=();,'\">^{}[]`")
	wwwPathByte = byteSet("-@:%_+.~#!?&/=();,'\">^{}[]`")
)
