package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// runFunc runs one command with its own arguments (flags parsed by the command's flag.FlagSet).
type runFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// cliCommand is one of herald's commands. A new command is one more line in commands.
type cliCommand struct {
	name  string   // as typed: "build"
	use   string   // its arguments in herald --help: "[flags]"
	short string   // what it does, for herald --help and the completion scripts
	run   runFunc  // takes the arguments after the name (after the subcommand's name too, which it is passed first)
	subs  []string // its subcommands ("subscribers import"), which run is given as its first argument
}

// commands are herald's commands, in the order herald --help lists them.
var commands = []cliCommand{
	{name: "init", use: "[flags]", short: "write a commented herald.yaml for the site", run: runInit},
	{name: "publish", use: "[flags]", short: "build the feeds, find the new posts, record the run (after each publish)", run: runPublish},
	{name: "send", use: "[flags]", short: "send the new posts and the digests that are due to the subscribers", run: runSend},
	{name: "build", use: "[flags]", short: "write feed.xml, atom.xml and feed.json for the site", run: runBuild},
	{name: "diff", use: "[flags]", short: "show which posts are new, updated or removed since the last run", run: runDiff},
	{name: "status", use: "[flags]", short: "show the last runs and what the state store holds", run: runStatus},
	{name: "subscribers", use: "...", short: "import, add, list, export and remove subscribers", run: runSubscribers,
		subs: []string{"import", "add", "list", "export", "remove"}},
	{name: "serve", use: "[flags]", short: "run the subscribe, confirm, unsubscribe and preferences pages", run: runServe},
	{name: "store", use: "copy ...", short: "copy the state store into a new one, SQLite or PostgreSQL (FROM TO)", run: runStore,
		subs: []string{"copy"}},
	{name: "preview", use: "[POST]", short: "render a post's email to files, or on a localhost page with --serve", run: runPreview},
	{name: "dkim", use: "init", short: "make DKIM keys and print the DNS records that publish them", run: runDKIM,
		subs: []string{"init"}},
	{name: "doctor", use: "[flags]", short: "check the DNS records (DKIM, SPF, DMARC) and settings receivers look at", run: runDoctor},
	{name: "inbox", use: "[flags]", short: "read bounces, complaints and unsubscribe requests from a Maildir or IMAP mailbox", run: runInbox},
	{name: "version", use: "", short: "print Herald's version", run: runVersion},
}

// usage is what herald --help prints.
func usage() string {
	var b strings.Builder
	b.WriteString("Herald publishes a blog's feeds (RSS, Atom, JSON Feed) and emails new posts to its subscribers.\n\nUsage:\n")
	for _, c := range commands {
		line := strings.TrimSpace("herald " + c.name + " " + c.use)
		fmt.Fprintf(&b, "  %-24s %s\n", line, c.short)
	}
	b.WriteString("  herald help [COMMAND]    print a command's flags\n")
	b.WriteString("  herald completion SHELL  print the completion script for bash, zsh or fish\n")
	b.WriteString(`
Every command takes -C DIR, the site's folder (also before the command, as in git -C DIR), --quiet or -q
(only errors and the command's output) and --verbose or -v (debug logging). Run "herald help COMMAND" or
"herald COMMAND --help" for a command's flags.
`)
	return b.String()
}

func runVersion(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr, "Usage: herald version\n\nPrints Herald's version.\n")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "herald", versionString())
	return nil
}

// command runs the command args name. The command tree, herald help, the completion scripts and the
// suggestions for a mistyped command come from cobra; each command keeps its flags on its own
// flag.FlagSet (parseArgs), so that they may stand anywhere among its arguments, with one dash or two.
func command(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	args = globalFirst(args)
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return errUsage{"no command given; try herald build"}
	}
	switch args[0] {
	case "--version", "-version":
		args[0] = "version"
	case "-h", "--help", "-help":
		args[0] = "help"
	}
	root := newRoot(ctx, getenv, stdout, stderr)
	if _, ok := findCommand(args[0]); !ok && !slices.Contains(builtins, args[0]) {
		fmt.Fprint(stderr, usage())
		msg := fmt.Sprintf("unknown command %q; see the list above", args[0])
		if s := root.SuggestionsFor(args[0]); len(s) > 0 {
			msg = fmt.Sprintf("unknown command %q; did you mean %s?", args[0], strings.Join(s, " or "))
		}
		return errUsage{msg}
	}
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// builtins are the commands cobra adds: help, the completion scripts, and the hidden ones the scripts call.
var builtins = []string{"help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd}

func findCommand(name string) (cliCommand, bool) {
	i := slices.IndexFunc(commands, func(c cliCommand) bool { return c.name == name })
	if i < 0 {
		return cliCommand{}, false
	}
	return commands[i], true
}

// newRoot is the command tree for one run.
func newRoot(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:                        "herald",
		Short:                      "Herald publishes a blog's feeds and emails new posts to its subscribers",
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if c == root {
			fmt.Fprint(c.OutOrStdout(), usage())
			return
		}
		// Only cobra's own commands (completion) get here: ours parse their own --help.
		fmt.Fprint(c.OutOrStdout(), c.UsageString())
	})
	root.SetHelpCommand(&cobra.Command{
		Use:                "help [COMMAND]",
		Short:              "print a command's flags, or the list of commands",
		DisableFlagParsing: true,
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, c := range commands {
				names = append(names, cobra.CompletionWithDesc(c.name, c.short))
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprint(stdout, usage())
				return nil
			}
			// A command's usage goes where it is asked for: herald help CMD prints it on stdout.
			err := command(withEnviron(ctx, nil), append(slices.Clip(args), "--help"), getenv, stdout, stdout)
			if errors.Is(err, errHelp) {
				return nil
			}
			return err
		},
	})
	for _, c := range commands {
		cc := c.cobra(ctx, c.run, getenv, stdout, stderr)
		for _, sub := range c.subs {
			run := func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
				return c.run(ctx, append([]string{sub}, args...), getenv, stdout, stderr)
			}
			cc.AddCommand(cliCommand{name: sub, short: c.name + " " + sub}.cobra(ctx, run, getenv, stdout, stderr))
		}
		root.AddCommand(cc)
	}
	return root
}

// cobra makes the cobra command that runs c: cobra finds it; its own flag set parses its arguments.
func (c cliCommand) cobra(ctx context.Context, run runFunc, getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:                strings.TrimSpace(c.name + " " + c.use),
		Short:              c.short,
		DisableFlagParsing: true,
		ValidArgsFunction: func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if !strings.HasPrefix(toComplete, "-") {
				return nil, cobra.ShellCompDirectiveDefault // file names
			}
			return flagCompletions(ctx, run, getenv, toComplete), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			args, level := verbosity(args)
			errOut := stderr
			if level > slog.LevelInfo {
				errOut = io.Discard // --quiet: errors (which main prints) and the command's own output alone
			}
			if asksHelp(ctx, run, getenv, args) {
				// The usage a user asks for is the command's output, as herald help CMD prints it.
				return run(ctx, args, getenv, stdout, stdout)
			}
			warnUnknownEnv(environ(ctx), errOut)
			return run(withLogLevel(ctx, level), args, getenv, stdout, errOut)
		},
	}
}

// asksHelp reports whether args ask the command run runs for its usage (-h, --help): its own flag set,
// taken as flagCompletions takes it, parses them, so that a -h given as a flag's value is that value.
func asksHelp(ctx context.Context, run runFunc, getenv func(string) string, args []string) bool {
	if !slices.ContainsFunc(args, isHelpFlag) {
		return false
	}
	var c flagCollector
	run(ctx, []string{"--help"}, getenv, io.Discard, &c) //nolint:errcheck // --help: errHelp, having defined the flags
	if c.fs == nil {
		return true // a command with subcommands (herald subscribers --help), which prints its list on stdout
	}
	c.fs.SetOutput(io.Discard)
	_, err := parseArgs(c.fs, args, 0, len(args), "")
	return errors.Is(err, errHelp)
}

func isHelpFlag(a string) bool {
	name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
	return strings.HasPrefix(a, "-") && (name == "h" || name == "help")
}

// globalFirst moves the flags every command takes (-C DIR, --quiet, --verbose) from before the command
// (herald -C DIR build, as git -C) to just after its name and subcommand, where the command parses them.
func globalFirst(args []string) []string {
	var global []string
	i := 0
	for i < len(args) {
		a := args[i]
		switch {
		case a == "-C" || a == "--C":
			if i+1 >= len(args) {
				return args // the command line is wrong: the command, or its absence, says so
			}
			global = append(global, a, args[i+1])
			i += 2
			continue
		case strings.HasPrefix(a, "-C=") || strings.HasPrefix(a, "--C="), isVerbosity(a):
			global = append(global, a)
			i++
			continue
		}
		break
	}
	if len(global) == 0 {
		return args
	}
	rest := args[i:]
	if len(rest) == 0 {
		return nil // herald -v: no command given
	}
	n := 1 // the command's name, and its subcommand's
	if c, ok := findCommand(rest[0]); ok && len(rest) > 1 && slices.Contains(c.subs, rest[1]) {
		n = 2
	}
	out := append(slices.Clone(rest[:n]), global...)
	return append(out, rest[n:]...)
}

func isVerbosity(a string) bool {
	switch strings.TrimLeft(a, "-") {
	case "quiet", "q", "verbose", "v":
		return strings.HasPrefix(a, "-") && a != "---"
	}
	return false
}

// verbosity takes --quiet (-q) and --verbose (-v) out of a command's arguments (not after "--"), and returns
// the log level they ask for: warn for quiet, debug for verbose, else info.
func verbosity(args []string) ([]string, slog.Level) {
	level := slog.LevelInfo
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if !isVerbosity(a) {
			out = append(out, a)
			continue
		}
		if v := strings.TrimLeft(a, "-"); v == "verbose" || v == "v" {
			level = slog.LevelDebug
		} else {
			level = slog.LevelWarn
		}
	}
	return out, level
}

type logLevelKey struct{}

// withLogLevel records in ctx the level --quiet or --verbose asked for.
func withLogLevel(ctx context.Context, l slog.Level) context.Context {
	return context.WithValue(ctx, logLevelKey{}, l)
}

// logLevel is the level --quiet or --verbose asked for: info when neither was given.
func logLevel(ctx context.Context) slog.Level {
	l, _ := ctx.Value(logLevelKey{}).(slog.Level)
	return l
}

// newLogger is the command's logger, on stderr, at the level --quiet or --verbose asked for.
func newLogger(ctx context.Context, stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel(ctx)}))
}

// flagCollector is the stderr that flagCompletions gives a command run with --help: newFlagSet records
// the command's flag set in it, so that the completion scripts offer the flags the command really has.
type flagCollector struct {
	fs *flag.FlagSet
}

func (*flagCollector) Write(p []byte) (int, error) { return len(p), nil }

// flagCompletions are the flags of the command run runs that start with prefix, with their usage, and
// --quiet and --verbose, which every command takes.
func flagCompletions(ctx context.Context, run runFunc, getenv func(string) string, prefix string) []cobra.Completion {
	var c flagCollector
	run(ctx, []string{"--help"}, getenv, io.Discard, &c) //nolint:errcheck // --help: errHelp, having defined the flags
	var out []cobra.Completion
	add := func(name, usage string) {
		if f := "--" + name; strings.HasPrefix(f, prefix) {
			usage, _, _ = strings.Cut(usage, "\n")
			out = append(out, cobra.CompletionWithDesc(f, usage))
		}
	}
	if c.fs != nil {
		c.fs.VisitAll(func(f *flag.Flag) {
			if len(f.Name) > 1 { // -C is the one-letter flag: --C would look odd
				add(f.Name, f.Usage)
			} else if strings.HasPrefix("-"+f.Name, prefix) {
				out = append(out, cobra.CompletionWithDesc("-"+f.Name, f.Usage))
			}
		})
	}
	add("quiet", "only errors and the command's output")
	add("verbose", "debug logging")
	return out
}
