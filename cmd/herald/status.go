package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/store"
)

// statusReport is what herald status shows; --json prints it as it is, and README.md documents its shape.
type statusReport struct {
	Store       string           `json:"store"`
	Recorded    bool             `json:"recorded"` // false: no store yet, and every count is 0
	Items       int              `json:"items"`
	Removed     int              `json:"removed"`
	Runs        int              `json:"runs"`
	Subscribers int              `json:"subscribers"`
	Deliveries  int              `json:"deliveries"`
	Mail        map[string]int   `json:"mail"`    // deliveries by state, every state named
	Waiting     []waitingFor     `json:"waiting"` // by address
	Digests     []digestReport   `json:"digests"` // daily, weekly, monthly: those with subscribers
	Held        []heldPost       `json:"held"`    // posts whose mail waits (choices.go)
	Events      eventsReport     `json:"events"`
	Complaints  []postComplaints `json:"complaints_by_post"`
	RecentRuns  []runReport      `json:"recent_runs"` // newest first
}

// waitingFor is the mail that waits for one subscriber: queued (sent by the next herald send) and deferred
// (tried again from NextTry on, or at once with herald send --retry-now).
type waitingFor struct {
	Email    string     `json:"email"`
	Queued   int        `json:"queued"`
	Deferred int        `json:"deferred"`
	NextTry  *time.Time `json:"next_try,omitempty"` // the first deferred message's next attempt
}

// digestReport is when one kind of digest falls due, and for how many active subscribers.
type digestReport struct {
	Frequency   string    `json:"frequency"`
	Subscribers int       `json:"subscribers"`
	DueNow      int       `json:"due_now"` // the digests the next herald send plans: due, with a post waiting
	Next        time.Time `json:"next"`    // when the next period starts: the digest due then
}

type runReport struct {
	ID       int64     `json:"id"`
	Started  time.Time `json:"started"`
	Command  string    `json:"command"`
	Items    int       `json:"items"`
	New      int       `json:"new"`
	Updated  int       `json:"updated"`
	Removed  int       `json:"removed"`
	Baseline bool      `json:"baseline"`
	Forced   bool      `json:"forced"`
}

func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", stderr, `Usage: herald status [flags]

Shows the last recorded runs and what the state store holds: the mail that waits (queued, and deferred
with its next try) for each subscriber, and what the providers reported. Changes nothing.

Flags:
`)
	var dir string
	siteFlag(fs, &dir)
	n := fs.Int("runs", 10, "how many recent runs to show")
	asJSON := fs.Bool("json", false, "print the status as one JSON object (its fields are in README.md)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	siteDir, cfg, err := configure(dir, getenv)
	if err != nil {
		return err
	}
	r := statusReport{Store: store.Name(storePath(siteDir, cfg)), Mail: map[string]int{}}
	if !isSite(siteDir, cfg) { // a PostgreSQL store is reached from a site's folder too
		return notASite(siteDir)
	}
	st, ok, err := openStoreToRead(ctx, siteDir, cfg)
	if err != nil {
		return err
	}
	if ok {
		defer st.Close()
		now := time.Now()
		if err := r.read(ctx, st, *n, now, stderr); err != nil {
			return err
		}
		// Only the site's settings (its time zone): its posts are no business of status.
		site, err := posts.LoadSite(ctx, siteOptions(siteDir, cfg))
		if err != nil {
			return err
		}
		if r.Digests, err = digests(ctx, st, cfg.planOptions(site), now); err != nil {
			return err
		}
	}
	for _, s := range deliveryStates {
		r.Mail[s] += 0
	}
	if r.Waiting == nil {
		r.Waiting = []waitingFor{}
	}
	if r.Digests == nil {
		r.Digests = []digestReport{}
	}
	if r.Held == nil {
		r.Held = []heldPost{}
	}
	if r.Complaints == nil {
		r.Complaints = []postComplaints{}
	}
	if r.RecentRuns == nil {
		r.RecentRuns = []runReport{}
	}
	if *asJSON {
		return encodeJSON(stdout, r)
	}
	r.print(stdout)
	return nil
}

var deliveryStates = []string{store.Queued, store.Sending, store.Deferred, store.Sent, store.Failed, store.Unknown, store.Cancelled}

// read fills r from the store.
func (r *statusReport) read(ctx context.Context, st store.Store, runs int, now time.Time, stderr io.Writer) error {
	r.Recorded = true
	c, err := st.Counts(ctx)
	if err != nil {
		return err
	}
	r.Items, r.Removed, r.Runs, r.Subscribers, r.Deliveries = c.Items, c.Removed, c.Runs, c.Subscribers, c.Deliveries
	rs, err := st.Runs(ctx, runs)
	if err != nil {
		return err
	}
	for _, x := range rs {
		r.RecentRuns = append(r.RecentRuns, runReport{ID: x.ID, Started: x.Started.UTC(), Command: x.Command, Items: x.Items,
			New: x.New, Updated: x.Updated, Removed: x.Removed, Baseline: x.Baseline, Forced: x.Forced})
	}
	if r.Held, err = heldPosts(ctx, st, now); err != nil {
		return err
	}
	if c.Deliveries == 0 {
		return nil
	}
	if r.Mail, err = st.DeliveryCounts(ctx); err != nil {
		return err
	}
	if r.Waiting, err = waiting(ctx, st); err != nil {
		return err
	}
	r.Events, r.Complaints, err = readEvents(ctx, st, now, stderr)
	return err
}

// waiting reads the mail that waits, for each active subscriber it waits for, sorted by address.
func waiting(ctx context.Context, st store.Store) ([]waitingFor, error) {
	// Due at the end of time: every queued message, and every deferred one whatever its next try.
	end := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	by := map[int64]*waitingFor{}
	var after int64
	for {
		ds, err := st.DueAfter(ctx, end, after, 1000)
		if err != nil {
			return nil, err
		}
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			after = max(after, d.ID)
			w := by[d.SubscriberID]
			if w == nil {
				w = &waitingFor{}
				by[d.SubscriberID] = w
			}
			if d.Status != store.Deferred {
				w.Queued++
				continue
			}
			w.Deferred++
			if next := d.NextAttemptAt.UTC(); w.NextTry == nil || next.Before(*w.NextTry) {
				w.NextTry = &next
			}
		}
	}
	subs, err := st.SubscribersByID(ctx, slices.Sorted(maps.Keys(by)))
	if err != nil {
		return nil, err
	}
	out := make([]waitingFor, 0, len(by))
	for id, w := range by {
		w.Email = subs[id].Email
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b waitingFor) int { return strings.Compare(a.Email, b.Email) })
	return out, nil
}

// digests reads when each kind of digest falls due, for its active subscribers, and how many the next
// send plans now: the store's own plan says (Store.DigestsDue).
func digests(ctx context.Context, st store.Store, o store.PlanOptions, now time.Time) ([]digestReport, error) {
	subs, err := st.Subscribers(ctx, store.Active)
	if err != nil {
		return nil, err
	}
	due, err := st.DigestsDue(ctx, now, o)
	if err != nil {
		return nil, err
	}
	var out []digestReport
	for _, f := range []string{store.Daily, store.Weekly, store.Monthly} {
		d := digestReport{Frequency: f, Next: o.NextDigest(f, now).UTC(), DueNow: due[f]}
		for _, s := range subs {
			if s.Frequency == f {
				d.Subscribers++
			}
		}
		if d.Subscribers > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

// maxWaitingLines is how many subscribers the text of herald status lists; --json lists them all.
const maxWaitingLines = 20

func (r *statusReport) print(w io.Writer) {
	if !r.Recorded {
		fmt.Fprintf(w, "no runs recorded yet (there is no store at %s); herald publish records the first\n", r.Store)
		return
	}
	fmt.Fprintf(w, "store: %s\n", r.Store)
	fmt.Fprintf(w, "items: %d known (%d removed); runs: %d; subscribers: %d; deliveries: %d\n", r.Items, r.Removed, r.Runs, r.Subscribers, r.Deliveries)
	if r.Deliveries > 0 {
		// What waits to be sent, and what went wrong, is what an author checks status for.
		var parts []string
		for _, s := range deliveryStates {
			if r.Mail[s] > 0 || s == store.Queued || s == store.Sent {
				parts = append(parts, fmt.Sprintf("%s %d", s, r.Mail[s]))
			}
		}
		fmt.Fprintf(w, "mail: %s\n", strings.Join(parts, ", "))
		r.printWaiting(w)
		printEvents(w, r.Events, r.Complaints)
	}
	printDigests(w, r.Digests)
	printHeld(w, r.Held)
	if len(r.RecentRuns) > 0 {
		fmt.Fprintln(w, "recent runs:")
	}
	for _, x := range r.RecentRuns {
		note := ""
		if x.Baseline {
			note = " (baseline)"
		}
		if x.Forced {
			note += " (forced)"
		}
		fmt.Fprintf(w, "  #%d  %s  %-16s items %d, new %d, updated %d, removed %d%s\n", x.ID,
			x.Started.Local().Format("2006-01-02 15:04:05"), x.Command, x.Items, x.New, x.Updated, x.Removed, note)
	}
}

func (r *statusReport) printWaiting(w io.Writer) {
	if len(r.Waiting) == 0 {
		return
	}
	fmt.Fprintf(w, "waiting, by subscriber (herald send sends what is queued; --retry-now the deferred at once):\n")
	for i, x := range r.Waiting {
		if i == maxWaitingLines {
			fmt.Fprintf(w, "  and %d more (herald status --json lists them all)\n", len(r.Waiting)-i)
			break
		}
		var parts []string
		if x.Queued > 0 {
			parts = append(parts, fmt.Sprintf("%d queued", x.Queued))
		}
		if x.Deferred > 0 {
			parts = append(parts, fmt.Sprintf("%d deferred, next try %s", x.Deferred, x.NextTry.Local().Format("2006-01-02 15:04")))
		}
		fmt.Fprintf(w, "  %s: %s\n", x.Email, strings.Join(parts, "; "))
	}
}

func printDigests(w io.Writer, ds []digestReport) {
	for _, d := range ds {
		fmt.Fprintf(w, "%s digests: %s, next period from %s", d.Frequency, count(d.Subscribers, "subscriber", "subscribers"), d.Next.Local().Format("2006-01-02 15:04 MST"))
		if d.DueNow > 0 {
			fmt.Fprintf(w, "; %d due now, for the next herald send", d.DueNow)
		}
		fmt.Fprintln(w)
	}
}
