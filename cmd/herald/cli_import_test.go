package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportMailchimpZip: herald subscribers import reads Mailchimp's export zip as downloaded, and counts
// who was stored as unsubscribed or bounced (to be kept from mail) apart from who was added as a reader.
func TestImportMailchimpZip(t *testing.T) {
	dir := siteDir(t)
	file := filepath.Join(t.TempDir(), "members_export_4f1e2d3c4b.zip")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, kind := range []string{"subscribed", "unsubscribed", "cleaned"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "subscribers", "testdata", "mailchimp_"+kind+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(kind + "_members_export_4f1e2d3c4b.csv")
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, _, err := runHerald(t, testEnv(), "subscribers", "import", "-C", dir, file)
	if err != nil {
		t.Fatal(err)
	}
	if want := ": 3 added, 2 stored as unsubscribed, 2 as bounced (kept so as never to mail them), 0 updated, 0 unchanged, 0 skipped"; !strings.Contains(out, want) {
		t.Errorf("import says:\n%s\nwant %q", out, want)
	}
	n := map[any]int{}
	for _, s := range listJSON(t, dir) {
		n[s["status"]]++
	}
	if n["active"] != 3 || n["unsubscribed"] != 2 || n["bounced"] != 2 {
		t.Errorf("after the import: %v", n)
	}
	// Again: nothing is new, and who left stays left.
	out, _, err = runHerald(t, testEnv(), "subscribers", "import", "-C", dir, file)
	if err != nil || !strings.Contains(out, ": 0 added, 0 stored as unsubscribed, 0 as bounced") {
		t.Errorf("import again: %v\n%s", err, out)
	}
}
