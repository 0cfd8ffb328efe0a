package posts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/sitefs"
)

const hugoConfigPost = "---\ntitle: P\ndate: 2024-03-04T05:06:07Z\n---\nBody.\n"

// TestHugoConfigForms: every file name Hugo reads at the root is found, detected and read, in Hugo's order.
func TestHugoConfigForms(t *testing.T) {
	bodies := map[string]string{
		"toml": "baseURL = \"https://a.example/\"\ntitle = \"T\"\n",
		"yaml": "baseURL: https://a.example/\ntitle: T\n",
		"yml":  "baseURL: https://a.example/\ntitle: T\n",
		"json": `{"baseURL": "https://a.example/", "title": "T"}`,
	}
	for _, name := range hugoConfigNames {
		t.Run(name, func(t *testing.T) {
			ext := name[strings.LastIndexByte(name, '.')+1:]
			dir := writeSite(t, map[string]string{name: bodies[ext], "content/posts/p.md": hugoConfigPost})
			if got := Detect(dir); got != "hugo" {
				t.Fatalf("Detect: got %q, want hugo", got)
			}
			s, err := Load(t.Context(), Options{Dir: dir, Now: hugoNow})
			if err != nil {
				t.Fatal(err)
			}
			if s.Kind != "hugo" || s.URL != "https://a.example" || s.Title != "T" || len(s.Posts) != 1 {
				t.Errorf("got kind %q, URL %q, title %q, %d posts; want hugo, https://a.example, T, 1", s.Kind, s.URL, s.Title, len(s.Posts))
			}
		})
	}
	t.Run("order", func(t *testing.T) {
		// Each name wins over every name after it in Hugo's list.
		for i := range len(hugoConfigNames) - 1 {
			first, later := hugoConfigNames[i], hugoConfigNames[i+1:]
			files := map[string]string{"content/posts/p.md": hugoConfigPost}
			for _, n := range later {
				files[n] = strings.ReplaceAll(bodies[n[strings.LastIndexByte(n, '.')+1:]], "a.example", "later.example")
			}
			files[first] = bodies[first[strings.LastIndexByte(first, '.')+1:]]
			s := loadHugoSite(t, writeSite(t, files), Options{})
			if s.URL != "https://a.example" {
				t.Errorf("with %s and %v: URL %q, want %s's https://a.example", first, later, s.URL, first)
			}
		}
	})
}

// TestHugoConfigYML: a site configured as PaperMod's exampleSite (config.yml) is a Hugo site, with the
// link Hugo itself gives its post (hugo 0.111 built testdata/hugo-configyml to
// https://papermod.example.org/posts/markdown-syntax/).
func TestHugoConfigYML(t *testing.T) {
	dir := "testdata/hugo-configyml"
	if got := Detect(dir); got != "hugo" {
		t.Fatalf("Detect: got %q, want hugo", got)
	}
	s, err := Load(t.Context(), Options{Dir: dir, Now: hugoNow})
	if err != nil {
		t.Fatal(err)
	}
	if s.URL != "https://papermod.example.org" || s.Title != "ExampleSite" || s.Description != "ExampleSite description" || s.Author.Name != "Me" {
		t.Errorf("got URL %q, title %q, description %q, author %q", s.URL, s.Title, s.Description, s.Author.Name)
	}
	if len(s.Posts) != 1 || s.Posts[0].URL != "https://papermod.example.org/posts/markdown-syntax/" {
		t.Errorf("got posts %v, want the one at https://papermod.example.org/posts/markdown-syntax/", s.Posts)
	}
}

// TestHugoConfigDir: config/_default/ and its production overlay merged as Hugo merges them. `hugo config`
// (0.111) on testdata/hugo-configdir prints baseurl https://split.example.net/ (production's), title
// "Split Config" (not development's), params {author: {email, name: Ada}, description}, permalinks
// {posts: /:year/:month/:slug/}; hugo builds its post at https://split.example.net/2024/02/first/.
func TestHugoConfigDir(t *testing.T) {
	dir := "testdata/hugo-configdir"
	if got := Detect(dir); got != "hugo" {
		t.Fatalf("Detect: got %q, want hugo", got)
	}
	s := loadHugoSite(t, dir, Options{})
	if s.URL != "https://split.example.net" || s.Title != "Split Config" || s.Lang != "en-gb" || s.Location.String() != "Europe/London" {
		t.Errorf("got URL %q, title %q, lang %q, zone %s; want https://split.example.net, Split Config, en-gb, Europe/London", s.URL, s.Title, s.Lang, s.Location)
	}
	if s.Description != "Written in config/_default/params.toml" {
		t.Errorf("description: got %q, want params.toml's", s.Description)
	}
	if s.Author.Name != "Ada" || s.Author.Email != "ada@split.example.net" {
		t.Errorf("author: got %+v, want _default's name and production's email, merged", s.Author)
	}
	if len(s.Posts) != 1 || s.Posts[0].URL != "https://split.example.net/2024/02/first/" {
		t.Errorf("got posts %v, want the one at https://split.example.net/2024/02/first/", s.Posts)
	}

	files, err := sitefs.New(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := readHugoConfigTree(files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"config/_default/hugo.toml", "config/_default/menus/menus.en.toml", "config/_default/params.toml",
		"config/_default/permalinks.toml", "config/production/hugo.toml", "config/production/params.yaml"}
	if strings.Join(tree.read, " ") != strings.Join(want, " ") {
		t.Errorf("read %v, want %v (lexical, _default before production, development never)", tree.read, want)
	}
	menus, _ := tree.raw["languages"].(map[string]any)["en"].(map[string]any)["menus"].(map[string]any)
	if _, ok := menus["main"]; !ok {
		t.Errorf("menus.en.toml: got languages %v, want languages.en.menus.main", tree.raw["languages"])
	}
}

// TestHugoConfigMerge: the rules of the merge, one by one.
func TestHugoConfigMerge(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		check func(s *Site) string
	}{
		{
			name: "the folder over the root file",
			files: map[string]string{
				"config.toml":                 "baseURL = \"https://root.example/\"\ntitle = \"Root\"\n",
				"config/_default/hugo.yml":    "baseURL: https://default.example/\n",
				"config/production/hugo.json": `{"title": "Production"}`,
			},
			check: func(s *Site) string {
				if s.URL != "https://default.example" || s.Title != "Production" {
					return "got " + s.URL + " " + s.Title + ", want https://default.example Production"
				}
				return ""
			},
		},
		{
			name: "config.* in the folder holds root keys too",
			files: map[string]string{
				"config/_default/config.toml": "baseURL = \"https://c.example/\"\n[params]\ndescription = \"D\"\n",
			},
			check: func(s *Site) string {
				if s.URL != "https://c.example" || s.Description != "D" {
					return "got " + s.URL + " " + s.Description
				}
				return ""
			},
		},
		{
			name: "params.toml repeating its root key is unwrapped (Hugo 0.162)",
			files: map[string]string{
				"hugo.toml":                   "baseURL = \"https://a.example/\"\n",
				"config/_default/params.toml": "[params]\ndescription = \"Unwrapped\"\n",
			},
			check: func(s *Site) string {
				if s.Description != "Unwrapped" {
					return "description " + s.Description
				}
				return ""
			},
		},
		{
			name: "a table over a value replaces it, and keys are case-insensitive",
			files: map[string]string{
				"hugo.toml":                     "baseURL = \"https://a.example/\"\n[params]\nauthor = \"Plain\"\n",
				"config/production/Params.YAML": "Author: {Name: Table, Email: t@a.example}\n",
			},
			check: func(s *Site) string {
				if s.Author.Name != "Table" || s.Author.Email != "t@a.example" {
					return "author " + s.Author.Name + " " + s.Author.Email
				}
				return ""
			},
		},
		{
			name: "other extensions and other environments are not config",
			files: map[string]string{
				"hugo.toml":                        "baseURL = \"https://a.example/\"\ntitle = \"T\"\n",
				"config/_default/hugo.toml.bak":    "title = \"Backup\"\n",
				"config/_default/README.md":        "# notes\n",
				"config/staging/hugo.toml":         "title = \"Staging\"\n",
				"config/development/params.toml":   "description = \"Dev\"\n",
				"config/production/nested/x/y.txt": "z\n",
			},
			check: func(s *Site) string {
				if s.Title != "T" || s.Description != "" {
					return "title " + s.Title + ", description " + s.Description
				}
				return ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.files["content/posts/p.md"] = hugoConfigPost
			dir := writeSite(t, tt.files)
			if got := Detect(dir); got != "hugo" {
				t.Fatalf("Detect: got %q, want hugo", got)
			}
			if msg := tt.check(loadHugoSite(t, dir, Options{})); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// TestHugoConfigErrors: a site without baseURL, or without any config, is told where Herald looked, what
// it read, and which file to edit, in that file's syntax.
func TestHugoConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		kind  string
		files map[string]string
		want  []string
		is    error
	}{
		{
			name:  "config.yml without baseURL",
			kind:  "hugo",
			files: map[string]string{"config.yml": "title: T\n"},
			want:  []string{"read config.yml: set baseURL: https://your.site/ in config.yml"},
			is:    ErrNoURL,
		},
		{
			name:  "an empty baseURL in production",
			kind:  "hugo",
			files: map[string]string{"config/_default/hugo.toml": "title = \"T\"\n", "config/production/hugo.json": `{"baseURL": ""}`},
			want:  []string{"read config/_default/hugo.toml, config/production/hugo.json: set \"baseURL\": \"https://your.site/\" in config/production/hugo.json"},
			is:    ErrNoURL,
		},
		{
			name:  "only params in the folder",
			kind:  "hugo",
			files: map[string]string{"config/_default/params.toml": "description = \"D\"\n"},
			want:  []string{"read config/_default/params.toml: set baseURL = \"https://your.site/\" in config/_default/hugo.toml"},
			is:    ErrNoURL,
		},
		{
			name:  "no config at all",
			kind:  "hugo",
			files: map[string]string{},
			want:  []string{"found none: create hugo.toml with baseURL = \"https://your.site/\""},
			is:    ErrNoURL,
		},
		{
			name:  "not a site",
			files: map[string]string{"notes/a.md": "x\n", "config/settings.toml": "a = 1\n"},
			want:  []string{"no Jekyll or Hugo site found: Herald looked for _config.yml, _config.yaml or _posts/ (Jekyll)", "config/production/ (Hugo)"},
			is:    ErrUnknownKind,
		},
		{
			name:  "a broken file in the folder",
			kind:  "hugo",
			files: map[string]string{"hugo.toml": "baseURL = \"https://a.example/\"\n", "config/_default/params.yml": "a: b\nc: [d\n"},
			want:  []string{"config/_default/params.yml:2: not valid YAML"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.files["content/posts/p.md"] = hugoConfigPost
			_, err := Load(t.Context(), Options{Dir: writeSite(t, tt.files), Kind: tt.kind, Now: hugoNow})
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got %v, want it to wrap %v", err, tt.is)
			}
			for _, w := range append(tt.want, "hugo.toml, hugo.yaml, hugo.yml, hugo.json, config.toml, config.yaml, config.yml, config.json and the folders config/_default/, config/production/") {
				if tt.is == nil && strings.HasPrefix(w, "hugo.toml, ") {
					continue
				}
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %v\nwant it to say %q", err, w)
				}
			}
		})
	}
}

// TestHugoConfigRefused: a config file that links out of the site is refused, as every site file is.
func TestHugoConfigRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.toml")
	if err := os.WriteFile(outside, []byte("description = \"leaked\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"config.yml", "config/_default/params.toml", "config/production/hugo.toml"} {
		t.Run(name, func(t *testing.T) {
			dir := writeSite(t, map[string]string{"hugo.toml": "baseURL = \"https://a.example/\"\n", "content/posts/p.md": hugoConfigPost})
			if name == "config.yml" {
				os.Remove(filepath.Join(dir, "hugo.toml"))
			}
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, p); err != nil {
				t.Fatal(err)
			}
			_, err := Load(t.Context(), Options{Dir: dir, Kind: "hugo", Now: hugoNow})
			if !errors.Is(err, sitefs.ErrRefused) || !strings.Contains(err.Error(), name) {
				t.Errorf("got %v, want %s refused", err, name)
			}
		})
	}
}
