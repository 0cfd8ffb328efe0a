// Package store keeps Herald's state between runs: the runs, every item ever seen, and the subscribers and deliveries of the mail issues.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is the state. SQLite (this package's Open) is the one implementation for now; a PostgreSQL one will
// follow behind the same interface.
type Store interface {
	// Items returns every item ever recorded, removed ones included, ordered by ID (byte order).
	Items(ctx context.Context) ([]Item, error)
	// Runs returns the newest n runs, newest first; n <= 0 returns them all.
	Runs(ctx context.Context, n int) ([]Run, error)
	// Counts returns how many runs, items (and of them removed), subscribers and deliveries there are.
	Counts(ctx context.Context) (Counts, error)
	// Record stores a run and the items it saw, in one transaction: items new to the store are inserted
	// (FirstRun/FirstSeen = this run), known ones updated (URL, Title, Date, Hash, LastRun/LastSeen; Removed
	// = false), and known items absent from seen are marked Removed (kept, never deleted). It sets run.ID.
	// Either all of it is stored or none of it (a kill -9 in the middle leaves the previous state).
	//
	// The run's counts (Items, New, ...) are stored as given: they are the caller's diff. An item's
	// FirstSeen and LastSeen are run.Started, which must be set. Only ID, URL, Title, Date and Hash of
	// the seen items are read; IDs must be non-empty and unique.
	Record(ctx context.Context, run *Run, seen []Item) error
	// Lock takes the store's run lock for a publishing run. A second Lock on the same store, from this or
	// another process, fails at once with a *LockedError (wrapping ErrLocked) that says who holds it. A lock
	// whose holder died does not block. Reads (Items, Runs, Counts) never wait for the lock. command says
	// what the run is ("publish", "send"), for the message a second run gets.
	Lock(ctx context.Context, command string) (Lock, error)
	// Close closes the store, releasing any lock still held through it.
	Close() error
}

// Lock is a held run lock.
type Lock interface {
	// Unlock releases the lock. A second call does nothing.
	Unlock() error
}

var (
	// ErrLocked is wrapped by the error of a Lock that another run holds (a *LockedError).
	ErrLocked = errors.New("store: locked by another run")
	// ErrNewer is wrapped by Open's error when the store was written by a newer Herald, whose schema this
	// one does not know.
	ErrNewer = errors.New("store: schema newer than this Herald")
	// ErrCorrupt is wrapped by the error of any operation that finds the store file damaged: not an SQLite
	// file at all, truncated, or with pages SQLite reports as malformed.
	ErrCorrupt = errors.New("store: corrupt")
	// ErrNotStore is wrapped by Open's error when the file is a sound SQLite database that Herald did not
	// make (another program's tables, or another program's application id).
	ErrNotStore = errors.New("store: not a Herald store")
)

// Item is one post as the store remembers it across runs.
type Item struct {
	ID, URL, Title string
	Date           time.Time // the post's date
	Hash           string    // content hash (computed by the caller)
	FirstRun       int64
	FirstSeen      time.Time
	LastRun        int64
	LastSeen       time.Time
	Removed        bool
}

// Run is one recorded run.
type Run struct {
	ID                           int64
	Started                      time.Time
	Finished                     time.Time
	Command                      string // "publish", "build --record", ...
	ConfigHash                   string // which version of the configuration ran
	Items, New, Updated, Removed int
	Baseline                     bool // the first run: everything recorded, nothing counted as new
	Forced                       bool // --force overrode the flood guard
}

// Counts are the sizes of the store's tables, for herald status.
type Counts struct{ Runs, Items, Removed, Subscribers, Deliveries int }

// LockedError is the error of a Lock that another run holds: who holds it, as that run wrote it down.
// Holder fields are zero when the holder had not written them yet.
type LockedError struct {
	Path    string // the store
	PID     int
	Host    string
	Command string
	Since   time.Time
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("store %s is locked by another run (which has not said who it is yet); try again when it has finished", e.Path)
	}
	return fmt.Sprintf("store %s is locked by another run: %q, pid %d on %s, since %s; try again when it has finished",
		e.Path, e.Command, e.PID, e.Host, e.Since.UTC().Format(time.RFC3339))
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// pathError is an error about the store file as a whole (corrupt, newer, foreign, unreadable): it names
// the file and wraps one of the sentinels, and the underlying cause if there is one.
type pathError struct {
	path string
	msg  string // follows the path, and says the cause if there is one: "is corrupt (...); restore ..."
	kind error  // a sentinel, or nil
	err  error  // the cause, or nil
}

func (e *pathError) Error() string { return "store " + e.path + " " + e.msg }

func (e *pathError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}
