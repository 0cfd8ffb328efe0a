package main

import (
	"bytes"
	"cmp"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/benchcorpus"
)

// The build benchmarks measure herald build and a no-op herald publish on a synthetic site of 10,000 posts
// (HERALD_BENCH_POSTS to change it) from bench/gen-corpus, against the floor nothing can beat: cat of every
// post file. Herald and cat take turns in each iteration, so that both see the same machine; each reports
// its median wall time, the ratio of the medians and Herald's peak RSS. Run them with
//
//	go test ./cmd/herald -run '^$' -bench 'Build|NoopPublish' -benchtime 5x
//
// Herald runs as its own binary, as a user runs it (its start-up and peak RSS included). The InProcess
// variant runs it through run() instead, for -cpuprofile and -memprofile.

// BenchmarkBuild runs herald build (20 items a feed) into a fresh output folder.
func BenchmarkBuild(b *testing.B) { benchmarkAgainstCat(b, "build", "--output", "OUT") }

// BenchmarkBuildFull runs herald build --limit 0: every post rendered.
func BenchmarkBuildFull(b *testing.B) {
	benchmarkAgainstCat(b, "build", "--output", "OUT", "--limit", "0")
}

// BenchmarkNoopPublish runs herald publish on a site whose every post an earlier run recorded.
func BenchmarkNoopPublish(b *testing.B) { benchmarkAgainstCat(b, "publish", "--output", "OUT") }

// BenchmarkBuildInProcess is BenchmarkBuild through run(), for profiles (HERALD_BENCH_LIMIT=0 for the full
// archive).
func BenchmarkBuildInProcess(b *testing.B) {
	site := benchCorpus(b)
	limit := cmp.Or(os.Getenv("HERALD_BENCH_LIMIT"), "20")
	env := testEnv("XDG_CACHE_HOME", b.TempDir())
	out := filepath.Join(b.TempDir(), "out")
	build := func() {
		// A fresh output folder, as bench/compare.sh gives each build, with the last build's feeds gone: kept,
		// a full archive's 330 MB a build went to pages the kernel had not just freed, which cost it several
		// times the CPU to write (see the commit that added this).
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
		if err := run(b.Context(), []string{"build", "-C", site, "--output", out, "--limit", limit}, env, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	build() // the posts cache
	b.ResetTimer()
	for b.Loop() {
		build()
	}
}

// BenchmarkNoopPublishInProcess is BenchmarkNoopPublish through run(), for profiles.
func BenchmarkNoopPublishInProcess(b *testing.B) {
	site := benchCorpus(b)
	state := b.TempDir()
	env := testEnv("HERALD_STORE", filepath.Join(state, "state.db"))
	out := filepath.Join(state, "out")
	publish := func() {
		if err := run(b.Context(), []string{"publish", "-C", site, "--output", out}, env, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	publish() // the baseline: every post recorded, the posts cache written
	b.ResetTimer()
	for b.Loop() {
		publish()
	}
}

// benchmarkAgainstCat runs herald with args (OUT stands for a fresh output folder) and cat of every post,
// in turns, and reports both medians, their ratio and herald's peak RSS.
func benchmarkAgainstCat(b *testing.B, args ...string) {
	site := benchCorpus(b)
	bin := heraldBinary(b)
	files, err := filepath.Glob(filepath.Join(site, "_posts", "*"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no posts in %s: %v", site, err)
	}
	state := b.TempDir()
	// The posts cache of a site without a state folder goes to XDG_CACHE_HOME: one of the benchmark's own.
	env := append(os.Environ(), "HERALD_STORE="+filepath.Join(state, "state.db"), "SOURCE_DATE_EPOCH=1795000000",
		"XDG_CACHE_HOME="+filepath.Join(state, "cache"))
	pub := filepath.Join(state, "pub")
	herald := func(out string) (time.Duration, int64) {
		a := []string{"-C", site}
		for _, s := range args {
			if s == "OUT" {
				s = out
			}
			a = append(a, s)
		}
		cmd := exec.CommandContext(b.Context(), bin, a...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("herald %q: %v\n%s", a, err, stderr.Bytes())
		}
		return time.Since(t0), cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	}
	if args[0] == "publish" {
		// The baseline run records every post; the runs measured find nothing new. The feeds go to a folder
		// of their own, which stays as the first run left it, so that nothing is written.
		herald(pub)
	}
	cat := func() time.Duration {
		cmd := exec.CommandContext(b.Context(), "cat", files...)
		cmd.Stdout = io.Discard
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("cat: %v", err)
		}
		return time.Since(t0)
	}
	output := func() string {
		if args[0] == "publish" {
			return pub
		}
		out := filepath.Join(b.TempDir(), "out")
		return out
	}
	herald(output()) // warm-up: the page cache, and the posts cache where there is one
	cat()
	var hs, cs []time.Duration
	var rss int64
	b.ResetTimer()
	for b.Loop() {
		out := output()
		b.StopTimer()
		c := cat()
		b.StartTimer()
		h, r := herald(out)
		hs, cs = append(hs, h), append(cs, c)
		rss = max(rss, r)
	}
	b.StopTimer()
	hm, cm := median(hs), median(cs)
	b.ReportMetric(float64(hm.Microseconds())/1000, "herald-ms")
	b.ReportMetric(float64(cm.Microseconds())/1000, "cat-ms")
	b.ReportMetric(float64(hm)/float64(cm), "x-cat")
	b.ReportMetric(float64(rss)/1024, "peak-MB")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// heraldBinary builds herald once per benchmark run.
func heraldBinary(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "herald")
	cmd := exec.CommandContext(b.Context(), "go", "build", "-trimpath", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// benchCorpus is bench/gen-corpus's site (internal/benchcorpus).
func benchCorpus(b *testing.B) string { return benchcorpus.Jekyll(b, "../../bench/gen-corpus") }
