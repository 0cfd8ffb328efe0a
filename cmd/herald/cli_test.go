package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestHelp: herald --help, herald help CMD and herald CMD --help print on stdout and exit 0; a usage
// error prints the usage on stderr and exits 2.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, errOut, err := runHerald(t, testEnv(), args...)
		if err != nil || errOut != "" || !strings.Contains(out, "herald completion SHELL") || !strings.Contains(out, "herald publish [flags]") {
			t.Errorf("herald %s: %v, stdout:\n%s\nstderr:\n%s", args, err, out, errOut)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "build"}, "Usage: herald build [flags]"},
		{[]string{"help", "subscribers", "import"}, "Usage: herald subscribers import FILE"},
		{[]string{"help", "subscribers"}, "herald subscribers export"},
		{[]string{"help", "store", "copy"}, "Usage: herald store copy FROM TO"},
	} {
		out, errOut, err := runHerald(t, testEnv(), tc.args...)
		if err != nil || errOut != "" || !strings.Contains(out, tc.want) {
			t.Errorf("herald %s: %v, stdout:\n%s\nstderr:\n%s", tc.args, err, out, errOut)
		}
	}
	// A command's own --help (or -h) prints its usage on stdout too, and exits 0, as herald help CMD does;
	// with --quiet as well, since the usage is the output asked for.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "--help"}, "Usage: herald build [flags]"},
		{[]string{"build", "-h"}, "the site's folder"}, // and its flags
		{[]string{"-C", "nowhere", "send", "--retry-now", "-help"}, "Usage: herald send"},
		{[]string{"subscribers", "import", "x.csv", "--help=true"}, "Usage: herald subscribers import FILE"},
		{[]string{"subscribers", "--help"}, "herald subscribers export"},
		{[]string{"store", "copy", "-h"}, "Usage: herald store copy FROM TO"},
		{[]string{"status", "--quiet", "--help"}, "Usage: herald status"},
		{[]string{"version", "-h"}, "Usage: herald version"},
	} {
		out, errOut, err := runHerald(t, testEnv(), tc.args...)
		if exitCode(err, io.Discard) != 0 || errOut != "" || !strings.Contains(out, tc.want) {
			t.Errorf("herald %q: %v (exit %d), stdout:\n%s\nstderr (want none):\n%s", tc.args, err, exitCode(err, io.Discard), out, errOut)
		}
	}
	// -h as a flag's value is that value, not a request for help.
	dir := t.TempDir()
	_, errOut, err := runHerald(t, testEnv(), "dkim", "init", "-C", dir, "--selector", "-h")
	if err == nil || !strings.Contains(err.Error(), `--selector "-h"`) || strings.Contains(errOut, "Usage:") {
		t.Errorf("herald dkim init --selector -h: %v, want an error about the selector, not the usage:\n%s", err, errOut)
	}
	// A usage error still prints the usage on stderr, and exits 2.
	out, errOut, err := runHerald(t, testEnv(), "build", "--nope")
	if exitCode(err, io.Discard) != 2 || out != "" || !strings.Contains(errOut, "Usage: herald build") {
		t.Errorf("herald build --nope: %v, stdout (want none):\n%s\nstderr:\n%s", err, out, errOut)
	}
}

// TestCommandUsageErrors: a mistyped or missing command is a usage error (exit 2) that says what to type.
func TestCommandUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given; try herald build"},
		{[]string{"-v"}, "no command given; try herald build"},
		{[]string{"-C", "site", "--quiet"}, "no command given; try herald build"},
		{[]string{"bild"}, `unknown command "bild"; did you mean build?`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; see the list above`},
		{[]string{"-C"}, `unknown command "-C"`},
		{[]string{"build", "--nope"}, "flag provided but not defined: -nope; see herald build --help"},
		{[]string{"subscribers", "nope"}, `unknown subcommand "nope"`},
	} {
		_, errOut, err := runHerald(t, testEnv(), tc.args...)
		var u errUsage
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("herald %q: got %v, want a usage error with %q", tc.args, err, tc.want)
		}
		if exitCode(err, &strings.Builder{}) != 2 {
			t.Errorf("herald %q exits %d, want 2", tc.args, exitCode(err, &strings.Builder{}))
		}
		if len(tc.args) < 2 && !strings.Contains(errOut, "Usage:") {
			t.Errorf("herald %q does not print the list of commands on stderr:\n%s", tc.args, errOut)
		}
	}
}

// TestGlobalFlags: -C DIR works before the command as git -C does, flags keep one dash or two and stand
// before or after the arguments, and --quiet leaves only the command's output.
func TestGlobalFlags(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	if _, _, err := runHerald(t, testEnv(), "-C", dir, "init", "-from", "Jane <jane@blog.example.com>", "--postal-address", "1 Main St"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "herald.yaml")); err != nil {
		t.Fatalf("herald -C DIR init wrote no herald.yaml in DIR: %v", err)
	}
	out := t.TempDir()
	_, errOut, err := runHerald(t, testEnv(), "-C", dir, "preview", "--out", out)
	if err != nil || !strings.Contains(errOut, "warning: no way to unsubscribe is set") {
		t.Fatalf("herald -C DIR preview: %v, want a warning:\n%s", err, errOut)
	}
	for _, args := range [][]string{
		{"--quiet", "-C", dir, "preview", "--out", out},
		{"-C", dir, "preview", "-quiet", "-out", out},
		{"preview", "--out", out, "-C=" + dir, "-q"},
	} {
		stdout, errOut, err := runHerald(t, testEnv(), args...)
		if err != nil || errOut != "" || !strings.Contains(stdout, "herald-preview.html") {
			t.Errorf("herald %q: %v, stdout:\n%s\nstderr (want none):\n%s", args, err, stdout, errOut)
		}
	}
	// After "--" a --quiet is an argument, not a flag.
	if _, _, err := runHerald(t, testEnv(), "preview", "-C", dir, "--out", out, "--", "--quiet"); err == nil || !strings.Contains(err.Error(), "--quiet") {
		t.Errorf("herald preview -- --quiet: %v, want an error about a post named --quiet", err)
	}
}

// TestCompletion: herald completion prints a script for each shell that names herald's commands.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, errOut, err := runHerald(t, testEnv(), "completion", shell)
		if err != nil || !strings.Contains(out, "herald") || len(out) < 1000 {
			t.Errorf("herald completion %s: %v (%d bytes)\n%s", shell, err, len(out), errOut)
		}
	}
	// What the scripts ask: the commands that start with "su", and subscribers' subcommands.
	out, _, err := runHerald(t, testEnv(), "__complete", "su")
	if err != nil || !strings.Contains(out, "subscribers\t") {
		t.Errorf("herald __complete su: %v\n%s", err, out)
	}
	out, _, err = runHerald(t, testEnv(), "__complete", "subscribers", "")
	if err != nil || !strings.Contains(out, "import") || !strings.Contains(out, "export") {
		t.Errorf("herald __complete subscribers '': %v\n%s", err, out)
	}
	// A command's flags, from its own flag set.
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"send", "--re"}, []string{"--retry-now\t", "--retry-unknown\t"}},
		{[]string{"subscribers", "add", "--f"}, []string{"--frequency\t"}},
		{[]string{"status", "--"}, []string{"--json\t", "--runs\t", "--quiet\t", "--verbose\t"}},
	} {
		out, _, err := runHerald(t, testEnv(), append([]string{"__complete"}, tc.args...)...)
		for _, w := range tc.want {
			if err != nil || !strings.Contains(out, w) {
				t.Errorf("herald __complete %q: %v, no %q in\n%s", tc.args, err, w, out)
			}
		}
		if strings.Contains(out, "--C") || strings.Contains(out, "--dry-run") && tc.args[0] != "send" {
			t.Errorf("herald __complete %q offers a flag it does not take:\n%s", tc.args, out)
		}
	}
}

// TestNotASite: status and the subscriber commands, run in a folder that is no site, make no store there
// and say how to reach the site: from _posts/, they name the site's folder above.
func TestNotASite(t *testing.T) {
	site := copySite(t, "seed-jekyll")
	postsDir := filepath.Join(site, "_posts")
	empty := t.TempDir()
	for _, tc := range []struct {
		dir, want string
	}{
		{empty, empty + " is not a site's folder"},
		{postsDir, "the site's folder looks to be " + site + ", so: -C " + site},
	} {
		for _, args := range [][]string{{"status"}, {"status", "--json"}, {"subscribers", "list"}, {"subscribers", "add", "ann@example.com"}} {
			_, _, err := runHerald(t, testEnv(), append(args, "-C", tc.dir)...)
			var u errUsage
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("herald %q in %s: got %v, want a usage error with %q", args, tc.dir, err, tc.want)
			}
		}
		if _, err := os.Stat(filepath.Join(tc.dir, ".herald")); err == nil {
			t.Errorf("a command made %s/.herald", tc.dir)
		}
	}
}

// TestVerbosity: -v is --verbose, -q is --quiet, before the command or after it, but not after "--"; no
// command has a -v of its own (herald version -v prints the version).
func TestVerbosity(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		level slog.Level
		rest  []string
	}{
		{"v", []string{"-v", "x"}, slog.LevelDebug, []string{"x"}},
		{"verbose", []string{"x", "--verbose"}, slog.LevelDebug, []string{"x"}},
		{"q", []string{"-q"}, slog.LevelWarn, []string{}},
		{"none", []string{"-vv", "--version"}, slog.LevelInfo, []string{"-vv", "--version"}},
		{"after --", []string{"--", "-v"}, slog.LevelInfo, []string{"--", "-v"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest, level := verbosity(tc.args)
			if level != tc.level || !slices.Equal(rest, tc.rest) {
				t.Errorf("verbosity(%q) = %q, %v; want %q, %v", tc.args, rest, level, tc.rest, tc.level)
			}
		})
	}
	for _, args := range [][]string{{"version", "-v"}, {"-v", "version"}} {
		out, errOut, err := runHerald(t, testEnv(), args...)
		if err != nil || !strings.HasPrefix(out, "herald ") || errOut != "" {
			t.Errorf("herald %q: %v, stdout:\n%s\nstderr:\n%s", args, err, out, errOut)
		}
	}
}
