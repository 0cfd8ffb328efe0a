// Package imaptest runs a real IMAP server for tests: Debian's Dovecot (dovecot-imapd), started in a
// temp folder on a loopback port, with one user whose mail is a Maildir in that folder.
package imaptest

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/porttest"
	"github.com/heraldhq/herald/internal/tooltest"
)

// User and Password are the one account's.
const (
	User     = "herald"
	Password = "imaptest-password"
)

// Server is a running Dovecot.
type Server struct {
	Addr    string // 127.0.0.1:PORT
	Maildir string // the user's mail: INBOX is this folder, others its .NAME sub-folders
}

// binary returns dovecot's path. Without it the test is skipped, except under CI=true, where .ci/run
// installs it and a missing server is a failure.
func binary(t testing.TB) string {
	t.Helper()
	return tooltest.Find(t, "apt-get install dovecot-imapd", "/usr/sbin/dovecot", "dovecot")
}

// Start runs Dovecot until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binary(t)
	// Dovecot's sockets live in base_dir, and a UNIX socket's path is at most 108 bytes: t.TempDir's
	// can be longer.
	dir, err := os.MkdirTemp("", "imaptest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot.log:\n%s", log)
		}
		os.RemoveAll(dir)
	})
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// Dovecot drops its login and internal processes to these users; as root it refuses root for
	// them, and nobody can reach the temp folder only through a world-traversable path.
	procUser := u.Username
	if u.Uid == "0" {
		procUser = "nobody"
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := porttest.FreeT(t)
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Maildir: filepath.Join(dir, "mail")}
	for _, sub := range []string{"run", "state", "mail/cur", "mail/new", "mail/tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The mail user too: Dovecot never runs a mail process as root.
	uid, gid := u.Uid, u.Gid
	if u.Uid == "0" {
		nobody, err := user.Lookup(procUser)
		if err != nil {
			t.Fatal(err)
		}
		uid, gid = nobody.Uid, nobody.Gid
		chownAll(t, filepath.Join(dir, "mail"), uid, gid)
	}
	passwd := fmt.Sprintf("%s:{PLAIN}%s:%s:%s::%s::\n", User, Password, uid, gid, dir)
	write(t, filepath.Join(dir, "passwd"), passwd)
	conf := fmt.Sprintf(`protocols = imap
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
info_log_path = %[1]s/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
login_trusted_networks = 127.0.0.0/8
default_internal_user = %[2]s
default_login_user = %[2]s
default_internal_group = %[4]s
mail_location = maildir:%[1]s/mail
auth_failure_delay = 0
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[3]d
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
passdb {
  driver = passwd-file
  args = %[1]s/passwd
}
userdb {
  driver = passwd-file
  args = %[1]s/passwd
}
`, dir, procUser, port, group(procUser))
	write(t, filepath.Join(dir, "dovecot.conf"), conf)
	cmd := exec.Command(bin, "-F", "-c", filepath.Join(dir, "dovecot.conf"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot exited: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot did not listen on %s within 20 s: %s\n%s", s.Addr, out.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// group is user's primary group's name.
func group(name string) string {
	u, err := user.Lookup(name)
	if err != nil {
		return name
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return name
	}
	return g.Name
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Folder is the Maildir folder of the IMAP folder name ("INBOX", "Herald/Processed"): Dovecot's
// Maildir++ layout writes a sub-folder as .Herald.Processed.
func (s *Server) Folder(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return s.Maildir
	}
	return filepath.Join(s.Maildir, "."+strings.ReplaceAll(name, "/", "."))
}

func chownAll(t testing.TB, root, uid, gid string) {
	t.Helper()
	u, _ := strconv.Atoi(uid)
	g, _ := strconv.Atoi(gid)
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, u, g)
	})
	if err != nil {
		t.Fatal(err)
	}
}
