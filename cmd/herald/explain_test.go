package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/history"
	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
)

// TestExplain: the packages say what went wrong; the command line adds the setting that fixes it, and keeps
// the error itself (wrapped, so that errors.Is still finds it).
func TestExplain(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&history.FloodError{New: 3, MaxNew: 2}, "3 posts look new (the limit is 2), max_new. If the post ids changed (a new domain, another id scheme), --rebaseline records the posts under their new ids and mails none of them; if they really are all new, --force mails them"},
		{&history.FloodError{New: 3, Removed: 3, MaxNew: 5}, "3 known posts disappeared while 3 unknown ones appeared. If the post ids changed"},
		{fmt.Errorf("%w: set url: https://your.site in _config.yml", posts.ErrNoURL), "in _config.yml (or url in herald.yaml, HERALD_URL)"},
		{posts.ErrNoPostsDir, "set posts_dir in herald.yaml"},
		{fmt.Errorf("site: %w", posts.ErrUnknownKind), "pass -C DIR, or set kind and posts_dir in herald.yaml"},
		{mailer.ErrNoPostalAddress, "set postal_address in herald.yaml (or HERALD_POSTAL_ADDRESS)"},
		{mailer.ErrNoUnsubscribe, "set base_url in herald.yaml (or HERALD_BASE_URL)"},
		{mailer.ErrPasswordInURL, "set HERALD_SMTP_PASSWORD, or HERALD_SMTP_PASSWORD_FILE"},
	}
	for _, tc := range tests {
		got := explain(tc.err)
		if !strings.Contains(got.Error(), tc.want) || !strings.HasPrefix(got.Error(), tc.err.Error()) {
			t.Errorf("explain(%q) = %q, want it to keep the error and say %q", tc.err, got, tc.want)
		}
	}
}
