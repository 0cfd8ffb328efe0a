package store

import (
	"testing"
	"time"
)

// TestContractDigestZoneChange: a daily digest at 8 is not due at 07:59 local and is at 08:01, once; when
// the site's time zone changes after the day's digest went (UTC to America/Chicago, where 8 is six hours
// later), no second digest goes that day: the posts after it wait for the next day's.
func TestContractDigestZoneChange(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	inUTC := PlanOptions{Hour: 8, Weekday: time.Monday, Location: time.UTC}
	inChicago := PlanOptions{Hour: 8, Weekday: time.Monday, Location: chicago}
	day := func(d, h, m int) time.Time { return time.Date(2025, 1, d, h, m, 0, 0, time.UTC) }
	contract(t, func(t *testing.T, c *cstore) {
		st := &csite{cstore: c}
		st.subscribe("day@example.com", Daily, day(5, 9, 0))
		plan := func(at time.Time, o PlanOptions, want int) {
			t.Helper()
			n, err := c.PlanWith(t.Context(), at, o)
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("PlanWith at %v in %v: queued %d, want %d", at, o.Location, n, want)
			}
		}
		st.publish(day(5, 10, 0), true, "x")
		plan(day(6, 8, 1), inUTC, 1)
		st.publish(day(6, 12, 0), true, "a")
		plan(day(7, 7, 59), inUTC, 0)
		plan(day(7, 8, 1), inUTC, 1)
		plan(day(7, 8, 30), inUTC, 0)
		st.publish(day(7, 9, 0), true, "b")
		plan(day(7, 14, 1), inChicago, 0) // 08:01 in Chicago, the same day: no second digest
		plan(day(7, 20, 0), inChicago, 0)
		plan(day(8, 13, 59), inChicago, 0) // 07:59 in Chicago
		plan(day(8, 14, 1), inChicago, 1)
		st.ledger("day@example.com daily 2025-01-06 [x]", "day@example.com daily 2025-01-07 [a]", "day@example.com daily 2025-01-08 [b]")
	})
}
