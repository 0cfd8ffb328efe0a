package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/history"
	"github.com/heraldhq/herald/internal/sitefs"
	"github.com/heraldhq/herald/publish"
	"github.com/heraldhq/herald/store"
)

// storeDir is where the state lives by default: inside the site, in a dot-folder that Jekyll and Hugo leave
// out of the published site, with a .gitignore that keeps it out of git.
const storeDir = ".herald"

// storePath is the state store: store in herald.yaml (or HERALD_STORE), an SQLite file (relative to the
// site) or a postgres:// URL; else .herald/state.db. Show it to people as store.Name(storePath(...)): a
// URL may hold a password.
func storePath(siteDir string, cfg config) string {
	p := cfg.Store
	switch {
	case p == "":
		return filepath.Join(siteDir, storeDir, "state.db")
	case store.IsPostgres(p) || filepath.IsAbs(p):
		return p
	}
	return filepath.Join(siteDir, p)
}

// urlLike matches a value that starts as a URL does, with a scheme of two letters or more (C:\ is a path).
var urlLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+:`)

// storeProblem says what is wrong with the store setting s, in the words of config.check (shown, what to
// do), or want "" when nothing is: a URL of another kind (a JDBC URL, postgres:/ with one slash) would be
// taken for a file's name; a postgres:// URL that cannot be parsed cannot be checked for a password; a
// password is not to be written into herald.yaml (inYAML), which is kept with the site. Neither ever
// quotes s, which may hold a password.
func storeProblem(s string, inYAML bool) (shown, want string) {
	switch {
	case s == "":
		return "", ""
	case !store.IsPostgres(s):
		if urlLike.MatchString(s) {
			return "(a URL, not shown)", "want the path of an SQLite file, or a PostgreSQL URL that starts postgres:// or postgresql://"
		}
		return "", ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return store.Name(s), "its URL cannot be parsed: percent-encode @ : / ? # in the user name and password (%40 %3A %2F %3F %23)"
	}
	if _, ok := u.User.Password(); (ok || u.Query().Has("password")) && inYAML {
		return store.Name(s) + " (with a password, not shown)", "leave the password out of herald.yaml, which is kept with the site; put it in a file HERALD_STORE_PASSWORD_FILE names, or in PGPASSWORD or ~/.pgpass, or give the whole URL in HERALD_STORE"
	}
	return "", ""
}

// localDir is the folder of what Herald keeps on this machine beside the state (the default outbox, the
// posts cache): the folder of an SQLite store; the site's .herald for a PostgreSQL one, which is on
// another machine.
func localDir(siteDir string, cfg config) string {
	if store.IsPostgres(cfg.Store) {
		return filepath.Join(siteDir, storeDir)
	}
	return filepath.Dir(storePath(siteDir, cfg))
}

// cachePath is the posts cache: beside an SQLite store, in the site's .herald for a PostgreSQL one.
func cachePath(siteDir string, cfg config) string {
	if store.IsPostgres(cfg.Store) {
		return filepath.Join(siteDir, storeDir, "posts-cache")
	}
	return storePath(siteDir, cfg) + ".posts-cache"
}

// unrecordedPath is the list of the ids that runs of this machine wrote into the feeds without recording
// them (see publish.CheckBehind): in localDir, beside the posts cache.
func unrecordedPath(siteDir string, cfg config) string {
	return filepath.Join(localDir(siteDir, cfg), "unrecorded-feed-ids")
}

// maxUnrecordedBytes bounds the unrecorded ids' file: about 75 bytes an id, so a million ids.
const maxUnrecordedBytes = 64 << 20

// readUnrecorded reads the ids of unrecordedPath; none when there is no such file.
func readUnrecorded(siteDir string, cfg config) (map[string]bool, error) {
	lines, err := readUnrecordedLines(siteDir, cfg)
	ids := make(map[string]bool, len(lines))
	for _, id := range lines {
		ids[id] = true
	}
	return ids, err
}

// readUnrecordedLines reads the ids of unrecordedPath, sorted; none when there is no such file.
func readUnrecordedLines(siteDir string, cfg config) ([]string, error) {
	f, info, err := sitefs.OpenRegular(unrecordedPath(siteDir, cfg))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info.Size() > maxUnrecordedBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes; delete it, and run herald publish to record what the feeds hold", f.Name(), maxUnrecordedBytes)
	}
	var b strings.Builder // its string is its buffer: the file, 760 KB for 10,000 ids, is not copied
	b.Grow(int(info.Size()))
	if _, err := io.Copy(&b, f); err != nil {
		return nil, err
	}
	ids := strings.FieldsFunc(b.String(), func(r rune) bool { return r == '\n' })
	slices.Sort(ids) // as addUnrecorded writes them, unless someone edited the file
	return slices.Compact(ids), nil
}

// addUnrecorded adds ids to unrecordedPath, before a run writes them into the feeds unrecorded; with
// clear, it empties it instead, once a run has recorded everything its feeds hold. Nothing is written
// where there is no local folder yet (no run has been recorded there), nor when the file would not change:
// a build of an unchanged site writes the same ids each time, and the write costs an fsync.
func addUnrecorded(siteDir string, cfg config, ids []string, clear bool) error {
	if !isDir(localDir(siteDir, cfg)) {
		return nil
	}
	old, err := readUnrecordedLines(siteDir, cfg)
	if err != nil && !clear {
		return err
	}
	var all []string
	if !clear {
		all = old[:len(old):len(old)] // so that append copies: old stays as read
		for _, id := range ids {
			if _, found := slices.BinarySearch(old, id); !found {
				all = append(all, id)
			}
		}
		slices.Sort(all)
		all = slices.Compact(all)
	}
	if err == nil && slices.Equal(all, old) {
		return nil
	}
	return replaceFile(unrecordedPath(siteDir, cfg), []byte(strings.Join(all, "\n")), 0o600)
}

// outboxPath is the Maildir folder mail goes to without smtp: outbox in herald.yaml (relative to the
// site), else the folder outbox in localDir, whatever the store.
func outboxPath(siteDir string, cfg config) string {
	p := firstSet(cfg.Outbox, filepath.Join(localDir(siteDir, cfg), "outbox"))
	if !filepath.IsAbs(p) {
		p = filepath.Join(siteDir, p)
	}
	return p
}

// storeOptions are the store's settings beside its path: the PostgreSQL password from the file
// HERALD_STORE_PASSWORD_FILE names (PGPASSWORD, ~/.pgpass and the URL itself work without Herald).
func storeOptions(cfg config) (store.Options, error) {
	var o store.Options
	if cfg.storePasswordFile != "" && store.IsPostgres(cfg.Store) {
		b, err := readSecretFile("HERALD_STORE_PASSWORD_FILE", "the store's password", cfg.storePasswordFile)
		if err != nil {
			return o, err
		}
		o.Password = strings.TrimRight(string(b), "\r\n")
	}
	return o, nil
}

// openStore opens the store for a command that records. It creates the site's .herald folder with its
// .gitignore when the store is there, or on another machine (then .herald keeps the outbox and cache).
func openStore(ctx context.Context, siteDir string, cfg config) (store.Store, error) {
	o, err := storeOptions(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Store == "" || store.IsPostgres(cfg.Store) {
		if err := makeStateDir(siteDir); err != nil {
			return nil, err
		}
	}
	return store.OpenWith(ctx, storePath(siteDir, cfg), o)
}

// openStoreToRead opens the store for a command that only reads it; ok is false when there is none yet
// (nothing was ever recorded), and then nothing is created.
func openStoreToRead(ctx context.Context, siteDir string, cfg config) (s store.Store, ok bool, err error) {
	o, err := storeOptions(cfg)
	if err != nil {
		return nil, false, err
	}
	o.Existing = true
	s, err = store.OpenWith(ctx, storePath(siteDir, cfg), o)
	if errors.Is(err, store.ErrNoStore) {
		return nil, false, nil
	}
	return s, err == nil, err
}

// diffFlags are the flags of the commands that compute a diff.
type diffFlags struct {
	backfill   int
	force      bool
	rebaseline bool
	init       bool // start a new history even though the site looks published before
}

func (f *diffFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.backfill, "backfill", 0, "on the first run, count the `N` newest posts as new (default: none; the first run is a baseline)")
	fs.BoolVar(&f.force, "force", false, "go on even when more posts look new than max_new allows: they are all mailed")
	fs.BoolVar(&f.rebaseline, "rebaseline", false, "record the posts as the first run does, with none of them new and none mailed: after the post ids changed (a new domain, another id scheme)")
	fs.BoolVar(&f.init, "init", false, "start a new history in a store that has none, even though the site looks published before (its feed holds posts, or CI=true): the posts on the site become the baseline")
}

// check refuses flags that contradict each other.
func (f diffFlags) check() error {
	if f.force && f.rebaseline {
		return errUsage{"--force mails the posts that look new, --rebaseline mails none of them: give one of them"}
	}
	return nil
}

func (b *build) diffOptions(df diffFlags) history.Options {
	return history.Options{Backfill: df.backfill, MaxNew: b.cfg.MaxNew, Force: df.force, Rebaseline: df.rebaseline}
}

func runDiff(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("diff", stderr, `Usage: herald diff [flags]

Shows what the next publish would find: the posts that are new, updated or removed since the last recorded
run, with id, date and title. Changes nothing.

Flags:
`)
	var bf buildFlags
	var df diffFlags
	bf.register(fs)
	df.register(fs)
	asJSON := fs.Bool("json", false, "print the diff as JSON: an object with the arrays new, updated and removed, baseline, and continues (new id to old) when a post's id changed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := df.check(); err != nil {
		return err
	}
	siteDir, cfg, err := configure(bf.dir, getenv)
	if err != nil {
		return err
	}
	b, err := prepare(ctx, getenv, siteDir, cfg, bf, stderr)
	if err != nil {
		return err
	}
	st, ok, err := openStoreToRead(ctx, b.site.Dir, b.cfg)
	if err != nil {
		return err
	}
	if ok {
		defer st.Close()
	}
	d, err := publish.Compare(ctx, st, b.site, b.diffOptions(df)) // st is nil when nothing was recorded
	var flood *history.FloodError
	if err != nil && !errors.As(err, &flood) {
		return err
	}
	if *asJSON {
		if err := printDiffJSON(stdout, d); err != nil {
			return err
		}
	} else {
		printDiff(stdout, d, len(b.site.Posts))
		printMailHolds(stdout, d, b.site, b.cfg.Hold)
	}
	if flood != nil {
		fmt.Fprintln(stderr, "herald: publish would stop:", explain(flood))
	}
	return nil
}

func printDiffJSON(w io.Writer, d history.Diff) error {
	for _, l := range []*[]history.Entry{&d.New, &d.Updated, &d.Removed} {
		if *l == nil {
			*l = []history.Entry{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

func printDiff(w io.Writer, d history.Diff, total int) {
	switch {
	case d.Rebaseline:
		fmt.Fprintf(w, "rebaseline: %s the baseline; nothing counts as new\n", publish.Plural(total, "post is", "posts are"))
	case d.Baseline:
		fmt.Fprintf(w, "first run: %s the baseline; ", publish.Plural(total, "post is", "posts are"))
		if len(d.New) == 0 {
			fmt.Fprintln(w, "nothing counts as new (--backfill N sends the N newest)")
		} else {
			fmt.Fprintf(w, "the %d newest count as new (--backfill)\n", len(d.New))
		}
	}
	sections := []struct {
		name string
		list []history.Entry
	}{{"new", d.New}, {"updated", d.Updated}, {"removed", d.Removed}}
	if d.Rebaseline {
		sections[0].name, sections[0].list = "recorded, not mailed", d.Rebaselined
	}
	for _, sec := range sections {
		if d.Baseline && !d.Rebaseline && sec.name != "new" {
			continue
		}
		fmt.Fprintf(w, "%s: %d\n", sec.name, len(sec.list))
		for _, e := range sec.list {
			fmt.Fprintf(w, "  %s  %s  %s\n", e.Date.Format("2006-01-02"), e.ID, e.Title)
		}
	}
	if len(d.Continues) > 0 {
		fmt.Fprintf(w, "id changed (updated, not new): %d\n", len(d.Continues))
		for _, id := range slices.Sorted(maps.Keys(d.Continues)) {
			fmt.Fprintf(w, "  %s  was  %s\n", id, d.Continues[id])
		}
	}
}

// recorder is a store held for a publishing run: open, and locked unless the run is a dry run (then st
// may be nil, when nothing was ever recorded).
type recorder struct {
	st   store.Store
	lock store.Lock
}

// lockStore opens the store and takes the run lock, so that a second run stops at once. A send takes
// the lock of a sender (LockSend): on PostgreSQL, several senders share the queue.
func lockStore(ctx context.Context, siteDir string, cfg config, command string) (*recorder, error) {
	st, err := openStore(ctx, siteDir, cfg)
	if err != nil {
		return nil, err
	}
	lock := st.Lock
	if command == "send" {
		lock = st.LockSend
	}
	l, err := lock(ctx, command)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &recorder{st: st, lock: l}, nil
}

func (r *recorder) close() error {
	err := r.lock.Unlock()
	if cerr := r.st.Close(); err == nil {
		err = cerr
	}
	return err
}

// configHash identifies the configuration a run used: the SHA-256 of herald.yaml, or "" without one.
func configHash(siteDir string) string {
	b, err := os.ReadFile(filepath.Join(siteDir, configName))
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func runPublish(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("publish", stderr, `Usage: herald publish [flags]

What an author runs after each publish: builds the feeds, finds the posts that are new since the last run,
and records the run in the state store. The first run records every post as the baseline and counts none
as new (unless --backfill). A run that finds more new posts than max_new (default 5) stops, changing
nothing, unless --force. Only one publish runs at a time against a store.

Flags:
`)
	var bf buildFlags
	var df diffFlags
	bf.register(fs)
	df.register(fs)
	dryRun := fs.Bool("dry-run", false, "show what would happen and change nothing")
	asJSON := fs.Bool("json", false, "print what the run did as one JSON object (its fields are in README.md) instead of lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	siteDir, cfg, err := configure(bf.dir, getenv)
	if err != nil {
		return err
	}
	if !*asJSON {
		return publishReported(ctx, getenv, siteDir, cfg, bf, df, *dryRun, "publish", nil, stdout, stderr)
	}
	rep := &publishReport{DryRun: *dryRun}
	if err := publishReported(ctx, getenv, siteDir, cfg, bf, df, *dryRun, "publish", rep, io.Discard, stderr); err != nil {
		return err
	}
	return rep.print(stdout)
}

// publishRun is herald publish, and herald build --record: lock, load, diff, write the feeds, record.
func publishRun(ctx context.Context, getenv func(string) string, siteDir string, cfg config, bf buildFlags, df diffFlags, dryRun bool, command string, stdout, stderr io.Writer) error {
	return publishReported(ctx, getenv, siteDir, cfg, bf, df, dryRun, command, nil, stdout, stderr)
}

// publishReported is publishRun, which also fills in rep, when not nil, for publish --json.
func publishReported(ctx context.Context, getenv func(string) string, siteDir string, cfg config, bf buildFlags, df diffFlags, dryRun bool, command string, rep *publishReport, stdout, stderr io.Writer) error {
	if err := df.check(); err != nil {
		return err
	}
	if bf.drafts || bf.future {
		// Recorded, they would count as published and go out by mail.
		return errUsage{fmt.Sprintf("herald %s records what is published: --drafts and --future are for herald build alone", command)}
	}
	started := time.Now()
	var r *recorder
	var err error
	if dryRun {
		st, ok, err := openStoreToRead(ctx, siteDir, cfg)
		if err != nil {
			return err
		}
		if ok {
			defer st.Close()
		}
		r = &recorder{st: st}
	} else {
		r, err = lockStore(ctx, siteDir, cfg, command)
		if err != nil {
			return err
		}
		defer r.close()
	}
	if dryRun {
		bf.noCache = true // a dry run writes nothing, not even the posts cache
	}
	b, err := prepare(ctx, getenv, siteDir, cfg, bf, stderr)
	if err != nil {
		return err
	}
	earlier := publish.Earlier{SiteURL: b.site.URL, Outbox: outboxPath(b.site.Dir, b.cfg)}
	if err := publish.CheckNewHistory(ctx, r.st, b.feeds, earlier, getenv("CI") == "true", df.init); err != nil {
		return err
	}
	d, err := publish.Compare(ctx, r.st, b.site, b.diffOptions(df))
	if err != nil {
		return err
	}
	if !df.force && !df.rebaseline && !d.Baseline && len(d.New) > 0 { // CheckBehind judges new posts only
		unrecorded, err := readUnrecorded(b.site.Dir, b.cfg)
		if err != nil {
			return err
		}
		if err := publish.CheckBehind(b.feeds, d, unrecorded); err != nil {
			return err
		}
	}
	if dryRun {
		// Nothing written, not even a large feed's temp file beside it (nor the folder for it): a dry run
		// holds the feeds in memory.
		b.feeds.SpillBytes = math.MaxInt
	}
	outs, err := publish.Build(ctx, b.site, b.feeds, stderr)
	if err != nil {
		return err
	}
	defer publish.Discard(outs)
	if !dryRun { // should the run stop before it records, the feeds hold these unrecorded
		var ids []string
		for _, e := range d.New {
			ids = append(ids, e.ID)
		}
		if err := addUnrecorded(b.site.Dir, b.cfg, ids, false); err != nil {
			return err
		}
	}
	topics := websubTopics(b, outs) // WebSub (websub.go): the feeds this run changes, known only before they are written
	if err := b.writeOutputs(outs, dryRun, stdout); err != nil {
		return err
	}
	printDiff(stdout, d, len(b.site.Posts))
	rep.setDiff(d)
	printMailHolds(stdout, d, b.site, b.cfg.Hold)
	if dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was written or recorded")
		return nil
	}
	pingHubs(ctx, b, topics, stdout, stderr) // WebSub (websub.go): tell the hubs; failures are warnings
	run, err := publish.Record(ctx, r.st, b.site, d, store.Run{Started: started, Command: command, ConfigHash: configHash(b.site.Dir), Forced: df.force},
		publish.RecordOptions{Hold: b.cfg.Hold})
	if err != nil {
		return err
	}
	if err := addUnrecorded(b.site.Dir, b.cfg, nil, true); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "recorded run #%d\n", run.ID)
	rep.setRun(run.ID)
	if command != "publish" {
		return nil
	}
	sl, err := r.st.LockSend(ctx, command)
	if err != nil {
		return err
	}
	defer sl.Unlock()
	return sendDue(ctx, b, r.st, getenv, sendFlags{result: rep.mail()}, "", stdout, stderr)
}
