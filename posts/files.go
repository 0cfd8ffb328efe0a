package posts

import (
	"os"
	"path"
	"path/filepath"
)

func readFile(dir, rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
}

func pathExt(p string) string { return path.Ext(p) }
