package subscribers

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
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
