package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// TestStoreCopy moves a site's SQLite store (subscribers of several kinds, two runs, mail sent) to
// PostgreSQL with herald store copy, and back to a new SQLite file: subscribers export (every format, and
// one subscriber's with their messages) and status say the same of all three, but for the store's name;
// the password never shows; a second copy into the now full database is refused.
func TestStoreCopy(t *testing.T) {
	site := copyExample(t)
	dir := t.TempDir()
	t.Chdir(dir) // FROM and TO are relative to the working folder
	lite := filepath.Join(dir, "state.db")

	raw := pg.DB(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	u.User = url.User(u.User.Username())
	bare := u.String()
	passFile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(passFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", "") // the password comes from HERALD_STORE_PASSWORD_FILE alone
	t.Setenv("PGPASSFILE", filepath.Join(dir, "no-pgpass"))

	var all strings.Builder // every output, to look for the password in
	do := func(store string, args ...string) string {
		t.Helper()
		out, errOut, err := runHerald(t, testEnv("HERALD_STORE", store, "HERALD_STORE_PASSWORD_FILE", passFile), args...)
		all.WriteString(out + errOut)
		if err != nil {
			t.Fatalf("herald %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	do(lite, "subscribers", "import", "-C", site, filepath.Join(site, "subscribers.csv"))
	do(lite, "subscribers", "add", "-C", site, "pat@example.com")
	do(lite, "subscribers", "add", "-C", site, "--confirmed", "--frequency", "daily", "dan@example.net")
	do(lite, "publish", "-C", site, "--backfill", "1")
	addPost(t, site, "2026-11-01-second.md", "Second")
	do(lite, "publish", "-C", site)
	do(lite, "subscribers", "remove", "-C", site, "bob@example.org")

	out := do("", "store", "copy", "state.db", bare)
	for _, want := range []string{"copied " + lite + " to " + store.Name(bare) + ":\n", "  subscribers     4\n", "  runs            2\n",
		"Now set store in herald.yaml (or HERALD_STORE) to the URL you copied to (" + store.Name(bare) + ")"} {
		if !strings.Contains(out, want) {
			t.Errorf("herald store copy says:\n%s\nwant it to contain %q", out, want)
		}
	}
	back := filepath.Join(dir, "sub", "back.db") // its folder is made too
	if out := do("", "store", "copy", bare, "sub/back.db"); !strings.Contains(out, "Now set store in herald.yaml (or HERALD_STORE) to "+back+", ") {
		t.Errorf("herald store copy to a file says:\n%s\nwant it to name the file", out)
	}

	// What a user compares: the three stores answer the same. SQLite keeps times to the nanosecond and
	// PostgreSQL to the microsecond: the source's times are compared at the microsecond.
	view := func(s string) string {
		t.Helper()
		var b strings.Builder
		b.WriteString(do(s, "subscribers", "export", "-C", site))
		b.WriteString(do(s, "subscribers", "export", "-C", site, "--format", "csv"))
		b.WriteString(do(s, "subscribers", "export", "-C", site, "ann@example.com"))
		status := do(s, "status", "-C", site)
		if want := "store: " + store.Name(s) + "\n"; !strings.HasPrefix(status, want) {
			t.Errorf("status of %s does not start with %q:\n%s", store.Name(s), want, status)
		}
		b.WriteString(strings.TrimPrefix(status, "store: "+store.Name(s)+"\n"))
		return b.String()
	}
	views := map[string]string{}
	for _, s := range []string{lite, bare, back} {
		views[s] = view(s)
	}
	if !strings.Contains(views[lite], "ann@example.com") || !strings.Contains(views[lite], "sent 4") || !strings.Contains(views[lite], "unsubscribed") {
		t.Errorf("the source's export and status miss what the site did:\n%s", views[lite])
	}
	if got, want := views[bare], toMicro(views[lite]); got != want {
		t.Errorf("export and status of the PostgreSQL copy differ from the source's: %s", diffLines(got, want))
	}
	if got, want := views[back], views[bare]; got != want {
		t.Errorf("export and status of the SQLite copy of the PostgreSQL one differ from it: %s", diffLines(got, want))
	}

	// The database now holds a store: a second copy into it is refused, by name, without the password,
	// even when the URL carries it.
	_, _, err = runHerald(t, testEnv(), "store", "copy", lite, raw)
	if !errors.Is(err, store.ErrNotEmpty) || !strings.Contains(err.Error(), "store "+store.Name(raw)+" is not empty") {
		t.Errorf("a copy into a store that is not empty: got %v", err)
	}
	if err != nil {
		all.WriteString(err.Error())
	}
	if after := view(bare); after != views[bare] {
		t.Errorf("the refused copy changed the target: %s", diffLines(after, views[bare]))
	}
	if strings.Contains(all.String(), pass) {
		t.Errorf("an output shows the password:\n%s", all.String())
	}
}

// diffLines shows the lines where got and want differ.
func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "\nline %d:\n got  %s\n want %s", i+1, gl, wl)
		}
	}
	return b.String()
}

// toMicro writes the RFC 3339 times in s as PostgreSQL keeps them: to the microsecond.
func toMicro(s string) string {
	return rfc3339.ReplaceAllStringFunc(s, func(m string) string {
		t, err := time.Parse(time.RFC3339Nano, m)
		if err != nil {
			return m
		}
		return t.Truncate(time.Microsecond).Format(time.RFC3339Nano)
	})
}

var rfc3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)

// TestStoreCopyUsage: what herald store copy refuses before it opens anything.
func TestStoreCopyUsage(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"store"}, "herald store needs a subcommand"},
		{"another subcommand", []string{"store", "move", "a.db", "b.db"}, `unknown subcommand "move"`},
		{"one store", []string{"store", "copy", "a.db"}, "FROM and TO"},
		{"three stores", []string{"store", "copy", "a.db", "b.db", "c.db"}, `unexpected argument "c.db"`},
		{"a source that does not exist", []string{"store", "copy", "a.db", "b.db"}, "a.db does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runHerald(t, testEnv(), tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the refused commands left %d files in the folder", len(entries))
	}
	out, _, err := runHerald(t, testEnv(), "store", "copy", "--help")
	if !errors.Is(err, errHelp) || !strings.Contains(out, "Usage: herald store copy FROM TO") {
		t.Errorf("herald store copy --help: %v\n%s", err, out)
	}
	if out, _, _ := runHerald(t, testEnv(), "--help"); !strings.Contains(out, "herald store copy") {
		t.Errorf("herald --help does not list herald store copy:\n%s", out)
	}
}
