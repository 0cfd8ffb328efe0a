package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestParseArgs: flags go anywhere around the positional arguments, "--" ends the flags, and too few or
// too many arguments are usage errors that say what is missing or extra.
func TestParseArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		min, max int
		wantPos  []string
		wantDir  string
		wantErr  string
	}{
		{name: "flags only", args: []string{"-C", "site"}, wantDir: "site"},
		{name: "flag after the argument", args: []string{"list.csv", "-C", "site"}, min: 1, max: 1, wantPos: []string{"list.csv"}, wantDir: "site"},
		{name: "flag before the argument", args: []string{"-C", "site", "list.csv"}, min: 1, max: 1, wantPos: []string{"list.csv"}, wantDir: "site"},
		{name: "after --", args: []string{"-C", "site", "--", "-odd.csv"}, min: 1, max: 1, wantPos: []string{"-odd.csv"}, wantDir: "site"},
		{name: "optional absent", args: []string{"-C", "site"}, max: 1, wantDir: "site"},
		{name: "missing", args: []string{"-C", "site"}, min: 1, max: 1, wantErr: "missing FILE; see herald t --help"},
		{name: "stray argument", args: []string{"site"}, wantErr: `unexpected argument "site"; herald t takes only flags (the site folder goes after -C)`},
		{name: "one too many", args: []string{"a", "b"}, min: 1, max: 1, wantErr: `unexpected argument "b"; see herald t --help`},
		{name: "bad flag", args: []string{"-nope"}, wantErr: "flag provided but not defined: -nope; see herald t --help"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var dir string
			siteFlag(fs, &dir)
			pos, err := parseArgs(fs, tc.args, tc.min, tc.max, "FILE")
			if tc.wantErr != "" {
				var u errUsage
				if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want a usage error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pos, tc.wantPos) || dir != tc.wantDir {
				t.Errorf("got %q and -C %q, want %q and %q", pos, dir, tc.wantPos, tc.wantDir)
			}
		})
	}
}
