package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// loadYAML loads a herald.yaml of yml in a temp folder, with env as the environment.
func loadYAML(t *testing.T, yml string, env ...string) (config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, configName), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadConfig(dir, testEnv(env...))
}

// A value that cannot mean what was written is an error naming the file, the line, the value and what is
// allowed, not a silent default.
func TestConfigBadValues(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		env       []string
		want      string
	}{
		{name: "days and hours", yml: "title: x\ndeferred_max_age: 7d12h\n", want: `herald.yaml:2: deferred_max_age "7d12h": want a duration in hours or minutes, such as 72h or 90m, or in whole days, such as 7d`},
		{name: "no unit", yml: "deferred_max_age: 72\n", want: `herald.yaml:1: deferred_max_age "72": want`},
		{name: "negative age", yml: "deferred_max_age: -1h\n", want: `herald.yaml:1: deferred_max_age "-1h": want`},
		{name: "liquid timeout without a unit", yml: "liquid_timeout: 10\n", want: `herald.yaml:1: liquid_timeout "10": want a duration such as 10s or 1m`},
		{name: "negative file bound", yml: "max_file_bytes: -1\n", want: `herald.yaml:1: max_file_bytes -1: want a size in bytes (or 0 for the default, 8388608)`},
		{name: "negative front matter bound", yml: "max_front_matter_bytes: -5\n", want: `herald.yaml:1: max_front_matter_bytes -5: want a size in bytes`},
		{name: "negative Liquid bytes", yml: "liquid_max_bytes: -1\n", want: `herald.yaml:1: liquid_max_bytes -1: want a size in bytes`},
		{name: "negative includes", yml: "liquid_max_includes: -2\n", want: `herald.yaml:1: liquid_max_includes -2: want 1 or more`},
		{name: "email_content typo", yml: "email_content: exerpt\n", want: `herald.yaml:1: email_content "exerpt": want full or excerpt`},
		{name: "max_new negative", yml: "\n\nmax_new: -3\n", want: `herald.yaml:3: max_new -3: want 1 or more (or 0 for the default, 5)`},
		{name: "limit negative", yml: "limit: -1\n", want: `herald.yaml:1: limit -1: want 0 (every post) or more`},
		{name: "max_bytes negative", yml: "max_bytes: -10\n", want: `herald.yaml:1: max_bytes -10: want 0`},
		{name: "per_connection negative", yml: "per_connection: -1\n", want: `herald.yaml:1: per_connection -1: want 1 or more`},
		{name: "max_digest_posts negative", yml: "max_digest_posts: -2\n", want: `herald.yaml:1: max_digest_posts -2: want 0`},
		{name: "rate negative", yml: "rate: -0.5\n", want: `herald.yaml:1: rate -0.5: want messages per second`},
		{name: "stylesheet typo", yml: "stylesheet: defualt\n", want: `herald.yaml:1: stylesheet "defualt": want default (Herald's own), or the URL of an XSLT stylesheet`},
		{name: "hub not a URL", yml: "hubs: [pubsubhubbub.appspot.com]\n", want: `herald.yaml:1: hubs "pubsubhubbub.appspot.com": want a hub's http(s) URL`},
		{name: "trusted proxy", yml: "trusted_proxies: [10.0.0.0/33]\n", want: `herald.yaml:1: trusted_proxies "10.0.0.0/33": want an IP address`},
		{name: "from the environment", env: []string{"HERALD_EMAIL_CONTENT", "ful"}, want: `HERALD_EMAIL_CONTENT="ful": want full or excerpt`},
		{name: "environment over the file", yml: "max_new: 3\n", env: []string{"HERALD_MAX_NEW", "-1"}, want: `HERALD_MAX_NEW=-1: want 1 or more`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadYAML(t, tc.yml, tc.env...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// Every problem is reported at once, in the order of the file, the environment's last.
func TestConfigBadValuesAll(t *testing.T) {
	_, err := loadYAML(t, "max_new: -3\nemail_content: exerpt\n", "HERALD_DEFERRED_MAX_AGE", "soon")
	want := "herald.yaml:1: max_new -3: want 1 or more (or 0 for the default, 5)\n" +
		`herald.yaml:2: email_content "exerpt": want full or excerpt` + "\n" +
		`HERALD_DEFERRED_MAX_AGE="soon": want a duration in hours or minutes, such as 72h or 90m, or in whole days, such as 7d`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestConfigGoodValues(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		age       time.Duration
	}{
		{name: "defaults", yml: "title: x\nmax_new:\nlimit:\n", age: 72 * time.Hour},
		{name: "days", yml: "deferred_max_age: 7d\n", age: 7 * 24 * time.Hour},
		{name: "hours", yml: "deferred_max_age: 168h\n", age: 168 * time.Hour},
		{name: "ranges", yml: "limit: 0\nmax_bytes: 0\nmax_new: 1\nconnections: 1\nper_connection: 1\nrate: 0\nmax_digest_posts: 0\n", age: 72 * time.Hour},
		{name: "enums and URLs", yml: "email_content: excerpt\nstylesheet: default\nhubs: [https://pubsubhubbub.appspot.com/]\ntrusted_proxies: [10.0.0.5, 192.168.0.0/16, \"::1\"]\n", age: 72 * time.Hour},
		{name: "stylesheet URL", yml: "stylesheet: https://blog.example.com/feed.xsl\n", age: 72 * time.Hour},
		{name: "stylesheet path", yml: "stylesheet: /assets/feed.xsl\n", age: 72 * time.Hour},
		// What herald.yaml files held before values were checked, and still means what it meant.
		{name: "stylesheet with a query", yml: "stylesheet: feed.xsl?v=2\n", age: 72 * time.Hour},
		{name: "stylesheet relative, no extension", yml: "stylesheet: assets/feed-style\n", age: 72 * time.Hour},
		{name: "numbers written as floats", yml: "max_bytes: 1e6\nlimit: 20.0\n", age: 72 * time.Hour},
		{name: "a large integer", yml: "max_bytes: 9007199254740993\n", age: 72 * time.Hour},
		{name: "0 for the default", yml: "max_new: 0\nconnections: 0\nper_connection: 0\n", age: 72 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadYAML(t, tc.yml)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.deferredMaxAge(); got != tc.age {
				t.Errorf("deferredMaxAge: got %v, want %v", got, tc.age)
			}
			if tc.name == "numbers written as floats" && (c.MaxBytes != 1000000 || c.Limit == nil || *c.Limit != 20) {
				t.Errorf("got max_bytes %d and limit %v, want 1000000 and 20", c.MaxBytes, c.Limit)
			}
			if tc.name == "a large integer" && c.MaxBytes != 9007199254740993 {
				t.Errorf("got max_bytes %d, want 9007199254740993", c.MaxBytes)
			}
		})
	}
}

// The whole command stops on a bad setting, naming it.
func TestConfigBadValueStopsBuild(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(dir, configName), []byte("stylesheet: defualt\n"), 0o644)
	_, _, err := runHerald(t, testEnv(), "build", "-C", dir)
	if err == nil || !strings.Contains(err.Error(), `herald.yaml:1: stylesheet "defualt"`) {
		t.Errorf("build: got %v, want the stylesheet named", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "_site", "feed.xml")); serr == nil {
		t.Errorf("build wrote feeds with a bad setting")
	}
}

// author, a name or a mapping, takes only name, email and url, as every key of herald.yaml is checked.
func TestConfigAuthor(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		want      author
		err       string
	}{
		{name: "a name", yml: "author: Jane Doe\n", want: author{Name: "Jane Doe"}},
		{name: "a mapping", yml: "author:\n  name: Jane\n  email: jane@example.com\n  url: https://jane.example.com\n",
			want: author{Name: "Jane", Email: "jane@example.com", URL: "https://jane.example.com"}},
		{name: "flow mapping", yml: "author: {name: Jane}\n", want: author{Name: "Jane"}},
		{name: "unknown key", yml: "title: x\nauthor:\n  nme: Jane\n", err: `herald.yaml:3: author: unknown key "nme"; it takes name, email and url`},
		{name: "a list inside", yml: "author:\n  name: [Jane]\n", err: `herald.yaml:2: author: name: want text, got a list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadYAML(t, tc.yml)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Author != tc.want {
				t.Errorf("author: got %+v, want %+v", c.Author, tc.want)
			}
		})
	}
}

// A value of the wrong type names the key, its line and what it takes, not Go's types.
func TestConfigTypeErrors(t *testing.T) {
	for _, tc := range []struct{ name, yml, want string }{
		{"author list", "author: [Jane, Joe]\n", `herald.yaml:1: author: want a name, or a mapping of name, email and url; got a list`},
		{"limit text", "title: x\nlimit: lots\n", `herald.yaml:2: limit: want a whole number, got "lots"`},
		{"max_new fraction", "max_new: 2.5\n", `herald.yaml:1: max_new: want a whole number, got "2.5"`},
		{"bool", "tag_feeds: maybe\n", `herald.yaml:1: tag_feeds: want true or false, got "maybe"`},
		{"text as list", "title: [a, b]\n", `herald.yaml:1: title: want text, got a list`},
		{"text as mapping", "from:\n  name: Jane\n", `herald.yaml:2: from: want text, got a mapping`},
		{"number", "rate: fast\n", `herald.yaml:1: rate: want a number, got "fast"`},
		{"list as mapping", "hubs: {a: b}\n", `herald.yaml:1: hubs: want a list of text (or a single value), got a mapping`},
		{"list of lists", "hubs:\n  - https://hub.example.com/\n  - [x]\n", `herald.yaml:3: hubs: want a list of text (or a single value), got a list`},
		{"kind", "\nkind: jekyl\n", `herald.yaml:2: kind "jekyl": want jekyll, hugo or plain`},
		{"timezone", "timezone: Mars/Olympus\n", `herald.yaml:1: timezone "Mars/Olympus": want an IANA time zone name`},
		{"unknown key", "title: x\ntitel: y\n", `herald.yaml:2: unknown setting "titel"`},
		{"twice", "title: x\ntitle: y\n", `herald.yaml:2: title is set twice (first on line 1)`},
		{"syntax", "title: [x\n", `herald.yaml:`},
		{"not a mapping", "- title\n", `herald.yaml:1: want settings as key: value lines, got a list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadYAML(t, tc.yml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			for _, internal := range []string{"!!", "main.", "unmarshal"} {
				if strings.Contains(err.Error(), internal) {
					t.Errorf("the error shows Go's internals (%q): %v", internal, err)
				}
			}
		})
	}
}

func TestConfigShapes(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		env       []string
		check     func(config) bool
	}{
		{"one hub", "hubs: https://hub.example.com/\n", nil, func(c config) bool {
			return len(c.Hubs) == 1 && c.Hubs[0] == "https://hub.example.com/"
		}},
		{"hub list", "hubs:\n  - https://a.example.com/\n  - https://b.example.com/\n", nil, func(c config) bool { return len(c.Hubs) == 2 }},
		{"empty file", "", nil, func(c config) bool { return c.Title == "" && c.Limit == nil }},
		{"comments only", "# nothing yet\n", nil, func(c config) bool { return c.Title == "" }},
		{"null values", "from:\nlimit:\n", nil, func(c config) bool { return c.From == "" && c.Limit == nil }},
		{"limit 0", "limit: 0\n", nil, func(c config) bool { return c.Limit != nil && *c.Limit == 0 }},
		{"quoted number as text", "title: 2024\nrate: 1.5\ntag_feeds: yes\n", nil, func(c config) bool {
			return c.Title == "2024" && c.Rate == 1.5 && c.TagFeeds
		}},
		{"kind and zone", "kind: plain\ntimezone: Europe/Paris\n", nil, func(c config) bool { return c.Kind == "plain" }},
		{"environment over file", "limit: 3\n", []string{"HERALD_LIMIT", "7"}, func(c config) bool { return *c.Limit == 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadYAML(t, tc.yml, tc.env...)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("got %+v", c)
			}
		})
	}
}

// herald build stops on a kind or a time zone it does not know, naming the line.
func TestConfigKindStopsBuild(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	os.WriteFile(filepath.Join(dir, configName), []byte("title: Notes\nkind: jekyl\n"), 0o644)
	if _, _, err := runHerald(t, testEnv(), "build", "-C", dir); err == nil || !strings.Contains(err.Error(), `herald.yaml:2: kind "jekyl"`) {
		t.Errorf("build: got %v, want herald.yaml:2 named", err)
	}
}

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// Whatever herald.yaml holds, loading it gives settings or errors that each name herald.yaml, in words.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"url: https://blog.example.com\nlimit: 30\nauthor: {name: Jane Doe, email: jane@example.com}\n",
		"author:\n  nme: Jane\n", "hubs: https://hub.example.com/\n", "limit: lots\n", "deferred_max_age: 7d\n",
		"- a\n", "title: [x\n", "a: &x 1\nb: *x\n", "max_new: -3\nemail_content: exerpt\n", "rate: .nan\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, yml string) {
		_, err := loadYAML(t, yml)
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, configName) {
				t.Errorf("an error line does not name %s: %q", configName, line)
			}
		}
		words := quoted.ReplaceAllString(err.Error(), `"…"`) // the values quoted may hold anything
		for _, internal := range []string{"!!", "main.", "reflect", "unmarshal"} {
			if strings.Contains(words, internal) {
				t.Errorf("the error shows Go's internals (%q): %v", internal, err)
			}
		}
	})
}

// A list in a variable is split at commas and white space.
func TestConfigEnvLists(t *testing.T) {
	for _, tc := range []struct {
		name, val string
		want      []string
	}{
		{"commas", "https://a.example/,https://b.example/", []string{"https://a.example/", "https://b.example/"}},
		{"comma and space", "https://a.example/, https://b.example/", []string{"https://a.example/", "https://b.example/"}},
		{"spaces and newlines", " https://a.example/\n\thttps://b.example/ ", []string{"https://a.example/", "https://b.example/"}},
		{"one", "https://a.example/", []string{"https://a.example/"}},
		{"trailing comma", "https://a.example/,", []string{"https://a.example/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadYAML(t, "hubs: https://file.example/\n", "HERALD_HUBS", tc.val)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(c.Hubs, " ") != strings.Join(tc.want, " ") {
				t.Errorf("hubs: got %q, want %q", c.Hubs, tc.want)
			}
		})
	}
	c, err := loadYAML(t, "", "HERALD_TRUSTED_PROXIES", "10.0.0.5,192.168.0.0/16")
	if err != nil || len(c.TrustedProxies) != 2 {
		t.Errorf("trusted_proxies: got %q (%v), want two", c.TrustedProxies, err)
	}
	if _, err := loadYAML(t, "", "HERALD_HUBS", "https://a.example/,hub.example"); err == nil || !strings.Contains(err.Error(), `HERALD_HUBS="hub.example": want a hub's http(s) URL`) {
		t.Errorf("a bad hub in HERALD_HUBS: got %v", err)
	}
}
