package publish

import (
	"strings"
	"time"

	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/store"
)

// PlanOptions are what Send plans with for site: digests at hour (0-23) in the site's time zone, weekly
// ones on weekday; and, on a multilingual site (Hugo's languages, or posts in more than one language),
// its default language, the one a subscriber who chose none gets.
func PlanOptions(site *posts.Site, hour int, weekday time.Weekday) store.PlanOptions {
	o := store.PlanOptions{Hour: hour, Weekday: weekday, Location: site.Location}
	if multilingual(site) {
		o.Lang = site.Lang
	}
	return o
}

// multilingual says whether the site is in more than one language.
func multilingual(site *posts.Site) bool {
	if len(site.Languages) > 1 {
		return true
	}
	first := ""
	for _, p := range site.Posts {
		l := strings.ToLower(strings.TrimSpace(p.Lang))
		if l == "" {
			continue
		}
		if first == "" {
			first = l
		} else if l != first {
			return true
		}
	}
	return false
}
