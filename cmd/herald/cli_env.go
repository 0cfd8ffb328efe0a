package main

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
)

// otherEnvVars are the HERALD_* variables read outside the herald.yaml mapping (HERALD_ and a key in
// upper case): secrets, which have no key, and the files that hold them. TestKnownEnvVars checks that
// every HERALD_ name in the command's code is known.
var otherEnvVars = []string{
	"HERALD_SMTP_PASSWORD", "HERALD_POSTMARK_TOKEN", "HERALD_MAILGUN_KEY", "HERALD_RESEND_KEY",
	"HERALD_POSTMARK_WEBHOOK_KEY", "HERALD_MAILGUN_WEBHOOK_KEY", "HERALD_RESEND_WEBHOOK_KEY",
	"HERALD_SES_WEBHOOK_TOPIC", "HERALD_INBOX_PASSWORD",
}

// envPrefixesForTests are the variables of Herald's own tests and benchmarks, which are no setting.
var envPrefixesForTests = []string{"HERALD_TEST_", "HERALD_BENCH_"}

// settingKeys are herald.yaml's keys, from the config struct's yaml tags.
func settingKeys() []string {
	t := reflect.TypeFor[config]()
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if key := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; key != "" {
			keys = append(keys, key)
		}
	}
	return keys
}

// knownEnvVars are the HERALD_* variables Herald reads.
func knownEnvVars() []string {
	names := slices.Clone(otherEnvVars)
	names = append(names, secretFileVars...)
	for _, k := range settingKeys() {
		names = append(names, "HERALD_"+strings.ToUpper(k))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// warnUnknownEnv warns of each HERALD_* variable in environ (NAME=value pairs, as os.Environ gives them)
// that Herald does not read, with the known name it most likely meant. A misspelt HERALD_SMPT_PASSWORD
// would otherwise be ignored without a word. The value is never shown: it may be a secret.
func warnUnknownEnv(environ []string, stderr io.Writer) {
	known := knownEnvVars()
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "HERALD_") || slices.Contains(known, name) ||
			slices.ContainsFunc(envPrefixesForTests, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		unknown = append(unknown, name)
	}
	slices.Sort(unknown)
	for _, name := range slices.Compact(unknown) {
		msg := fmt.Sprintf("warning: %s is set, but Herald reads no such variable", name)
		if s := suggest(name, known); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		fmt.Fprintln(stderr, msg)
	}
}

// suggest is the name among known nearest to name, if it is near enough to be a typo: an edit distance
// of at most a third of its length (and at least 1), else "".
func suggest(name string, known []string) string {
	best, bestD := "", max(len(name)/3, 1)+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes (names are ASCII). Written here: it is
// a dozen lines, where a module would be a dependency for them.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

type environKey struct{}

// withEnviron gives the commands the process's environment (os.Environ), whose HERALD_* names they check:
// getenv can only look up a name it is given.
func withEnviron(ctx context.Context, environ []string) context.Context {
	return context.WithValue(ctx, environKey{}, environ)
}

func environ(ctx context.Context) []string {
	e, _ := ctx.Value(environKey{}).([]string)
	return e
}
