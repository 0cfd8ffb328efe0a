// Command herald builds a blog's feeds and sends its new posts to subscribers.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	_ "time/tzdata" // site time zones must resolve on machines without a zoneinfo database

	"github.com/heraldhq/herald/history"
	"github.com/heraldhq/herald/internal/sitefs"
	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/publish"
)

// version is Herald's version. A release build stamps it (go build -ldflags "-X main.version=v1.2.3"); a
// binary built by go install of a tagged module version reports that version; any other build says "dev"
// with the commit it was built from, when Go recorded one.
var version = ""

// release is the version this binary was released as: stamped, or the module's version when go install
// built it from a tag; "" for any other build.
func release() string {
	if version != "" {
		return version
	}
	// A module's version is a release's when Go fetched the module to build it (go install
	// module@version), which its checksum shows; a build in a checkout gets a made-up version of its
	// commit (Go 1.24 on), which is no release.
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Sum != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return ""
}

// generator is what the feeds name as their generator: "Herald v1.2.3" for a release, else "Herald", so
// that builds between releases write the same bytes.
func generator() string {
	if v := release(); v != "" {
		return "Herald " + v
	}
	return "Herald"
}

// versionString is what herald version prints: the release, or "dev" with the commit it was built from
// when Go recorded one.
func versionString() string {
	if v := release(); v != "" {
		return v
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+modified"
	}
	return "dev (" + rev + ")"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first Ctrl-C stops cleanly; a second one ends the process at once
	}()
	err := run(withEnviron(ctx, os.Environ()), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage marks a command line that cannot be run as given; the message says how to fix it.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

// errHelp is a command's --help: its usage was printed, and the exit code is 0.
var errHelp = errors.New("help")

func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "herald:", err)
	var u errUsage
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// run is the whole command line: main only adds the process around it, so tests call run directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return explain(command(ctx, args, getenv, stdout, stderr))
}

// explain adds to a library's error the words a user acts on: which herald.yaml key, HERALD_* variable
// or flag sets it right. The packages say what went wrong; only the command line knows its settings.
func explain(err error) error {
	var flood *history.FloodError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) && !strings.HasPrefix(err.Error(), "interrupted"):
		return fmt.Errorf("interrupted: %w", err)
	case errors.As(err, &flood):
		if flood.Removed == 0 || flood.New > flood.MaxNew {
			err = fmt.Errorf("%w, max_new", err)
		}
		return fmt.Errorf("%w. If the post ids changed (a new domain, another id scheme), --rebaseline records the posts under their new ids and mails none of them; if they really are all new, --force mails them", err)
	case errors.Is(err, publish.ErrStoreBehind):
		return fmt.Errorf("%w. Was the store restored from an older copy? Point store in %s (or HERALD_STORE) at the newest one, and nobody is mailed twice. If these posts were never mailed, herald publish --force mails them; --rebaseline records them and mails nobody", err, configName)
	case errors.Is(err, publish.ErrStoreLooksNew):
		return fmt.Errorf("%w. Point store in %s (or HERALD_STORE) at the store earlier runs used; or, to start a new history, run herald publish --init: the posts on the site become the baseline, and nobody is mailed", err, configName)
	case errors.Is(err, posts.ErrNoURL):
		return fmt.Errorf("%w (or url in %s, HERALD_URL)", err, configName)
	case errors.Is(err, posts.ErrUnknownKind):
		return fmt.Errorf("%w; run Herald in the site's folder, pass -C DIR, or set kind and posts_dir in %s for a plain folder of Markdown files", err, configName)
	case errors.Is(err, posts.ErrNoPostsDir):
		return fmt.Errorf("%w: set posts_dir in %s", err, configName)
	case errors.Is(err, mailer.ErrNoPostalAddress):
		return fmt.Errorf("%w: set postal_address in %s (or HERALD_POSTAL_ADDRESS)", err, configName)
	case errors.Is(err, mailer.ErrNoUnsubscribe):
		return fmt.Errorf("%w: set base_url in %s (or HERALD_BASE_URL) so each email carries an unsubscribe link, or unsubscribe_mailto", err, configName)
	case errors.Is(err, sitefs.ErrTooLarge):
		return fmt.Errorf("%w; if it is meant to be that large, raise max_file_bytes in %s", err, configName)
	case errors.Is(err, posts.ErrFrontMatterTooLarge):
		return fmt.Errorf("%w; if it is meant to be that large, raise max_front_matter_bytes in %s", err, configName)
	case errors.Is(err, posts.ErrLiquidBound):
		return fmt.Errorf("%w; if the site needs more, raise liquid_timeout, liquid_max_bytes or liquid_max_includes in %s", err, configName)
	case authRefused(err):
		return fmt.Errorf("%w. The SMTP server refused the login (535): check the user in smtp in %s and the password in HERALD_SMTP_PASSWORD (or in the file HERALD_SMTP_PASSWORD_FILE names)", err, configName)
	case errors.Is(err, mailer.ErrPasswordInURL):
		return fmt.Errorf("%w: set HERALD_SMTP_PASSWORD, or HERALD_SMTP_PASSWORD_FILE to a file holding it", err)
	}
	return err
}

// authRefused tells an SMTP server's 535 (RFC 4954: authentication credentials invalid).
func authRefused(err error) bool {
	var te *textproto.Error
	code, _ := mailer.SMTPStatus(err)
	return code == 535 || errors.As(err, &te) && te.Code == 535
}
