package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/heraldhq/herald/posts"
	"gopkg.in/yaml.v3"
)

// config is herald.yaml. Every key can also be set by an environment variable HERALD_<KEY> (upper case),
// which wins over the file; flags win over both. The zero value is the embedded default.
type config struct {
	Kind             string `yaml:"kind"`      // jekyll, hugo or plain; detected when empty
	PostsDir         string `yaml:"posts_dir"` // plain sites: the folder of Markdown files
	URL              string `yaml:"url"`
	Title            string `yaml:"title"`
	Description      string `yaml:"description"`
	Lang             string `yaml:"lang"`
	Timezone         string `yaml:"timezone"`
	Author           author `yaml:"author"`
	Permalink        string `yaml:"permalink"`
	ExcerptSeparator string `yaml:"excerpt_separator"`
	ExcerptOnly      bool   `yaml:"excerpt_only"`

	// The emails' design (see design.go).
	Greeting      bool   `yaml:"greeting"`       // start each email with "Hi NAME," (default: no greeting)
	EmailClip     string `yaml:"email_clip"`     // warn (default) or excerpt: what to do with a post too long for Gmail
	SubjectPost   string `yaml:"subject_post"`   // a post's subject, a template ({{.Title}}, {{.Site.Title}})
	SubjectDigest string `yaml:"subject_digest"` // a digest's ({{.Title}} of its first post, {{.Count}})

	// Bounds on what a site file may make Herald do (0: the defaults of package posts).
	MaxFileBytes        int    `yaml:"max_file_bytes"`         // the largest site file read
	MaxFrontMatterBytes int    `yaml:"max_front_matter_bytes"` // the largest front matter parsed
	LiquidTimeout       string `yaml:"liquid_timeout"`         // a post's Liquid runs at most this long (default 10s)
	LiquidMaxBytes      int    `yaml:"liquid_max_bytes"`       // the most a post's Liquid writes or builds (default 8 MiB)
	LiquidMaxIncludes   int    `yaml:"liquid_max_includes"`    // includes rendered per post (default 1000)

	Output     string   `yaml:"output"`    // the folder feeds are written to (default: the site's output folder)
	FeedsIn    string   `yaml:"feeds_in"`  // output (default) or source: the site's source, for its generator to publish (see feedsDir)
	Overwrite  bool     `yaml:"overwrite"` // replace a file at a feed's path that Herald did not write
	IDs        string   `yaml:"ids"`       // the posts' public ids: tag (default), jekyll or url (posts.UseIDs)
	RSS        string   `yaml:"rss"`       // file names inside output
	Atom       string   `yaml:"atom"`      //
	JSON       string   `yaml:"json"`      //
	Limit      *int     `yaml:"limit"`     // items per feed; 0 for all (default 20)
	MaxBytes   int      `yaml:"max_bytes"` // a feed larger than this drops its oldest items; 0 for no limit
	Stylesheet string   `yaml:"stylesheet"`
	Hubs       []string `yaml:"hubs"`
	TagFeeds   bool     `yaml:"tag_feeds"`
	Store      string   `yaml:"store"`   // the state store: an SQLite file (default .herald/state.db in the site) or a postgres:// URL
	MaxNew     int      `yaml:"max_new"` // more new posts than this stop a publish (default 5)

	// Mail.
	Transport         string  `yaml:"transport"` // where mail goes: smtp://, smtps://, ses://REGION, postmark://, mailgun://DOMAIN, resend:// (see transport.go)
	SMTP              string  `yaml:"smtp"`      // the old name of transport, for smtp:// and smtps:// URLs
	Outbox            string  `yaml:"outbox"`    // the Maildir folder used without smtp (default .herald/outbox)
	From              string  `yaml:"from"`      // "Name <address>"
	PostalAddress     string  `yaml:"postal_address"`
	Secret            string  `yaml:"secret"`   // signs the unsubscribe and confirmation links (default: the file .herald/secret)
	BaseURL           string  `yaml:"base_url"` // where herald serve answers
	UnsubscribeMailto string  `yaml:"unsubscribe_mailto"`
	ReturnPath        string  `yaml:"return_path"` // the envelope sender, bounces+{token}@DOMAIN: a bounce names its delivery (see herald inbox)
	Inbox             string  `yaml:"inbox"`       // the mailbox herald inbox reads: a Maildir folder, or imap(s)://USER@HOST/MAILBOX
	Listen            string  `yaml:"listen"`
	EmailContent      string  `yaml:"email_content"` // full (default) or excerpt
	MaxDigestPosts    int     `yaml:"max_digest_posts"`
	DigestHour        *int    `yaml:"digest_hour"`      // digests fall due at this hour (0-23) in the site's time zone (default 8)
	DigestWeekday     string  `yaml:"digest_weekday"`   // weekly digests' day (default monday)
	Hold              bool    `yaml:"hold"`             // every new post's mail waits for herald send --approve
	Connections       int     `yaml:"connections"`      // SMTP connections at once (default 4)
	PerConnection     int     `yaml:"per_connection"`   // messages per connection (default 50)
	Rate              float64 `yaml:"rate"`             // messages per second, 0 for no limit
	DeferredMaxAge    string  `yaml:"deferred_max_age"` // a deferred message first tried longer ago than this fails (default 72h)
	CategoryFeeds     bool    `yaml:"category_feeds"`

	// DKIM: each key signs every message (see dkimKeys).
	DKIMKeyFile  []string `yaml:"dkim_key_file"` // PEM private keys, relative to the site's folder
	DKIMSelector []string `yaml:"dkim_selector"` // one per key (default herald, for a single key)
	DKIMDomain   string   `yaml:"dkim_domain"`   // the signatures' d= (default: from's domain)

	// herald serve.
	TrustedProxies []string `yaml:"trusted_proxies"` // peers whose X-Forwarded-For herald serve believes (default: loopback)

	secretLine        int      // the line of secret in herald.yaml, 0 when the file does not set it
	smtpPasswordFile  string   // HERALD_SMTP_PASSWORD_FILE: a file no site file may read
	storePasswordFile string   // HERALD_STORE_PASSWORD_FILE: the same
	keyFiles          []string // the files of secretFileVars that are set: no site file may read them
}

// deferredMaxAge is how long a deferred message is tried again before it fails.
func (c config) deferredMaxAge() time.Duration {
	if d, err := parseAge(c.DeferredMaxAge); err == nil {
		return d
	}
	return 72 * time.Hour // unset: loadConfig refuses a bad value
}

// liquidTimeout is liquid_timeout, 0 for the default (loadConfig refuses a bad value).
func (c config) liquidTimeout() time.Duration {
	d, _ := time.ParseDuration(c.LiquidTimeout)
	return d
}

// parseAge reads a positive duration as Go writes them (72h, 90m) or a whole number of days (7d).
func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d > 0 && d <= 100_000 {
			return time.Duration(d) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("bad duration %q", s)
}

// author accepts "Name" or {name, email, url}.
type author struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
	URL   string `yaml:"url"`
}

// decode reads a name, or a mapping of name, email and url; any other key is an error.
func (a *author) decode(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		a.Name = n.Value
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], deref(n.Content[i+1])
			var dst *string
			switch k.Value {
			case "name":
				dst = &a.Name
			case "email":
				dst = &a.Email
			case "url":
				dst = &a.URL
			default:
				return &valueError{k.Line, fmt.Sprintf("author: unknown key %q; it takes name, email and url", k.Value)}
			}
			if v.Kind != yaml.ScalarNode {
				return &valueError{v.Line, fmt.Sprintf("author: %s: want text, got %s", k.Value, nodeKind(v))}
			}
			*dst = v.Value
		}
		return nil
	}
	return &valueError{n.Line, "author: want a name, or a mapping of name, email and url; got " + nodeKind(n)}
}

// valueError is a problem with a value of herald.yaml, at its line.
type valueError struct {
	line int
	msg  string
}

func (e *valueError) Error() string { return fmt.Sprintf("%s:%d: %s", configName, e.line, e.msg) }

func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// nodeKind says what a YAML value is, for an error.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return nodeKind(n.Alias)
	}
	return strconv.Quote(n.Value)
}

const configName = "herald.yaml"

// configure is how every command finds its site and its configuration, once: the folder dir made
// absolute, and its herald.yaml with the HERALD_* environment over it, checked.
func configure(dir string, getenv func(string) string) (string, config, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", config{}, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real // walking a site through a link to it would find no posts
	}
	cfg, err := loadConfig(abs, getenv)
	return abs, cfg, err
}

// secretFileVars are the variables that name a file holding a secret (a password, an API key, a webhook's
// signing key): privatePaths keeps every site file from reading them, wherever they are.
var secretFileVars = []string{"HERALD_SMTP_PASSWORD_FILE", "HERALD_STORE_PASSWORD_FILE",
	"HERALD_POSTMARK_TOKEN_FILE", "HERALD_MAILGUN_KEY_FILE", "HERALD_RESEND_KEY_FILE",
	"HERALD_POSTMARK_WEBHOOK_KEY_FILE", "HERALD_MAILGUN_WEBHOOK_KEY_FILE", "HERALD_RESEND_WEBHOOK_KEY_FILE",
	"HERALD_INBOX_PASSWORD_FILE"}

// loadConfig reads DIR/herald.yaml if there is one, then the HERALD_* environment, and checks the values.
func loadConfig(dir string, getenv func(string) string) (config, error) {
	c := config{smtpPasswordFile: getenv("HERALD_SMTP_PASSWORD_FILE"), storePasswordFile: getenv("HERALD_STORE_PASSWORD_FILE")}
	for _, v := range secretFileVars {
		if f := getenv(v); f != "" {
			c.keyFiles = append(c.keyFiles, f)
		}
	}
	setBy := map[string]origin{}
	src, err := os.ReadFile(filepath.Join(dir, configName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return c, fmt.Errorf("read %s: %w", configName, err)
	default:
		if err := decodeConfig(src, &c, setBy); err != nil {
			return c, err
		}
		if c.Secret != "" {
			c.secretLine = setBy["secret"].line
		}
	}
	if err := applyEnv(&c, getenv, setBy); err != nil {
		return c, err
	}
	if err := c.check(setBy); err != nil {
		return c, err
	}
	if c.Secret == "" {
		s, err := os.ReadFile(secretPath(dir))
		switch {
		case err == nil:
			c.Secret = strings.TrimSpace(string(s))
		case !errors.Is(err, fs.ErrNotExist):
			return c, fmt.Errorf("read the secret: %w", err)
		}
	}
	return c, nil
}

// decodeConfig reads herald.yaml's keys one at a time, so that an error names the key, its line and
// what the key takes, in words rather than Go's types. It records in setBy the line of each key that has a
// value, and reports every problem it finds.
func decodeConfig(src []byte, c *config, setBy map[string]origin) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return configError(err)
	}
	if len(doc.Content) == 0 {
		return nil // empty, or only comments
	}
	root := deref(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return &valueError{root.Line, "want settings as key: value lines, got " + nodeKind(root) + "; see the configuration reference in README.md"}
	}
	fields := map[string]reflect.Value{}
	v := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		if key := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]; key != "" {
			fields[key] = v.Field(i)
		}
	}
	var errs []error
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, val := root.Content[i], deref(root.Content[i+1])
		f, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown setting %q", k.Value)
			if s := suggest(k.Value, settingKeys()); s != "" {
				msg += fmt.Sprintf("; did you mean %s?", s)
			}
			errs = append(errs, &valueError{k.Line, msg + "; see the configuration reference in README.md"})
			continue
		}
		if first, dup := seen[k.Value]; dup {
			errs = append(errs, &valueError{k.Line, fmt.Sprintf("%s is set twice (first on line %d)", k.Value, first)})
			continue
		}
		seen[k.Value] = k.Line
		if val.Kind == yaml.ScalarNode && val.ShortTag() == "!!null" {
			continue // "key:" with no value leaves the default
		}
		if err := decodeValue(k.Value, val, f); err != nil {
			errs = append(errs, err)
			continue
		}
		setBy[k.Value] = origin{line: k.Line}
	}
	return errors.Join(errs...)
}

// decodeValue sets f, the field of key, from its YAML value. A single value for a list is a list of one.
func decodeValue(key string, n *yaml.Node, f reflect.Value) error {
	want := func(what string) error {
		return &valueError{n.Line, fmt.Sprintf("%s: want %s, got %s", key, what, nodeKind(n))}
	}
	if a, ok := f.Addr().Interface().(*author); ok {
		return a.decode(n)
	}
	if f.Kind() == reflect.Slice {
		items := []*yaml.Node{n}
		if n.Kind == yaml.SequenceNode {
			items = n.Content
		}
		list := make([]string, 0, len(items))
		for _, it := range items {
			if it = deref(it); it.Kind != yaml.ScalarNode {
				return &valueError{it.Line, fmt.Sprintf("%s: want a list of text (or a single value), got %s", key, nodeKind(it))}
			}
			list = append(list, it.Value)
		}
		f.Set(reflect.ValueOf(list))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return want("text")
		}
		f.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			return want("true or false")
		}
		f.SetBool(b)
	case reflect.Int:
		i, ok := wholeNumber(n)
		if !ok {
			return want("a whole number")
		}
		f.SetInt(int64(i))
	case reflect.Pointer: // *int: limit, where 0 is not the default
		i, ok := wholeNumber(n)
		if !ok {
			return want("a whole number")
		}
		f.Set(reflect.ValueOf(&i))
	case reflect.Float64:
		var x float64
		if n.Kind != yaml.ScalarNode || n.Decode(&x) != nil {
			return want("a number")
		}
		f.SetFloat(x)
	default:
		panic("config: no decoding for " + f.Type().String())
	}
	return nil
}

// wholeNumber reads an integer, or a number written as a float that is one (1e6, 20.0); yaml.v3 alone
// would cut 2.5 to 2.
func wholeNumber(n *yaml.Node) (int, bool) {
	if n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int":
		var i int
		return i, n.Decode(&i) == nil
	case "!!float":
		var x float64
		if n.Decode(&x) != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int(x), true
	}
	return 0, false
}

// origin is where a setting was set: a line of herald.yaml, or an environment variable.
type origin struct {
	line int
	env  string
}

// check reports every value that cannot mean what was meant, where it was set (setBy: the file and line,
// or the variable) and what is allowed, rather than let it fall back to a default or pass as something else.
func (c *config) check(setBy map[string]origin) error {
	type problem struct {
		line int // math.MaxInt for a variable: those come last
		msg  string
	}
	var probs []problem
	bad := func(key, value, want string) {
		if o := setBy[key]; o.env != "" {
			probs = append(probs, problem{math.MaxInt, fmt.Sprintf("%s=%s: %s", o.env, value, want)})
		} else {
			probs = append(probs, problem{o.line, fmt.Sprintf("%s:%d: %s %s: %s", configName, o.line, key, value, want)})
		}
	}
	set := func(key string) bool { _, ok := setBy[key]; return ok }
	atLeast := func(key string, n, min int, want string) {
		if set(key) && n < min {
			bad(key, strconv.Itoa(n), want)
		}
	}

	switch c.Kind {
	case "", "jekyll", "hugo", "plain":
	default:
		bad("kind", strconv.Quote(c.Kind), "want jekyll, hugo or plain, or leave it out for Herald to detect")
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			bad("timezone", strconv.Quote(c.Timezone), "want an IANA time zone name, such as America/Chicago, Europe/Paris or UTC")
		}
	}
	switch c.IDs {
	case "", posts.IDsTag, posts.IDsJekyll, posts.IDsURL:
	default:
		bad("ids", strconv.Quote(c.IDs), "want tag (tag: URIs, the default), jekyll (the ids jekyll-feed writes) or url (each post's URL, as Hugo's RSS writes)")
	}
	switch c.FeedsIn {
	case "", "output", "source":
		if c.FeedsIn == "source" && c.Output != "" {
			bad("feeds_in", "source", "output names the folder already; leave out one of the two")
		}
	default:
		bad("feeds_in", strconv.Quote(c.FeedsIn), "want output (the site generator's output folder, the default) or source (the site's source, for the generator to publish)")
	}
	if c.EmailContent != "" && c.EmailContent != "full" && c.EmailContent != "excerpt" {
		bad("email_content", strconv.Quote(c.EmailContent), "want full or excerpt")
	}
	checkDesign(c, bad)
	if c.DeferredMaxAge != "" {
		if _, err := parseAge(c.DeferredMaxAge); err != nil {
			bad("deferred_max_age", strconv.Quote(c.DeferredMaxAge), "want a duration in hours or minutes, such as 72h or 90m, or in whole days, such as 7d")
		}
	}
	if c.Limit != nil {
		atLeast("limit", *c.Limit, 0, "want 0 (every post) or more")
	}
	atLeast("max_bytes", c.MaxBytes, 0, "want 0 (no limit) or a size in bytes")
	atLeast("max_file_bytes", c.MaxFileBytes, 0, fmt.Sprintf("want a size in bytes (or 0 for the default, %d)", posts.DefaultMaxFileBytes))
	atLeast("max_front_matter_bytes", c.MaxFrontMatterBytes, 0, fmt.Sprintf("want a size in bytes (or 0 for the default, %d)", posts.DefaultMaxFrontMatterBytes))
	if c.LiquidTimeout != "" {
		if d, err := time.ParseDuration(c.LiquidTimeout); err != nil || d <= 0 {
			bad("liquid_timeout", strconv.Quote(c.LiquidTimeout), "want a duration such as 10s or 1m")
		}
	}
	atLeast("liquid_max_bytes", c.LiquidMaxBytes, 0, "want a size in bytes (or 0 for the default, 8 MiB)")
	atLeast("liquid_max_includes", c.LiquidMaxIncludes, 0, "want 1 or more (or 0 for the default, 1000)")
	atLeast("max_new", c.MaxNew, 0, "want 1 or more (or 0 for the default, 5)")
	atLeast("connections", c.Connections, 0, "want 1 or more (or 0 for the default, 4)")
	atLeast("per_connection", c.PerConnection, 0, "want 1 or more (or 0 for the default, 50)")
	atLeast("max_digest_posts", c.MaxDigestPosts, 0, "want 0 (no cap) or more")
	if set("rate") && (c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0)) {
		bad("rate", strconv.FormatFloat(c.Rate, 'g', -1, 64), "want messages per second, or 0 for no limit")
	}
	// Any URL reference goes (feed.xsl?v=2, assets/feed-style); a bare word other than default is taken
	// for a typo of it.
	if s := c.Stylesheet; s != "" && s != "default" && !strings.ContainsAny(s, "/.") {
		bad("stylesheet", strconv.Quote(s), "want default (Herald's own), or the URL of an XSLT stylesheet such as /assets/feed.xsl")
	}
	// herald.yaml lives in the site's repository: a password written there is published with it.
	if shown, want := storeProblem(c.Store, setBy["store"].env == ""); want != "" {
		bad("store", shown, want)
	}
	if c.Transport != "" && c.SMTP != "" {
		bad("transport", "(set, and so is smtp)", "set one of them: smtp is the old name of transport")
	}
	c.checkInbox(bad)
	c.checkDigests(bad)
	for _, h := range c.Hubs {
		if !isHTTPURL(h) {
			bad("hubs", strconv.Quote(h), "want a hub's http(s) URL, such as https://pubsubhubbub.appspot.com/")
		}
	}
	for _, p := range c.TrustedProxies {
		_, perr := netip.ParsePrefix(p)
		_, aerr := netip.ParseAddr(p)
		if perr != nil && aerr != nil {
			bad("trusted_proxies", strconv.Quote(p), "want an IP address, or a prefix such as 10.0.0.0/8")
		}
	}

	sort.SliceStable(probs, func(i, j int) bool { return probs[i].line < probs[j].line })
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = errors.New(p.msg)
	}
	return errors.Join(errs...)
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// secretPath is where the secret lives when neither herald.yaml nor HERALD_SECRET sets it: in the state
// folder, which Jekyll and Hugo leave out of the published site and whose .gitignore keeps it out of git.
// herald.yaml sits at the site's root, and Jekyll publishes it.
func secretPath(siteDir string) string { return filepath.Join(siteDir, storeDir, "secret") }

// makeStateDir creates the default state folder with the .gitignore that keeps it out of git.
func makeStateDir(siteDir string) error {
	dir := filepath.Join(siteDir, storeDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	ignore := filepath.Join(dir, ".gitignore")
	err := createFile(ignore, []byte("# Herald's state: not for git, not for the published site.\n*\n"), 0o644)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// createSecret writes a new random secret to .herald/secret, readable by its owner only, unless the file
// exists; created says which.
func createSecret(siteDir string) (created bool, err error) {
	if err := makeStateDir(siteDir); err != nil {
		return false, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return false, err
	}
	err = createFile(secretPath(siteDir), []byte(hex.EncodeToString(key)+"\n"), 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// createFile writes a new file at path, never replacing one: it writes a temp file beside it, syncs it,
// and links it into place, so that no reader sees it half-written. The error is fs.ErrExist when path
// exists.
func createFile(name string, data []byte, perm fs.FileMode) (err error) {
	if _, err := os.Lstat(name); err == nil {
		return fmt.Errorf("create %s: %w", name, fs.ErrExist)
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".herald-tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(f.Name(), name) // unlike rename, fails when name exists
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	return nil
}

// jekyllExcludes tells whether the Jekyll site in dir leaves the root file name out of the published site
// through _config.yml's exclude (a name or a glob).
func jekyllExcludes(dir, name string) bool {
	for _, cfgName := range []string{"_config.yml", "_config.yaml"} {
		src, err := os.ReadFile(filepath.Join(dir, cfgName))
		if err != nil {
			continue
		}
		var jc struct {
			Exclude []string `yaml:"exclude"`
		}
		yaml.Unmarshal(src, &jc) // a _config.yml Herald cannot read excludes nothing
		for _, e := range jc.Exclude {
			e = strings.Trim(e, "/")
			if ok, _ := path.Match(e, name); ok || e == name {
				return true
			}
		}
		return false
	}
	return false
}

// applyEnv sets each key from HERALD_<KEY> when that variable is set, and records it in setBy.
func applyEnv(c *config, getenv func(string) string, setBy map[string]origin) error {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if key == "" {
			continue // not a setting
		}
		name := "HERALD_" + strings.ToUpper(key)
		val := getenv(name)
		if val == "" {
			continue
		}
		setBy[key] = origin{env: name}
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(val)
		case reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("%s=%q: want true or false", name, val)
			}
			f.SetBool(b)
		case reflect.Float64:
			n, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return fmt.Errorf("%s=%q: want a number", name, val)
			}
			f.SetFloat(n)
		case reflect.Int:
			n, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("%s=%q: want a whole number", name, val)
			}
			f.SetInt(int64(n))
		case reflect.Pointer: // *int
			n, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("%s=%q: want a whole number", name, val)
			}
			f.Set(reflect.ValueOf(&n))
		case reflect.Slice: // HERALD_HUBS="https://a.example/, https://b.example/"
			f.Set(reflect.ValueOf(strings.FieldsFunc(val, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })))
		case reflect.Struct: // author: a name
			f.FieldByName("Name").SetString(val)
		}
	}
	return nil
}

// configError names herald.yaml and the line of the YAML syntax error yaml.v3 found.
func configError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, serr := fmt.Sscanf(msg, "line %d:", &line); serr == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		return fmt.Errorf("%s:%d: %s; see the configuration reference in README.md", configName, line, msg)
	}
	return fmt.Errorf("%s: %s; see the configuration reference in README.md", configName, msg)
}
