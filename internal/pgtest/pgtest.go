// Package pgtest runs a throwaway PostgreSQL server for a package's tests and gives each test a fresh
// database on it.
//
// The server is a cluster made with Debian's binaries (initdb, pg_ctl: the postgresql package) in a temp
// folder, listening on a free loopback port and on a unix socket in that folder: no system service, no
// root, no network. It starts when the first test asks for a database and stops when the package's tests
// end (TestMain calls Cluster.Run). Run as root, the binaries run as the postgres user (initdb refuses
// root), through runuser, in a folder that user owns.
//
// Without the binaries a test that needs a database is skipped, except under CI=true, where .ci/run
// installs them and a missing server is a failure.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/porttest"
	"github.com/heraldhq/herald/internal/tooltest"
	"github.com/jackc/pgx/v5"
)

// User is the cluster's superuser, the owner of every test database.
const User = "herald"

// Cluster is a PostgreSQL server shared by the tests of one package. The zero value is ready to use;
// declare one at package level and call Run from TestMain.
type Cluster struct {
	once    sync.Once
	err     error  // why the cluster could not start
	missing string // why PostgreSQL is not there at all, for a skip
	dir     string // the temp folder: data/, the socket, the log
	bin     string // the folder of initdb, pg_ctl and postgres
	asUser  string // "postgres" when run as root, else ""
	port    int
	pass    string
	admin   *pgx.Conn // to the postgres database, for CREATE and DROP DATABASE
	mu      sync.Mutex
	n       int // databases made so far
}

// Run runs the package's tests (m.Run) and stops the cluster if they started it. Call it from TestMain:
//
//	var pg pgtest.Cluster
//	func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }
func (c *Cluster) Run(m *testing.M) int {
	code := m.Run()
	if err := c.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// DB makes a new empty database for the test, owned by User, collating text as ICU's en-US, and returns its URL (with the password in
// it), dropping the database when the test ends. It skips the test when PostgreSQL is not installed,
// unless CI=true.
func (c *Cluster) DB(t testing.TB) string {
	t.Helper()
	c.once.Do(c.start)
	if c.missing != "" {
		tooltest.Missing(t, "PostgreSQL not found (%s): apt-get install postgresql", c.missing)
	}
	if c.err != nil {
		t.Fatalf("the test PostgreSQL server: %v", c.err)
	}
	c.mu.Lock()
	c.n++
	name := fmt.Sprintf("herald_test_%d", c.n)
	c.mu.Unlock()
	// A linguistic collation (ICU's en-US), as most servers have, rather than the cluster's C: text that
	// must sort as bytes has to say so.
	c.adminExec(t, "CREATE DATABASE "+name+" OWNER "+User+" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
	t.Cleanup(func() { c.adminExec(t, "DROP DATABASE "+name+" WITH (FORCE)") })
	return c.URL(name)
}

// URL is the address of database db over TCP on the loopback interface, with the user and password.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(User, c.pass),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Password is User's password: TCP connections need it (scram-sha-256); the unix socket does not.
func (c *Cluster) Password() string { return c.pass }

// Exec runs statements on database db as User, for tests that change a database behind a store's back.
func (c *Cluster) Exec(t testing.TB, db string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range stmts {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func (c *Cluster) adminExec(t testing.TB, q string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.admin.Exec(ctx, q); err != nil {
		t.Fatalf("the test PostgreSQL server: %s: %v", q, err)
	}
}

// BinDirEnv names the variable that, when set, is the folder of the PostgreSQL binaries, instead of the
// search binDir does.
const BinDirEnv = "HERALD_PGTEST_BINDIR"

// binDir finds the PostgreSQL binaries: $HERALD_PGTEST_BINDIR, else the folder of initdb on PATH, else
// Debian's newest /usr/lib/postgresql/N/bin.
func binDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("no initdb in $%s (%s)", BinDirEnv, dir)
		}
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return "", errors.New("no initdb on PATH or in /usr/lib/postgresql/*/bin")
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) < version(dirs[j]) })
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

func (c *Cluster) start() {
	bin, err := binDir()
	if err != nil {
		c.missing = err.Error()
		return
	}
	c.bin = bin
	if err := c.startIn(); err != nil {
		c.err = err
		if c.dir != "" {
			if log, rerr := os.ReadFile(filepath.Join(c.dir, "log")); rerr == nil && len(log) > 0 {
				c.err = fmt.Errorf("%w\nserver log:\n%s", err, log)
			}
			c.stop() //nolint:errcheck // the start's error is the one to report
		}
	}
}

func (c *Cluster) startIn() error {
	sweep()
	dir, err := os.MkdirTemp("", "herald-pgtest-")
	if err != nil {
		return err
	}
	c.dir = dir
	// The owner of the test binary, for sweep to find clusters whose tests were killed.
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, and initdb refuses root: %w (the postgresql package makes that user)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
		c.asUser = "postgres"
	}
	pass := make([]byte, 16)
	rand.Read(pass)
	c.pass = hex.EncodeToString(pass)
	pwfile := filepath.Join(dir, "pw")
	if err := c.run("sh", c.pass, "-c", "umask 077 && cat > "+shellQuote(pwfile)); err != nil {
		return fmt.Errorf("write the password file: %w", err)
	}
	data := filepath.Join(dir, "data")
	if err := c.run(filepath.Join(c.bin, "initdb"), "", "-D", data, "-U", User, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	// A port that was free a moment ago may be taken by then: try a few.
	for try := 0; ; try++ {
		if c.port, err = porttest.Free(); err != nil {
			return err
		}
		opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
			c.port, shellQuote(dir))
		err = c.run(filepath.Join(c.bin, "pg_ctl"), "", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts)
		if err == nil || try == 2 {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.admin, err = pgx.Connect(ctx, c.URL("postgres"))
	return err
}

// stop stops the server (fast: open sessions are ended) and removes its folder.
func (c *Cluster) stop() error {
	if c.dir == "" {
		return nil
	}
	if c.admin != nil {
		c.admin.Close(context.Background())
		c.admin = nil
	}
	var err error
	if _, serr := os.Stat(filepath.Join(c.dir, "data", "postmaster.pid")); serr == nil {
		err = c.run(filepath.Join(c.bin, "pg_ctl"), "", "stop", "-m", "fast", "-w", "-D", filepath.Join(c.dir, "data"))
		if err != nil {
			err = fmt.Errorf("pg_ctl stop: %w", err)
		}
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

// run runs a command, as the postgres user when the tests run as root, with stdin as its input.
func (c *Cluster) run(name, stdin string, args ...string) error {
	if c.asUser != "" {
		args = append([]string{"-u", c.asUser, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v\n%s", err, out.Bytes())
	}
	return nil
}

// sweep stops the clusters that tests killed before their end left behind (their owner is gone), so
// that they do not pile up.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "herald-pgtest-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		c := &Cluster{dir: dir}
		if bin, err := binDir(); err == nil {
			c.bin = bin
		}
		if st, err := os.Stat(filepath.Join(dir, "data")); err == nil && os.Geteuid() == 0 && st != nil {
			c.asUser = "postgres"
		}
		c.run(filepath.Join(c.bin, "pg_ctl"), "", "stop", "-m", "immediate", "-w", "-D", filepath.Join(dir, "data")) //nolint:errcheck // best effort
		os.RemoveAll(dir)
	}
}

// alive says whether process pid exists (signal 0 checks without sending; EPERM means it exists).
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
