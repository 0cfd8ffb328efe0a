package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/history"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/publish"
	"github.com/heraldhq/herald/store"
)

// What readers choose and what the author holds back: when digests fall due (digest_hour,
// digest_weekday, the site's timezone), hold, and herald send --approve.

// defaultDigestHour is when digests fall due without digest_hour: the morning, in the site's time zone.
const defaultDigestHour = 8

// digestHour is digest_hour, or its default (check refuses one out of range).
func (c config) digestHour() int {
	if c.DigestHour == nil {
		return defaultDigestHour
	}
	return *c.DigestHour
}

// digestWeekday is digest_weekday (a day's English name, or its first three letters), Monday by default.
func (c config) digestWeekday() (time.Weekday, bool) {
	w := strings.ToLower(strings.TrimSpace(c.DigestWeekday))
	if w == "" {
		return time.Monday, true
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if w == name || w == name[:3] {
			return d, true
		}
	}
	return 0, false
}

// checkDigests reports a digest_hour or digest_weekday that means no time.
func (c config) checkDigests(bad func(key, value, want string)) {
	if h := c.digestHour(); h < 0 || h > 23 {
		bad("digest_hour", strconv.Itoa(h), "want an hour from 0 to 23, in the site's time zone (timezone)")
	}
	if _, ok := c.digestWeekday(); !ok {
		bad("digest_weekday", strconv.Quote(c.DigestWeekday), "want a day of the week, such as monday or fri")
	}
}

// planOptions are what send plans with: the digests' hour and weekday, the site's time zone and default
// language.
func (c config) planOptions(site *posts.Site) store.PlanOptions {
	w, _ := c.digestWeekday()
	return publish.PlanOptions(site, c.digestHour(), w)
}

// approve lets the held mail of the post named which (a file, id or slug, as preview takes) go.
func approve(ctx context.Context, st store.Store, site *posts.Site, which string, stdout io.Writer) error {
	ps, err := previewPosts(site.Posts, which, 0)
	if err != nil {
		return errUsage{fmt.Sprintf("--approve: %v", err)}
	}
	held, err := st.Approve(ctx, ps[0].ID)
	if err != nil {
		return fmt.Errorf("--approve %s: %w (publish it first)", which, err)
	}
	if held {
		fmt.Fprintf(stdout, "approved: %s (%s)\n", ps[0].Path, ps[0].ID)
	} else {
		fmt.Fprintf(stdout, "%s was not held: nothing to approve\n", ps[0].Path)
	}
	return nil
}

// printMailHolds says, after the diff, which new posts are not mailed at once, and why.
func printMailHolds(w io.Writer, d history.Diff, site *posts.Site, hold bool) {
	if d.Baseline && !d.Rebaseline && len(d.New) == 0 {
		return
	}
	byID := make(map[string]*posts.Post, len(site.Posts))
	for _, p := range site.Posts {
		byID[p.ID] = p
	}
	for _, e := range d.New {
		p := byID[e.ID]
		switch {
		case p == nil:
		case p.NoEmail:
			fmt.Fprintf(w, "  %s: not mailed (email: false)\n", e.ID)
		case p.Hold || hold:
			fmt.Fprintf(w, "  %s: mail held for herald send --approve %s\n", e.ID, p.Path)
		case p.EmailAfter > 0:
			fmt.Fprintf(w, "  %s: mail waits %s (email_after)\n", e.ID, p.EmailAfter)
		}
	}
}

// heldPost is a post whose mail waits, for herald status: for herald send --approve, or until a time
// (email_after).
type heldPost struct {
	ID    string     `json:"id"`
	Title string     `json:"title"`
	Held  bool       `json:"held"`            // waits for herald send --approve
	Until *time.Time `json:"until,omitempty"` // not before this time (email_after)
}

// heldPosts reads the posts on the site whose mail waits, by id.
func heldPosts(ctx context.Context, st store.Store, now time.Time) ([]heldPost, error) {
	its, err := st.Items(ctx)
	if err != nil {
		return nil, err
	}
	out := []heldPost{}
	seen := map[int64]bool{} // a post is listed once, under the alias Items gives first
	for _, it := range its {
		if it.Removed || seen[it.Post] || (!it.Held && it.WaitUntil.IsZero()) {
			continue
		}
		seen[it.Post] = true
		h := heldPost{ID: it.ID, Title: it.Title, Held: it.Held}
		if until := it.WaitUntil.UTC(); !it.WaitUntil.IsZero() && until.After(now) {
			h.Until = &until
		}
		out = append(out, h)
	}
	return out, nil
}

// printHeld writes the posts whose mail waits, in herald status's text.
func printHeld(w io.Writer, held []heldPost) {
	if len(held) == 0 {
		return
	}
	fmt.Fprintln(w, "mail that waits for a post:")
	for _, h := range held {
		switch {
		case h.Held:
			fmt.Fprintf(w, "  %s  %s: held (herald send --approve %s)\n", h.ID, h.Title, h.ID)
		case h.Until != nil:
			fmt.Fprintf(w, "  %s  %s: until %s (email_after)\n", h.ID, h.Title, h.Until.Local().Format("2006-01-02 15:04"))
		default:
			fmt.Fprintf(w, "  %s  %s: goes with the next herald send\n", h.ID, h.Title)
		}
	}
}

// langNames are the names of a multilingual Hugo site's languages, by tag in lower case, for herald serve's
// forms.
func langNames(site *posts.Site) map[string]string {
	names := map[string]string{}
	for _, l := range site.Languages {
		if l.Name != "" {
			names[strings.ToLower(l.Lang)] = l.Name
		}
	}
	return names
}
