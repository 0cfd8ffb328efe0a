package imaptest

import (
	"os"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
)

// TestStart: the server takes a login, an APPEND into INBOX lands in its Maildir, and a folder made by
// CREATE is where Folder says.
func TestStart(t *testing.T) {
	s := Start(t)
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(User, Password).Wait(); err != nil {
		t.Fatal(err)
	}
	msg := "From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
	w := c.Append("INBOX", int64(len(msg)), nil)
	w.Write([]byte(msg))
	w.Close()
	if _, err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	// Dovecot's Maildir++ layout separates folders with ".".
	if err := c.Create("Herald.Processed", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if n := len(entries(t, s.Folder("INBOX")+"/new")) + len(entries(t, s.Folder("INBOX")+"/cur")); n != 1 {
		t.Errorf("%d messages in INBOX's Maildir, want 1", n)
	}
	if _, err := os.Stat(s.Folder("Herald/Processed")); err != nil {
		t.Errorf("the created folder: %v", err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	if !slices.Equal(names, []string{"Herald", "Herald.Processed", "INBOX"}) {
		t.Errorf("folders %q, want Herald, Herald.Processed and INBOX", names)
	}
}

func entries(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	e, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
