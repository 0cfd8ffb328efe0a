package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

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

	Output     string   `yaml:"output"`    // the folder feeds are written to (default: the site's output folder)
	RSS        string   `yaml:"rss"`       // file names inside output
	Atom       string   `yaml:"atom"`      //
	JSON       string   `yaml:"json"`      //
	Limit      *int     `yaml:"limit"`     // items per feed; 0 for all (default 20)
	MaxBytes   int      `yaml:"max_bytes"` // a feed larger than this drops its oldest items; 0 for no limit
	Stylesheet string   `yaml:"stylesheet"`
	Hubs       []string `yaml:"hubs"`
	TagFeeds   bool     `yaml:"tag_feeds"`
	Store      string   `yaml:"store"`   // the state store: a SQLite file (default .herald/state.db in the site)
	MaxNew     int      `yaml:"max_new"` // more new posts than this stop a publish (default 5)

	// Mail.
	SMTP              string  `yaml:"smtp"`   // smtp://user@host:587 (STARTTLS), smtps://user@host:465, smtp://host:1025?tls=none
	Outbox            string  `yaml:"outbox"` // the Maildir folder used without smtp (default .herald/outbox)
	From              string  `yaml:"from"`   // "Name <address>"
	PostalAddress     string  `yaml:"postal_address"`
	Secret            string  `yaml:"secret"`   // signs the unsubscribe and confirmation links
	BaseURL           string  `yaml:"base_url"` // where herald serve answers
	UnsubscribeMailto string  `yaml:"unsubscribe_mailto"`
	DKIMKeyFile       string  `yaml:"dkim_key_file"`
	DKIMSelector      string  `yaml:"dkim_selector"`
	Listen            string  `yaml:"listen"`
	EmailContent      string  `yaml:"email_content"` // full (default) or excerpt
	MaxDigestPosts    int     `yaml:"max_digest_posts"`
	Connections       int     `yaml:"connections"`      // SMTP connections at once (default 4)
	PerConnection     int     `yaml:"per_connection"`   // messages per connection (default 50)
	Rate              float64 `yaml:"rate"`             // messages per second, 0 for no limit
	DeferredMaxAge    string  `yaml:"deferred_max_age"` // a deferred message first tried longer ago than this fails (default 72h)
	CategoryFeeds     bool    `yaml:"category_feeds"`

	// herald serve.
	TrustedProxies []string `yaml:"trusted_proxies"` // peers whose X-Forwarded-For herald serve believes (default: loopback)
}

// deferredMaxAge is how long a deferred message is tried again before it fails.
func (c config) deferredMaxAge() time.Duration {
	if d, err := time.ParseDuration(c.DeferredMaxAge); err == nil && d > 0 {
		return d
	}
	return 72 * time.Hour
}

// author accepts "Name" or {name, email, url}.
type author struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
	URL   string `yaml:"url"`
}

func (a *author) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		a.Name = n.Value
		return nil
	}
	type plain author
	return n.Decode((*plain)(a))
}

const configName = "herald.yaml"

// loadConfig reads DIR/herald.yaml if there is one, then the HERALD_* environment.
func loadConfig(dir string, getenv func(string) string) (config, error) {
	var c config
	src, err := os.ReadFile(filepath.Join(dir, configName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return c, fmt.Errorf("read %s: %w", configName, err)
	default:
		dec := yaml.NewDecoder(bytes.NewReader(src))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, configError(err)
		}
	}
	if err := applyEnv(&c, getenv); err != nil {
		return c, err
	}
	return c, nil
}

// applyEnv sets each scalar key from HERALD_<KEY> when that variable is set.
func applyEnv(c *config, getenv func(string) string) error {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		name := "HERALD_" + strings.ToUpper(key)
		val := getenv(name)
		if val == "" {
			continue
		}
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
		case reflect.Slice:
			f.Set(reflect.ValueOf(strings.Fields(val)))
		case reflect.Struct: // author: a name
			f.FieldByName("Name").SetString(val)
		}
	}
	return nil
}

// configError names herald.yaml and the line of the first problem yaml.v3 found.
func configError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	var line int
	if _, serr := fmt.Sscanf(msg, "line %d:", &line); serr == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		if f, _, ok := strings.Cut(strings.TrimPrefix(msg, "field "), " not found in type"); ok {
			msg = "unknown setting " + strconv.Quote(f)
		}
		return fmt.Errorf("%s:%d: %s; see the configuration reference in README.md", configName, line, msg)
	}
	return fmt.Errorf("%s: %s; see the configuration reference in README.md", configName, msg)
}
