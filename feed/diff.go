package feed

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Entry is an item as the diff sees it: what a run recorded of it, or what the current build has.
type Entry struct {
	ID    string    `json:"id"`
	URL   string    `json:"url"`
	Title string    `json:"title"`
	Date  time.Time `json:"date"`
	Hash  string    `json:"-"` // the content hash: a change makes the item updated
}

// Known is an item an earlier run recorded.
type Known struct {
	Entry
	Removed bool // absent from the last recorded run
}

// Diff is what changed since the last recorded run. Each list is newest first, ties broken by id.
type Diff struct {
	New      []Entry `json:"new"`
	Updated  []Entry `json:"updated"`
	Removed  []Entry `json:"removed"`
	Baseline bool    `json:"baseline"` // the first run: everything is recorded, nothing is new
	// Rebaseline is a later run made a baseline (DiffOptions.Rebaseline): nothing is new, and the posts
	// that would have been are in Rebaselined, recorded but not mailed.
	Rebaseline  bool    `json:"rebaseline,omitempty"`
	Rebaselined []Entry `json:"rebaselined,omitempty"`
	// Continues maps the id of an Updated entry that is new to the store to the id, in Removed, of the
	// same post before its id changed: its date was corrected or the site moved to another domain (the
	// id is tag:HOST,DATE:PATH), or it keeps its URL under an id made another way (a posts_dir spelled
	// otherwise by an older Herald, another id scheme). The post carries on under the new id; it is not
	// new (see continuations).
	Continues map[string]string `json:"continues,omitempty"`
}

// DiffOptions tune Compare.
type DiffOptions struct {
	FirstRun bool // no run has been recorded yet
	Backfill int  // on the first run, the Backfill newest items count as new
	MaxNew   int  // more new items than this stop the run (the flood guard); 0 means 5
	Force    bool // the author says the flood is right
	// Rebaseline makes a later run a baseline, as the first run is: what is unknown is recorded and
	// nothing is new (for when the ids changed and no URL ties the posts to their old ids).
	Rebaseline bool
}

// FloodError is the flood guard firing: the run would treat more posts as new than an author publishes at
// once, which almost always means that post ids changed.
type FloodError struct {
	New, Removed int
	MaxNew       int
}

func (e *FloodError) Error() string {
	const what = "If the post ids changed (a new domain, another id scheme), --rebaseline records the posts under their new ids and mails none of them; if they really are all new, --force mails them"
	if e.Removed > 0 && e.New <= e.MaxNew {
		return fmt.Sprintf("%d known posts disappeared while %d unknown ones appeared. %s", e.Removed, e.New, what)
	}
	return fmt.Sprintf("%d posts look new (the limit is %d, max_new). %s", e.New, e.MaxNew, what)
}

// swapGuard is how many known ids must vanish while as many unknown ones appear before the flood guard
// suspects that ids changed, even below max_new.
const swapGuard = 3

// Compare finds what is new, updated and removed in cur against what earlier runs recorded. It is pure: the
// caller records the run. New means an id never seen before: a removed post that comes back is not new.
func Compare(known []Known, cur []Entry, o DiffOptions) (Diff, error) {
	maxNew := o.MaxNew
	if maxNew <= 0 {
		maxNew = 5
	}
	byID := make(map[string]*Known, len(known))
	for i := range known {
		byID[known[i].ID] = &known[i]
	}
	var d Diff
	var back []Entry // removed before, here again
	present := make(map[string]bool, len(cur))
	for _, e := range cur {
		present[e.ID] = true
		k, ok := byID[e.ID]
		switch {
		case !ok:
			d.New = append(d.New, e)
		case k.Hash != e.Hash:
			d.Updated = append(d.Updated, e)
		}
		if ok && k.Removed {
			back = append(back, e)
		}
	}
	for _, k := range known {
		if !k.Removed && !present[k.ID] {
			d.Removed = append(d.Removed, k.Entry)
		}
	}
	d.New, d.Updated, d.Continues = continuations(d.New, back, d.Updated, d.Removed)
	sortEntries(d.New)
	sortEntries(d.Updated)
	sortEntries(d.Removed)
	if o.FirstRun {
		d.Baseline = true
		d.Updated, d.Removed = nil, nil
		n := min(max(o.Backfill, 0), len(d.New))
		d.New = d.New[:n]
		return d, nil
	}
	if o.Rebaseline {
		d.Baseline, d.Rebaseline, d.Rebaselined, d.New = true, true, d.New, nil
		return d, nil
	}
	if !o.Force && (len(d.New) > maxNew || (len(d.New) >= swapGuard && len(d.Removed) >= swapGuard)) {
		return d, &FloodError{New: len(d.New), Removed: len(d.Removed), MaxNew: maxNew}
	}
	return d, nil
}

// continuations finds the posts whose id changed: an entry new to the store, or back after it was
// removed (an id changed and then changed back), that continues an entry gone in this run. It does when,
// tried in this order:
//   - their ids differ in the date alone, and they have the same title or the same URL (a date
//     corrected, with its title perhaps);
//   - their ids differ in the host alone (the site moved to another domain);
//   - they have the same URL, and the same title or the same date (another id scheme, or an older
//     Herald's ids: mostly the URLs stay).
//
// Each side must be the only one with that key (undated id, hostless id, URL). A new post that takes
// the slug, or the URL, of one deleted in the same run has its own title and date, nearly always. It
// moves the new ones from fresh to updated, and says which old id each continues.
func continuations(fresh, back, updated, gone []Entry) (stillNew, nowUpdated []Entry, was map[string]string) {
	type key struct{ kind, v string }
	rules := []struct {
		kind string
		key  func(Entry) (string, bool)
		same func(old, cur Entry) bool
	}{
		{"undated", func(e Entry) (string, bool) { return undatedID(e.ID) },
			func(o, c Entry) bool { return o.Title == c.Title || o.URL == c.URL }},
		{"hostless", func(e Entry) (string, bool) { return hostlessID(e.ID) },
			func(Entry, Entry) bool { return true }},
		{"url", func(e Entry) (string, bool) { return e.URL, e.URL != "" },
			func(o, c Entry) bool { return o.Title == c.Title || o.Date.Equal(c.Date) }},
	}
	count := func(lists ...[]Entry) map[key]int {
		n := map[key]int{}
		for _, es := range lists {
			for _, e := range es {
				for _, r := range rules {
					if k, ok := r.key(e); ok {
						n[key{r.kind, k}]++
					}
				}
			}
		}
		return n
	}
	nComing, nGone := count(fresh, back), count(gone)
	goneBy := map[key]Entry{}
	for _, e := range gone {
		for _, r := range rules {
			if k, ok := r.key(e); ok && nGone[key{r.kind, k}] == 1 {
				goneBy[key{r.kind, k}] = e
			}
		}
	}
	taken := map[string]bool{} // gone ids already continued
	continues := func(e Entry) bool {
		for _, r := range rules {
			k, ok := r.key(e)
			if !ok || nComing[key{r.kind, k}] != 1 {
				continue
			}
			old, found := goneBy[key{r.kind, k}]
			if !found || taken[old.ID] || !r.same(old, e) {
				continue
			}
			taken[old.ID] = true
			if was == nil {
				was = map[string]string{}
			}
			was[e.ID] = old.ID
			return true
		}
		return false
	}
	for _, e := range fresh {
		if continues(e) {
			updated = append(updated, e)
		} else {
			stillNew = append(stillNew, e)
		}
	}
	for _, e := range back {
		if continues(e) && !slices.ContainsFunc(updated, func(u Entry) bool { return u.ID == e.ID }) {
			updated = append(updated, e)
		}
	}
	return stillNew, updated, was
}

// undatedID is a tag URI (RFC 4151) without its date: "tag:HOST,2024-01-02:PATH" gives "HOST:PATH".
func undatedID(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, "tag:")
	if !ok {
		return "", false
	}
	host, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return "", false
	}
	date, path, ok := strings.Cut(rest, ":")
	if !ok || date == "" || strings.Trim(date, "0123456789-") != "" {
		return "", false
	}
	return host + ":" + path, true
}

// hostlessID is a tag URI (RFC 4151) without its host: "tag:HOST,2024-01-02:PATH" gives "2024-01-02:PATH".
func hostlessID(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, "tag:")
	if !ok {
		return "", false
	}
	_, rest, ok = strings.Cut(rest, ",")
	if !ok || !strings.Contains(rest, ":") {
		return "", false
	}
	return rest, true
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool {
		if !es[i].Date.Equal(es[j].Date) {
			return es[i].Date.After(es[j].Date)
		}
		return es[i].ID < es[j].ID
	})
}
