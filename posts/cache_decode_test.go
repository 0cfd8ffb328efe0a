package posts

import (
	"encoding/binary"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// allocated returns the bytes that f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCacheCountAmplification: a crafted count makes a list no larger than the bytes that could hold its
// elements would: at most 16 bytes (a string's header) for each byte of input, whatever the element. A
// count of authors or entries checked against one byte an element asked for 48 bytes a byte: 12 GB for a
// cache of maxCacheBytes.
func TestCacheCountAmplification(t *testing.T) {
	const n = 1 << 20
	body := func(head []byte) string {
		return string(append(binary.AppendUvarint(head, n), make([]byte, n)...))
	}
	post := []byte{isPost}
	post = append(post, make([]byte, 8+4*2)...) // eight empty strings, four times of 0 seconds
	key := "k"
	for _, c := range []struct {
		name  string
		input string
		read  func(s string)
	}{
		{"authors", body(post), func(s string) { decodeBody("a", s, time.UTC) }},
		{"warnings", body([]byte{0}), func(s string) { decodeBody("a", s, time.UTC) }},
		{"entries", body(appendString(nil, key)), func(s string) { parseEntries(s, key) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, limit := allocated(func() { c.read(c.input) }), uint64(16*len(c.input)+64<<10); got > limit {
				t.Errorf("reading %d bytes allocated %d, want at most %d", len(c.input), got, limit)
			}
		})
	}
}

// FuzzCacheBody: no body panics decodeBody, and a body it decodes encodes to one that decodes to the same.
func FuzzCacheBody(f *testing.F) {
	loc := time.FixedZone("X", -5*3600)
	f.Add(string(appendBody(nil, &Post{ID: "a", Title: "T", Date: time.Date(2020, 1, 2, 3, 4, 5, 6, loc),
		Authors: []Author{{Name: "n"}}, Tags: []string{"t"}, Enclosure: &Enclosure{URL: "u", Length: 3}}, []Warning{{File: "f", Line: 2, Msg: "m"}})))
	f.Add(string(appendBody(nil, nil, nil)))
	f.Fuzz(func(t *testing.T, body string) {
		p, warns, err := decodeBody("a", body, loc)
		if err != nil {
			return
		}
		again := string(appendBody(nil, p, warns))
		p2, warns2, err := decodeBody("a", again, loc)
		if err != nil || !reflect.DeepEqual(p, p2) || !reflect.DeepEqual(warns, warns2) {
			t.Fatalf("decoded %#v %v, encoded and decoded again %#v %v (%v)", p, warns, p2, warns2, err)
		}
	})
}

// FuzzCacheRoundTrip: a post as a loader leaves it (its dates in the site's zone) comes back from its
// entry as it went in, every field that appendBody writes.
func FuzzCacheRoundTrip(f *testing.F) {
	f.Add("id", "https://ex.org/a", "Title", int64(1600000000), uint32(5), int64(-3600), byte(0x1f), int64(1234), true, 2, 1)
	f.Add("", "", "", int64(0), uint32(0), int64(0), byte(0), int64(-1), false, 0, 0)
	f.Fuzz(func(t *testing.T, id, u, title string, sec int64, nsec uint32, dur int64, flags byte, length int64, enc bool, nAuthors, nTags int) {
		loc := time.FixedZone("Z", int(sec%50000))
		date := time.Unix(sec, int64(nsec%1e9)).In(loc)
		p := &Post{Path: "_posts/a.md", ID: id, URL: u, Title: title, Image: u, Lang: title, Hash: id, excerpt: title, sep: id,
			Date: date, Updated: date.Add(time.Duration(nsec)), visibleFrom: date, expires: time.Time{}.In(loc),
			ExcerptOnly: flags&1 != 0, Draft: flags&2 != 0, NoEmail: flags&4 != 0, Hold: flags&8 != 0, hasID: flags&16 != 0,
			EmailAfter: time.Duration(dur), bodyLine: int(int32(length))}
		for i := range nAuthors & 7 {
			p.Authors = append(p.Authors, Author{Name: strings.Repeat(title, i), Email: id, URL: u})
		}
		for i := range nTags & 7 {
			p.Tags = append(p.Tags, strings.Repeat(id, i))
			p.Categories = append(p.Categories, title)
		}
		if enc {
			p.Enclosure = &Enclosure{URL: u, Length: length, Type: title}
		}
		warns := []Warning{{File: id, Line: int(length), Msg: title}}
		got, gotWarns, err := decodeBody(p.Path, string(appendBody(nil, p, warns)), loc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p) || !reflect.DeepEqual(gotWarns, warns) {
			t.Fatalf("got %#v %v, want %#v %v", got, gotWarns, p, warns)
		}
	})
}
