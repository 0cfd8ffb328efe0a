package main

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/publish"
)

// TestPostgresStore runs README's example with the store on PostgreSQL, the password in the file
// HERALD_STORE_PASSWORD_FILE names: import, publish (mail to the site's outbox), status, a second publish
// that finds nothing new; nothing of the store is written into the site, and no output shows the password.
func TestPostgresStore(t *testing.T) {
	raw := pg.DB(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	u.User = url.User(u.User.Username())
	passFile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(passFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	site := copyExample(t)
	env := testEnv("HERALD_STORE", u.String(), "HERALD_STORE_PASSWORD_FILE", passFile)
	var all strings.Builder
	do := func(args ...string) string {
		t.Helper()
		out, errOut, err := runHerald(t, env, args...)
		all.WriteString(out + errOut)
		if err != nil {
			t.Fatalf("herald %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}

	do("subscribers", "import", "-C", site, filepath.Join(site, "subscribers.csv"))
	out := do("publish", "-C", site, "--backfill", "1")
	if !strings.Contains(out, "recorded run #1") {
		t.Errorf("publish:\n%s", out)
	}
	if n := len(maildir(t, filepath.Join(site, ".herald", "outbox"))); n != 2 {
		t.Errorf("the site's outbox holds %d messages, want 2 (one post to two subscribers)", n)
	}
	status := do("status", "-C", site)
	name := "postgres://" + u.Host + u.Path
	if !strings.Contains(status, "store: "+name+"\n") || !strings.Contains(status, "subscribers: 2") || !strings.Contains(status, "sent 2") {
		t.Errorf("status does not name the store as %s, or miscounts:\n%s", name, status)
	}
	if out := do("publish", "-C", site); !strings.Contains(out, "new: 0") {
		t.Errorf("the second publish found something new:\n%s", out)
	}
	if n := len(maildir(t, filepath.Join(site, ".herald", "outbox"))); n != 2 {
		t.Errorf("after the second publish the outbox holds %d messages, want 2", n)
	}
	if strings.Contains(all.String(), pass) {
		t.Errorf("the output shows the password:\n%s", all.String())
	}
	filepath.WalkDir(site, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".db") {
			t.Errorf("a PostgreSQL run wrote an SQLite file into the site: %s", p)
		}
		return nil
	})
}

// TestPostgresStoreRefusals: a new, empty PostgreSQL store for a site whose feed is already published is
// refused (never a silent new baseline), and so is every run under CI=true; a password written into
// herald.yaml's store URL is refused without being shown; a wrong password is an error that does not
// show it either.
func TestPostgresStoreRefusals(t *testing.T) {
	site := copyExample(t)
	first := pg.DB(t)
	if _, _, err := runHerald(t, testEnv("HERALD_STORE", first), "publish", "-C", site); err != nil {
		t.Fatal(err)
	}
	// The store is lost (a new database): the feed in _site says the site was published before.
	_, _, err := runHerald(t, testEnv("HERALD_STORE", pg.DB(t)), "publish", "-C", site)
	if !errors.Is(err, publish.ErrStoreLooksNew) {
		t.Errorf("publish with a new store for a published site: got %v, want ErrStoreLooksNew", err)
	}
	fresh := copyExample(t)
	_, _, err = runHerald(t, testEnv("HERALD_STORE", pg.DB(t), "CI", "true"), "publish", "-C", fresh)
	if !errors.Is(err, publish.ErrStoreLooksNew) {
		t.Errorf("publish with a new store under CI=true: got %v, want ErrStoreLooksNew", err)
	}

	u, _ := url.Parse(first)
	pass, _ := u.User.Password()
	yaml, err := os.ReadFile(filepath.Join(site, "herald.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(site, "herald.yaml"), append(yaml, []byte("store: "+first+"\n")...), 0o644)
	_, _, err = runHerald(t, testEnv(), "status", "-C", site)
	if err == nil || !strings.Contains(err.Error(), "herald.yaml:") || !strings.Contains(err.Error(), "HERALD_STORE_PASSWORD_FILE") {
		t.Errorf("a password in herald.yaml's store: got %v, want an error naming the line and where the password goes", err)
	}
	if err != nil && strings.Contains(err.Error(), pass) {
		t.Errorf("the error shows the password: %v", err)
	}
	os.WriteFile(filepath.Join(site, "herald.yaml"), yaml, 0o644)

	u.User = url.UserPassword(u.User.Username(), "not-the-password")
	_, _, err = runHerald(t, testEnv("HERALD_STORE", u.String()), "status", "-C", site)
	if err == nil || strings.Contains(err.Error(), "not-the-password") || !strings.Contains(err.Error(), "postgres://"+u.Host+u.Path) {
		t.Errorf("a wrong password: got %v, want an error naming the store, without the password", err)
	}
}

// copyExample copies the repository's example site (README's first command runs on it).
func copyExample(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "example")
	if err := os.CopyFS(dst, os.DirFS("../../example")); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{".herald", "_site"} { // what a run of README's command left there
		os.RemoveAll(filepath.Join(dst, gone))
	}
	return dst
}
