package posts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
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

// benchCorpus is the Jekyll tree of bench/gen-corpus's site, generated once into HERALD_BENCH_DIR (default:
// the temp folder's herald-bench), where bench/build.sh and bench/compare.sh keep theirs.
func benchCorpus(b *testing.B) string {
	b.Helper()
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("HERALD_BENCH_POSTS")); err == nil && v > 0 {
		n = v
	}
	gen, err := filepath.Abs("../bench/gen-corpus")
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	srcs, _ := filepath.Glob(filepath.Join(filepath.Dir(gen), "gencorpus", "*.go"))
	for _, f := range append([]string{gen}, srcs...) {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatalf("the corpus generator: %v", err)
		}
		h.Write(src)
	}
	cache := os.Getenv("HERALD_BENCH_DIR")
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "herald-bench")
	}
	dir := filepath.Join(cache, fmt.Sprintf("%d-%s", n, hex.EncodeToString(h.Sum(nil))[:12]))
	if _, err := os.Stat(dir); err != nil {
		tmp := dir + ".tmp"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(cache, 0o755); err != nil {
			b.Fatal(err)
		}
		cmd := exec.CommandContext(b.Context(), "bash", gen, "-n", strconv.Itoa(n), "-out", tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("gen-corpus: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, dir); err != nil {
			b.Fatal(err)
		}
	}
	return filepath.Join(dir, "jekyll")
}
