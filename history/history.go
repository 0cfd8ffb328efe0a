// Package history compares the posts on the site with what earlier runs recorded: what is new, updated
// and removed, and which posts only changed their id.
//
// Identity in Herald: a post is one thing with a history, whatever it is called. Its public id (the feed's
// guid, tag:HOST,DATE:PATH) is what readers see, and it can change: a date corrected, a site moved to
// another domain, another id scheme. The store keeps every public id a post was published under as an
// alias of one internal post; "did this subscriber have this post" is asked of the post, never of an id.
// This package decides, each run, which new ids are aliases of a post that left under another id (the
// rules below); nothing else in Herald decides it. A post is removed only when none of its ids is on the
// site, and a known id never changes post.
package history

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
	// Rebaseline is a later run made a baseline (Options.Rebaseline): nothing is new, and the posts
	// that would have been are in Rebaselined, recorded but not mailed.
	Rebaseline  bool    `json:"rebaseline,omitempty"`
	Rebaselined []Entry `json:"rebaselined,omitempty"`
	// Continues maps the id of an Updated entry that is new to the store to the id, in Removed (or
	// removed in an earlier run, when the ids setting changed while the post was away), of the same post
	// before its id changed: its date was corrected or the site moved to another domain (the
	// id is tag:HOST,DATE:PATH), or it keeps its URL under an id made another way (a posts_dir spelled
	// otherwise by an older Herald, another id scheme). The post carries on under the new id; it is not
	// new (see continuations).
	Continues map[string]string `json:"continues,omitempty"`
}

// Options tune Compare.
type Options struct {
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
	if e.Removed > 0 && e.New <= e.MaxNew {
		return fmt.Sprintf("%d known posts disappeared while %d unknown ones appeared", e.Removed, e.New)
	}
	return fmt.Sprintf("%d posts look new (the limit is %d)", e.New, e.MaxNew)
}

// swapGuard is how many known ids must vanish while as many unknown ones appear before the flood guard
// suspects that ids changed, even below max_new.
const swapGuard = 3

// Compare finds what is new, updated and removed in cur against what earlier runs recorded. It is pure: the
// caller records the run. New means an id never seen before: a removed post that comes back is not new.
func Compare(known []Known, cur []Entry, o Options) (Diff, error) {
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
	d.New, d.Updated, d.Continues = continuations(d.New, back, d.Updated, d.Removed, cur, known)
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

// A rule ties an id new in this run to an id that left in it: the same post, its id changed. key is what
// must stay the same (false when the rule does not apply to the id), same what else must agree.
//
// A rule with away set also ties an id to one that left in an earlier run: a post that was off the site
// (published: false, say) while the ids setting changed comes back under the new scheme's id.
type rule struct {
	key  func(Entry) (string, bool)
	same func(old, cur Entry) bool
	away bool
}

// rules, strongest first. Each is given its chance at every entry before the next.
var rules = []rule{
	{key: hostAndPath, same: titleOrURL},                      // a date corrected, with its title perhaps
	{key: dateAndPath, same: always},                          // the site moved to another domain
	{key: pathAndTitle, same: always},                         // both at once
	{key: url, same: titleOrDate},                             // another id scheme, or an older Herald's ids: the URL stays
	{key: url, same: otherSchemeSameTitleAndDate, away: true}, // the ids setting changed while the post was away
}

// hostAndPath is the id without its date.
func hostAndPath(e Entry) (string, bool) { return idWithout(e.ID, false, true) }

// dateAndPath is the id without its host.
func dateAndPath(e Entry) (string, bool) { return idWithout(e.ID, true, false) }

// pathAndTitle is the id without host and date, with the title.
func pathAndTitle(e Entry) (string, bool) {
	k, ok := idWithout(e.ID, true, true)
	return k + "\x00" + e.Title, ok
}

func url(e Entry) (string, bool) { return e.URL, e.URL != "" }

func titleOrURL(o, c Entry) bool  { return o.Title == c.Title || o.URL == c.URL }
func titleOrDate(o, c Entry) bool { return o.Title == c.Title || o.Date.Equal(c.Date) }
func always(Entry, Entry) bool    { return true }

// otherSchemeSameTitleAndDate holds for a post that kept its URL, title and date while its id went from one
// scheme to another: no new post takes a deleted one's id scheme, only the ids setting does.
func otherSchemeSameTitleAndDate(o, c Entry) bool {
	return scheme(o) != scheme(c) && o.Title == c.Title && o.Date.Equal(c.Date)
}

// scheme is how an entry's id was made, as far as the id shows: a tag URI (the tag scheme, or a front
// matter id of that form), the post's URL (the url scheme), or anything else (the jekyll scheme, a front
// matter id).
func scheme(e Entry) string {
	switch _, tag := idWithout(e.ID, false, false); {
	case tag:
		return "tag"
	case e.ID == e.URL:
		return "url"
	}
	return "other"
}

// continuations finds the posts whose id changed: an entry new to the store, or back after it was
// removed (an id changed and then changed back), that continues an entry gone in this run (or, for a rule
// with away, in an earlier one), by the rules.
//
// A key ties two posts only when it is the only one of its kind on the site now (cur) and among the posts
// the last run saw (known, not removed; for a rule with away, among every id known): a slug that a series
// uses again and again ("weeknotes") ties nothing, unless the file is the same too (its SHA-256: only its
// name changed). A new post that takes the slug, or the URL, of one deleted in the same run has its own
// title and date, nearly always; one with the same slug and title is taken for the old one with its date
// corrected. It moves the new ones from fresh to updated, and says which old id each continues.
func continuations(fresh, back, updated, gone, cur []Entry, known []Known) (stillNew, nowUpdated []Entry, was map[string]string) {
	onSite := make(map[string]bool, len(cur))
	for _, e := range cur {
		onSite[e.ID] = true
	}
	var away []Entry // left in an earlier run, and not back
	for _, k := range known {
		if k.Removed && !onSite[k.ID] {
			away = append(away, k.Entry)
		}
	}
	if len(gone)+len(away) == 0 || len(fresh)+len(back) == 0 {
		return append([]Entry(nil), fresh...), updated, nil // nothing to tie: a run that found nothing new, say
	}
	coming := append(slices.Clone(fresh), back...)
	was = map[string]string{}
	taken := map[string]bool{} // gone ids already continued
	for _, rule := range rules {
		// Each post under its key, and under its key and its file's hash: a key that several posts share
		// still ties a post whose file is the same (only its name changed: a Jekyll post re-dated).
		keys := func(e Entry) []string {
			k, ok := rule.key(e)
			if !ok {
				return nil
			}
			if e.Hash == "" {
				return []string{k}
			}
			return []string{k, k + "\x00" + e.Hash}
		}
		nCur, nKnown, goneBy := map[string]int{}, map[string]int{}, map[string]Entry{}
		for _, e := range cur {
			for _, k := range keys(e) {
				nCur[k]++
			}
		}
		for _, e := range known {
			for _, k := range keys(e.Entry) {
				if !e.Removed || rule.away {
					nKnown[k]++
				}
			}
		}
		left := gone
		if rule.away {
			left = append(slices.Clone(gone), away...)
		}
		for _, e := range left {
			for _, k := range keys(e) {
				goneBy[k] = e
			}
		}
		for _, e := range coming {
			for _, k := range keys(e) {
				if was[e.ID] != "" || nCur[k] != 1 || nKnown[k] != 1 {
					continue
				}
				if old, found := goneBy[k]; found && !taken[old.ID] && rule.same(old, e) {
					taken[old.ID], was[e.ID] = true, old.ID
				}
			}
		}
	}
	for _, e := range fresh {
		if was[e.ID] != "" {
			updated = append(updated, e)
		} else {
			stillNew = append(stillNew, e)
		}
	}
	for _, e := range back {
		if was[e.ID] != "" && !slices.ContainsFunc(updated, func(u Entry) bool { return u.ID == e.ID }) {
			updated = append(updated, e)
		}
	}
	if len(was) == 0 {
		was = nil
	}
	return stillNew, updated, was
}

// idWithout is a tag URI (RFC 4151), "tag:HOST,DATE:PATH", without its host, its date or both (and the
// separators with them): the key under which a post keeps its identity while those change.
func idWithout(id string, host, date bool) (string, bool) {
	rest, ok := strings.CutPrefix(id, "tag:")
	if !ok {
		return "", false
	}
	h, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return "", false
	}
	d, path, ok := strings.Cut(rest, ":")
	if !ok || d == "" || strings.Trim(d, "0123456789-") != "" {
		return "", false
	}
	switch {
	case host && date:
		return path, true
	case host:
		return d + ":" + path, true
	case date:
		return h + ":" + path, true
	}
	return id, true
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool {
		if !es[i].Date.Equal(es[j].Date) {
			return es[i].Date.After(es[j].Date)
		}
		return es[i].ID < es[j].ID
	})
}
