package store

import (
	"fmt"
	"path/filepath"
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
