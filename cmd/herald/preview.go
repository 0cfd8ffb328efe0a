package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/publish"
	"github.com/heraldhq/herald/token"
)

func runPreview(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("preview", stderr, `Usage: herald preview [POST] [flags]

Renders the email for one post as a subscriber would get it: POST is the post's file (as
_posts/2020-05-10-slug.md), its id, or its slug; without it, the newest post. Writes the message (.eml)
and its HTML part (.html) to --out (by default .herald/preview in the site's folder, which the site
generator does not publish), or with --serve shows them on a page at a localhost address until Ctrl-C.
--digest renders a digest of the newest posts instead. --send-to mails it, [TEST] in its subject, to one
address through the configured transport, whether or not the post was ever due: nothing is recorded.

Flags:
`)
	// Not --output or --limit: preview writes no feed, and would ignore them.
	var bf buildFlags
	bf.registerPosts(fs)
	digest := fs.Int("digest", 0, "render a digest of the `N` newest posts instead")
	out := fs.String("out", "", "the `folder` to write herald-preview.eml and herald-preview.html to (default: .herald/preview in the site's folder)")
	serve := fs.Bool("serve", false, "show the preview on a localhost page instead of writing files")
	listen := fs.String("listen", "127.0.0.1:0", "with --serve, the `address` the page listens on")
	sendTo := fs.String("send-to", "", "mail the preview to this `address` instead, with [TEST] in the subject, through smtp or the transport set")
	pos, err := parseArgs(fs, args, 0, 1, "")
	if err != nil {
		return err
	}
	var which string
	if len(pos) > 0 {
		which = pos[0]
	}
	if *sendTo != "" {
		if a, err := mail.ParseAddress(*sendTo); err != nil || a.Address != *sendTo {
			return errUsage{fmt.Sprintf("--send-to %q is not an email address", *sendTo)}
		}
		if *serve || *out != "" {
			return errUsage{"--send-to mails the preview: it goes without --serve and --out"}
		}
	}
	siteDir, cfg, err := configure(bf.dir, getenv)
	if err != nil {
		return err
	}
	b, err := prepare(ctx, getenv, siteDir, cfg, bf, stderr)
	if err != nil {
		return err
	}
	ps, err := previewPosts(b.site.Posts, which, *digest)
	if err != nil {
		return err
	}
	warns, err := b.site.Render(ctx, ps)
	if err != nil {
		return err
	}
	for _, w := range warns { // about the posts previewed only
		fmt.Fprintln(stderr, "warning:", w)
	}
	if b.cfg.BaseURL == "" && b.cfg.UnsubscribeMailto == "" {
		// Right after herald init there is often none yet; the preview is still worth seeing.
		b.cfg.UnsubscribeMailto = "unsubscribe@example.invalid"
		fmt.Fprintf(stderr, "warning: no way to unsubscribe is set (base_url or unsubscribe_mailto in %s): the preview shows %s in its place, and herald send will refuse to send\n", configName, b.cfg.UnsubscribeMailto)
	}
	outbox := os.TempDir() // a preview sends nothing
	if *sendTo != "" {
		outbox = ""
	}
	ms, err := b.mail(getenv, outbox, *sendTo != "")
	if err != nil {
		return err
	}
	r := mailer.Recipient{Email: "reader@example.com", Name: "Reader"}
	if *sendTo != "" {
		r = mailer.Recipient{Email: *sendTo}
	}
	if ms.Links.Base != "" {
		r.UnsubscribeURL = ms.Links.URL(token.Unsubscribe, 0)
		r.PreferencesURL = ms.Links.URL(token.Preferences, 0)
	}
	var m *mailer.Message
	if *digest > 0 {
		m, err = ms.Composer.Digest(r, ps, "preview/digest", time.Now())
	} else {
		m, err = ms.Composer.Post(r, ps[0], "preview/"+ps[0].ID, time.Now())
	}
	if err != nil {
		return err
	}
	eml, err := m.Bytes()
	if err != nil {
		return err
	}
	if *sendTo != "" {
		return sendPreview(ctx, ms, m, stdout)
	}
	if *serve {
		return servePreview(ctx, m, eml, *listen, stdout)
	}
	dir := *out
	if dir == "" {
		// Not the working directory, which is often the site's root: Jekyll would publish the draft.
		if err := makeStateDir(b.site.Dir); err != nil {
			return err
		}
		dir = filepath.Join(b.site.Dir, storeDir, "preview")
	}
	files := []feed.File{
		{Path: filepath.Join(dir, "herald-preview.eml"), Data: eml},
		{Path: filepath.Join(dir, "herald-preview.html"), Data: []byte(m.HTML)},
	}
	if _, err := feed.WriteFiles(files); err != nil {
		return fmt.Errorf("write the preview: %w", err)
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", f.Path)
	}
	return nil
}

// previewPosts finds the post to preview by path, id or slug (the newest when which is empty), or the n
// newest for a digest.
func previewPosts(all []*posts.Post, which string, n int) ([]*posts.Post, error) {
	if len(all) == 0 {
		return nil, errors.New("the site has no posts to preview")
	}
	if n > 0 {
		return all[:min(n, len(all))], nil
	}
	if which == "" {
		return all[:1], nil
	}
	for _, p := range all {
		if p.Path == filepath.ToSlash(which) || p.ID == which || strings.HasSuffix(strings.TrimSuffix(p.URL, "/"), "/"+which) ||
			strings.HasSuffix(strings.TrimSuffix(p.Path, filepath.Ext(p.Path)), "-"+which) || fileSlug(p.Path) == which {
			return []*posts.Post{p}, nil
		}
	}
	return nil, fmt.Errorf("no post %q: give its file (as _posts/2020-05-10-slug.md), its id or its slug", which)
}

// datePrefix is the date at the start of a Jekyll post's file name.
var datePrefix = regexp.MustCompile(`^\d{2,4}-\d{1,2}-\d{1,2}-`)

// fileSlug is a post file's name without its extension and date: a draft's (_drafts/launch.md) has no date.
func fileSlug(p string) string {
	base := path.Base(p)
	return datePrefix.ReplaceAllString(strings.TrimSuffix(base, path.Ext(base)), "")
}

// sendPreview mails m, a test copy, through the configured transport.
func sendPreview(ctx context.Context, ms *publish.Mail, m *mailer.Message, stdout io.Writer) error {
	s, err := ms.Dial(ctx)
	if err != nil {
		return errors.Join(mailer.ErrConnect, err)
	}
	if err := s.Send(ctx, m); err != nil {
		s.Close()
		_, reason := mailer.Classify(err)
		return fmt.Errorf("test message %q to %s: %s", m.Subject, m.To, reason)
	}
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mail (%s): sent %q to %s; nothing was recorded\n", ms.Where, m.Subject, m.To)
	return nil
}

// servePreview shows the message on a localhost page until ctx is done.
func servePreview(ctx context.Context, m *mailer.Message, eml []byte, addr string, stdout io.Writer) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, m.HTML)
	})
	mux.HandleFunc("GET /text", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, m.Text)
	})
	mux.HandleFunc("GET /eml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(eml)
	})
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; pass --listen a free address, such as 127.0.0.1:8081", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "preview of %q at http://%s/ (the text part at /text, the message at /eml); Ctrl-C to stop\n", m.Subject, l.Addr())
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func runInit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("init", stderr, `Usage: herald init [flags]

Writes a commented herald.yaml for the site: what it detects (the kind of site, its URL, title and author)
needs no answer, and a line for each setting it could not find says what to put there. It makes the
secret that signs unsubscribe links in .herald/secret, which is never published (Jekyll publishes
herald.yaml with the site). Then it says which settings are still missing.

Flags:
`)
	var dir string
	siteFlag(fs, &dir)
	siteURL := fs.String("url", "", "the site's public `URL`, as https://blog.example.com, when its own config has none")
	postsDir := fs.String("posts-dir", "", "for a plain `folder` of Markdown files (not Jekyll or Hugo): where the posts are")
	from := fs.String("from", "", "the sender, as \"Your Name <you@example.com>\"")
	postal := fs.String("postal-address", "", "your postal address, for the footer of every email")
	baseURL := fs.String("base-url", "", "where herald serve will answer, as https://news.example.com")
	mailto := fs.String("unsubscribe-mailto", "", "an `address` that unsubscribes whoever writes to it, without herald serve")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, u := range []struct{ flag, val string }{{"url", *siteURL}, {"base-url", *baseURL}} {
		if u.val != "" && !isHTTPURL(u.val) {
			return errUsage{fmt.Sprintf("--%s %q: want an http(s) URL, as https://blog.example.com", u.flag, u.val)}
		}
	}
	siteDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	path := filepath.Join(siteDir, configName)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists already; edit it, or remove it to start again", path)
	}
	kind := "plain"
	if *postsDir == "" {
		if kind = posts.Detect(siteDir); kind == "" {
			return fmt.Errorf("%s: no Jekyll or Hugo site found (Herald looked for %s); run herald init in the site's folder (or -C DIR), or for a plain folder of Markdown files give --posts-dir FOLDER", siteDir, posts.DetectLookedFor())
		}
	}
	opts := posts.Options{Dir: siteDir, Kind: kind, PostsDir: *postsDir, URL: *siteURL, Now: time.Now(), Private: privatePaths(siteDir, config{})}
	site, err := posts.Load(ctx, opts)
	noURL := errors.Is(err, posts.ErrNoURL)
	if noURL {
		// The file asks for the URL; a stand-in lets init read the title and count the posts meanwhile.
		opts.URL = "https://example.invalid"
		site, err = posts.Load(ctx, opts)
	}
	if err != nil {
		return fmt.Errorf("read the site: %w", err)
	}
	newSecret, err := createSecret(siteDir)
	if err != nil {
		return err
	}
	// A feed the site publishes itself: Herald takes its place, with its path, format and ids.
	switchCfg, notes := feedSwitch(siteFeeds(siteDir, kind))
	if err := createFile(path, []byte(initConfig(site, noURL, *siteURL, *postsDir, *from, *postal, *baseURL, *mailto)+switchCfg), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (a %s site, %s)\n", path, kind, postCount(len(site.Posts)))
	for _, n := range notes {
		fmt.Fprintln(stdout, "the site's own feed:", n)
	}
	if newSecret {
		fmt.Fprintf(stdout, "wrote %s: the secret that signs the links in emails; keep it private\n", secretPath(siteDir))
	} else {
		fmt.Fprintf(stdout, "kept the secret in %s\n", secretPath(siteDir))
	}
	if kind == "jekyll" {
		// Jekyll publishes every file it does not exclude. The secret's .herald is a dot-folder, which it
		// leaves out itself unless the site's include names it: excluded all the same.
		switch changed, err := excludeFromJekyll(siteDir, configName, storeDir); {
		case err != nil:
			fmt.Fprintf(stderr, "warning: %v\n", err)
		case changed != "":
			fmt.Fprintf(stdout, "added %s and %s/ to exclude in %s, so that Jekyll does not publish them\n", configName, storeDir, changed)
		}
	}

	// What is still missing, with the environment counted: HERALD_FROM in CI is as good as from.
	cfg, err := loadConfig(siteDir, getenv)
	if err != nil {
		return err
	}
	if noURL && cfg.URL == "" {
		fmt.Fprintf(stdout, "missing for every command: url in %s (or the site's own config), the site's public URL\n", configName)
	}
	var mail []string
	if cfg.From == "" {
		mail = append(mail, "from")
	}
	if cfg.PostalAddress == "" {
		mail = append(mail, "postal_address")
	}
	if cfg.BaseURL == "" && cfg.UnsubscribeMailto == "" {
		mail = append(mail, "base_url or unsubscribe_mailto")
	}
	if len(mail) > 0 {
		fmt.Fprintf(stdout, "missing for email: %s (in %s, which says what each is)\n", strings.Join(mail, "; "), configName)
	} else if !noURL || cfg.URL != "" {
		fmt.Fprintln(stdout, "nothing missing: herald preview shows the newest post's email, herald publish builds the feeds and records the first run")
	}
	return nil
}

// initConfig is the herald.yaml that init writes: the flags given, and a commented line for each setting
// that is missing, saying what it takes.
func initConfig(site *posts.Site, noURL bool, siteURL, postsDir, from, postal, baseURL, mailto string) string {
	val := func(v, example string) string {
		if v != "" {
			return fmt.Sprintf("%q", v)
		}
		return "# " + example
	}
	var b strings.Builder
	if site.Kind == "plain" {
		fmt.Fprintf(&b, "# Herald's settings for this folder of Markdown files (see README.md for every key): %s.\n\n", postCount(len(site.Posts)))
		fmt.Fprintf(&b, "kind: plain\nposts_dir: %q\n", postsDir)
	} else {
		fmt.Fprintf(&b, "# Herald's settings for this %s site (see README.md for every key). Herald reads the rest from the\n", site.Kind)
		fmt.Fprintf(&b, "# site's own config: title %q, %s", site.Title, postCount(len(site.Posts)))
		if !noURL && siteURL == "" {
			fmt.Fprintf(&b, ", url %s", site.URL)
		}
		b.WriteString(".\n")
	}
	switch {
	case siteURL != "":
		fmt.Fprintf(&b, "\n# The site's public URL: every link in the feeds and emails starts with it.\nurl: %q\n", siteURL)
	case noURL:
		var where string
		switch site.Kind {
		case "jekyll":
			where = " (or set url in _config.yml)"
		case "hugo":
			where = " (or set baseURL in the Hugo config)"
		}
		fmt.Fprintf(&b, "\n# REQUIRED: the site's public URL, which every link in the feeds and emails starts with. The site's\n"+
			"# config has none: replace the comment after url: with yours%s.\nurl: # https://blog.example.com\n", where)
	}
	fmt.Fprintf(&b, `
# Who the mail comes from, and your postal address for the footer (the law requires it).
from: %s
postal_address: %s

# Every email needs a way to unsubscribe: base_url, where herald serve answers (the unsubscribe and
# preferences links point there), or else unsubscribe_mailto, an address that unsubscribes whoever
# writes to it.
base_url: %s
unsubscribe_mailto: %s
# herald serve listens here; put a reverse proxy that adds HTTPS in front of it. A proxy on another
# machine must be named in trusted_proxies, or the per-IP limits see only the proxy.
# listen: 127.0.0.1:8080
# trusted_proxies: [10.0.0.5]
# The secret that signs the unsubscribe, preferences and confirmation links is in .herald/secret, not
# here: Jekyll publishes the files at a site's root, this one included. Keep it private (whoever has it
# can unsubscribe or change anyone's settings); HERALD_SECRET overrides it.

# How mail leaves: without smtp it goes to the outbox (.herald/outbox). The password comes from
# HERALD_SMTP_PASSWORD or HERALD_SMTP_PASSWORD_FILE, never from this file.
# smtp: smtp://user@smtp.example.com:587

# limit: 20          # items per feed
# max_new: 5         # more new posts than this stop a publish
`, val(from, `"Your Name <you@example.com>"`), val(postal, `"1 Main Street, Springfield, USA"`),
		val(baseURL, "https://news.example.com"), val(mailto, "unsubscribe@example.com"))
	return b.String()
}

func postCount(n int) string {
	if n == 1 {
		return "1 post"
	}
	return fmt.Sprintf("%d posts", n)
}
