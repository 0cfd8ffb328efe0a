package main

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/heraldhq/herald/publish"
)

// WebSub pings after herald publish (publish.PingHubs), hooked into publishRun in state.go by two calls:
// websubTopics before the feeds are written, since only then can it tell which of them change, and
// pingHubs once they are written (before the run is recorded, so that a failure to record loses no ping:
// the feeds are out). A dry run returns before that, so it pings nothing.

// websubTopics are the public URLs of the feeds in outs that writing them will change; none without hubs.
func websubTopics(b *build, outs []publish.Output) []string {
	if len(b.feeds.Hubs) == 0 {
		return nil
	}
	return publish.ChangedFeeds(b.site, b.feeds, outs)
}

// pingHubs tells the hubs of topics. A hub it cannot tell is a warning, never a failed publish.
func pingHubs(ctx context.Context, b *build, topics []string, stdout, stderr io.Writer) {
	if len(topics) == 0 {
		return
	}
	told, warns := publish.PingHubs(ctx, publish.Ping{Hubs: b.feeds.Hubs, UserAgent: b.feeds.Generator}, topics)
	for i, n := range told {
		hub := b.feeds.Hubs[i]
		if u, err := url.Parse(hub); err == nil {
			hub = u.Redacted()
		}
		switch {
		case n == 1:
			fmt.Fprintf(stdout, "told WebSub hub %s of 1 changed feed\n", hub)
		case n > 1:
			fmt.Fprintf(stdout, "told WebSub hub %s of %d changed feeds\n", hub, n)
		}
	}
	for _, w := range warns {
		fmt.Fprintln(stderr, "warning:", w)
	}
}
