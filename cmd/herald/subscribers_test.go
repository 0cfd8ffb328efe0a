package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func listJSON(t *testing.T, dir string) []map[string]any {
	t.Helper()
	out, _, err := runHerald(t, testEnv(), "subscribers", "list", "-C", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var subs []map[string]any
	if err := json.Unmarshal([]byte(out), &subs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return subs
}

func TestSubscribersCommands(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("email,name\nann@example.com,Ann\nnot-an-address,Bob\n"), 0o644)
	_, _, err := runHerald(t, testEnv(), "subscribers", "import", bad, "-C", dir)
	if err == nil || !strings.Contains(err.Error(), "bad.csv:3") {
		t.Fatalf("got %v, want an error naming bad.csv:3", err)
	}
	if subs := listJSON(t, dir); len(subs) != 0 {
		t.Errorf("a failed import added %d subscribers", len(subs))
	}

	good := filepath.Join(t.TempDir(), "list.csv")
	os.WriteFile(good, []byte("email,name,frequency\nann@Example.com,Ann,weekly\nbob@example.org,,\nann@EXAMPLE.COM,,\n"), 0o644)
	out, _, err := runHerald(t, testEnv(), "subscribers", "import", "-C", dir, good)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "2 added") {
		t.Errorf("import output: %s", out)
	}
	subs := listJSON(t, dir)
	if len(subs) != 2 || subs[0]["email"] != "ann@Example.com" || subs[0]["status"] != "active" || subs[0]["frequency"] != "weekly" ||
		subs[1]["frequency"] != "immediate" || subs[1]["consent_source"] != "import" {
		t.Errorf("list: %v", subs)
	}

	if _, _, err := runHerald(t, testEnv(), "subscribers", "add", "-C", dir, "cy@example.net", "--name", "Cy"); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runHerald(t, testEnv(), "subscribers", "list", "-C", dir, "--status", "pending")
	if !strings.Contains(out, "cy@example.net\tpending") {
		t.Errorf("pending list: %q", out)
	}
	if _, _, err := runHerald(t, testEnv(), "subscribers", "remove", "-C", dir, "bob@EXAMPLE.org"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runHerald(t, testEnv(), "subscribers", "remove", "-C", dir, "--erase", "cy@example.net"); err != nil {
		t.Fatal(err)
	}
	subs = listJSON(t, dir)
	if len(subs) != 2 || subs[1]["status"] != "unsubscribed" {
		t.Errorf("after remove and erase: %v", subs)
	}
	// Importing the list again does not bring back who left.
	out, _, err = runHerald(t, testEnv(), "subscribers", "import", "-C", dir, good)
	if err != nil || !strings.Contains(out, "1 skipped") {
		t.Errorf("re-import: %v %s", err, out)
	}
	// add takes what import and the web form take: no address that could not be exported and imported.
	for _, bad := range []string{"Not An Address", "root@localhost", "x@[10.0.0.1]", "ann\u2028x@example.com"} {
		if _, _, err := runHerald(t, testEnv(), "subscribers", "add", "-C", dir, bad); err == nil {
			t.Errorf("add accepted %q", bad)
		}
	}
}
