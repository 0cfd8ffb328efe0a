package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Copy copies everything the store src holds into dst, which must be empty, whatever the backend of
// either: every row of every table below (copyTables), with its ids, and each table's id counter, so
// that no id the source ever gave out (a deleted subscriber's, whose signed links may still be in an
// inbox) is given out again by the copy. Times are kept to the precision dst keeps (microseconds on
// PostgreSQL).
//
// It holds both stores' run locks throughout, reads src in one read transaction (one snapshot: a
// herald serve writing to it meanwhile changes nothing of what is copied), and writes dst in one
// transaction: an error, a cancelled ctx or a kill leaves dst as it was. A dst that holds anything is
// refused with an error wrapping ErrNotEmpty, and left as it is. Rows are streamed: a batch of them at
// most is held in memory.
//
// It returns how many rows it copied of each table, in copyTables' order.
func Copy(ctx context.Context, dst, src Store) ([]Copied, error) {
	return copyStore(ctx, dst, src, nil)
}

// ErrNotEmpty is wrapped by Copy's error when the store to copy into already holds something.
var ErrNotEmpty = errors.New("store: not empty")

// Copied is how many rows Copy copied of one table.
type Copied struct {
	Table string
	Rows  int
}

// The tables Copy copies, in the order their foreign keys need, with every column of the schema's latest
// version (TestCopyModel checks them against both backends' schemas). A column's kind is what both
// backends mean by it; its type in each backend differs for two kinds (cell and arg convert):
//
//	kind  SQLite                         PostgreSQL
//	bool  INTEGER 0 or 1                 BOOLEAN
//	time  TEXT, timeLayout, UTC          TIMESTAMPTZ (microseconds)
//
// What Copy leaves out, on purpose: write_checks (herald serve's /healthz rewrites its one row on its next
// check: it says whether the store takes writes, not what it holds); herald_meta, SQLite's user_version
// and application_id (each store's own: both are at this Herald's version once opened); run_lock (who
// holds the target's run lock: the copy itself); deliveries' claimed_by and PostgreSQL's sender_ids (the
// claims of senders of the source, which the copy's run lock has stopped). The id counters (sqlite_sequence, the identity
// sequences) are carried over as counters, not rows.
var copyTables = []copyTable{
	{name: "runs", key: "id", ids: idsKept, cols: columns(`id int, started time, finished time, command text,
		config_hash text, items_count int, new_count int, updated_count int, removed_count int, baseline bool, forced bool`)},
	{name: "posts", key: "id", ids: idsKept, cols: columns(`id int, first_run int, first_seen time, plan_run int,
		sendable bool, removed bool, lang text, no_email bool, held bool, wait_until time`)},
	{name: "post_tags", key: "post_id, tag", cols: columns(`post_id int, tag text`)},
	{name: "aliases", key: "public_id", cols: columns(`public_id text, post_id int, url text, title text, date time,
		hash text, first_run int, first_seen time, last_run int, last_seen time, removed bool`)},
	{name: "subscribers", key: "id", ids: idsKept, cols: columns(`id int, email text, email_key text, name text,
		status text, frequency text, created_at time, consent_source text, consent_at time, consent_ip text,
		confirmed_at time, unsubscribed_at time, hard_bounces int, last_digest_at time, planned_run int, start_run int,
		complained_at time, tags text, lang text`)},
	{name: "deliveries", key: "id", ids: idsKept, cols: columns(`id int, subscriber_id int, post_id int, digest_key text,
		status text, message_id text, attempts int, last_error text, queued_at time, sending_at time, sent_at time,
		next_attempt_at time, maybe_sent bool`)},
	{name: "delivery_items", key: "subscriber_id, post_id", cols: columns(`subscriber_id int, post_id int, delivery_id int`)},
	{name: "events", key: "id", ids: idsKept, cols: columns(`id int, provider text, provider_event_id text, kind text,
		at time, received_at time, detail text, delivery_id int, subscriber_id int`)},
	{name: "signup_queue", key: "id", ids: idsMade, cols: columns(`id int, email text, name text, frequency text, ip text, at time,
		tags text, lang text`)},
	{name: "limit_counts", key: "key", cols: columns(`key text, window_end time, count int`)},
}

// copyTable is a table as Copy sees it.
type copyTable struct {
	name string
	key  string // its primary key: the order rows are read in
	ids  idKind
	cols []column
}

// idKind says who makes a table's ids (its column id).
type idKind int

const (
	idsNone idKind = iota // no id column
	// idsMade: the store makes them (a PostgreSQL identity; SQLite's rowid, which may reuse a deleted one).
	idsMade
	// idsKept: the store makes them and never reuses one (AUTOINCREMENT, an identity): other rows, tokens
	// or Message-IDs point at them.
	idsKept
)

type column struct {
	name string
	kind kind
}

type kind int

const (
	kText kind = iota
	kInt
	kBool
	kTime
)

// columns reads a list of "name kind" pairs.
func columns(spec string) []column {
	kinds := map[string]kind{"text": kText, "int": kInt, "bool": kBool, "time": kTime}
	var cols []column
	for _, part := range strings.Split(spec, ",") {
		f := strings.Fields(part)
		k, ok := kinds[f[len(f)-1]]
		if len(f) != 2 || !ok {
			panic("store: bad column " + part)
		}
		cols = append(cols, column{f[0], k})
	}
	return cols
}

func (t copyTable) names() []string {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	return names
}

// query reads the table's rows in key order.
func (t copyTable) query() string {
	return "SELECT " + strings.Join(t.names(), ", ") + " FROM " + t.name + " ORDER BY " + t.key
}

// cells turns the values of a row of t that the store named store gave into cells.
func (t copyTable) cells(store string, vals []any) error {
	for i, c := range t.cols {
		var err error
		if vals[i], err = cell(c.kind, vals[i]); err != nil {
			return fmt.Errorf("store %s: %s.%s: %w", store, t.name, c.name, err)
		}
	}
	return nil
}

// cell is the value v of column kind k as read from either backend, as one Go value for both: nil (NULL),
// string, int64, bool or time.Time in UTC.
func cell(k kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case []byte:
		v = string(x)
	case int32:
		v = int64(x)
	case time.Time:
		v = x.UTC()
	}
	switch x := v.(type) {
	case string:
		if k == kTime {
			return parseTime(sql.NullString{String: x, Valid: true})
		}
		if k == kText {
			return x, nil
		}
	case int64:
		if k == kBool && (x == 0 || x == 1) {
			return x == 1, nil
		}
		if k == kInt {
			return x, nil
		}
	case bool:
		if k == kBool {
			return x, nil
		}
	case time.Time:
		if k == kTime {
			return x, nil
		}
	}
	return nil, fmt.Errorf("a value %v (%T) where a %s is expected", v, v, [...]string{"text", "integer", "boolean", "time"}[k])
}

// arg is the cell v of kind k as an argument for the backend pg says: a time is text on SQLite, and cut
// to the microsecond on PostgreSQL (as pgTime). SQLite's driver writes a bool as 0 or 1.
func arg(k kind, v any, pg bool) any {
	t, ok := v.(time.Time)
	switch {
	case k != kTime || !ok:
		return v
	case pg:
		return t.Truncate(time.Microsecond)
	default:
		return layoutString(t)
	}
}

// copyEnd is a transaction on one store of a copy: a read-only one on the source, the one that writes
// on the target.
type copyEnd interface {
	name() string
	// rows reads t's rows in key order, each as the cells of t.cols.
	rows(ctx context.Context, t copyTable) (rowStream, error)
	count(ctx context.Context, t copyTable) (int, error)
	// counter is the highest id the store has given a row of t: its counter's, or its rows' if higher.
	counter(ctx context.Context, t copyTable) (int64, error)
	// insert writes rows, with their ids, into t, and says how many.
	insert(ctx context.Context, t copyTable, rows rowStream) (int, error)
	// setCounter makes the next id the store gives a row of t come after n.
	setCounter(ctx context.Context, t copyTable, n int64) error
	commit(ctx context.Context) error
	rollback(ctx context.Context)
}

// rowStream is a table's rows as cells, read one at a time.
type rowStream interface {
	Next() bool
	Values() ([]any, error)
	Err() error
	Close()
}

// copyStore is Copy, with hook (for tests), when not nil, called inside the target's transaction after
// each table is copied: its error stops the copy.
func copyStore(ctx context.Context, dst, src Store, hook func(table string) error) (_ []Copied, err error) {
	if same, err := sameStore(dst, src); err != nil || same {
		if err == nil {
			err = fmt.Errorf("store %s: cannot copy a store onto itself", storeName(src))
		}
		return nil, err
	}
	for _, s := range []Store{src, dst} {
		l, lerr := s.Lock(ctx, "store copy")
		if lerr != nil {
			return nil, lerr
		}
		defer func() {
			if uerr := l.Unlock(); uerr != nil && err == nil {
				err = uerr
			}
		}()
	}
	from, err := begin(ctx, src, false)
	if err != nil {
		return nil, err
	}
	defer from.rollback(ctx)
	to, err := begin(ctx, dst, true)
	if err != nil {
		return nil, err
	}
	defer to.rollback(ctx)
	if err := checkEmpty(ctx, to); err != nil {
		return nil, err
	}
	var copied []Copied
	for _, t := range copyTables {
		n, err := copyRows(ctx, to, from, t)
		if err != nil {
			return nil, fmt.Errorf("copy store %s to %s: table %s: %w", from.name(), to.name(), t.name, err)
		}
		copied = append(copied, Copied{Table: t.name, Rows: n})
		if hook != nil {
			if err := hook(t.name); err != nil {
				return nil, err
			}
		}
	}
	if err := to.commit(ctx); err != nil {
		return nil, fmt.Errorf("copy store %s to %s: commit: %w", from.name(), to.name(), err)
	}
	return copied, nil
}

// copyRows copies table t, and then its id counter: the highest of the source's and the target's.
func copyRows(ctx context.Context, to, from copyEnd, t copyTable) (int, error) {
	rows, err := from.rows(ctx, t)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n, err := to.insert(ctx, t, rows)
	if err != nil {
		return 0, err
	}
	if t.ids == idsNone {
		return n, nil
	}
	a, err := from.counter(ctx, t)
	if err != nil {
		return 0, err
	}
	b, err := to.counter(ctx, t)
	if err != nil {
		return 0, err
	}
	return n, to.setCounter(ctx, t, max(a, b))
}

// checkEmpty refuses a target that holds a row in any table Copy copies into.
func checkEmpty(ctx context.Context, to copyEnd) error {
	var held []string
	for _, t := range copyTables {
		n, err := to.count(ctx, t)
		if err != nil {
			return fmt.Errorf("store %s: count the rows of %s: %w", to.name(), t.name, err)
		}
		if n > 0 {
			held = append(held, fmt.Sprintf("%s %d", t.name, n))
		}
	}
	if len(held) == 0 {
		return nil
	}
	return &pathError{path: to.name(), kind: ErrNotEmpty,
		msg: fmt.Sprintf("is not empty (it holds rows: %s); copy into a new SQLite file, or an empty PostgreSQL database or schema (Herald has not changed it)",
			strings.Join(held, ", "))}
}

// storeName is how errors call s.
func storeName(s Store) string {
	switch s := s.(type) {
	case *sqliteStore:
		return s.path
	case *pgStore:
		return s.name
	}
	return fmt.Sprintf("%T", s)
}

// sameStore says whether a and b are one store: one file, or one schema of one database (as far as the
// URLs tell: another name of the same server is not seen, and then the second run lock fails).
func sameStore(a, b Store) (bool, error) {
	switch a := a.(type) {
	case *sqliteStore:
		b, ok := b.(*sqliteStore)
		if !ok {
			return false, nil
		}
		fa, err := os.Stat(a.path)
		if err != nil {
			return false, fmt.Errorf("store %s: %w", a.path, err)
		}
		fb, err := os.Stat(b.path)
		if err != nil {
			return false, fmt.Errorf("store %s: %w", b.path, err)
		}
		return os.SameFile(fa, fb), nil
	case *pgStore:
		b, ok := b.(*pgStore)
		return ok && a.name == b.name && a.runKey == b.runKey, nil
	}
	return false, fmt.Errorf("store: cannot copy a %T", a)
}

// begin starts the copy's transaction on s: the one that writes when write is set, else a read-only one,
// which reads one snapshot of the store.
func begin(ctx context.Context, s Store, write bool) (copyEnd, error) {
	switch s := s.(type) {
	case *sqliteStore:
		// A read-only transaction is a deferred BEGIN (see dsn): its snapshot is taken at its first read,
		// and kept until it ends (WAL mode).
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: !write})
		if err != nil {
			return nil, s.fileErr("copy: begin", err)
		}
		return &sqliteEnd{s: s, tx: tx}, nil
	case *pgStore:
		opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
		if write {
			opts = pgx.TxOptions{}
		}
		tx, err := s.pool.BeginTx(ctx, opts)
		if err != nil {
			return nil, s.dbErr("copy: begin", err)
		}
		// The write lock, as inTx takes it: no other writer of the store runs in between.
		if write {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", appID, s.writeKey); err != nil {
				tx.Rollback(context.WithoutCancel(ctx))
				return nil, s.dbErr("copy: begin", err)
			}
		}
		return &pgEnd{s: s, tx: tx}, nil
	}
	return nil, fmt.Errorf("store: cannot copy a %T", s)
}

// sqliteEnd is a copy's transaction on an SQLite store.
type sqliteEnd struct {
	s  *sqliteStore
	tx *sql.Tx
}

func (e *sqliteEnd) name() string { return e.s.path }

func (e *sqliteEnd) rows(ctx context.Context, t copyTable) (rowStream, error) {
	rows, err := e.tx.QueryContext(ctx, t.query())
	if err != nil {
		return nil, e.s.fileErr("read "+t.name, err)
	}
	return &sqliteRows{Rows: rows, t: t, s: e.s}, nil
}

// sqliteRows are an SQLite table's rows as cells.
type sqliteRows struct {
	*sql.Rows
	t copyTable
	s *sqliteStore
}

func (r *sqliteRows) Values() ([]any, error) {
	vals := make([]any, len(r.t.cols))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := r.Scan(ptrs...); err != nil {
		return nil, r.s.fileErr("read "+r.t.name, err)
	}
	return vals, r.t.cells(r.s.path, vals)
}

func (r *sqliteRows) Close() { r.Rows.Close() }

func (e *sqliteEnd) count(ctx context.Context, t copyTable) (int, error) {
	var n int
	err := e.tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t.name).Scan(&n)
	return n, err
}

func (e *sqliteEnd) counter(ctx context.Context, t copyTable) (int64, error) {
	var n int64
	err := e.tx.QueryRowContext(ctx, `SELECT MAX(COALESCE((SELECT MAX(id) FROM `+t.name+`), 0),
		COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0))`, t.name).Scan(&n)
	if err != nil {
		return 0, e.s.fileErr("read the id counter of "+t.name, err)
	}
	return n, nil
}

// insert writes the rows batch at a time, in multi-row INSERTs.
func (e *sqliteEnd) insert(ctx context.Context, t copyTable, rows rowStream) (int, error) {
	head := "INSERT INTO " + t.name + " (" + strings.Join(t.names(), ", ") + ") VALUES "
	var full *sql.Stmt
	args := make([]any, 0, batch*len(t.cols))
	n := 0
	flush := func() error {
		k := len(args) / len(t.cols)
		if k == 0 {
			return nil
		}
		var err error
		if k == batch {
			if full == nil {
				if full, err = e.tx.PrepareContext(ctx, head+placeholders(batch, len(t.cols))); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = e.tx.ExecContext(ctx, head+placeholders(k, len(t.cols)), args...)
		}
		n += k
		args = args[:0]
		return err
	}
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return 0, err
		}
		for i, c := range t.cols {
			args = append(args, arg(c.kind, vals[i], false))
		}
		if len(args) == cap(args) {
			if err := flush(); err != nil {
				return 0, e.s.fileErr("write "+t.name, err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if err := flush(); err != nil {
		return 0, e.s.fileErr("write "+t.name, err)
	}
	return n, nil
}

// setCounter sets the AUTOINCREMENT counter of a table whose ids are never reused; SQLite has none for
// the others.
func (e *sqliteEnd) setCounter(ctx context.Context, t copyTable, n int64) error {
	if t.ids != idsKept {
		return nil
	}
	res, err := e.tx.ExecContext(ctx, "UPDATE sqlite_sequence SET seq = ? WHERE name = ?", n, t.name)
	var k int64
	if err == nil {
		k, err = res.RowsAffected()
	}
	if err == nil && k == 0 {
		_, err = e.tx.ExecContext(ctx, "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", t.name, n)
	}
	if err != nil {
		return e.s.fileErr("set the id counter of "+t.name, err)
	}
	return nil
}

func (e *sqliteEnd) commit(ctx context.Context) error {
	if err := commit(ctx, e.tx); err != nil {
		return e.s.fileErr("commit", err)
	}
	return nil
}

func (e *sqliteEnd) rollback(context.Context) { e.tx.Rollback() }

// pgEnd is a copy's transaction on a PostgreSQL store.
type pgEnd struct {
	s  *pgStore
	tx pgx.Tx
}

func (e *pgEnd) name() string { return e.s.name }

func (e *pgEnd) rows(ctx context.Context, t copyTable) (rowStream, error) {
	rows, err := e.tx.Query(ctx, t.query())
	if err != nil {
		return nil, e.s.dbErr("read "+t.name, err)
	}
	return &pgRows{Rows: rows, t: t, s: e.s}, nil
}

// pgRows are a PostgreSQL table's rows as cells.
type pgRows struct {
	pgx.Rows
	t copyTable
	s *pgStore
}

func (r *pgRows) Values() ([]any, error) {
	vals, err := r.Rows.Values()
	if err != nil {
		return nil, r.s.dbErr("read "+r.t.name, err)
	}
	return vals, r.t.cells(r.s.name, vals)
}

func (e *pgEnd) count(ctx context.Context, t copyTable) (int, error) {
	var n int
	err := e.tx.QueryRow(ctx, "SELECT COUNT(*) FROM "+t.name).Scan(&n)
	return n, err
}

// counter reads the identity's sequence: the value it gave last, or, when it has given none since it was
// made or restarted, the one before the value it starts at.
func (e *pgEnd) counter(ctx context.Context, t copyTable) (int64, error) {
	var seq string
	var n int64
	err := e.tx.QueryRow(ctx, "SELECT pg_get_serial_sequence($1, 'id')", t.name).Scan(&seq)
	if err == nil {
		// seq is quoted where it needs to be.
		err = e.tx.QueryRow(ctx, `SELECT GREATEST(COALESCE((SELECT MAX(id) FROM `+t.name+`), 0),
			(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM `+seq+`))`).Scan(&n)
	}
	if err != nil {
		return 0, e.s.dbErr("read the id counter of "+t.name, err)
	}
	return n, nil
}

// insert streams the rows into the table with COPY, which writes the ids given into identity columns
// (as INSERT's OVERRIDING SYSTEM VALUE would).
func (e *pgEnd) insert(ctx context.Context, t copyTable, rows rowStream) (int, error) {
	n, err := e.tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.names(), &pgSource{rows: rows, t: t})
	if err != nil {
		return 0, e.s.dbErr("write "+t.name, err)
	}
	return int(n), nil
}

// pgSource is a rowStream as COPY's source.
type pgSource struct {
	rows rowStream
	t    copyTable
	err  error
}

func (p *pgSource) Next() bool { return p.err == nil && p.rows.Next() }

func (p *pgSource) Values() ([]any, error) {
	vals, err := p.rows.Values()
	if err != nil {
		p.err = err
		return nil, err
	}
	for i, c := range p.t.cols {
		vals[i] = arg(c.kind, vals[i], true)
	}
	return vals, nil
}

func (p *pgSource) Err() error {
	if p.err != nil {
		return p.err
	}
	return p.rows.Err()
}

// setCounter restarts the identity after n. Unlike setval, which no rollback undoes, RESTART is
// transactional: a copy that fails leaves the sequence as it was.
func (e *pgEnd) setCounter(ctx context.Context, t copyTable, n int64) error {
	if _, err := e.tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN id RESTART WITH %d", t.name, n+1)); err != nil {
		return e.s.dbErr("set the id counter of "+t.name, err)
	}
	return nil
}

// commit gathers the planner's statistics of the copied tables (not of a shared database's others), then
// commits. Until autovacuum gathers them (a minute or more on a new database), PostgreSQL plans without
// them: a look-up by Message-ID through the recipient (messageid.go) then read every delivery.
func (e *pgEnd) commit(ctx context.Context) error {
	names := make([]string, len(copyTables))
	for i, t := range copyTables {
		names[i] = t.name
	}
	if _, err := e.tx.Exec(ctx, "ANALYZE "+strings.Join(names, ", ")); err != nil {
		return e.s.dbErr("analyze", err)
	}
	if err := e.tx.Commit(ctx); err != nil {
		return e.s.dbErr("commit", err)
	}
	return nil
}

func (e *pgEnd) rollback(ctx context.Context) { e.tx.Rollback(context.WithoutCancel(ctx)) }
