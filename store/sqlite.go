package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteStore is the Store on an SQLite file, through modernc.org/sqlite: pure Go, so Herald builds
// without cgo for every platform it ships to.
//
// The PostgreSQL store (postgres.go) runs the same statements in PostgreSQL's terms, and shares the Go
// code that decides (sortOut, merge, digestPeriods, ...). What is SQLite's alone is marked: the PRAGMAs of
// Open and the migrations, and the DDL.
type sqliteStore struct {
	db   *sql.DB
	path string // absolute

	mu     sync.Mutex
	locks  map[*fileLock]struct{}
	closed bool
	stmts  map[string]*sql.Stmt // prepared, by query

	// hook, when set (by tests), is called at named points inside Record's transaction.
	hook func(stage string)

	// The aliases as Aliases last read them, and the latest run then. Only Record writes aliases, and
	// each Record adds a run (whose ids are never reused): while the latest run is still that one, Record
	// takes them from here rather than reading them again. A publish reads them to diff, then records.
	aliasMu      sync.Mutex
	aliasRun     int64
	aliasesAtRun map[string]known
}

// Open opens (creating if needed, with its parent folder) the SQLite store at path, applies pending schema
// migrations, and returns it. A file that is not a Herald store of a version this Herald knows is an
// error wrapping ErrCorrupt, ErrNewer or ErrNotStore (or the fs error of an unreadable file), and is left
// as it was. A path that is a postgres:// or postgresql:// URL is a PostgreSQL store (see OpenWith).
func Open(ctx context.Context, path string) (Store, error) {
	return OpenWith(ctx, path, Options{})
}

// Options are the settings of a store that its path does not hold.
type Options struct {
	// Password is the database server's password, for a PostgreSQL store whose URL has none: the caller
	// reads it from where the user keeps it (a file). Errors never show it.
	Password string
	// Existing opens only a store that exists: where there is none (no file; a database or schema
	// without Herald's tables), the error wraps ErrNoStore and nothing is created. For the commands that
	// only read.
	Existing bool
}

// ErrNoStore is wrapped by the error of OpenWith with Existing set when there is no store at the path.
var ErrNoStore = errors.New("store: there is no store")

// OpenWith is Open with options. A path that is a postgres:// or postgresql:// URL is a PostgreSQL store;
// errors about it name its host and database only (see Name).
func OpenWith(ctx context.Context, path string, o Options) (Store, error) {
	if IsPostgres(path) {
		return openPostgres(ctx, path, o, len(migrations))
	}
	if o.Existing {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, &pathError{path: path, kind: ErrNoStore, msg: "does not exist"}
		}
	}
	return open(ctx, path, len(migrations))
}

// Name is how Herald names the store at path to people: the path of a file; the scheme, host and
// database of a PostgreSQL URL, without its user, password or parameters.
func Name(path string) string {
	if IsPostgres(path) {
		return pgName(path)
	}
	return path
}

// open is Open migrating only up to version target, so that tests can make stores of every version.
func open(ctx context.Context, path string, target int) (*sqliteStore, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := create(ctx, abs, target); err != nil {
		return nil, err
	}
	if err := checkFile(abs); err != nil {
		return nil, err
	}
	return openFile(ctx, abs, target)
}

// openFile opens the checked store file at abs and migrates it to version target.
func openFile(ctx context.Context, abs string, target int) (*sqliteStore, error) {
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", abs, err)
	}
	db.SetMaxIdleConns(4)
	s := &sqliteStore{db: db, path: abs, locks: map[*fileLock]struct{}{}}
	if err := s.prepare(ctx, target); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// create makes the store when there is none, whole or not at all: it builds it in a temporary file beside
// path and links that into place, so that no one ever sees a store half made (an empty file is never a
// store: see checkFile), and of several processes making it at once one wins and the rest open its store.
// The file has mode 0600 and its folder 0700, because the store holds subscribers' addresses.
func create(ctx context.Context, path string, target int) error {
	if _, err := os.Lstat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil // there is a file (checkFile looks at it), or an error checkFile will report
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store %s: create its folder: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".herald-new-*.db") // mode 0600
	if err != nil {
		return fmt.Errorf("store %s: create: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
			os.Remove(p)
		}
	}()
	if err := f.Close(); err != nil {
		return fmt.Errorf("store %s: create: %w", path, err)
	}
	s, err := openFile(ctx, tmp, target)
	if err != nil {
		return err
	}
	if err := s.db.Close(); err != nil { // the last connection: SQLite checkpoints the log into the file
		return fmt.Errorf("store %s: create: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("store %s: create: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the link durable; not every file system can, so an error is not one
		d.Close()
	}
	return nil
}

// busyTimeout is how long a statement waits for another connection's lock before it fails.
const busyTimeout = 10 * time.Second

// dsn is the driver's name for the store at path. The pragmas apply to every connection the pool opens;
// none of them writes to the file. _txlock=immediate makes every transaction take the write lock when it
// begins, so two writers queue (busy_timeout) instead of one failing when it upgrades a read lock.
// cache_size is each connection's page cache, outside the Go heap: a send holds two connections, and at
// 8 MB each their caches were most of its peak RSS over the binary's (63 MB at 100,000 subscribers; 52 MB
// at 4 MB each). 2 MB each (46 MB) cost the send 6 to 9% more CPU a message (docs/benchmarks.md).
func dsn(path string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)} // escapes '?', '#' and '%' in the path
	return u.String() + "?_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout/time.Millisecond)) + ")&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=cache_size(-4000)&_txlock=immediate"
}

// prepare checks that the file is a Herald store this code can read, changing nothing until it is sure,
// then switches it to WAL mode and migrates it to version target.
func (s *sqliteStore) prepare(ctx context.Context, target int) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.fileErr("cannot be opened", err)
	}
	defer conn.Close()

	var version, app int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.fileErr("cannot be read", err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return s.fileErr("cannot be read", err)
	}
	var tables []string
	rows, err := conn.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name")
	if err != nil {
		return s.fileErr("cannot be read", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return s.fileErr("cannot be read", err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		return s.fileErr("cannot be read", err)
	}
	rows.Close()

	switch {
	case app != appID && (app != 0 || version != 0 || len(tables) > 0):
		what := fmt.Sprintf("application id %#x, user_version %d", app, version)
		if len(tables) > 0 {
			what = "tables " + strings.Join(tables, ", ")
		}
		return &pathError{path: s.path, kind: ErrNotStore,
			msg: fmt.Sprintf("is an SQLite database but not a Herald store (%s); point `store` at another file (Herald has not changed it)", what)}
	case version > len(migrations):
		return &pathError{path: s.path, kind: ErrNewer,
			msg: fmt.Sprintf("has schema version %d but this Herald knows up to %d; upgrade Herald", version, len(migrations))}
	}

	// Switching to WAL needs the file to itself, and SQLite answers SQLITE_BUSY at once, without its
	// busy timeout, when another process opens it at the same moment (herald serve and a publish from
	// cron): try again for as long as the busy timeout would have waited.
	var mode string
	for start := time.Now(); ; {
		err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		var se *sqlite.Error
		if err != nil && errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY && time.Since(start) < busyTimeout {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			return s.fileErr("cannot be switched to WAL mode", err)
		}
		break
	}
	if !strings.EqualFold(mode, "wal") {
		return &pathError{path: s.path, msg: fmt.Sprintf("cannot be switched to WAL mode (SQLite kept %q); is it on a network file system?", mode)}
	}
	if version < target {
		if err := migrate(ctx, conn, target); err != nil {
			return s.fileErr(fmt.Sprintf("cannot be migrated from schema version %d to %d", version, target), err)
		}
	}
	return nil
}

// fileErr wraps err, which came from doing what to the store, with the store's path: with ErrCorrupt
// and advice when SQLite says the file is damaged, which it may find on any read.
func (s *sqliteStore) fileErr(what string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return &pathError{path: s.path, kind: ErrCorrupt, err: err,
				msg: fmt.Sprintf("is corrupt (%s: %v); restore it from a backup, or move it away to start a new history", what, err)}
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY:
			return &pathError{path: s.path, err: err,
				msg: fmt.Sprintf("%s (%v); check the permissions of the file and its folder", what, err)}
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("store %s: %s: %w", s.path, what, err)
}

func (s *sqliteStore) Close() error {
	s.mu.Lock()
	locks, stmts := s.locks, s.stmts
	s.locks, s.stmts = nil, nil
	s.closed = true
	s.mu.Unlock()
	var errs []error
	for l := range locks {
		errs = append(errs, l.Unlock())
	}
	for _, st := range stmts {
		errs = append(errs, st.Close())
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store %s: close: %w", s.path, err))
	}
	return errors.Join(errs...)
}

// prepared returns query, prepared once per connection of the pool, for use in tx. The ledger runs
// its statements for every message: parsing them each time cost SQLite more than running them.
func (s *sqliteStore) prepared(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st := s.stmts[query]
	s.mu.Unlock()
	if st == nil {
		var err error
		if st, err = s.db.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		s.mu.Lock()
		switch {
		case s.closed:
			s.mu.Unlock()
			st.Close()
			return nil, errors.New("the store is closed")
		case s.stmts[query] != nil: // another goroutine was first
			st.Close()
			st = s.stmts[query]
		default:
			if s.stmts == nil {
				s.stmts = map[string]*sql.Stmt{}
			}
			s.stmts[query] = st
		}
		s.mu.Unlock()
	}
	return tx.StmtContext(ctx, st), nil
}

// timeLayout is how the store writes times: UTC, fixed width (nanoseconds always written), so that they
// sort as text in the order of time and read back Equal to what was written.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// formatTime gives the column value of t: NULL for the zero time.
func formatTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return layoutString(t)
}

// layoutString is t.UTC().Format(timeLayout), four times as fast for the years 0 to 9999: Record writes
// one for each of 10,000 posts.
func layoutString(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(timeLayout)
	}
	hour, min, sec := t.Clock()
	b := make([]byte, 0, len(timeLayout))
	digits := func(n, width int, sep byte) {
		start := len(b)
		b = append(b, "000000000"[:width]...)
		for i := len(b) - 1; i >= start; i-- {
			b[i] = byte('0' + n%10)
			n /= 10
		}
		b = append(b, sep)
	}
	digits(year, 4, '-')
	digits(int(month), 2, '-')
	digits(day, 2, 'T')
	digits(hour, 2, ':')
	digits(min, 2, ':')
	digits(sec, 2, '.')
	digits(t.Nanosecond(), 9, 'Z')
	return string(b)
}

func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	if t, ok := parseLayout(s.String); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String) // written by hand, or by another program
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s.String, err)
	}
	return t, nil
}

// parseLayout reads a time in timeLayout three times as fast as time.Parse: Items reads 30,000 of them
// from a 10,000-post store.
func parseLayout(s string) (time.Time, bool) {
	if len(s) != len(timeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[29] != 'Z' {
		return time.Time{}, false
	}
	ok := true
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				ok = false
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, min, sec, nsec := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if !ok || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC)
	if t.Day() != day { // February 30th and the like
		return time.Time{}, false
	}
	return t, true
}

func (s *sqliteStore) Items(ctx context.Context) ([]Item, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM aliases").Scan(&n); err != nil {
		return nil, s.fileErr("items", err)
	}
	// NULL last_run and last_seen mean the latest run (see the aliases table). One statement, so one
	// snapshot: the latest run is the one that saw these aliases.
	rows, err := s.db.QueryContext(ctx, `SELECT a.public_id, a.url, a.title, a.date, a.hash, a.first_run, a.first_seen,
		COALESCE(a.last_run, (SELECT MAX(id) FROM runs)),
		COALESCE(a.last_seen, (SELECT started FROM runs ORDER BY id DESC LIMIT 1)),
		a.removed, p.sendable, a.post_id, p.lang, p.no_email, p.held, p.wait_until
		FROM aliases a JOIN posts p ON p.id = a.post_id ORDER BY a.public_id`) // PostgreSQL: COLLATE "C", for byte order
	if err != nil {
		return nil, s.fileErr("items", err)
	}
	defer rows.Close()
	items := make([]Item, 0, n)
	for rows.Next() {
		var it Item
		var date, first, last, wait sql.NullString
		if err := rows.Scan(&it.ID, &it.URL, &it.Title, &date, &it.Hash, &it.FirstRun, &first, &it.LastRun, &last,
			&it.Removed, &it.Sendable, &it.Post, &it.Lang, &it.NoEmail, &it.Held, &wait); err != nil {
			return nil, s.fileErr("items", err)
		}
		if it.Date, err = parseTime(date); err == nil {
			if it.FirstSeen, err = parseTime(first); err == nil {
				if it.LastSeen, err = parseTime(last); err == nil {
					it.WaitUntil, err = parseTime(wait)
				}
			}
		}
		if err != nil {
			return nil, s.fileErr("item "+it.ID, err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr("items", err)
	}
	return items, nil
}

func (s *sqliteStore) Aliases(ctx context.Context) ([]Alias, error) {
	// One statement, so one snapshot: the latest run is the one after which the aliases were these.
	rows, err := s.db.QueryContext(ctx, `SELECT public_id, post_id, url, title, date, hash, removed,
		(SELECT COALESCE(MAX(id), 0) FROM runs) FROM aliases ORDER BY public_id`)
	if err != nil {
		return nil, s.fileErr("aliases", err)
	}
	defer rows.Close()
	var out []Alias
	byID := map[string]known{}
	var run int64
	for rows.Next() {
		var a Alias
		var k known
		var date sql.NullString
		if err := rows.Scan(&a.ID, &k.post, &a.URL, &a.Title, &date, &a.Hash, &a.Removed, &run); err != nil {
			return nil, s.fileErr("aliases", err)
		}
		if a.Date, err = parseTime(date); err != nil {
			return nil, s.fileErr("item "+a.ID, err)
		}
		k.url, k.title, k.date, k.hash, k.removed = a.URL, a.Title, date.String, a.Hash, a.Removed
		byID[a.ID] = k
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr("aliases", err)
	}
	if run > 0 {
		s.aliasMu.Lock()
		s.aliasRun, s.aliasesAtRun = run, byID
		s.aliasMu.Unlock()
	}
	return out, nil
}

// aliasesAfter returns the aliases Aliases read, taking them, if run is still the latest run; else nil.
func (s *sqliteStore) aliasesAfter(run int64) map[string]known {
	s.aliasMu.Lock()
	defer s.aliasMu.Unlock()
	old := s.aliasesAtRun
	if s.aliasRun != run {
		old = nil
	}
	s.aliasRun, s.aliasesAtRun = 0, nil
	return old
}

func (s *sqliteStore) Runs(ctx context.Context, n int) ([]Run, error) {
	if n <= 0 {
		n = 1<<31 - 1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, started, finished, command, config_hash,
		items_count, new_count, updated_count, removed_count, baseline, forced
		FROM runs ORDER BY id DESC LIMIT ?`, n)
	if err != nil {
		return nil, s.fileErr("runs", err)
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		var r Run
		var started, finished sql.NullString
		if err := rows.Scan(&r.ID, &started, &finished, &r.Command, &r.ConfigHash,
			&r.Items, &r.New, &r.Updated, &r.Removed, &r.Baseline, &r.Forced); err != nil {
			return nil, s.fileErr("runs", err)
		}
		if r.Started, err = parseTime(started); err == nil {
			r.Finished, err = parseTime(finished)
		}
		if err != nil {
			return nil, s.fileErr(fmt.Sprintf("run %d", r.ID), err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fileErr("runs", err)
	}
	return runs, nil
}

func (s *sqliteStore) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	// One statement, so one snapshot: the counts agree with each other.
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM runs),
		(SELECT COUNT(*) FROM aliases),
		(SELECT COUNT(*) FROM aliases WHERE removed = TRUE),
		(SELECT COUNT(*) FROM subscribers),
		(SELECT COUNT(*) FROM deliveries)`).Scan(&c.Runs, &c.Items, &c.Removed, &c.Subscribers, &c.Deliveries)
	if err != nil {
		return Counts{}, s.fileErr("counts", err)
	}
	return c, nil
}

// batch is how many rows one multi-row statement of Record writes: few statements (each costs a round
// through database/sql), well under SQLite's 32766 and PostgreSQL's 65535 parameters.
const batch = 200

// known is what Record compares a seen item with: an alias as the store has it.
type known struct {
	post                   int64
	url, title, date, hash string
	removed                bool
}

// runChanges is what a run changes: which aliases left the site, were edited or came back, or are new,
// and which posts left the site or came back to it.
type runChanges struct {
	gone    []string      // aliases on the site until this run, not seen by it
	changed []int         // indexes into seen: known aliases edited, or back on the site
	added   []int         // indexes into seen: ids new to the store
	joins   map[int]int64 // of added, those that carry on an alias gone in this run: that alias's post
	left    []int64       // posts that had an alias on the site until this run, and have none now
	back    []int64       // posts that had no alias on the site, and have one now
}

// newPosts splits the added ids: post holds those that join a post (an alias of it), fresh those that
// need a post of their own, oldest first (Plan queues posts in the order of their ids, so the oldest of a
// run goes first; an id without a date counts as started).
func (c runChanges) newPosts(seen []Item, started time.Time) (post map[int]int64, fresh []int) {
	post = make(map[int]int64, len(c.added))
	for _, i := range c.added {
		if p, ok := c.joins[i]; ok {
			post[i] = p
		} else {
			fresh = append(fresh, i)
		}
	}
	at := func(i int) time.Time {
		if seen[i].Date.IsZero() {
			return started
		}
		return seen[i].Date
	}
	slices.SortStableFunc(fresh, func(i, j int) int { return at(i).Compare(at(j)) })
	return post, fresh
}

// sortOut compares the aliases the store knows with the ids a run saw (ids: seen's; dates: seen's,
// formatted). A new id whose Continues names an alias not on the site (gone in this run, or in an earlier
// one: history ties those only when the ids setting changed while the post was away) is another id of that
// alias's post; any other new id is a new post. A known id stays with its post, whatever its Continues says.
func sortOut(old map[string]known, seen []Item, ids map[string]struct{}, dates []any) runChanges {
	c := runChanges{joins: map[int]int64{}}
	for id, k := range old {
		if _, ok := ids[id]; !ok && !k.removed {
			c.gone = append(c.gone, id)
		}
	}
	slices.Sort(c.gone) // so that the same run writes the same pages in the same order
	for i, it := range seen {
		k, ok := old[it.ID]
		if !ok {
			c.added = append(c.added, i)
			from, known := old[it.Continues]
			if _, still := ids[it.Continues]; known && !still {
				c.joins[i] = from.post
			}
			continue
		}
		if date, _ := dates[i].(string); k.removed || k.url != it.URL || k.title != it.Title || k.date != date || k.hash != it.Hash {
			c.changed = append(c.changed, i)
		}
	}
	c.left, c.back = leftAndBack(old, seen, ids, c)
	return c
}

// leftAndBack says which posts a run takes off the site (an alias of theirs left, and none is on it now)
// and which it puts back (an alias of theirs is back, and none was on it until now).
func leftAndBack(old map[string]known, seen []Item, ids map[string]struct{}, c runChanges) (left, back []int64) {
	on := map[int64]bool{}  // of the posts that lost an alias: whether one is on the site now
	was := map[int64]bool{} // of the posts with an alias back: whether one was on the site until now
	for _, id := range c.gone {
		on[old[id].post] = false
	}
	for _, i := range c.changed {
		if k := old[seen[i].ID]; k.removed {
			was[k.post] = false
		}
	}
	for i, p := range c.joins {
		if old[seen[i].Continues].removed { // a post away comes back under a new id
			was[p] = false
		}
	}
	if len(on) == 0 && len(was) == 0 {
		return nil, nil
	}
	for id, k := range old {
		if _, ok := on[k.post]; ok {
			_, still := ids[id]
			on[k.post] = on[k.post] || still
		}
		if _, ok := was[k.post]; ok {
			was[k.post] = was[k.post] || !k.removed
		}
	}
	for _, p := range c.joins {
		on[p] = true
	}
	for p, still := range on {
		if !still {
			left = append(left, p)
		}
	}
	for p, before := range was {
		if !before {
			back = append(back, p)
		}
	}
	slices.Sort(left)
	slices.Sort(back)
	return left, back
}

func (s *sqliteStore) Record(ctx context.Context, run *Run, seen []Item) (err error) {
	if run == nil || run.Started.IsZero() {
		return fmt.Errorf("store %s: record: the run has no start time", s.path)
	}
	ids := make(map[string]struct{}, len(seen))
	for _, it := range seen {
		if it.ID == "" {
			return fmt.Errorf("store %s: record: an item has no id (url %q)", s.path, it.URL)
		}
		if _, dup := ids[it.ID]; dup {
			return fmt.Errorf("store %s: record: item id %q appears twice", s.path, it.ID)
		}
		ids[it.ID] = struct{}{}
	}
	fail := func(what string, err error) error { return s.fileErr("record: "+what, err) }

	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dsn)
	if err != nil {
		return fail("begin", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error that made us roll back is the one to report
		}
	}()
	hook := func(stage string) {
		if s.hook != nil {
			s.hook(stage)
		}
	}

	// Every alias not removed was seen by the latest run until now: the ones this run does not see
	// were last seen by that one.
	var prev sql.NullInt64
	var prevStarted sql.NullString
	last := tx.QueryRowContext(ctx, "SELECT id, started FROM runs ORDER BY id DESC LIMIT 1")
	if err := last.Scan(&prev, &prevStarted); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail("read the last run", err)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO runs (started, finished, command, config_hash,
		items_count, new_count, updated_count, removed_count, baseline, forced)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		formatTime(run.Started), formatTime(run.Finished), run.Command, run.ConfigHash,
		run.Items, run.New, run.Updated, run.Removed, run.Baseline, run.Forced).Scan(&id); err != nil {
		return fail("insert run", err)
	}
	hook("run")

	old := s.aliasesAfter(prev.Int64) // none when no run was recorded yet (prev NULL: 0)
	if old == nil {
		if old, err = readAliases(ctx, tx, len(seen)); err != nil {
			return fail("read items", err)
		}
	}
	dates := make([]any, len(seen))
	for i, it := range seen {
		dates[i] = formatTime(it.Date)
	}
	c := sortOut(old, seen, ids, dates)

	// Unchanged aliases are not written at all: their NULL last_run now means this run.
	if len(c.gone) > 0 && !prev.Valid {
		return fail("mark removed items", errors.New("items are recorded but no run is"))
	}
	if err := execBatches(ctx, tx, c.gone, 1, func(n int) string {
		return "UPDATE aliases SET removed = TRUE, last_run = ?, last_seen = ? WHERE public_id IN (" + placeholders(n, 1) + ")"
	}, []any{prev.Int64, prevStarted.String}, func(id string) []any { return []any{id} }); err != nil {
		return fail("mark removed items", err)
	}
	hook("removed")
	// UPDATE ... FROM (VALUES ...) names the columns column1, column2, ... in SQLite and PostgreSQL alike.
	if err := execBatches(ctx, tx, c.changed, 5, func(n int) string {
		return `UPDATE aliases SET url = v.column2, title = v.column3, date = v.column4, hash = v.column5,
			last_run = NULL, last_seen = NULL, removed = FALSE
			FROM (VALUES ` + placeholders(n, 5) + `) AS v WHERE aliases.public_id = v.column1`
	}, nil, func(i int) []any {
		it := &seen[i]
		return []any{it.ID, it.URL, it.Title, dates[i], it.Hash}
	}); err != nil {
		return fail("update items", err)
	}
	hook("updated")
	if err := insertAliases(ctx, tx, id, run.Started, seen, dates, c); err != nil {
		return fail("insert items", err)
	}
	if err := refreshWaiting(ctx, tx, id, seen); err != nil {
		return fail("record the waiting posts anew", err)
	}
	hook("inserted")
	if err := execBatches(ctx, tx, c.left, 1, func(n int) string {
		return "UPDATE posts SET removed = TRUE WHERE id IN (" + placeholders(n, 1) + ")"
	}, nil, func(p int64) []any { return []any{p} }); err != nil {
		return fail("mark removed posts", err)
	}
	// A post back on the site is planned again from this run (see planMine).
	if err := execBatches(ctx, tx, c.back, 1, func(n int) string {
		return "UPDATE posts SET removed = FALSE, plan_run = ? WHERE id IN (" + placeholders(n, 1) + ")"
	}, []any{id}, func(p int64) []any { return []any{p} }); err != nil {
		return fail("mark posts back", err)
	}
	if err := unqueue(ctx, tx, c.left); err != nil {
		return fail("take removed posts out of the mail to send", err)
	}
	if err := commit(ctx, tx); err != nil {
		return fail("commit", err)
	}
	run.ID = id
	return nil
}

// readAliases reads every alias the store knows, by public id.
func readAliases(ctx context.Context, tx *sql.Tx, size int) (map[string]known, error) {
	old := make(map[string]known, size)
	rows, err := tx.QueryContext(ctx, "SELECT public_id, post_id, url, title, date, hash, removed FROM aliases")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k known
		var id string
		var date sql.NullString
		if err := rows.Scan(&id, &k.post, &k.url, &k.title, &date, &k.hash, &k.removed); err != nil {
			return nil, err
		}
		k.date = date.String
		old[id] = k
	}
	return old, rows.Err()
}

// insertAliases inserts the aliases of the ids new to the store: of the post they carry on (c.joins),
// or of a post of their own, made here.
func insertAliases(ctx context.Context, tx *sql.Tx, run int64, started time.Time, seen []Item, dates []any, c runChanges) error {
	now := formatTime(started)
	post, fresh := c.newPosts(seen, started)
	for start := 0; start < len(fresh); start += batch {
		part := fresh[start:min(start+batch, len(fresh))]
		args := make([]any, 0, 8*len(part))
		for _, i := range part {
			sendable, held, wait := postMail(&seen[i], started)
			args = append(args, run, now, run, sendable, normLang(seen[i].Lang), seen[i].NoEmail, held, formatTime(wait))
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO posts (first_run, first_seen, plan_run, sendable, lang, no_email, held, wait_until) VALUES `+
			placeholders(len(part), 8)+` RETURNING id`, args...)
		if err != nil {
			return err
		}
		var made []int64
		for rows.Next() {
			var p int64
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return err
			}
			made = append(made, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(made) != len(part) {
			return fmt.Errorf("made %d posts, want %d", len(made), len(part))
		}
		// The ids follow the order of the rows (RETURNING need not), as SQLite assigns them.
		slices.Sort(made)
		for j, i := range part {
			post[i] = made[j]
		}
	}
	if err := execBatches(ctx, tx, newPostTags(seen, post, fresh), 2, func(n int) string {
		return `INSERT INTO post_tags (post_id, tag) VALUES ` + placeholders(n, 2)
	}, nil, func(t postTag) []any { return []any{t.post, t.tag} }); err != nil {
		return err
	}
	return execBatches(ctx, tx, c.added, 8, func(n int) string {
		return `INSERT INTO aliases (public_id, post_id, url, title, date, hash, first_run, first_seen) VALUES ` + placeholders(n, 8)
	}, nil, func(i int) []any {
		it := &seen[i]
		return []any{it.ID, post[i], it.URL, it.Title, dates[i], it.Hash, run, now}
	})
}

// unqueue takes the posts that left the site out of what waits to go: their subscribers are owed them
// again, should they come back (plan_run). Only what no server can have: never tried, or refused
// (deferred). Not a crash's "sending" and "unknown" ones, nor one that was unknown before --retry-unknown
// queued it again (maybe_sent). Nothing is in flight: a run holds the lock.
func unqueue(ctx context.Context, tx *sql.Tx, posts []int64) error {
	if len(posts) == 0 {
		return nil
	}
	const waiting = `maybe_sent = 0 AND (status = 'deferred' OR (status = 'queued' AND sending_at IS NULL))`
	for _, q := range []func(n int) string{
		// A post's own message (its delivery_items row goes with it).
		func(n int) string {
			return `DELETE FROM deliveries WHERE ` + waiting + ` AND digest_key IS NULL AND id IN
				(SELECT delivery_id FROM delivery_items WHERE post_id IN (` + placeholders(n, 1) + `))`
		},
		// Its place in a digest.
		func(n int) string {
			return `DELETE FROM delivery_items WHERE post_id IN (` + placeholders(n, 1) + `) AND delivery_id IN
				(SELECT id FROM deliveries WHERE ` + waiting + `)`
		},
	} {
		if err := execBatches(ctx, tx, posts, 1, q, nil, func(p int64) []any { return []any{p} }); err != nil {
			return err
		}
	}
	// A digest left with nothing in it.
	_, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE `+waiting+` AND digest_key IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM delivery_items di WHERE di.delivery_id = deliveries.id)`)
	return err
}

// execBatches runs the statement that stmt(n) makes for n rows over rows, batch rows at a time: the
// arguments are head, then args of each row, which are cols long.
func execBatches[T any](ctx context.Context, tx *sql.Tx, rows []T, cols int, stmt func(n int) string, head []any, args func(T) []any) error {
	var full *sql.Stmt
	buf := make([]any, 0, len(head)+min(len(rows), batch)*cols)
	for start := 0; start < len(rows); start += batch {
		part := rows[start:min(start+batch, len(rows))]
		buf = append(buf[:0], head...)
		for _, r := range part {
			buf = append(buf, args(r)...)
		}
		var err error
		if len(part) == batch {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, stmt(batch)); err != nil {
					return err
				}
				defer full.Close()
			}
			_, err = full.ExecContext(ctx, buf...)
		} else {
			_, err = tx.ExecContext(ctx, stmt(len(part)), buf...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// placeholders gives n rows of cols parameters: "(?, ?), (?, ?)" (or "?, ?" when cols is 1, for IN).
func placeholders(n, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	if cols == 1 {
		row = "?"
	}
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// commit commits tx. When ctx ends just before, database/sql may roll tx back first and Commit then
// says only that the transaction is done: the error is then ctx's, which is what stopped it.
func commit(ctx context.Context, tx *sql.Tx) error {
	err := tx.Commit()
	if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
		return fmt.Errorf("rolled back: %w", context.Cause(ctx))
	}
	return err
}
