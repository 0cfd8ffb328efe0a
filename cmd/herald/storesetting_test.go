package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStorePasswordInUnparsableURL: a password with a character that must be percent-encoded (#,
// ? or /) and is not makes a URL that net/url cannot parse. herald.yaml's check lets such a URL through
// ("left to opening the store, whose error ... shows no password"), so the password stays in the file
// kept with the site, and opening the store prints net/url's error, which quotes the password as a port.
func TestStorePasswordInUnparsableURL(t *testing.T) {
	const secret = "Zq9sEcReT"
	raw := "postgres://ann:" + secret + "#1@127.0.0.1:5432/herald"
	env := func(k string) string { return map[string]string{"SOURCE_DATE_EPOCH": "1795000000"}[k] }

	site := copySite(t, "seed-jekyll")
	if err := os.WriteFile(filepath.Join(site, "herald.yaml"), []byte("store: \""+raw+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runHerald(t, env, "status", "-C", site)
	all := out + errOut + errString(err)
	if strings.Contains(all, secret) {
		t.Errorf("herald status shows the password: %q", all)
	}
	if err == nil || !strings.Contains(err.Error(), "herald.yaml:") {
		t.Errorf("herald status with a password in herald.yaml's store URL: got %v, want herald.yaml's check to refuse it (herald.yaml:LINE: store ...)", err)
	}

	// herald store copy, where the URL is the user's to give, whole.
	out, errOut, err = runHerald(t, env, "store", "copy", raw, filepath.Join(t.TempDir(), "copy.db"))
	all = out + errOut + errString(err)
	if err == nil {
		t.Error("herald store copy from an URL that cannot be parsed: got no error")
	}
	if strings.Contains(all, secret) {
		t.Errorf("herald store copy shows the password: %q", all)
	}
}

// TestSubscribersOutsideSitePostgres: "herald status and herald subscribers … never create a store
// in a folder that is not a site". With a PostgreSQL store, herald subscribers list run in a folder that
// is no site makes .herald there (with its .gitignore), as it would for a site's local files.
func TestSubscribersOutsideSitePostgres(t *testing.T) {
	raw := pg.DB(t)
	dir := t.TempDir() // no herald.yaml, no Jekyll or Hugo site
	env := func(k string) string {
		return map[string]string{"SOURCE_DATE_EPOCH": "1795000000", "HERALD_STORE": raw}[k]
	}
	runHerald(t, env, "subscribers", "list", "-C", dir)
	if _, err := os.Lstat(filepath.Join(dir, ".herald")); err == nil {
		t.Errorf("herald subscribers list in %s, which is no site, made .herald there", dir)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestStoreURLOfAnotherKind: a store setting that is a database URL Herald does not take for
// one (a JDBC URL copied from another program, postgres:/ with one slash) is an SQLite file path: herald
// status prints it whole, password and all, and publish would make a file of that name in the site.
func TestStoreURLOfAnotherKind(t *testing.T) {
	const secret = "Zq9sEcReT"
	for _, raw := range []string{
		"jdbc:postgresql://db.example.com:5432/herald?user=ann&password=" + secret,
		"postgres:/ann:" + secret + "@db.example.com/herald",
	} {
		env := func(k string) string {
			return map[string]string{"SOURCE_DATE_EPOCH": "1795000000", "HERALD_STORE": raw}[k]
		}
		site := copySite(t, "seed-jekyll")
		out, errOut, err := runHerald(t, env, "status", "-C", site)
		if all := out + errOut + errString(err); strings.Contains(all, secret) {
			t.Errorf("herald status with store %q shows the password: %q", raw[:12], all)
		}
	}
}
