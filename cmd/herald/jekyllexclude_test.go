package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestExcludeFromJekyll: herald.yaml joins _config.yml's exclude list, whatever its form, and nothing
// else in the file changes; a list Herald cannot extend safely is left as it was, with an error that says
// what to add.
func TestExcludeFromJekyll(t *testing.T) {
	tests := []struct {
		name, src, want string // want "" means: unchanged, with an error
	}{
		{"no list", "title: Blog # the name\nurl: https://x.example\n",
			"title: Blog # the name\nurl: https://x.example\n\n# Herald's settings and state are not for the published site. Jekyll 3 (GitHub Pages) takes this list in place of\n# its own, which is repeated here.\nexclude:\n  - herald.yaml\n  - Gemfile\n  - Gemfile.lock\n  - node_modules\n  - vendor/bundle/\n  - vendor/cache/\n  - vendor/gems/\n  - vendor/ruby/\n"},
		{"block list", "exclude:\n  - README.md   # docs\n  - Gemfile\ntitle: Blog\n",
			"exclude:\n  - README.md   # docs\n  - Gemfile\n  - herald.yaml\ntitle: Blog\n"},
		{"block list unindented, at the end without a newline", "title: Blog\nexclude:\n- Gemfile",
			"title: Blog\nexclude:\n- Gemfile\n- herald.yaml\n"},
		{"flow list", "exclude: [Gemfile, \"vendor/\"] # Jekyll's\ntitle: Blog\n",
			"exclude: [Gemfile, \"vendor/\", herald.yaml] # Jekyll's\ntitle: Blog\n"},
		{"excluded already", "exclude: [herald.yaml]\n", "exclude: [herald.yaml]\n"},
		{"flow list over lines", "exclude: [Gemfile,\n  vendor/]\n", ""},
		{"a scalar", "exclude: Gemfile\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "_config.yml")
			os.WriteFile(cfg, []byte(tc.src), 0o640)
			changed, err := excludeFromJekyll(dir, "herald.yaml")
			got, _ := os.ReadFile(cfg)
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "add herald.yaml to its exclude list") || string(got) != tc.src {
					t.Fatalf("got %v and\n%s\nwant an error and the file as it was", err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if (changed != "") != (tc.src != tc.want) {
				t.Errorf("changed = %q for a file that changed: %v", changed, tc.src != tc.want)
			}
			var c struct{ Exclude []string }
			if err := yaml.Unmarshal(got, &c); err != nil || !jekyllExcludes(dir, "herald.yaml") {
				t.Errorf("the file does not exclude herald.yaml for Jekyll: %v, %v", c.Exclude, err)
			}
			if info, _ := os.Stat(cfg); info.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want the file's own 0640", info.Mode().Perm())
			}
		})
	}
}

// TestInitExcludesHeraldYAML: herald init on a Jekyll site adds herald.yaml and .herald/ to _config.yml's exclude, and
// says so; the build then gives no warning about herald.yaml being published.
func TestInitExcludesHeraldYAML(t *testing.T) {
	dir := copySite(t, "seed-jekyll")
	out, _, err := runHerald(t, testEnv(), "init", "-C", dir, "--url", "https://blog.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "added herald.yaml and .herald/ to exclude in") {
		t.Errorf("init does not say it excluded herald.yaml and .herald/:\n%s", out)
	}
	if !jekyllExcludes(dir, "herald.yaml") || !jekyllExcludes(dir, ".herald") {
		t.Error("after init, _config.yml does not exclude herald.yaml and .herald")
	}
}
