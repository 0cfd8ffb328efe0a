package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// lockPath is the file whose OS-level lock is the store's run lock. It sits beside the database and is
// never deleted: deleting a lock file lets two processes hold locks on two different files of one name.
func (s *sqliteStore) lockPath() string { return s.path + ".lock" }

// holder is what the lock's holder writes into the lock file, for the message a second run gets.
type holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// Lock takes an exclusive flock(2) on the lock file without waiting. The kernel releases it when the
// process dies however it dies, so a crashed run never blocks the next one. flock locks belong to the
// open file, not the process, so a second Lock in the same process (another Open of the store) fails too.
func (s *sqliteStore) Lock(ctx context.Context, command string) (Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("store %s: lock: the store is closed", s.path)
	}
	f, err := os.OpenFile(s.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store %s: lock: %w", s.path, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			e := &LockedError{Path: s.path}
			var h holder
			if b, err := os.ReadFile(s.lockPath()); err == nil && json.Unmarshal(b, &h) == nil {
				e.PID, e.Host, e.Command, e.Since = h.PID, h.Host, h.Command, h.Since
			}
			return nil, e
		}
		return nil, fmt.Errorf("store %s: lock %s: %w", s.path, s.lockPath(), err)
	}
	host, _ := os.Hostname()
	b, err := json.Marshal(holder{PID: os.Getpid(), Host: host, Command: command, Since: time.Now().UTC()})
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
	}
	if err != nil {
		f.Close() // releases the lock
		return nil, fmt.Errorf("store %s: lock: write %s: %w", s.path, s.lockPath(), err)
	}
	l := &fileLock{f: f, s: s}
	s.locks[l] = struct{}{}
	return l, nil
}

type fileLock struct {
	f    *os.File
	s    *sqliteStore
	once sync.Once
	err  error
}

// Unlock empties the lock file (so that nobody reads a finished run's name there) and closes it, which
// releases the lock.
func (l *fileLock) Unlock() error {
	l.once.Do(func() {
		l.s.mu.Lock()
		delete(l.s.locks, l)
		l.s.mu.Unlock()
		terr := l.f.Truncate(0)
		if err := l.f.Close(); err != nil || terr != nil {
			l.err = fmt.Errorf("store %s: unlock: %w", l.s.path, errors.Join(terr, err))
		}
	})
	return l.err
}

// LockSend is the run lock on SQLite: one sender at a time. A store that holds the run lock already (a
// publish that goes on to send) is a sender as it is.
func (s *sqliteStore) LockSend(ctx context.Context, command string) (Lock, error) {
	s.mu.Lock()
	held := len(s.locks) > 0
	s.mu.Unlock()
	if held {
		return heldLock{}, nil
	}
	return s.Lock(ctx, command)
}

// heldLock is a lock this store holds through another Lock: its Unlock leaves that one be.
type heldLock struct{}

func (heldLock) Unlock() error { return nil }
