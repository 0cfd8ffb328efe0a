package subscribers

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// mailchimpZip is a zip as Mailchimp's audience export downloads it, of the testdata CSVs, plus extra
// files (name → content).
func mailchimpZip(t *testing.T, extra map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, kind := range []string{"subscribed", "unsubscribed", "cleaned"} {
		data, err := os.ReadFile(filepath.Join("testdata", "mailchimp_"+kind+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		extra[kind+"_members_export_4f1e2d3c4b.csv"] = string(data)
	}
	for _, name := range []string{"subscribed_members_export_4f1e2d3c4b.csv", "unsubscribed_members_export_4f1e2d3c4b.csv", "cleaned_members_export_4f1e2d3c4b.csv", "z.csv", "__MACOSX/._z.csv", "readme.txt"} {
		data, ok := extra[name]
		if !ok {
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestParseZip: Mailchimp's export zip reads as its three files would, each status from its file; an
// address in two files keeps the status that mails least; a bad row names the file in the zip.
func TestParseZip(t *testing.T) {
	z := mailchimpZip(t, map[string]string{
		"z.csv":            "email,status\nada@example.com,unsubscribed\nnew@example.com,\n",
		"__MACOSX/._z.csv": "\x00\x05binary",
		"readme.txt":       "not a list",
	})
	recs, merged, err := ParseZip("members_export_4f1e2d3c4b.zip", bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.Email] = r.Status
	}
	want := map[string]string{
		"ada@example.com": unsubscribed, "grace@Example.ORG": active, "alan@example.net": active, "new@example.com": active,
		"edsger@example.com": unsubscribed, "barbara@example.com": unsubscribed, "ken@example.com": bounced, "dennis@example.com": bounced,
	}
	if len(got) != len(want) || merged != 1 {
		t.Errorf("got %v (%d merged), want %v (1 merged)", got, merged, want)
	}
	for e, s := range want {
		if got[e] != s {
			t.Errorf("%s: got %q, want %q", e, got[e], s)
		}
	}

	bad := mailchimpZip(t, map[string]string{"z.csv": "email\nnot an address\n"})
	_, _, err = ParseZip("members.zip", bytes.NewReader(bad), int64(len(bad)))
	if err == nil || !strings.Contains(err.Error(), "members.zip/z.csv:2:") {
		t.Errorf("got %v, want an error naming members.zip/z.csv:2", err)
	}
	for _, data := range [][]byte{[]byte("not a zip"), emptyZip(t)} {
		if _, _, err := ParseZip("x.zip", bytes.NewReader(data), int64(len(data))); err == nil || !strings.HasPrefix(err.Error(), "x.zip: ") {
			t.Errorf("got %v, want an error naming x.zip", err)
		}
	}
}

func emptyZip(t *testing.T) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("notes.txt")
	w.Write([]byte("no list"))
	zw.Close()
	return b.Bytes()
}

// bombZip is a zip of one CSV member, name, of a header and n empty lines: n bytes that deflate to a few kB.
// declared, when not 0, is the uncompressed size its headers claim instead of the real one.
func bombZip(t *testing.T, name string, n int, declared uint64) []byte {
	t.Helper()
	var data bytes.Buffer
	fw, err := flate.NewWriter(&data, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	content := append([]byte("email\n"), bytes.Repeat([]byte("\n"), n)...)
	fw.Write(content)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(content),
		CompressedSize64: uint64(data.Len()), UncompressedSize64: uint64(len(content))}
	if declared != 0 {
		h.UncompressedSize64 = declared
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.CreateRaw(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestParseZipBounds: a zip bomb, a member whose headers claim a huge size, and a zip of too many entries
// are refused with an error that names the zip and the member, without inflating what they hold.
func TestParseZipBounds(t *testing.T) {
	const limit = 1 << 20
	within := bombZip(t, "subscribed.csv", limit-len("email\n"), 0)
	if _, _, err := parseZip("ok.zip", bytes.NewReader(within), int64(len(within)), limit); err != nil {
		t.Errorf("a member of exactly the limit: %v", err)
	}

	for _, tc := range []struct {
		name string
		zip  []byte
		max  int64
		want string
	}{
		// 8 MiB of newlines in 8 kB, over a 1 MiB limit: its headers tell the truth.
		{"bomb", bombZip(t, "subscribed_members.csv", 8<<20, 0), limit, "bomb.zip/subscribed_members.csv: the zip's CSV files hold more than 1 MiB uncompressed"},
		// Headers that say 100 bytes, over 8 MiB inflated: refused once past the 100 bytes.
		{"liar", bombZip(t, "cleaned.csv", 8<<20, 100), limit, "liar.zip/cleaned.csv: read: zip: not a valid zip file"},
		// A member that claims a TiB, under the real limit: refused before it is opened.
		{"huge", bombZip(t, "a.csv", 10, 1<<40), maxZipBytes, "huge.zip/a.csv: the zip's CSV files hold more than 256 MiB uncompressed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := parseZip(tc.name+".zip", bytes.NewReader(tc.zip), int64(len(tc.zip)), tc.max)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("reading the zip allocated %d bytes, want under 8 MiB", alloc)
			}
		})
	}

	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := range maxZipEntries + 1 {
		if _, err := zw.Create(fmt.Sprintf("notes/%d.txt", i)); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	_, _, err := ParseZip("many.zip", bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err == nil || !strings.Contains(err.Error(), "many.zip: 1001 entries, more than the 1000") {
		t.Errorf("got %v, want an error about 1001 entries", err)
	}
}
