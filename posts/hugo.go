package posts

import (
	"context"
	"errors"
)

var hugoConfigNames = []string{"hugo.toml", "hugo.yaml", "hugo.json", "config.toml", "config.yaml", "config.json"}

func loadHugo(ctx context.Context, opts Options) (*Site, error) {
	return nil, errors.New("hugo: not yet")
}
