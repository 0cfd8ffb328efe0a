package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/net/idna"

	"github.com/heraldhq/herald/doctor"
	"github.com/heraldhq/herald/mailer"
)

const dkimUsage = `Usage:
  herald dkim init [-C DIR] [--selector S] [--force]   make DKIM keys and print the DNS records to publish

Run "herald dkim init --help" for more.
`

func runDKIM(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, dkimUsage)
		return errUsage{"herald dkim needs a subcommand; see the list above"}
	}
	switch args[0] {
	case "init":
		return dkimInit(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, dkimUsage)
		return nil
	}
	fmt.Fprint(stderr, dkimUsage)
	return errUsage{fmt.Sprintf("unknown subcommand %q; see the list above", args[0])}
}

// dkimKinds are the keys dkim init makes, each under the selector S-KIND: Ed25519 (RFC 8463), and RSA for
// the receivers that do not verify Ed25519 yet.
var dkimKinds = []struct{ kind, name string }{{mailer.DKIMEd25519, "Ed25519"}, {mailer.DKIMRSA, "RSA-2048"}}

// selectorRE is what a selector may be: dot-separated labels of letters, digits and hyphens.
var selectorRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

func dkimInit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dkim init", stderr, `Usage: herald dkim init [flags]

Makes two DKIM private keys, Ed25519 and RSA-2048, in the site's .herald/ folder (readable by their
owner only), and prints the DNS TXT records that publish them, one per selector (S-ed25519 and S-rsa),
and the herald.yaml lines that make both sign every message. Receivers that do not verify Ed25519 yet
check the RSA signature. The records go under dkim_domain, else the domain of from. It never replaces a
key that exists without --force: its record may be published, and mail signed with it on the way.
Run herald doctor once the records are published.

Flags:
`)
	var dir, selector string
	var force bool
	siteFlag(fs, &dir)
	fs.StringVar(&selector, "selector", "herald", "the `selector` the keys' names start with (each key gets its own: S-ed25519, S-rsa)")
	fs.BoolVar(&force, "force", false, "replace keys that exist")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !selectorRE.MatchString(selector) {
		return errUsage{fmt.Sprintf("--selector %q: want letters, digits and hyphens, such as herald or herald2026", selector)}
	}
	siteDir, cfg, err := configure(dir, getenv)
	if err != nil {
		return err
	}
	domain, err := dkimDomain(cfg)
	if err != nil {
		return err
	}
	type key struct{ name, selector, path, file string }
	var keys []key
	for _, k := range dkimKinds {
		sel := selector + "-" + k.kind
		file := filepath.Join(storeDir, "dkim-"+sel+".pem")
		keys = append(keys, key{k.name, sel, filepath.Join(siteDir, file), filepath.ToSlash(file)})
	}
	if !force {
		for _, k := range keys {
			if _, err := os.Lstat(k.path); err == nil {
				return fmt.Errorf("%s exists: a key whose record is published may still sign mail on its way; pass --force to replace it (and publish its new record), or --selector for new keys beside it", k.path)
			}
		}
	}
	if err := makeStateDir(siteDir); err != nil {
		return err
	}
	records := make([]string, len(keys))
	for i, k := range keys {
		pemKey, err := mailer.GenerateDKIMKey(dkimKinds[i].kind)
		if err != nil {
			return err
		}
		if records[i], _, err = mailer.DKIMRecord(pemKey); err != nil {
			return err
		}
		write := createFile
		if force {
			write = replaceFile
		}
		if err := write(k.path, pemKey, 0o600); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}

	fmt.Fprintln(stdout, "Wrote the DKIM keys (readable by their owner only):")
	for _, k := range keys {
		fmt.Fprintf(stdout, "  %-40s %s\n", k.file, k.name)
	}
	fmt.Fprintf(stdout, "\nPublish these DNS TXT records (one per selector) at %s's DNS host:\n\n", domain)
	split := false
	for i, k := range keys {
		name := k.selector + "._domainkey." + domain
		fmt.Fprintln(stdout, doctor.ZoneLine(name, records[i]))
		split = split || len(doctor.TXTStrings(records[i])) > 1
	}
	if split {
		fmt.Fprint(stdout, `
The RSA record is longer than 255 bytes, the most one DNS string holds, so it is written above as
several quoted strings, which receivers join without spaces. A DNS host's web form usually takes the
whole value in one box, without quotes, and splits it itself.
`)
	}
	fmt.Fprintf(stdout, "\nThen set in %s, so that both keys sign every message:\n\n", configName)
	var files, sels []string
	for _, k := range keys {
		files, sels = append(files, k.file), append(sels, k.selector)
	}
	fmt.Fprintf(stdout, "dkim_key_file: [%s]\ndkim_selector: [%s]\n", strings.Join(files, ", "), strings.Join(sels, ", "))
	fmt.Fprint(stdout, "\nOnce the records are published, herald doctor checks them, with SPF and DMARC.\n")
	return nil
}

// dkimDomain is the domain the signatures name (d=), in its ASCII form as DNS and the mailer write it:
// dkim_domain, else from's.
func dkimDomain(cfg config) (string, error) {
	domain := cfg.DKIMDomain
	if domain == "" {
		if cfg.From == "" {
			return "", fmt.Errorf("no domain for the DKIM records: set from: \"Your Name <you@example.com>\" in %s (or HERALD_FROM), or dkim_domain", configName)
		}
		a, err := mail.ParseAddress(cfg.From)
		if err != nil {
			return "", fmt.Errorf("from %q in %s is not an address like \"Your Name <you@example.com>\": %v", cfg.From, configName, err)
		}
		_, domain, _ = strings.Cut(a.Address, "@")
	}
	ascii, err := idna.Lookup.ToASCII(strings.TrimSuffix(domain, "."))
	if err != nil {
		return "", fmt.Errorf("the DKIM domain %q is not a domain name: set dkim_domain in %s", domain, configName)
	}
	return strings.ToLower(ascii), nil
}

// dkimKeyPaths are the files dkim_key_file names, relative to the site's folder.
func dkimKeyPaths(siteDir string, cfg config) []string {
	var ps []string
	for _, p := range cfg.DKIMKeyFile {
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(siteDir, p)
		}
		ps = append(ps, p)
	}
	return ps
}

// dkimKeys reads the keys that sign every message, each with its selector: dkim_selector names one per
// key, in the same order, or none for a single key (herald).
func dkimKeys(siteDir string, cfg config) ([]mailer.DKIM, error) {
	paths := dkimKeyPaths(siteDir, cfg)
	sels := cfg.DKIMSelector
	switch {
	case len(paths) == 0:
		return nil, nil
	case len(sels) == 0 && len(paths) == 1:
		sels = []string{"herald"}
	case len(sels) != len(paths):
		return nil, fmt.Errorf("dkim_key_file names %d keys and dkim_selector %d selectors: each key needs a selector of its own, in the same order (herald dkim init prints both lines)", len(paths), len(sels))
	}
	domain := ""
	if cfg.DKIMDomain != "" {
		var err error
		if domain, err = dkimDomain(cfg); err != nil {
			return nil, err
		}
	}
	keys := make([]mailer.DKIM, len(paths))
	for i, p := range paths {
		setting := "dkim_key_file (HERALD_DKIM_KEY_FILE)"
		if len(paths) > 1 {
			setting = fmt.Sprintf("dkim_key_file (HERALD_DKIM_KEY_FILE), key %d of %d,", i+1, len(paths))
		}
		key, err := readSecretFile(setting, "the private key", p)
		if err != nil {
			return nil, err
		}
		keys[i] = mailer.DKIM{Selector: sels[i], Domain: domain, Key: key}
	}
	return keys, nil
}

// replaceFile writes name whole or not at all: a temp file beside it, synced, renamed over it.
func replaceFile(name string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), ".herald-tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
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
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
