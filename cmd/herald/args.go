package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
)

// newFlagSet makes a subcommand's flag set with its usage text.
func newFlagSet(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if c, ok := stderr.(*flagCollector); ok {
		c.fs = fs // the completion scripts ask for the command's flags
	}
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// siteFlag registers -C, the site's folder, as every command that works on a site does.
func siteFlag(fs *flag.FlagSet, dir *string) {
	fs.StringVar(dir, "C", ".", "the site's `folder`")
}

// parseArgs is how every command reads its arguments: flags may stand before, between or after the
// positional arguments (after "--" everything is positional). It returns the positional arguments, of
// which there must be at least min and at most max; what names them in the error. -h is errHelp; anything
// else wrong is a usage error that points to --help.
func parseArgs(fs *flag.FlagSet, args []string, min, max int, what string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, errUsage{fmt.Sprintf("%v; see herald %s --help", err, fs.Name())}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	switch {
	case len(pos) < min:
		return nil, errUsage{fmt.Sprintf("missing %s; see herald %s --help", what, fs.Name())}
	case len(pos) > max && max == 0:
		return nil, errUsage{fmt.Sprintf("unexpected argument %q; herald %s takes only flags (the site folder goes after -C)", pos[0], fs.Name())}
	case len(pos) > max:
		return nil, errUsage{fmt.Sprintf("unexpected argument %q; see herald %s --help", pos[max], fs.Name())}
	}
	return slices.Clip(pos), nil
}

// parseFlags is parseArgs for a command that takes only flags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	_, err := parseArgs(fs, args, 0, 0, "")
	return err
}
