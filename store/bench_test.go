package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// site returns n items like the benchmark site's: ids by date and slug, a hash per post.
func site(n int, gen int) []Item {
	items := make([]Item, n)
	base := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range items {
		d := base.Add(time.Duration(i) * 13 * time.Hour)
		slug := fmt.Sprintf("post-number-%05d", i)
		items[i] = Item{
			ID:    d.Format("2006-01-02") + "-" + slug,
			URL:   "https://example.com/" + d.Format("2006/01/02") + "/" + slug + ".html",
			Title: fmt.Sprintf("Post number %d, with a title of ordinary length", i),
			Date:  d,
			Hash:  fmt.Sprintf("%064x", i*1000003+gen),
		}
	}
	return items
}

// BenchmarkRecord10k records runs of the 10,000-post site: the first into an empty store, then a run
// that sees the same posts again with one new and one edited (what a publish after a new post records).
func BenchmarkRecord10k(b *testing.B) {
	b.Run("first", func(b *testing.B) {
		items := site(10000, 0)
		for i := range b.N {
			b.StopTimer()
			s := openStore(b, filepath.Join(b.TempDir(), fmt.Sprintf("h%d.db", i)))
			b.StartTimer()
			if err := s.Record(b.Context(), &Run{Started: time.Now(), Command: "publish"}, items); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
	})
	b.Run("again", func(b *testing.B) {
		s := openStore(b, filepath.Join(b.TempDir(), "h.db"))
		items := site(10001, 0)
		if err := s.Record(b.Context(), &Run{Started: time.Now(), Command: "publish"}, items[:10000]); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			items[i%10000].Hash = fmt.Sprint("edited", i)
			if err := s.Record(b.Context(), &Run{Started: time.Now(), Command: "publish"}, items[i%2:10000+i%2]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecordEdited10k records a run in which all 10,000 posts changed (a new hash scheme, say): the
// slowest run there is.
func BenchmarkRecordEdited10k(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "h.db"))
	if err := s.Record(b.Context(), &Run{Started: time.Now(), Command: "publish"}, site(10000, 0)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		items := site(10000, i+1)
		b.StartTimer()
		if err := s.Record(b.Context(), &Run{Started: time.Now(), Command: "publish"}, items); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkItems10k(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "h.db"))
	if err := s.Record(b.Context(), &Run{Started: time.Now(), Command: "publish"}, site(10000, 0)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		items, err := s.Items(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if len(items) != 10000 {
			b.Fatalf("got %d items, want 10000", len(items))
		}
	}
}

// subscribers returns n active subscribers with the given frequency, confirmed at confirmed.
func benchSubscribers(n int, frequency string, confirmed time.Time) []Subscriber {
	subs := make([]Subscriber, n)
	for i := range subs {
		subs[i] = Subscriber{Email: fmt.Sprintf("reader%06d@example.com", i), Frequency: frequency, ConfirmedAt: confirmed}
	}
	return subs
}

// BenchmarkImport100k imports 100,000 new subscribers into an empty store.
func BenchmarkImport100k(b *testing.B) {
	subs := benchSubscribers(100000, Immediate, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	for i := range b.N {
		b.StopTimer()
		s := openStore(b, filepath.Join(b.TempDir(), fmt.Sprintf("h%d.db", i)))
		b.StartTimer()
		res, err := s.ImportSubscribers(b.Context(), subs, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if res.Added != len(subs) {
			b.Fatalf("got %+v, want %d added", res, len(subs))
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

// BenchmarkPlan100k plans one new post for 100,000 immediate subscribers: what a publish queues.
func BenchmarkPlan100k(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "h.db"))
	start := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	posts := site(1000, 0)
	if err := s.Record(b.Context(), &Run{Started: start, Command: "publish", Baseline: true}, posts); err != nil {
		b.Fatal(err)
	}
	if _, err := s.ImportSubscribers(b.Context(), benchSubscribers(100000, Immediate, start), start); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		now := start.Add(time.Duration(i+1) * time.Hour)
		posts = append(posts, Item{ID: fmt.Sprintf("new-%d", i), URL: "https://example.com/new", Title: "New", Date: now, Hash: "h", Sendable: true})
		if err := s.Record(b.Context(), &Run{Started: now, Command: "publish"}, posts); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := s.Plan(b.Context(), now)
		if err != nil {
			b.Fatal(err)
		}
		if n != 100000 {
			b.Fatalf("got %d deliveries, want 100000", n)
		}
	}
	b.StopTimer()
	// And a Plan with nothing new, as an hourly cron run makes between posts.
	t0 := time.Now()
	if n, err := s.Plan(b.Context(), start.Add(time.Duration(b.N+1)*time.Hour)); err != nil || n != 0 {
		b.Fatalf("got %d, %v, want nothing planned", n, err)
	}
	b.ReportMetric(float64(time.Since(t0).Microseconds()), "µs-idle-plan")
}

// BenchmarkSendingFinish records the sending of 10,000 deliveries in batches of 50: one transaction to
// mark each batch sending, one to record its outcomes, as the mailer will. "with Due" also fetches each
// batch, as a send run does.
func BenchmarkSendingFinish(b *testing.B) {
	const n, size = 10000, 50
	s := openStore(b, filepath.Join(b.TempDir(), "h.db"))
	start := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	if _, err := s.ImportSubscribers(b.Context(), benchSubscribers(n, Immediate, start), start); err != nil {
		b.Fatal(err)
	}
	if err := s.Record(b.Context(), &Run{Started: start.Add(time.Hour), Command: "publish"},
		[]Item{{ID: "post", URL: "https://example.com/post", Title: "Post", Hash: "h", Sendable: true}}); err != nil {
		b.Fatal(err)
	}
	if got, err := s.Plan(b.Context(), start.Add(time.Hour)); err != nil || got != n {
		b.Fatalf("got %d, %v, want %d planned", got, err, n)
	}
	reset := func(b *testing.B) {
		if _, err := s.db.ExecContext(b.Context(), `UPDATE deliveries SET status = 'queued', message_id = NULL,
			sending_at = NULL, sent_at = NULL, attempts = 0`); err != nil {
			b.Fatal(err)
		}
	}
	send := func(b *testing.B, ids []int64) {
		now := time.Now()
		attempts := make([]Attempt, len(ids))
		outcomes := make([]Outcome, len(ids))
		for i, id := range ids {
			attempts[i] = Attempt{DeliveryID: id, MessageID: fmt.Sprintf("%d.bench@example.com", id)}
			outcomes[i] = Outcome{DeliveryID: id, Status: Sent, At: now}
		}
		if skipped, err := s.Sending(b.Context(), attempts, now); err != nil || len(skipped) > 0 {
			b.Fatalf("sending: skipped %v, %v", skipped, err)
		}
		if err := s.Finish(b.Context(), outcomes); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("with Due", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			reset(b)
			b.StartTimer()
			sent := 0
			for {
				due, err := s.Due(b.Context(), time.Now(), size)
				if err != nil {
					b.Fatal(err)
				}
				if len(due) == 0 {
					break
				}
				ids := make([]int64, len(due))
				for i, d := range due {
					ids[i] = d.ID
				}
				send(b, ids)
				sent += len(ids)
			}
			if sent != n {
				b.Fatalf("sent %d, want %d", sent, n)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
	})
	b.Run("Sending and Finish", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			reset(b)
			b.StartTimer()
			for first := int64(1); first <= n; first += size {
				ids := make([]int64, size)
				for i := range ids {
					ids[i] = first + int64(i)
				}
				send(b, ids)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
	})
}

// BenchmarkCommit records the sending of 10,000 deliveries as the mailer's engine does: each Commit
// records the outcomes of the previous messages of a few connections and marks their next ones sending
// (4 connections a commit, what the engine's group commit gathers from 4 on two cores), with Message-IDs
// made as the mailer makes them, a hash each. It reports the CPU and the time of one delivery.
func BenchmarkCommit(b *testing.B) {
	const n, group = 10000, 4
	s := openStore(b, filepath.Join(b.TempDir(), "h.db"))
	start := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	if _, err := s.ImportSubscribers(b.Context(), benchSubscribers(n, Immediate, start), start); err != nil {
		b.Fatal(err)
	}
	if err := s.Record(b.Context(), &Run{Started: start.Add(time.Hour), Command: "publish"},
		[]Item{{ID: "post", URL: "https://example.com/post", Title: "Post", Hash: "h", Sendable: true}}); err != nil {
		b.Fatal(err)
	}
	if got, err := s.Plan(b.Context(), start.Add(time.Hour)); err != nil || got != n {
		b.Fatalf("got %d, %v, want %d planned", got, err, n)
	}
	b.ResetTimer()
	var cpu time.Duration // of the commits alone, not of putting the deliveries back
	for range b.N {
		b.StopTimer()
		if _, err := s.db.ExecContext(b.Context(), `UPDATE deliveries SET status = 'queued', message_id = NULL,
			sending_at = NULL, sent_at = NULL, attempts = 0`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 := cpuTime()
		var outcomes []Outcome
		for first := int64(1); first <= n+group; first += group {
			now := time.Now()
			var attempts []Attempt
			for id := first; id < first+group && id <= n; id++ {
				sum := sha256.Sum256([]byte(strconv.FormatInt(id, 10)))
				attempts = append(attempts, Attempt{DeliveryID: id, MessageID: "<herald." + hex.EncodeToString(sum[:16]) + "@example.com>"})
			}
			if skipped, err := s.Commit(b.Context(), outcomes, attempts, now); err != nil || len(skipped) > 0 {
				b.Fatalf("commit: skipped %v, %v", skipped, err)
			}
			outcomes = outcomes[:0]
			for _, a := range attempts {
				outcomes = append(outcomes, Outcome{DeliveryID: a.DeliveryID, Status: Sent, At: now})
			}
		}
		cpu += cpuTime() - cpu0
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "CPU-µs/delivery")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
