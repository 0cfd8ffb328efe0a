package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/heraldhq/herald/store"
)

const storeUsage = `Usage:
  herald store copy FROM TO   copy a whole state store into a new one (SQLite and PostgreSQL, either way)

Run "herald store copy --help" for more.
`

func runStore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, storeUsage)
		return errUsage{"herald store needs a subcommand; see the list above"}
	}
	switch args[0] {
	case "copy":
		return storeCopy(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, storeUsage)
		return nil
	}
	fmt.Fprint(stderr, storeUsage)
	return errUsage{fmt.Sprintf("unknown subcommand %q; see the list above", args[0])}
}

func storeCopy(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("store copy", stderr, `Usage: herald store copy FROM TO

Copies everything the state store FROM holds (runs, posts, subscribers with their consent records, the
ledger of deliveries, herald serve's queued sign-ups and limits) into the store TO, keeping every id:
the links in messages already sent keep working. Use it to move a site's store to PostgreSQL, or back.

FROM and TO are each an SQLite file (relative to the current folder) or a postgres:// URL. TO must be
empty: a file that does not exist yet (it is made), or an empty PostgreSQL database or schema. FROM is
only read (a store of an older Herald is first brought to this one's version, as every command does).
The copy is all or nothing: stopped half-way, it leaves TO empty.

A PostgreSQL password comes from the URL, PGPASSWORD or ~/.pgpass, or from the file
HERALD_STORE_PASSWORD_FILE names (for a URL without one). Nothing prints it.

Stop herald serve and any scheduled publish or send first: publish and send cannot run during the copy
(it holds both stores' run locks), and what serve changes in FROM after the copy began is not in TO.

Flags:
`)
	pos, err := parseArgs(fs, args, 2, 2, "FROM and TO")
	if err != nil {
		return err
	}
	from, err := openCopyEnd(ctx, pos[0], getenv, true)
	if err != nil {
		return err
	}
	defer from.Close()
	toPath := copyPath(pos[1])
	to, err := openCopyEnd(ctx, toPath, getenv, false)
	if err != nil {
		return err
	}
	defer to.Close()
	copied, err := store.Copy(ctx, to, from)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %s to %s:\n", store.Name(copyPath(pos[0])), store.Name(toPath))
	for _, c := range copied {
		fmt.Fprintf(stdout, "  %-15s %d\n", c.Table, c.Rows)
	}
	fmt.Fprintf(stdout, "Now set store in %s (or HERALD_STORE) to %s, and check it with herald status; %s is left as it was.\n",
		configName, useCopy(toPath), store.Name(copyPath(pos[0])))
	return nil
}

// useCopy is what to set store to, to use the copy at p: its path; for a URL, which may hold a password
// and is not printed whole, where the password goes.
func useCopy(p string) string {
	if !store.IsPostgres(p) {
		return p
	}
	return "the URL you copied to (" + store.Name(p) + "), its password in the file HERALD_STORE_PASSWORD_FILE names, PGPASSWORD or ~/.pgpass rather than in " + configName
}

// copyPath is a store as the command line names it: a URL as it is, a file by its absolute path (a
// relative store in herald.yaml is relative to the site, not to where the copy ran).
func copyPath(p string) string {
	if store.IsPostgres(p) {
		return p
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// openCopyEnd opens the store at p, with the password of HERALD_STORE_PASSWORD_FILE for a PostgreSQL one
// whose URL has none; the source only when it exists.
func openCopyEnd(ctx context.Context, p string, getenv func(string) string, source bool) (store.Store, error) {
	o, err := storeOptions(config{Store: p, storePasswordFile: getenv("HERALD_STORE_PASSWORD_FILE")})
	if err != nil {
		return nil, err
	}
	o.Existing = source
	return store.OpenWith(ctx, copyPath(p), o)
}
