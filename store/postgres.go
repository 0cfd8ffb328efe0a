package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStore is the Store on a PostgreSQL database, through github.com/jackc/pgx/v5. It keeps the model and
// the contract of the SQLite store: the same tables in PostgreSQL's types (identity columns, BOOLEAN,
// TIMESTAMPTZ), the same statements where the SQL allows, and the same Go code around them (sortOut,
// merge, digestPeriods, ...). Two things differ by nature:
//   - Write transactions take a transaction-level advisory lock first (inTx), so that they run one at a
//     time, as SQLite's BEGIN IMMEDIATE makes them: the read-modify-write of Record and Plan relies on it.
//   - Times are kept to the microsecond, PostgreSQL's resolution (pgTime), where SQLite keeps nanoseconds.
//
// The store lives in the connection's current schema (the first of search_path, which the URL may set),
// so that one database can hold several stores.
type pgStore struct {
	pool *pgxpool.Pool
	conn *pgx.ConnConfig // for the run lock's own connections
	name string          // postgres://host:port/database: what errors call the store (never the user or password)

	runKey, writeKey int32 // the advisory locks' second keys, for this store's schema (the first is appID)
	senderKey        int32 // the first key of its senders' locks (see postgres_send.go)

	mu        sync.Mutex
	locks     map[*pgLock]struct{}
	sender    int64       // this store's number as a sender (LockSend), 0 when it is none
	senderPID uint32      // the backend pid of the sender's lock connection
	sendLock  *pgSendLock // held while sender is set
	closed    bool
}

// IsPostgres says whether path names a PostgreSQL store (a postgres:// or postgresql:// URL) rather than a file.
func IsPostgres(path string) bool {
	p := strings.ToLower(path)
	return strings.HasPrefix(p, "postgres://") || strings.HasPrefix(p, "postgresql://")
}

// pgName is how errors call the store at raw: scheme, host (and port) and database, without the user, the
// password or the parameters.
func pgName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres://(an URL that cannot be parsed)"
	}
	return "postgres://" + u.Host + u.Path
}

// scrubbed is an error whose text has a secret replaced, for errors of the driver that may quote the URL.
type scrubbed struct {
	err    error
	secret string
}

func (e scrubbed) Error() string {
	if e.secret == "" {
		return e.err.Error()
	}
	return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx")
}

func (e scrubbed) Unwrap() error { return e.err }

// pgConfig parses the URL raw into a pool configuration. The password is the URL's (user:password@, or its
// password parameter), else o.Password. pgx also applies libpq's defaults (PG* variables, ~/.pgpass) to
// what the URL leaves out, as psql would.
func pgConfig(raw string, o Options) (*pgxpool.Config, error) {
	name := pgName(raw)
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's words quote parts of the URL, and a password that could not be parsed out cannot be
		// scrubbed: none of them is shown.
		return nil, &pathError{path: name, msg: "cannot be used: its URL cannot be parsed; percent-encode @ : / ? # in the user name and password (%40 %3A %2F %3F %23)"}
	}
	secret := o.Password
	inURL := u.Query().Has("password")
	if p, ok := u.User.Password(); ok {
		secret, inURL = p, true
	}
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("store %s: the URL cannot be used: %w", name, scrubbed{err, secret})
	}
	if !inURL && o.Password != "" {
		cfg.ConnConfig.Password = o.Password
	}
	// Times come back in UTC, as the SQLite store gives them.
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		utc(c)
		return nil
	}
	return cfg, nil
}

func utc(c *pgx.Conn) {
	c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
		Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
}

// openPostgres opens the PostgreSQL store at the URL raw, making its tables in an empty schema, and
// migrates it to version target (pgBase at least). A database that holds other tables, or a Herald store
// of a version this Herald does not know, is an error wrapping ErrNotStore or ErrNewer, and is left as it
// was.
func openPostgres(ctx context.Context, raw string, o Options, target int) (*pgStore, error) {
	cfg, err := pgConfig(raw, o)
	if err != nil {
		return nil, err
	}
	s := &pgStore{conn: cfg.ConnConfig.Copy(), name: pgName(raw), locks: map[*pgLock]struct{}{}}
	secret := cfg.ConnConfig.Password
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.name, scrubbed{err, secret})
	}
	s.pool = pool
	if err := s.prepare(ctx, target, o.Existing); err != nil {
		pool.Close()
		if errors.As(err, new(*pathError)) {
			return nil, err
		}
		return nil, scrubbed{err, secret}
	}
	return s, nil
}

// lockKey is the second key of the advisory lock named what for the store in schema.
func lockKey(what, schema string) int32 {
	h := fnv.New32a()
	h.Write([]byte(what + "\x00" + schema))
	return int32(h.Sum32() & 0x7fffffff) // pg_locks shows it as an oid: keep it positive, so that it reads back the same
}

// prepare checks that the schema is empty or holds a Herald store this code can read, changing nothing
// until it is sure, then migrates it to version target. An empty schema is an error wrapping ErrNoStore
// when existing is set.
func (s *pgStore) prepare(ctx context.Context, target int, existing bool) error {
	var schema *string
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return s.dbErr("cannot be opened", err)
	}
	if schema == nil {
		return &pathError{path: s.name, msg: "has no schema to keep the store in (none of search_path's schemas exists); create one, or set search_path in the URL's options"}
	}
	s.runKey, s.writeKey, s.senderKey = lockKey("run", *schema), lockKey("write", *schema), lockKey("sender", *schema)
	version, err := s.version(ctx, s.pool)
	if err != nil {
		return err
	}
	if version == 0 && existing {
		return &pathError{path: s.name, kind: ErrNoStore, msg: "holds no Herald store yet (its schema " + *schema + " has no tables)"}
	}
	if version < target {
		if err := s.migrate(ctx, target); err != nil {
			var pe *pathError
			if errors.As(err, &pe) {
				return err
			}
			return s.dbErr(fmt.Sprintf("cannot be migrated from schema version %d to %d", version, target), err)
		}
	}
	return nil
}

// querier is what version reads with: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// version reads the store's schema version: 0 for an empty schema. A schema with other tables, or a
// herald_meta table that is not Herald's, is an error wrapping ErrNotStore; a newer version one wrapping
// ErrNewer.
func (s *pgStore) version(ctx context.Context, q querier) (int, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
		ORDER BY c.relname`)
	if err != nil {
		return 0, s.dbErr("cannot be read", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, s.dbErr("cannot be read", err)
	}
	if len(tables) == 0 {
		return 0, nil
	}
	if !slices.Contains(tables, "herald_meta") {
		if len(tables) > 10 {
			tables = append(tables[:10], "...")
		}
		return 0, &pathError{path: s.name, kind: ErrNotStore,
			msg: fmt.Sprintf("is a PostgreSQL database but not a Herald store (tables %s); point `store` at an empty database or schema (Herald has not changed it)", strings.Join(tables, ", "))}
	}
	var app string
	var version int
	if err := q.QueryRow(ctx, "SELECT application, version FROM herald_meta").Scan(&app, &version); err != nil {
		return 0, &pathError{path: s.name, kind: ErrNotStore, err: err,
			msg: fmt.Sprintf("has a herald_meta table that is not Herald's (%v); point `store` at an empty database or schema (Herald has not changed it)", err)}
	}
	if app != pgApplication {
		return 0, &pathError{path: s.name, kind: ErrNotStore,
			msg: fmt.Sprintf("is a PostgreSQL database of another application (%q) and not a Herald store; point `store` at an empty database or schema (Herald has not changed it)", app)}
	}
	if version > len(migrations) {
		return 0, &pathError{path: s.name, kind: ErrNewer,
			msg: fmt.Sprintf("has schema version %d but this Herald knows up to %d; upgrade Herald", version, len(migrations))}
	}
	var missing []string
	for v := pgBase; v <= version; v++ {
		for _, table := range pgTables[v] {
			if !slices.Contains(tables, table) {
				missing = append(missing, table)
			}
		}
	}
	if len(missing) > 0 {
		return 0, &pathError{path: s.name, kind: ErrCorrupt,
			msg: fmt.Sprintf("is damaged: its schema version %d has tables %s, which are missing; restore it from a backup (Herald has not changed it)",
				version, strings.Join(missing, ", "))}
	}
	return version, nil
}

// migrate makes or migrates the store in one transaction, under an advisory lock, reading the version
// again inside it: another process may have made or migrated the store meanwhile.
func (s *pgStore) migrate(ctx context.Context, target int) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it does nothing
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", appID, s.writeKey); err != nil {
		return err
	}
	from, err := s.version(ctx, tx)
	if err != nil {
		return err
	}
	if from >= target {
		return nil
	}
	if from == 0 {
		if _, err := tx.Exec(ctx, pgSchema); err != nil {
			return fmt.Errorf("create version %d: %w", pgBase, err)
		}
		from = pgBase
	}
	for v := from; v < target; v++ {
		if _, err := tx.Exec(ctx, pgMigrations[v-pgBase]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE herald_meta SET version = $1", target); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// dbErr wraps err, which came from doing what to the store, with the store's name.
func (s *pgStore) dbErr(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("store %s: %s: %w", s.name, what, err)
}

func (s *pgStore) checkErr(format string, args ...any) error {
	return checkError{fmt.Errorf("store %s: "+format, append([]any{s.name}, args...)...)}
}

// inTx runs f in a transaction and commits it, or rolls it back when f fails. The transaction first takes
// the store's write lock (a transaction-level advisory lock), so that writers run one at a time, as on
// SQLite. Errors from the database are wrapped with what.
func (s *pgStore) inTx(ctx context.Context, what string, f func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.dbErr(what, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it does nothing
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", appID, s.writeKey); err != nil {
		return s.dbErr(what, err)
	}
	if err := f(tx); err != nil {
		if errors.As(err, new(checkError)) {
			return err
		}
		return s.dbErr(what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return s.dbErr(what, err)
	}
	return nil
}

func (s *pgStore) Close() error {
	s.mu.Lock()
	locks, send := s.locks, s.sendLock
	s.locks = nil
	s.closed = true
	s.mu.Unlock()
	var errs []error
	for l := range locks {
		errs = append(errs, l.Unlock())
	}
	if send != nil {
		errs = append(errs, send.Unlock())
	}
	s.pool.Close()
	return errors.Join(errs...)
}

// pgTime is t as a timestamptz argument: NULL for the zero time, else t to the microsecond, PostgreSQL's
// resolution, cut as the server would store it, so that what Go compares and what SQL compares agree.
func pgTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Truncate(time.Microsecond).UTC()
}

// pgTimes is ts as a timestamptz[] argument (NULL for the zero time).
func pgTimes(ts []time.Time) []pgtype.Timestamptz {
	out := make([]pgtype.Timestamptz, len(ts))
	for i, t := range ts {
		if !t.IsZero() {
			out[i] = pgtype.Timestamptz{Time: t.Truncate(time.Microsecond).UTC(), Valid: true}
		}
	}
	return out
}

// when is a scanned nullable timestamptz as a time: the zero time for NULL.
func when(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func (s *pgStore) Items(ctx context.Context) ([]Item, error) {
	// NULL last_run and last_seen mean the latest run (see the aliases table). One statement, so one
	// snapshot: the latest run is the one that saw these aliases.
	rows, err := s.pool.Query(ctx, `SELECT a.public_id, a.url, a.title, a.date, a.hash, a.first_run, a.first_seen,
		COALESCE(a.last_run, (SELECT MAX(id) FROM runs)),
		COALESCE(a.last_seen, (SELECT started FROM runs ORDER BY id DESC LIMIT 1)),
		a.removed, p.sendable, a.post_id, p.lang, p.no_email, p.held, p.wait_until
		FROM aliases a JOIN posts p ON p.id = a.post_id ORDER BY a.public_id`) // public_id is COLLATE "C": byte order
	if err != nil {
		return nil, s.dbErr("items", err)
	}
	items := []Item{}
	var date, wait *time.Time
	var it Item
	_, err = pgx.ForEachRow(rows, []any{&it.ID, &it.URL, &it.Title, &date, &it.Hash, &it.FirstRun, &it.FirstSeen,
		&it.LastRun, &it.LastSeen, &it.Removed, &it.Sendable, &it.Post, &it.Lang, &it.NoEmail, &it.Held, &wait}, func() error {
		it.Date, it.WaitUntil = when(date), when(wait)
		items = append(items, it)
		return nil
	})
	if err != nil {
		return nil, s.dbErr("items", err)
	}
	return items, nil
}

func (s *pgStore) Aliases(ctx context.Context) ([]Alias, error) {
	rows, err := s.pool.Query(ctx, `SELECT public_id, url, title, date, hash, removed FROM aliases ORDER BY public_id`) // COLLATE "C": byte order
	if err != nil {
		return nil, s.dbErr("aliases", err)
	}
	out := []Alias{}
	var date *time.Time
	var a Alias
	_, err = pgx.ForEachRow(rows, []any{&a.ID, &a.URL, &a.Title, &date, &a.Hash, &a.Removed}, func() error {
		a.Date = when(date)
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, s.dbErr("aliases", err)
	}
	return out, nil
}

func (s *pgStore) Runs(ctx context.Context, n int) ([]Run, error) {
	if n <= 0 {
		n = 1<<31 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT id, started, finished, command, config_hash,
		items_count, new_count, updated_count, removed_count, baseline, forced
		FROM runs ORDER BY id DESC LIMIT $1`, n)
	if err != nil {
		return nil, s.dbErr("runs", err)
	}
	var runs []Run
	var r Run
	var finished *time.Time
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.Started, &finished, &r.Command, &r.ConfigHash,
		&r.Items, &r.New, &r.Updated, &r.Removed, &r.Baseline, &r.Forced}, func() error {
		r.Finished = when(finished)
		runs = append(runs, r)
		return nil
	})
	if err != nil {
		return nil, s.dbErr("runs", err)
	}
	return runs, nil
}

func (s *pgStore) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	// One statement, so one snapshot: the counts agree with each other.
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM runs),
		(SELECT COUNT(*) FROM aliases),
		(SELECT COUNT(*) FROM aliases WHERE removed),
		(SELECT COUNT(*) FROM subscribers),
		(SELECT COUNT(*) FROM deliveries)`).Scan(&c.Runs, &c.Items, &c.Removed, &c.Subscribers, &c.Deliveries)
	if err != nil {
		return Counts{}, s.dbErr("counts", err)
	}
	return c, nil
}

// Record is the SQLite store's Record (sortOut and leftAndBack decide what changes), with each kind of
// change one statement over arrays.
func (s *pgStore) Record(ctx context.Context, run *Run, seen []Item) error {
	if run == nil || run.Started.IsZero() {
		return fmt.Errorf("store %s: record: the run has no start time", s.name)
	}
	ids := make(map[string]struct{}, len(seen))
	for _, it := range seen {
		if it.ID == "" {
			return fmt.Errorf("store %s: record: an item has no id (url %q)", s.name, it.URL)
		}
		if _, dup := ids[it.ID]; dup {
			return fmt.Errorf("store %s: record: item id %q appears twice", s.name, it.ID)
		}
		ids[it.ID] = struct{}{}
	}
	var id int64
	err := s.inTx(ctx, "record", func(tx pgx.Tx) error {
		var err error
		id, err = s.record(ctx, tx, run, seen, ids)
		return err
	})
	if err != nil {
		return err
	}
	run.ID = id
	return nil
}

func (s *pgStore) record(ctx context.Context, tx pgx.Tx, run *Run, seen []Item, ids map[string]struct{}) (int64, error) {
	// Every alias not removed was seen by the latest run until now: the ones this run does not see were
	// last seen by that one.
	var prev *int64
	var prevStarted *time.Time
	err := tx.QueryRow(ctx, "SELECT id, started FROM runs ORDER BY id DESC LIMIT 1").Scan(&prev, &prevStarted)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("read the last run: %w", err)
	}
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO runs (started, finished, command, config_hash,
		items_count, new_count, updated_count, removed_count, baseline, forced)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		pgTime(run.Started), pgTime(run.Finished), run.Command, run.ConfigHash,
		run.Items, run.New, run.Updated, run.Removed, run.Baseline, run.Forced).Scan(&id); err != nil {
		return 0, fmt.Errorf("insert run: %w", err)
	}
	old, err := pgAliases(ctx, tx, len(seen))
	if err != nil {
		return 0, fmt.Errorf("read items: %w", err)
	}
	dates := make([]any, len(seen)) // as sortOut compares them: formatted, to the microsecond
	for i, it := range seen {
		if t := pgTime(it.Date); t != nil {
			dates[i] = formatTime(t.(time.Time))
		}
	}
	c := sortOut(old, seen, ids, dates)

	if len(c.gone) > 0 {
		if prev == nil {
			return 0, errors.New("mark removed items: items are recorded but no run is")
		}
		if _, err := tx.Exec(ctx, `UPDATE aliases SET removed = TRUE, last_run = $1, last_seen = $2
			WHERE public_id = ANY($3::text[])`, *prev, *prevStarted, c.gone); err != nil {
			return 0, fmt.Errorf("mark removed items: %w", err)
		}
	}
	if len(c.changed) > 0 {
		var v aliasRows
		for _, i := range c.changed {
			v.add(&seen[i], 0)
		}
		if _, err := tx.Exec(ctx, `UPDATE aliases a SET url = v.url, title = v.title, date = v.date, hash = v.hash,
				last_run = NULL, last_seen = NULL, removed = FALSE
			FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS v (id, url, title, date, hash)
			WHERE a.public_id = v.id`, v.ids, v.urls, v.titles, pgTimes(v.dates), v.hashes); err != nil {
			return 0, fmt.Errorf("update items: %w", err)
		}
	}
	if err := pgInsertAliases(ctx, tx, id, run.Started, seen, c); err != nil {
		return 0, fmt.Errorf("insert items: %w", err)
	}
	if err := pgRefreshWaiting(ctx, tx, id, seen); err != nil {
		return 0, fmt.Errorf("record the waiting posts anew: %w", err)
	}
	if len(c.left) > 0 {
		if _, err := tx.Exec(ctx, "UPDATE posts SET removed = TRUE WHERE id = ANY($1::bigint[])", c.left); err != nil {
			return 0, fmt.Errorf("mark removed posts: %w", err)
		}
		if err := pgUnqueue(ctx, tx, c.left); err != nil {
			return 0, fmt.Errorf("take removed posts out of the mail to send: %w", err)
		}
	}
	// A post back on the site is planned again from this run (see planMine).
	if len(c.back) > 0 {
		if _, err := tx.Exec(ctx, "UPDATE posts SET removed = FALSE, plan_run = $1 WHERE id = ANY($2::bigint[])", id, c.back); err != nil {
			return 0, fmt.Errorf("mark posts back: %w", err)
		}
	}
	return id, nil
}

// aliasRows are aliases as columns, for unnest.
type aliasRows struct {
	ids, urls, titles, hashes []string
	dates                     []time.Time
	posts                     []int64
}

func (v *aliasRows) add(it *Item, post int64) {
	v.ids = append(v.ids, it.ID)
	v.urls = append(v.urls, it.URL)
	v.titles = append(v.titles, it.Title)
	v.dates = append(v.dates, it.Date)
	v.hashes = append(v.hashes, it.Hash)
	v.posts = append(v.posts, post)
}

// pgAliases reads every alias the store knows, by public id, with dates as sortOut compares them.
func pgAliases(ctx context.Context, tx pgx.Tx, size int) (map[string]known, error) {
	old := make(map[string]known, size)
	rows, err := tx.Query(ctx, "SELECT public_id, post_id, url, title, date, hash, removed FROM aliases")
	if err != nil {
		return nil, err
	}
	var k known
	var id string
	var date *time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &k.post, &k.url, &k.title, &date, &k.hash, &k.removed}, func() error {
		k.date = ""
		if date != nil {
			k.date = layoutString(*date)
		}
		old[id] = k
		return nil
	})
	return old, err
}

// pgInsertAliases inserts the aliases of the ids new to the store: of the post they carry on (c.joins), or
// of a post of their own, made here, oldest first (as insertAliases).
func pgInsertAliases(ctx context.Context, tx pgx.Tx, run int64, started time.Time, seen []Item, c runChanges) error {
	if len(c.added) == 0 {
		return nil
	}
	post, fresh := c.newPosts(seen, started)
	if len(fresh) > 0 {
		// The new posts' ids are taken first, in one statement, and given out oldest post first, so that
		// which row has which id does not rest on the order an INSERT assigns them in.
		rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('posts', 'id')) FROM generate_series(1, $1::int)`, len(fresh))
		if err != nil {
			return err
		}
		made, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(made) != len(fresh) {
			return fmt.Errorf("took %d post ids, want %d", len(made), len(fresh))
		}
		slices.Sort(made)
		sendable, held, noEmail := make([]bool, len(fresh)), make([]bool, len(fresh)), make([]bool, len(fresh))
		langs, waits := make([]string, len(fresh)), make([]time.Time, len(fresh))
		for j, i := range fresh {
			post[i] = made[j]
			sendable[j], held[j], waits[j] = postMail(&seen[i], started)
			langs[j], noEmail[j] = normLang(seen[i].Lang), seen[i].NoEmail
		}
		_, err = tx.Exec(ctx, `INSERT INTO posts (id, first_run, first_seen, plan_run, sendable, lang, no_email, held, wait_until)
			OVERRIDING SYSTEM VALUE
			SELECT v.id, $1::bigint, $2::timestamptz, $1::bigint, v.sendable, v.lang, v.no_email, v.held, v.wait_until
			FROM unnest($3::bigint[], $4::boolean[], $5::text[], $6::boolean[], $7::boolean[], $8::timestamptz[])
				AS v (id, sendable, lang, no_email, held, wait_until)`,
			run, pgTime(started), made, sendable, langs, noEmail, held, pgTimes(waits))
		if err != nil {
			return err
		}
		var tagPosts []int64
		var tags []string
		for _, t := range newPostTags(seen, post, fresh) {
			tagPosts, tags = append(tagPosts, t.post), append(tags, t.tag)
		}
		if len(tags) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO post_tags (post_id, tag) SELECT * FROM unnest($1::bigint[], $2::text[])`,
				tagPosts, tags); err != nil {
				return err
			}
		}
	}
	var v aliasRows
	for _, i := range c.added {
		v.add(&seen[i], post[i])
	}
	_, err := tx.Exec(ctx, `INSERT INTO aliases (public_id, post_id, url, title, date, hash, first_run, first_seen)
		SELECT v.id, v.post, v.url, v.title, v.date, v.hash, $1::bigint, $2::timestamptz
		FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[], $8::text[]) AS v (id, post, url, title, date, hash)`,
		run, pgTime(started), v.ids, v.posts, v.urls, v.titles, pgTimes(v.dates), v.hashes)
	return err
}

// pgUnqueue is unqueue: it takes the posts that left the site out of what waits to go, and only what no
// server can have.
func pgUnqueue(ctx context.Context, tx pgx.Tx, posts []int64) error {
	const waiting = `NOT maybe_sent AND (status = 'deferred' OR (status = 'queued' AND sending_at IS NULL))`
	for _, q := range []string{
		// A post's own message (its delivery_items row goes with it).
		`DELETE FROM deliveries WHERE ` + waiting + ` AND digest_key IS NULL AND id IN
			(SELECT delivery_id FROM delivery_items WHERE post_id = ANY($1::bigint[]))`,
		// Its place in a digest.
		`DELETE FROM delivery_items WHERE post_id = ANY($1::bigint[]) AND delivery_id IN
			(SELECT id FROM deliveries WHERE ` + waiting + `)`,
		// A digest left with nothing in it.
		`DELETE FROM deliveries d WHERE ` + waiting + ` AND digest_key IS NOT NULL AND cardinality($1::bigint[]) > 0
			AND NOT EXISTS (SELECT 1 FROM delivery_items di WHERE di.delivery_id = d.id)`,
	} {
		if _, err := tx.Exec(ctx, q, posts); err != nil {
			return err
		}
	}
	return nil
}

// isUnique says whether err is PostgreSQL's unique_violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
