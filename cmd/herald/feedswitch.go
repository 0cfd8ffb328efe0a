package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/posts"
)

// useIDs gives the site's posts the public ids of herald.yaml's ids.
func useIDs(site *posts.Site, cfg config) error {
	if err := site.UseIDs(cfg.IDs); err != nil {
		return fmt.Errorf("%w (ids in %s, or HERALD_IDS)", err, configName)
	}
	return nil
}

// feedsDir is the folder the feeds go to: --output, else output in herald.yaml, else with feeds_in: source
// the site's source, where its generator picks them up as static files (Jekyll copies the files at its
// root, Hugo those in static/), else the generator's output folder.
func feedsDir(site *posts.Site, cfg config, flagOutput string) (string, error) {
	switch {
	case flagOutput != "":
		return flagOutput, nil
	case cfg.Output != "":
		return cfg.Output, nil
	case cfg.FeedsIn != "source":
		return site.OutputDir, nil
	}
	switch site.Kind {
	case "jekyll":
		return site.Dir, nil
	case "hugo":
		return filepath.Join(site.Dir, "static"), nil
	}
	return "", fmt.Errorf("feeds_in: source in %s: a plain folder of Markdown files has no site generator to publish its source; set output to the folder your site is served from", configName)
}

// foreign adds to a refusal to replace another's file what the author can do about it.
func (b *build) foreign(err error) error {
	var fe *feed.ForeignError
	if !errors.As(err, &fe) {
		return err
	}
	rel := relTo(b.site.Dir, fe.Path)
	var stop string
	switch {
	case strings.HasPrefix(fe.Generator, "Jekyll"):
		stop = "remove jekyll-feed from plugins in _config.yml (and from the Gemfile) so that Jekyll stops writing it, and build the site again"
	case strings.HasPrefix(fe.Generator, "Hugo"):
		stop = "stop Hugo's own RSS for the home page (outputs: home: [HTML] in the Hugo config) and build the site again"
	default:
		stop = "if a feed template in the site's source writes it, remove the template and build the site again"
	}
	msg := fmt.Sprintf("%s: to let Herald write it, %s; or give Herald's feed another name (rss, atom, json in %s); or replace it anyway with --overwrite (overwrite: true in %s). herald init says which settings keep a site's feed ids",
		rel, stop, configName, configName)
	if filepath.Ext(fe.Path) == ".json" && fe.Generator == "" {
		msg += ". A Herald older than this one wrote no mark into JSON feeds: if Herald wrote this one, run once with --overwrite"
	}
	return fmt.Errorf("%w\n%s", err, msg)
}
