package inbox

import (
	"strings"
	"testing"
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
