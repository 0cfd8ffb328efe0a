package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald/internal/smtpsink"
	"github.com/heraldhq/herald/mailer"
)

// BenchmarkSend sends one new post to 10,000 subscribers (HERALD_BENCH_SUBSCRIBERS to change it) over
// loopback with 4 connections, through the whole of herald send: plan, compose, the engine and the
// ledger. Run it with go test ./cmd/herald -run '^$' -bench Send -benchtime 1x
func BenchmarkSend(b *testing.B) { benchmarkSend(b, "") }

// BenchmarkSendNoLedger is BenchmarkSend with a ledger that records nothing: the difference is what the
// durable ledger costs.
func BenchmarkSendNoLedger(b *testing.B) { benchmarkSend(b, "none") }

// BenchmarkSendFsyncOnly is BenchmarkSend with the cheapest ledger that survives a power cut: each
// commit appends its lines to a file and calls fdatasync, with no database. No real ledger can cost less
// on this disk, so it is the floor of what durability costs here.
func BenchmarkSendFsyncOnly(b *testing.B) { benchmarkSend(b, "fsync") }

// benchmarkSend runs herald send with the store's ledger (""), or with nopLedger ("none") or
// fsyncLedger ("fsync") in its place.
func benchmarkSend(b *testing.B, ledger string) {
	subscribers := 10000
	if n, err := strconv.Atoi(os.Getenv("HERALD_BENCH_SUBSCRIBERS")); err == nil && n > 0 {
		subscribers = n
	}
	delay, _ := time.ParseDuration(os.Getenv("HERALD_BENCH_SMTP_DELAY"))
	// HERALD_BENCH_SMTP=host:port sends to a sink in another process (bench/smtpsink), which then does
	// not share the Go scheduler with herald's connections and its ledger.
	addr := os.Getenv("HERALD_BENCH_SMTP")
	if addr == "" {
		addr = serveSMTP(b, func() smtp.Session { return smtpsink.Session{Delay: delay} })
	}

	var cpuUsed time.Duration
	var written int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env := testEnv()
		site := benchSite(b, addr, subscribers, env)
		var fsync *fsyncLedger
		if ledger == "fsync" {
			fsync = newFsyncLedger(b)
		}
		var out strings.Builder
		var err error
		cpu0, io0 := cpuTime(), writeBytes()
		b.StartTimer()
		switch ledger {
		case "none":
			err = sendWithLedger(b, site, env, &out, nopLedger{})
		case "fsync":
			err = sendWithLedger(b, site, env, &out, fsync)
		default:
			err = run(b.Context(), []string{"send", "-C", site}, env, &out, io.Discard)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpuUsed += cpuTime() - cpu0
		written += writeBytes() - io0
		if !strings.Contains(out.String(), fmt.Sprintf("sent %d,", subscribers)) {
			b.Fatalf("send: %s", out.String())
		}
	}
	b.ReportMetric(float64(subscribers*b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(cpuUsed.Microseconds())/float64(subscribers*b.N), "cpu-µs/msg")
	if ledger != "fsync" {
		// Not for fsyncLedger: Linux counts the whole file in write_bytes at each fdatasync of it (on
		// this VM's ext4), far more than reaches the disk.
		b.ReportMetric(float64(written)/float64(subscribers*b.N), "disk-B/msg")
	}
}

func addPostB(b *testing.B, dir, name, title string) {
	if err := os.WriteFile(filepath.Join(dir, "_posts", name), []byte("---\ntitle: "+title+"\n---\nSome *text* of "+title+".\n"), 0o644); err != nil {
		b.Fatal(err)
	}
}

// nopLedger records nothing.
type nopLedger struct{}

func (nopLedger) Commit(context.Context, []mailer.Job, []mailer.Result) (map[int64]bool, error) {
	return nil, nil
}

// fsyncLedger appends a line for each job and result to a file whose blocks were written beforehand (so
// that a write changes no file metadata), then calls fdatasync: one write and one flush per commit.
type fsyncLedger struct {
	f   *os.File
	off int64
	buf []byte
}

func newFsyncLedger(b *testing.B) *fsyncLedger {
	f, err := os.Create(filepath.Join(b.TempDir(), "journal"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if _, err := f.Write(make([]byte, 8<<20)); err != nil { // about 4 times what 10,000 messages write
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return &fsyncLedger{f: f}
}

func (l *fsyncLedger) Commit(_ context.Context, started []mailer.Job, done []mailer.Result) (map[int64]bool, error) {
	l.buf = l.buf[:0]
	for _, j := range started {
		l.buf = fmt.Appendf(l.buf, "sending %d %s\n", j.ID, j.Message.MessageID)
	}
	for _, r := range done {
		l.buf = fmt.Appendf(l.buf, "%s %d %s\n", r.Outcome, r.ID, r.Reason)
	}
	if _, err := l.f.WriteAt(l.buf, l.off); err != nil {
		return nil, err
	}
	l.off += int64(len(l.buf))
	return nil, syscall.Fdatasync(int(l.f.Fd()))
}

// sendWithLedger is herald send with another ledger in place of the store's (Plan and Due still use the
// store).
func sendWithLedger(b *testing.B, site string, env func(string) string, out io.Writer, ledger mailer.Ledger) error {
	cfg, err := loadConfig(site, env)
	if err != nil {
		return err
	}
	r, err := lockStore(b.Context(), site, cfg, "send")
	if err != nil {
		return err
	}
	defer r.close()
	bld, err := prepare(b.Context(), env, site, cfg, buildFlags{dir: site, limit: -1}, io.Discard)
	if err != nil {
		return err
	}
	return sendDue(b.Context(), bld, r.st, env, sendFlags{ledger: ledger}, "", out, io.Discard)
}

// cpuTime is the CPU time (user and system) the process has used: herald's and the in-process sink's.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeBytes is what the process has had written to storage so far (Linux's /proc/self/io), or 0.
func writeBytes() int64 {
	b, _ := os.ReadFile("/proc/self/io")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
