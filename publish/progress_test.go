package publish

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/heraldhq/herald/mailer"
)

// openPTY opens a pseudo-terminal: what Send writes its bar to when run from a shell.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestProgressBar: on a terminal the bar shows the count, the rate and the time left, and ends its line
// when done; to a file or a pipe there is no bar (and the store is not even asked how much is due).
func TestProgressBar(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, out := range []io.Writer{f, w, &bytes.Buffer{}} {
		if bar := progressBar(t.Context(), nil, out); bar != nil {
			t.Errorf("a bar on %T", out)
		}
	}
	var nilBar *progress
	nilBar.done() // no bar: nothing to end

	master, tty := openPTY(t)
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(master) // until the tty is closed
		got <- string(b)
	}()
	bar := newProgress(tty, 20)
	for range 10 {
		bar.add(mailer.Result{})
		time.Sleep(25 * time.Millisecond)
	}
	bar.done()
	tty.WriteString("summary\n")
	tty.Close()
	var out string
	select {
	case out = <-got:
	case <-time.After(10 * time.Second):
		master.Close()
		out = <-got
	}
	for _, want := range []string{"sending", "(10/20, ", " msg/s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("the bar has no %q: %q", want, out)
		}
	}
	if !regexpTimeLeft.MatchString(out) {
		t.Errorf("the bar shows no time left: %q", out)
	}
	if !strings.Contains(out, "\r\nsummary") && !strings.Contains(out, "\nsummary") {
		t.Errorf("the summary does not start on a line of its own: %q", out)
	}
}

// regexpTimeLeft matches the bar's elapsed and left times, [1s:2s].
var regexpTimeLeft = regexp.MustCompile(`\[\d+s:\d+s\]`)
