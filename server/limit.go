package server

import (
	"sync"
	"time"
)

// limiter counts requests per key in fixed windows. It holds at most maxKeys keys: expired ones are
// swept once a window, and a key that finds the map full is refused, so a flood of distinct keys
// costs bounded memory and cannot push out the counts of the keys being limited.
type limiter struct {
	l Limit

	mu    sync.Mutex
	keys  map[string]*window
	swept time.Time
}

type window struct {
	start time.Time
	n     int
}

const maxKeys = 100_000

func newLimiter(l Limit) *limiter { return &limiter{l: l, keys: make(map[string]*window)} }

// allow counts one request for key at now and says whether it is within the limit.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= l.l.Window {
		for k, w := range l.keys {
			if now.Sub(w.start) >= l.l.Window {
				delete(l.keys, k)
			}
		}
		l.swept = now
	}
	w := l.keys[key]
	if w == nil || now.Sub(w.start) >= l.l.Window {
		if w == nil && len(l.keys) >= maxKeys {
			return false
		}
		w = &window{start: now}
		l.keys[key] = w
	}
	w.n++
	return w.n <= l.l.N
}
