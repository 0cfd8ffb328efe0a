package posts

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/benchcorpus"
)

// The posts benchmarks load (and render) a synthetic Jekyll site of 10,000 posts (HERALD_BENCH_POSTS to
// change it) from bench/gen-corpus, with the cache warm and cold, and report the heap in use once loaded:
//
//	go test ./posts -run '^$' -bench Load -benchtime 5x
//
// cmd/herald's BenchmarkBuild compares the whole of herald build with cat of every post.

var benchNow = time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)

// BenchmarkLoadCold loads the site without a cache: every post read and parsed.
func BenchmarkLoadCold(b *testing.B) {
	dir := benchCorpus(b)
	for b.Loop() {
		if _, err := Load(b.Context(), Options{Dir: dir, Now: benchNow}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadCached loads the site with a warm cache: no post is opened.
func BenchmarkLoadCached(b *testing.B) {
	dir := benchCorpus(b)
	cache := filepath.Join(b.TempDir(), "cache")
	if _, err := Load(b.Context(), Options{Dir: dir, Now: benchNow, Cache: cache}); err != nil {
		b.Fatal(err)
	}
	var s *Site
	for b.Loop() {
		var err error
		if s, err = Load(b.Context(), Options{Dir: dir, Now: benchNow, Cache: cache}); err != nil {
			b.Fatal(err)
		}
	}
	reportHeap(b, s)
}

// BenchmarkRenderAll renders every post of the site, on all cores.
func BenchmarkRenderAll(b *testing.B) {
	dir := benchCorpus(b)
	s, err := Load(b.Context(), Options{Dir: dir, Now: benchNow})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Render(context.Background(), s.Posts); err != nil {
			b.Fatal(err)
		}
	}
	reportHeap(b, s)
}

// reportHeap reports the heap that s holds, after a collection.
func reportHeap(b *testing.B, s *Site) {
	b.StopTimer()
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "heap-MB")
	runtime.KeepAlive(s)
}

// benchCorpus is bench/gen-corpus's site (internal/benchcorpus).
func benchCorpus(b *testing.B) string { return benchcorpus.Jekyll(b, "../bench/gen-corpus") }
