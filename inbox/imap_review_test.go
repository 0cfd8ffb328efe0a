package inbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/heraldhq/herald/internal/imaptest"
	"github.com/heraldhq/herald/store"
)

// TestParseIMAPURLHidesPassword: a URL that does not parse at all still keeps its password out of the
// error.
func TestParseIMAPURLHidesPassword(t *testing.T) {
	for _, u := range []string{
		"imap://herald:s3cret word@127.0.0.1/INBOX",
		"imap://herald:s3cret%zz@127.0.0.1/INBOX",
		"imap://herald:s3cret/x@127.0.0.1/INBOX",
		"imaps://herald:s3cret@127.0.0.1:bad/INBOX",
		"imap://herald:s3cret@127.0.0.1:99999/INBOX",
	} {
		_, err := ParseIMAPURL(u)
		if err == nil {
			t.Errorf("%s: took it", u)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", u, err)
		}
	}
}

// TestIMAPFailures against Dovecot: a message that is not mail at all leaves the session usable (the
// bounce after it is handled and moved); a store that fails mid-run moves nothing it did not handle, and
// the next run handles it; a wrong password's error names neither password.
func TestIMAPFailures(t *testing.T) {
	ctx := t.Context()
	srv := imaptest.Start(t)
	st, ds := sentSite(t, "ann@example.org", "bob@example.org")
	c, err := imapclient.DialInsecure(srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(imaptest.User, imaptest.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, m := range [][]byte{
		[]byte("this line is no header\r\nnor this one\r\n\r\nbody\r\n"),
		dsn("<r.ann@mx.example.org>", ds["ann@example.org"].MessageID, "ann@example.org failed 5.1.1"),
	} {
		w := c.Append("INBOX", int64(len(m)), nil)
		w.Write(m)
		w.Close()
		if _, err := w.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Logout().Wait()
	c.Close()
	cfg := IMAPConfig{Addr: srv.Addr, User: imaptest.User, Password: imaptest.Password}
	count := func(folder string) int {
		t.Helper()
		n := 0
		for _, sub := range []string{"new", "cur"} {
			e, _ := os.ReadDir(filepath.Join(srv.Folder(folder), sub))
			n += len(e)
		}
		return n
	}
	run := func(st Store) (Summary, error) {
		t.Helper()
		src, err := DialIMAP(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		s, err := Process(ctx, src, Options{Store: st, Out: &out, Now: func() time.Time { return t0.Add(3 * time.Hour) }})
		if cerr := src.Close(); cerr != nil {
			t.Errorf("close: %v", cerr)
		}
		return s, err
	}
	s, err := run(st)
	if err != nil {
		t.Fatal(err)
	}
	if s.Other != 1 || s.HardBounces != 1 || s.Moved != 1 || count("INBOX") != 1 || count(DefaultProcessed) != 1 {
		t.Errorf("got %+v, %d in INBOX, %d processed; want the bounce handled and moved, the rest left", s, count("INBOX"), count(DefaultProcessed))
	}
	if got := status(t, st, "ann@example.org").Status; got != store.Bounced {
		t.Errorf("ann: got %s, want bounced", got)
	}

	// The store fails: bob's bounce stays in the INBOX, and a run with a store that works handles it.
	c, err = imapclient.DialInsecure(srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(imaptest.User, imaptest.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	m := dsn("<r.bob@mx.example.org>", ds["bob@example.org"].MessageID, "bob@example.org failed 5.1.1")
	w := c.Append("INBOX", int64(len(m)), nil)
	w.Write(m)
	w.Close()
	if _, err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()
	c.Close()
	if _, err := run(failing{st}); err == nil {
		t.Fatal("a failing store: no error")
	}
	if count("INBOX") != 2 || count(DefaultProcessed) != 1 {
		t.Errorf("after a store error: %d in INBOX, %d processed; want bob's bounce left", count("INBOX"), count(DefaultProcessed))
	}
	if s, err := run(st); err != nil || s.HardBounces != 1 || s.Moved != 1 || count("INBOX") != 1 {
		t.Errorf("the run after: %+v, %v, %d in INBOX", s, err, count("INBOX"))
	}
	if got := status(t, st, "bob@example.org").Status; got != store.Bounced {
		t.Errorf("bob: got %s, want bounced", got)
	}

	// A wrong password: refused, and the error shows neither.
	bad := cfg
	bad.Password = "wrong-s3cret"
	_, err = DialIMAP(ctx, bad)
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), imaptest.Password) {
		t.Errorf("a wrong password: %v", err)
	}
}

// failing is a store whose writes fail, as a full disk's would.
type failing struct{ Store }

func (f failing) RecordEvent(ctx context.Context, e store.Event) (bool, error) {
	return false, os.ErrPermission
}
