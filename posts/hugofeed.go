package posts

import "github.com/heraldhq/herald/internal/sitefs"

// HugoConfig is the config of the Hugo site in dir as Hugo merges it (every file form, config/_default/),
// keys lower-cased: for herald init, which looks in it for the site's own RSS.
func HugoConfig(dir string) (map[string]any, error) {
	files, err := sitefs.New(dir, DefaultMaxFileBytes)
	if err != nil {
		return nil, err
	}
	t, err := readHugoConfigTree(files)
	if err != nil {
		return nil, err
	}
	return t.raw, nil
}
