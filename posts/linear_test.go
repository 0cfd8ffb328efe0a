package posts

import (
	"slices"
	"testing"
	"time"
)

// growsLinearly fails t when work(4n) takes more than 10 times work(n), the fastest of three tries each:
// a linear cost takes about 4 times, a quadratic one 16. The ratio holds on a slow or busy machine (and
// under the race detector), where a bound in seconds would not.
func growsLinearly(t *testing.T, n int, work func(n int)) {
	t.Helper()
	fastest := func(n int) time.Duration {
		var d []time.Duration
		for range 3 {
			start := time.Now()
			work(n)
			d = append(d, time.Since(start))
		}
		return slices.Min(d)
	}
	work(n) // warm up
	small, large := fastest(n), fastest(4*n)
	if large > 10*small {
		t.Errorf("%d took %s, %d took %s: %.1f times for 4 times the input, where a cost linear in it takes about 4", n, small, 4*n, large, float64(large)/float64(small))
	}
}
