package publish

import (
	"context"
	"time"

	"github.com/heraldhq/herald/history"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/store"
)

// Recorder is what recording a run needs of the store.
type Recorder interface {
	Runs(ctx context.Context, n int) ([]store.Run, error)
	Aliases(ctx context.Context) ([]store.Alias, error)
	Record(ctx context.Context, run *store.Run, seen []store.Item) error
}

// Compare compares the site's posts with what earlier runs recorded in st (nil when there is no store yet:
// nothing was ever recorded). It sets o.FirstRun itself. A flood is an error (*history.FloodError), with
// the diff.
func Compare(ctx context.Context, st Recorder, site *posts.Site, o history.Options) (history.Diff, error) {
	known, first, err := recorded(ctx, st)
	if err != nil {
		return history.Diff{}, err
	}
	o.FirstRun = first
	return history.Compare(known, entries(site.Posts), o)
}

// RecordOptions are the site's settings that Record follows.
type RecordOptions struct {
	Hold bool // every new post's mail waits for Approve (herald send --approve)
}

// Record records the run that found d: every post on the site, the new ones (and on a first run the
// backfilled ones) to be mailed, and each post whose id changed as the one it continues. run gives the
// command, its start, the config's hash and whether it was forced; Record fills in the rest.
//
// A new post is recorded with what decides who gets its mail and when (see store.Item): its tags and
// categories, its language, and its front matter's email: false, email_after and hold (or o.Hold).
func Record(ctx context.Context, st Recorder, site *posts.Site, d history.Diff, run store.Run, o RecordOptions) (*store.Run, error) {
	run.Finished = time.Now()
	run.Items, run.New, run.Updated, run.Removed = len(site.Posts), len(d.New), len(d.Updated), len(d.Removed)
	run.Baseline = d.Baseline
	isNew := make(map[string]bool, len(d.New))
	for _, e := range d.New {
		isNew[e.ID] = true
	}
	seen := make([]store.Item, len(site.Posts))
	var tags []string
	for i, p := range site.Posts {
		tags = append(append(tags[:0], p.Tags...), p.Categories...)
		seen[i] = store.Item{ID: p.ID, URL: p.URL, Title: p.Title, Date: p.Date, Hash: p.Hash, Sendable: isNew[p.ID],
			Continues: d.Continues[p.ID], Tags: store.MakeTags(tags...),
			Lang: p.Lang, NoEmail: p.NoEmail, Delay: p.EmailAfter, Held: p.Hold || o.Hold}
	}
	if err := st.Record(ctx, &run, seen); err != nil {
		return nil, err
	}
	return &run, nil
}

// entries are the site's posts as the diff sees them.
func entries(ps []*posts.Post) []history.Entry {
	out := make([]history.Entry, len(ps))
	for i, p := range ps {
		out[i] = history.Entry{ID: p.ID, URL: p.URL, Title: p.Title, Date: p.Date, Hash: p.Hash}
	}
	return out
}

// recorded reads what earlier runs recorded; first is true when no run was ever recorded.
func recorded(ctx context.Context, st Recorder) (known []history.Known, first bool, err error) {
	if st == nil {
		return nil, true, nil
	}
	runs, err := st.Runs(ctx, 1)
	if err != nil {
		return nil, false, err
	}
	aliases, err := st.Aliases(ctx)
	if err != nil {
		return nil, false, err
	}
	known = make([]history.Known, len(aliases))
	for i, a := range aliases {
		known[i] = history.Known{Entry: history.Entry{ID: a.ID, URL: a.URL, Title: a.Title, Date: a.Date, Hash: a.Hash}, Removed: a.Removed}
	}
	return known, len(runs) == 0, nil
}
