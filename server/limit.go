package server

import (
	"sync"
	"time"
)

// limiter counts requests per key in fixed windows. It holds at most max keys: expired ones are swept
// once a window, and while the map is full, new keys share one overflow window, limited like a single
// key. So a flood of distinct keys costs bounded memory, cannot push out the counts of the keys being
// limited, and shuts out at most the other new keys, only until the next sweep, never everyone.
type limiter struct {
	l   Limit
	max int

	mu       sync.Mutex
	keys     map[string]*window
	overflow window
	swept    time.Time
}

type window struct {
	start time.Time
	n     int
}

const maxKeys = 100_000

func newLimiter(l Limit) *limiter {
	return &limiter{l: l, max: maxKeys, keys: make(map[string]*window)}
}

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
	switch {
	case w != nil:
	case len(l.keys) < l.max:
		w = &window{start: now}
		l.keys[key] = w
	default:
		w = &l.overflow
	}
	if now.Sub(w.start) >= l.l.Window {
		*w = window{start: now}
	}
	w.n++
	return w.n <= l.l.N
}
