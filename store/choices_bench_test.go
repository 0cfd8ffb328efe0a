package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPlanTopics100k is BenchmarkPlan100k with every subscriber's choice of topics and language to
// check: 100,000 subscribers, each with two topics (every other one's match the new post's) and a
// language, on a multilingual site. Each op plans one new post.
func BenchmarkPlanTopics100k(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "h.db"))
	start := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	posts := site(1000, 0)
	if err := s.Record(b.Context(), &Run{Started: start, Command: "publish", Baseline: true}, posts); err != nil {
		b.Fatal(err)
	}
	subs := benchSubscribers(100000, Immediate, start)
	for i := range subs {
		subs[i].Tags, subs[i].Lang = MakeTags("news", "releases"), "en"
		if i%2 == 1 {
			subs[i].Tags = MakeTags("cooking", "travel")
		}
	}
	if _, err := s.ImportSubscribers(b.Context(), subs, start); err != nil {
		b.Fatal(err)
	}
	o := PlanOptions{Weekday: time.Monday, Lang: "en"}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		now := start.Add(time.Duration(i+1) * time.Hour)
		posts = append(posts, Item{ID: fmt.Sprintf("new-%d", i), URL: "https://example.com/new", Title: "New", Date: now, Hash: "h",
			Sendable: true, Tags: MakeTags("go", "releases"), Lang: "en"})
		if err := s.Record(b.Context(), &Run{Started: now, Command: "publish"}, posts); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := s.PlanWith(b.Context(), now, o)
		if err != nil {
			b.Fatal(err)
		}
		if n != 50000 {
			b.Fatalf("got %d deliveries, want 50000", n)
		}
	}
}
