package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald/internal/smtpsink"
	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/store"
)

// BenchmarkSenders measures how fast 1, 2 and 3 herald send runs at once empty one queue: one new post
// to 5,000 subscribers (HERALD_BENCH_SUBSCRIBERS to change it), planned before the clock starts, sent to
// one SMTP sink on loopback (HERALD_BENCH_SMTP_DELAY, such as 1ms, makes it wait that long before each
// reply). Each run is herald send in-process, with a store handle of its own, and its default 4
// connections. PostgreSQL stores share the queue between the senders; the SQLite store runs one sender
// at a time, so it has the one case, for comparison. The time counted is from the senders' start to the
// last one's end, their start-up included. Run it with
//
//	go test ./cmd/herald -run '^$' -bench Senders -benchtime 1x -count 5
func BenchmarkSenders(b *testing.B) {
	subscribers := 5000
	if n, err := strconv.Atoi(os.Getenv("HERALD_BENCH_SUBSCRIBERS")); err == nil && n > 0 {
		subscribers = n
	}
	delay, _ := time.ParseDuration(os.Getenv("HERALD_BENCH_SMTP_DELAY"))
	addr := serveSMTP(b, func() smtp.Session { return smtpsink.Session{Delay: delay} })
	cases := []struct {
		store   string
		senders int
	}{{"sqlite", 1}, {"postgres", 1}, {"postgres", 2}, {"postgres", 3}}
	for _, c := range cases {
		b.Run(fmt.Sprintf("store=%s/senders=%d", c.store, c.senders), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				env := map[string]string{"SOURCE_DATE_EPOCH": "1795000000"}
				if c.store == "postgres" {
					env["HERALD_STORE"] = pg.DB(b)
				}
				getenv := func(k string) string { return env[k] }
				site := queueSite(b, addr, subscribers, getenv)
				b.StartTimer()
				outs := make([]strings.Builder, c.senders)
				errs := make([]error, c.senders)
				var wg sync.WaitGroup
				for k := range c.senders {
					wg.Go(func() {
						errs[k] = run(b.Context(), []string{"send", "-C", site}, getenv, &outs[k], io.Discard)
					})
				}
				wg.Wait()
				b.StopTimer()
				sent := 0
				for k := range c.senders {
					if errs[k] != nil {
						b.Fatalf("sender %d: %v", k+1, errs[k])
					}
					if m := sentRE.FindStringSubmatch(outs[k].String()); m != nil {
						n, _ := strconv.Atoi(m[1])
						sent += n
					}
				}
				if sent != subscribers {
					b.Fatalf("the senders sent %d messages, want %d", sent, subscribers)
				}
			}
			b.ReportMetric(float64(subscribers*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// sentRE reads how many messages a herald send sent from its summary.
var sentRE = regexp.MustCompile(`: sent (\d+),`)

// benchSite makes a site whose mail goes to the SMTP server at addr, with n subscribers and one new post
// recorded to be mailed them, in the store that getenv names (the site's SQLite file without HERALD_STORE).
func benchSite(b *testing.B, addr string, n int, getenv func(string) string) string {
	b.Helper()
	dir := b.TempDir()
	site := filepath.Join(dir, "site")
	os.MkdirAll(filepath.Join(site, "_posts"), 0o755)
	os.MkdirAll(filepath.Join(site, ".herald"), 0o700)
	os.WriteFile(filepath.Join(site, "_config.yml"), []byte("title: Bench\nurl: https://blog.example.com\n"), 0o644)
	os.WriteFile(filepath.Join(site, "herald.yaml"), []byte(fmt.Sprintf(
		"from: \"Jane <jane@blog.example.com>\"\npostal_address: 1 Main St\nbase_url: https://n.example.com\n"+
			"secret: 0123456789abcdef0123456789\nsmtp: smtp://%s?tls=none\n", addr)), 0o644)
	benchDKIM(b, site)
	addPostB(b, site, "2020-01-01-old.md", "Old")
	var csv strings.Builder
	csv.WriteString("email\n")
	for k := 0; k < n; k++ {
		fmt.Fprintf(&csv, "reader%05d@example.com\n", k)
	}
	list := filepath.Join(dir, "list.csv")
	os.WriteFile(list, []byte(csv.String()), 0o644)
	for _, args := range [][]string{{"subscribers", "import", "-C", site, list}, {"publish", "-C", site}} {
		if err := run(b.Context(), args, getenv, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	addPostB(b, site, "2021-01-01-new.md", "New")
	if err := run(b.Context(), []string{"build", "-C", site, "--record"}, getenv, io.Discard, io.Discard); err != nil {
		b.Fatal(err)
	}
	return site
}

// benchDKIM gives the site the DKIM keys HERALD_BENCH_DKIM names ("rsa", "ed25519" or "rsa,ed25519"),
// new ones: each signs every message.
func benchDKIM(b *testing.B, site string) {
	kinds := os.Getenv("HERALD_BENCH_DKIM")
	if kinds == "" {
		return
	}
	var files, selectors []string
	for _, kind := range strings.Split(kinds, ",") {
		key, err := mailer.GenerateDKIMKey(kind)
		if err != nil {
			b.Fatalf("HERALD_BENCH_DKIM=%s: %v", kinds, err)
		}
		name := "dkim-" + kind + ".pem"
		if err := os.WriteFile(filepath.Join(site, ".herald", name), key, 0o600); err != nil {
			b.Fatal(err)
		}
		files, selectors = append(files, ".herald/"+name), append(selectors, "s"+kind)
	}
	f, err := os.OpenFile(filepath.Join(site, "herald.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "dkim_key_file: [%s]\ndkim_selector: [%s]\n", strings.Join(files, ", "), strings.Join(selectors, ", "))
}

// queueSite is benchSite with the post's messages queued (planned), so that a send only sends.
func queueSite(b *testing.B, addr string, n int, getenv func(string) string) string {
	b.Helper()
	site := benchSite(b, addr, n, getenv)
	path := getenv("HERALD_STORE")
	if path == "" {
		path = filepath.Join(site, ".herald", "state.db")
	}
	st, err := store.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if got, err := st.Plan(b.Context(), time.Now()); err != nil || got != n {
		b.Fatalf("Plan queued %d, %v; want %d", got, err, n)
	}
	return site
}
