package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/subscribers"
)

const subscribersUsage = `Usage:
  herald subscribers import FILE    add a CSV (Herald's, Mailchimp's, Substack's or Buttondown's export) or YAML list
  herald subscribers add EMAIL      add one subscriber (--name, --frequency, --confirmed)
  herald subscribers list           list subscribers (--status, --json)
  herald subscribers export [EMAIL] write all Herald holds about them, or about one with their deliveries (--format json|csv, --status)
  herald subscribers remove EMAIL   unsubscribe someone (--erase deletes them and their record for good)

Every subcommand takes -C DIR, the site's folder.
`

func runSubscribers(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, subscribersUsage)
		return errUsage{"herald subscribers needs a subcommand; see the list above"}
	}
	switch args[0] {
	case "import":
		return subscribersImport(ctx, args[1:], getenv, stdout, stderr)
	case "add":
		return subscribersAdd(ctx, args[1:], getenv, stdout, stderr)
	case "list":
		return subscribersList(ctx, args[1:], getenv, stdout, stderr)
	case "export":
		return subscribersExport(ctx, args[1:], getenv, stdout, stderr)
	case "remove":
		return subscribersRemove(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, subscribersUsage)
		return nil
	}
	fmt.Fprint(stderr, subscribersUsage)
	return errUsage{fmt.Sprintf("unknown subcommand %q; see the list above", args[0])}
}

// siteStore opens the site's store for the subscriber commands, creating it only in a site's folder: run
// anywhere else by mistake, a command would start a store no run ever reads.
func siteStore(ctx context.Context, dir string, getenv func(string) string) (store.Store, error) {
	siteDir, cfg, err := configure(dir, getenv)
	if err != nil {
		return nil, err
	}
	sp := storePath(siteDir, cfg)
	// A PostgreSQL store is reached from a site's folder too: the site's .herald keeps what is local.
	if _, err := os.Stat(sp); (store.IsPostgres(sp) || errors.Is(err, fs.ErrNotExist)) && !isSite(siteDir, cfg) {
		return nil, notASite(siteDir)
	}
	return openStore(ctx, siteDir, cfg)
}

// readList reads a list to import: a CSV, YAML or JSON file, or Mailchimp's export zip.
func readList(file string) ([]subscribers.Record, int, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if !strings.EqualFold(filepath.Ext(file), ".zip") {
		return subscribers.Parse(file, f)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	return subscribers.ParseZip(file, f, fi.Size())
}

// newOff counts the records of an import, by status, that are new to the store (not among known) and
// will not be mailed: unsubscribed and bounced.
func newOff(known []store.Subscriber, recs []subscribers.Record) map[string]int {
	have := make(map[string]bool, len(known))
	for _, s := range known {
		have[subscribers.Key(s.Email)] = true
	}
	n := map[string]int{}
	for _, r := range recs {
		if !have[subscribers.Key(r.Email)] && (r.Status == store.Unsubscribed || r.Status == store.Bounced) {
			n[r.Status]++
		}
	}
	return n
}

// notASite is the usage error of a command that needs a site, run in a folder that is not one. When a
// folder above it is a site (herald status run in _posts/), it names that folder.
func notASite(dir string) error {
	msg := fmt.Sprintf("%s is not a site's folder (no %s, _config.yml or Hugo config): run Herald in the site's folder, or pass -C DIR", dir, configName)
	for d := filepath.Dir(dir); d != dir; dir, d = d, filepath.Dir(d) {
		if isSite(d, config{}) {
			return errUsage{fmt.Sprintf("%s; the site's folder looks to be %s, so: -C %s", msg, d, d)}
		}
	}
	return errUsage{msg}
}

// isSite tells whether dir is a site's folder: one Herald is configured in, or a Jekyll or Hugo site.
func isSite(dir string, cfg config) bool {
	_, err := os.Stat(filepath.Join(dir, configName))
	return err == nil || cfg.Kind != "" || posts.Detect(dir) != ""
}

func subscribersImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("subscribers import", stderr, `Usage: herald subscribers import FILE [flags]

Adds the subscribers in FILE: a CSV with a header row (Herald's columns email, name, status, frequency,
consent_at, as herald subscribers export --format csv writes them with the rest of the consent record,
or an export of Mailchimp, Substack or Buttondown as it is, Mailchimp's zip too) or a YAML list. Every address is
checked; a bad row is an error naming its line, and then nothing is imported. Imported subscribers are
active (they consented where the list comes from) unless the file says otherwise. Someone who unsubscribed
is never brought back.

Flags:
`)
	var dir string
	siteFlag(fs, &dir)
	pos, err := parseArgs(fs, args, 1, 1, "FILE: the list to import")
	if err != nil {
		return err
	}
	file := pos[0]
	recs, merged, err := readList(file)
	if err != nil {
		return err
	}
	subs := make([]store.Subscriber, len(recs))
	for i, r := range recs {
		subs[i] = store.Subscriber{Email: r.Email, Name: r.Name, Status: r.Status, Frequency: r.Frequency, ConsentAt: r.ConsentAt,
			ConsentIP: r.ConsentIP, ConfirmedAt: r.ConfirmedAt, UnsubscribedAt: r.UnsubscribedAt, ConsentSource: store.FromImport}
	}
	st, err := siteStore(ctx, dir, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	known, err := st.Subscribers(ctx, "")
	if err != nil {
		return err
	}
	res, err := st.ImportSubscribers(ctx, subs, time.Now())
	if err != nil {
		return fmt.Errorf("import %s: %w", file, err)
	}
	// What was added as unsubscribed or bounced is kept only so that nobody mails them: it is not a reader gained.
	off := newOff(known, recs)
	fmt.Fprintf(stdout, "imported %s: %d added, %d stored as unsubscribed, %d as bounced (kept so as never to mail them), %d updated, %d unchanged, %d skipped (unsubscribed or bounced)",
		file, res.Added-off[store.Unsubscribed]-off[store.Bounced], off[store.Unsubscribed], off[store.Bounced], res.Updated, res.Unchanged, res.Skipped)
	if merged > 0 {
		fmt.Fprintf(stdout, "; %d duplicate rows merged", merged)
	}
	fmt.Fprintln(stdout)
	return nil
}

func subscribersAdd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("subscribers add", stderr, `Usage: herald subscribers add EMAIL [flags]

Adds one subscriber. Without --confirmed they are pending: they get nothing until they confirm.

Flags:
`)
	var dir string
	siteFlag(fs, &dir)
	name := fs.String("name", "", "the subscriber's `name`")
	freq := fs.String("frequency", store.Immediate, "immediate, daily, weekly or monthly")
	confirmed := fs.Bool("confirmed", false, "they have already confirmed (consented elsewhere): active at once")
	pos, err := parseArgs(fs, args, 1, 1, "EMAIL: the address to add")
	if err != nil {
		return err
	}
	email := pos[0]
	if err := subscribers.CheckEmail(email); err != nil { // what import takes, and the web form
		return errUsage{err.Error()}
	}
	switch *freq {
	case store.Immediate, store.Daily, store.Weekly, store.Monthly:
	default:
		return errUsage{fmt.Sprintf("--frequency %q: want immediate, daily, weekly or monthly", *freq)}
	}
	status := store.Pending
	if *confirmed {
		status = store.Active
	}
	st, err := siteStore(ctx, dir, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := st.AddSubscriber(ctx, store.Subscriber{Email: email, Name: strings.TrimSpace(*name), Frequency: *freq, Status: status,
		ConsentSource: store.FromCommand}, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added subscriber #%d (%s, %s)\n", s.ID, s.Status, s.Frequency)
	return nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func subscribersList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("subscribers list", stderr, `Usage: herald subscribers list [flags]

Lists the subscribers, oldest first. Addresses are personal data: mind where the output goes.

Flags:
`)
	var dir string
	siteFlag(fs, &dir)
	status := fs.String("status", "", "only those with this status: pending, active, unsubscribed or bounced")
	asJSON := fs.Bool("json", false, "print a JSON array of objects with email, status, frequency and the consent record (as export does)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkStatus(fs, *status); err != nil {
		return err
	}
	st, err := siteStore(ctx, dir, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	subs, err := st.Subscribers(ctx, *status)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]subscriberJSON, len(subs))
		for i, s := range subs {
			out[i] = toJSON(s)
		}
		return writeJSON(stdout, out)
	}
	for _, s := range subs {
		fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\t%s\n", s.ID, s.Email, s.Status, s.Frequency, s.Name)
	}
	return nil
}

func subscribersRemove(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("subscribers remove", stderr, `Usage: herald subscribers remove EMAIL [flags]

Unsubscribes someone at once: nothing more is sent to them, and their consent record is kept. With
--erase they and everything the store holds about them are deleted for good (the store file is rewritten;
messages in the outbox folder and backups made before are not touched). Stop herald serve first on a large
store: the rewrite holds the store meanwhile.

Flags:
`)
	var dir string
	siteFlag(fs, &dir)
	erase := fs.Bool("erase", false, "delete the subscriber and their record for good")
	pos, err := parseArgs(fs, args, 1, 1, "EMAIL: the address to remove")
	if err != nil {
		return err
	}
	email := pos[0]
	st, err := siteStore(ctx, dir, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := st.SubscriberByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) && *erase {
		// Perhaps an erase whose clean-up failed: finish it.
		if err := st.Compact(ctx); err != nil {
			return fmt.Errorf("%s is not on the list, and compacting the store failed: %w", email, err)
		}
		return fmt.Errorf("%s is not on the list (the store was compacted: nothing deleted is left in it)", email)
	}
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s is not on the list", email)
	}
	if err != nil {
		return err
	}
	if *erase {
		// Erasing takes the run lock: a send in progress must be able to record what it did for them.
		l, err := st.Lock(ctx, "subscribers remove --erase")
		if err != nil {
			return err
		}
		defer l.Unlock()
		if err := st.DeleteSubscriber(ctx, s.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "erased subscriber #%d\n", s.ID)
		return nil
	}
	if err := st.UpdateSubscriber(ctx, s.ID, time.Now(), func(s *store.Subscriber) { s.Status = store.Unsubscribed }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "unsubscribed subscriber #%d\n", s.ID)
	return nil
}
