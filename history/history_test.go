package history

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func entry(id, hash string, day int) Entry {
	return Entry{ID: id, URL: "https://ex.org/" + id, Title: strings.ToUpper(id), Date: time.Date(2024, 1, day, 0, 0, 0, 0, time.UTC), Hash: hash}
}

func known(e Entry, removed bool) Known { return Known{Entry: e, Removed: removed} }

func ids(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, e.ID)
	}
	return strings.Join(s, ",")
}

func TestCompare(t *testing.T) {
	a, b, c := entry("a", "h1", 1), entry("b", "h1", 2), entry("c", "h1", 3)
	bEdited := b
	bEdited.Hash = "h2"
	bMoved := b
	bMoved.URL = "https://ex.org/new-permalink/"
	// The id holds the date (Hugo, plain sites, Jekyll's file name): correcting it makes a new id.
	launch := entry("tag:ex.org,2024-01-21:posts/launch", "h1", 21)
	launch.Title = "Launch"
	launchRedated := entry("tag:ex.org,2024-01-20:posts/launch", "h2", 20)
	launchRedated.Title = "Launch"
	otherPost := entry("tag:ex.org,2024-01-20:posts/launch", "h3", 20) // the slug taken by another post
	otherPost.Title = "Launch, part two"
	retitled := launchRedated // the date and the title corrected at once, at the same URL (Hugo)
	retitled.Title, retitled.URL = "Launch day", launch.URL
	// Another id scheme with the same URLs: each post continues its old id.
	var schemed []Entry
	for _, e := range []Entry{a, b, c} {
		e.ID = "urn:new:" + e.ID
		schemed = append(schemed, e)
	}
	twin := schemed[0] // a second new post at a's URL: neither is a's
	twin.ID = "urn:twin"
	replacement := entry("urn:replacement", "h9", 9) // a new post at a's URL, with its own title and date
	replacement.URL = a.URL
	// The site moved to another domain: the host in each id and URL changes.
	var tagged, moved []Entry
	for i, slug := range []string{"x", "y", "z"} {
		e := entry(fmt.Sprintf("tag:ex.org,2024-01-0%d:%s", i+1, slug), "h", i+1)
		tagged = append(tagged, e)
		e.ID, e.URL = strings.Replace(e.ID, "ex.org", "new.example", 1), "https://new.example/"+slug
		moved = append(moved, e)
	}
	var many []Entry
	var manyKnown []Known
	for i := 0; i < 8; i++ {
		e := entry(string(rune('m'+i)), "h", 10+i)
		many = append(many, e)
		manyKnown = append(manyKnown, known(entry("old"+string(rune('m'+i)), "h", 10+i), false))
	}
	tests := []struct {
		name                     string
		known                    []Known
		cur                      []Entry
		opt                      Options
		wantNew, wantUpd, wantRm string
		wantBaseline             bool
		wantFlood                bool
		wantContinues            string // new<old
	}{
		{name: "first run is a baseline", cur: []Entry{a, b, c}, opt: Options{FirstRun: true}, wantBaseline: true},
		{name: "first run with backfill", cur: []Entry{a, b, c}, opt: Options{FirstRun: true, Backfill: 2}, wantNew: "c,b", wantBaseline: true},
		{name: "backfill larger than the site", cur: []Entry{a}, opt: Options{FirstRun: true, Backfill: 9}, wantNew: "a", wantBaseline: true},
		{name: "first run of a site with many posts is no flood", cur: many, opt: Options{FirstRun: true}, wantBaseline: true},
		{name: "nothing new", known: []Known{known(a, false), known(b, false)}, cur: []Entry{a, b}},
		{name: "one new", known: []Known{known(a, false), known(b, false)}, cur: []Entry{a, b, c}, wantNew: "c"},
		{name: "edited post", known: []Known{known(a, false), known(b, false)}, cur: []Entry{a, bEdited}, wantUpd: "b"},
		{name: "renamed permalink keeps the id", known: []Known{known(a, false), known(b, false)}, cur: []Entry{a, bMoved}},
		{name: "post removed", known: []Known{known(a, false), known(b, false)}, cur: []Entry{a}, wantRm: "b"},
		{name: "removed post restored is not new", known: []Known{known(a, false), known(b, true)}, cur: []Entry{a, b}},
		{name: "removed post stays removed", known: []Known{known(a, false), known(b, true)}, cur: []Entry{a}},
		{name: "future post whose date passed", known: []Known{known(a, false)}, cur: []Entry{a, c}, wantNew: "c"},
		{name: "draft published", known: []Known{known(a, false), known(b, false)}, cur: []Entry{a, b, c}, wantNew: "c"},
		{name: "flood guard", known: []Known{known(a, false)}, cur: append([]Entry{a}, many...), wantNew: "t,s,r,q,p,o,n,m", wantFlood: true},
		{name: "flood forced", known: []Known{known(a, false)}, cur: append([]Entry{a}, many...), opt: Options{Force: true}, wantNew: "t,s,r,q,p,o,n,m"},
		{name: "max_new raised", known: []Known{known(a, false)}, cur: append([]Entry{a}, many...), opt: Options{MaxNew: 10}, wantNew: "t,s,r,q,p,o,n,m"},
		{name: "ids swapped", known: manyKnown[:3], cur: many[:3], wantNew: "o,n,m", wantRm: "oldo,oldn,oldm", wantFlood: true},
		{name: "a rebaseline counts nothing as new", known: manyKnown[:3], cur: many[:3], opt: Options{Rebaseline: true}, wantRm: "oldo,oldn,oldm", wantBaseline: true},
		{name: "two deleted two added is allowed", known: manyKnown[:2], cur: many[:2], wantNew: "n,m", wantRm: "oldn,oldm"},
		{name: "a date corrected is an update", known: []Known{known(a, false), known(launch, false)}, cur: []Entry{a, launchRedated},
			wantUpd: launchRedated.ID, wantRm: launch.ID, wantContinues: launchRedated.ID + "<" + launch.ID},
		{name: "a date and a title corrected at the same URL are an update", known: []Known{known(a, false), known(launch, false)}, cur: []Entry{a, retitled},
			wantUpd: retitled.ID, wantRm: launch.ID, wantContinues: retitled.ID + "<" + launch.ID},
		{name: "another id scheme with the same URLs is updates", known: []Known{known(a, false), known(b, false), known(c, false)}, cur: schemed,
			wantUpd: "urn:new:c,urn:new:b,urn:new:a", wantRm: "c,b,a", wantContinues: "urn:new:a<a,urn:new:b<b,urn:new:c<c"},
		{name: "two new posts at a gone one's URL are new", known: []Known{known(a, false), known(b, false)}, cur: []Entry{b, schemed[0], twin},
			wantNew: "urn:new:a,urn:twin", wantRm: "a"},
		{name: "a new post at a deleted one's URL, with its own title and date, is new", known: []Known{known(a, false), known(b, false)}, cur: []Entry{b, replacement},
			wantNew: "urn:replacement", wantRm: "a"},
		{name: "a move to another domain is updates", known: []Known{known(tagged[0], false), known(tagged[1], false), known(tagged[2], false)}, cur: moved,
			wantUpd: moved[2].ID + "," + moved[1].ID + "," + moved[0].ID, wantRm: tagged[2].ID + "," + tagged[1].ID + "," + tagged[0].ID,
			wantContinues: moved[0].ID + "<" + tagged[0].ID + "," + moved[1].ID + "<" + tagged[1].ID + "," + moved[2].ID + "<" + tagged[2].ID},
		{name: "a post at the URL of one removed in an earlier run is new", known: []Known{known(a, true), known(b, false)}, cur: []Entry{b, schemed[0]},
			wantNew: "urn:new:a"},
		{name: "another post under a deleted one's slug is new", known: []Known{known(a, false), known(launch, false)}, cur: []Entry{a, otherPost},
			wantNew: otherPost.ID, wantRm: launch.ID},
		{name: "a post removed in an earlier run and back under another date is new", known: []Known{known(a, false), known(launch, true)}, cur: []Entry{a, launchRedated},
			wantNew: launchRedated.ID},
		{name: "a date changed back", known: []Known{known(a, false), known(launch, true), known(launchRedated, false)}, cur: []Entry{a, launch},
			wantUpd: launch.ID, wantRm: launchRedated.ID, wantContinues: launch.ID + "<" + launchRedated.ID},
		{name: "both dates at once are two posts", known: []Known{known(launch, false)}, cur: []Entry{launch, launchRedated},
			wantNew: launchRedated.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Compare(tt.known, tt.cur, tt.opt)
			var fe *FloodError
			if got := errors.As(err, &fe); got != tt.wantFlood {
				t.Fatalf("got error %v, want flood %v", err, tt.wantFlood)
			}
			if err != nil && !errors.As(err, &fe) {
				t.Fatal(err)
			}
			if got := ids(d.New); got != tt.wantNew {
				t.Errorf("new: got %q, want %q", got, tt.wantNew)
			}
			if got := ids(d.Updated); got != tt.wantUpd {
				t.Errorf("updated: got %q, want %q", got, tt.wantUpd)
			}
			if got := ids(d.Removed); got != tt.wantRm {
				t.Errorf("removed: got %q, want %q", got, tt.wantRm)
			}
			var continues []string
			for n, o := range d.Continues {
				continues = append(continues, n+"<"+o)
			}
			slices.Sort(continues)
			if got := strings.Join(continues, ","); got != tt.wantContinues {
				t.Errorf("continues: got %q, want %q", got, tt.wantContinues)
			}
			if d.Baseline != tt.wantBaseline {
				t.Errorf("baseline: got %v, want %v", d.Baseline, tt.wantBaseline)
			}
		})
	}
}

func TestFloodMessage(t *testing.T) {
	_, err := Compare(nil, []Entry{entry("a", "", 1), entry("b", "", 2), entry("c", "", 3)}, Options{MaxNew: 2})
	if err == nil || err.Error() != "3 posts look new (the limit is 2)" {
		t.Errorf("got %v", err)
	}
}

// TestCompareMoveAndRedate: a move to another domain in the run that corrects one post's date carries
// every post on, that one too: none is new, so none is mailed again.
func TestCompareMoveAndRedate(t *testing.T) {
	var known []Known
	var cur []Entry
	for i, slug := range []string{"w", "x", "y", "z"} {
		e := entry(fmt.Sprintf("tag:ex.org,2024-01-0%d:%s", i+1, slug), "h", i+1)
		known = append(known, Known{Entry: e})
		e.ID, e.URL = strings.Replace(e.ID, "ex.org", "new.example", 1), "https://new.example/"+slug
		if slug == "w" {
			e.ID, e.Date = "tag:new.example,2024-01-09:w", e.Date.AddDate(0, 0, 8)
		}
		cur = append(cur, e)
	}
	d, err := Compare(known, cur, Options{})
	if err != nil || len(d.New) != 0 || len(d.Continues) != 4 || d.Continues["tag:new.example,2024-01-09:w"] != "tag:ex.org,2024-01-01:w" {
		t.Errorf("got new %q, continues %v, %v; want all 4 carried on", ids(d.New), d.Continues, err)
	}
}

// TestCompareRuleOrder: a stronger rule wins over a weaker one whatever the order of the posts: the post
// whose date was corrected continues the gone one, and another post that took its URL and date is new.
func TestCompareRuleOrder(t *testing.T) {
	gone := entry("tag:ex.org,2024-01-01:hello", "h", 1)
	redated := entry("tag:ex.org,2024-01-05:hello", "h", 5)
	redated.Title = gone.Title
	other := entry("urn:other", "o", 1)
	other.URL = gone.URL
	for _, cur := range [][]Entry{{redated, other}, {other, redated}} {
		d, err := Compare([]Known{{Entry: gone}}, cur, Options{})
		if err != nil || ids(d.New) != "urn:other" || d.Continues[redated.ID] != gone.ID {
			t.Errorf("order %s: got new %q, continues %v, %v", ids(cur), ids(d.New), d.Continues, err)
		}
	}
}

// TestCompareSharedSlug: two posts share a slug (2024-01-01-notes.md, 2024-02-01-notes.md); the site moves
// to another domain and the first one's date is corrected. The second carries on by its host alone, and
// then the first is the only one left with its path: it carries on too.
func TestCompareSharedSlug(t *testing.T) {
	jan := entry("tag:ex.org,2024-01-01:notes", "a", 1)
	feb := entry("tag:ex.org,2024-02-01:notes", "b", 1)
	jan.Title, feb.Title = "Notes, January", "Notes, February"
	jan2, feb2 := jan, feb
	jan2.ID, jan2.URL = "tag:new.example,2024-01-02:notes", "https://new.example/2024/01/02/notes"
	feb2.ID, feb2.URL = "tag:new.example,2024-02-01:notes", "https://new.example/2024/02/01/notes"
	d, err := Compare([]Known{{Entry: jan}, {Entry: feb}}, []Entry{jan2, feb2}, Options{})
	if err != nil || len(d.New) != 0 || d.Continues[jan2.ID] != jan.ID || d.Continues[feb2.ID] != feb.ID {
		t.Errorf("got new %q, continues %v, %v; want both carried on", ids(d.New), d.Continues, err)
	}
}

// TestCompareSeries: a series uses one slug and title again and again ("weeknotes"). In a run that moves
// the site to another domain, deletes January's and publishes March's, March's is new: the slug ties no
// post to another, and the posts that the host ties carry on.
func TestCompareSeries(t *testing.T) {
	jan := entry("tag:ex.org,2024-01-01:weeknotes", "a", 1)
	feb := entry("tag:ex.org,2024-02-01:weeknotes", "b", 1)
	jan.Title, feb.Title = "Weeknotes", "Weeknotes"
	feb2 := feb
	feb2.ID, feb2.URL = "tag:new.example,2024-02-01:weeknotes", "https://new.example/2024/02/01/weeknotes"
	mar := entry("tag:new.example,2024-03-01:weeknotes", "c", 1)
	mar.Title, mar.URL = "Weeknotes", "https://new.example/2024/03/01/weeknotes"
	for _, known := range [][]Known{{{Entry: jan}, {Entry: feb}}, {{Entry: jan}, {Entry: feb}, {Entry: entry("tag:ex.org,2023-12-01:weeknotes", "z", 1), Removed: true}}} {
		d, err := Compare(known, []Entry{feb2, mar}, Options{})
		if err != nil || ids(d.New) != mar.ID || d.Continues[feb2.ID] != feb.ID {
			t.Errorf("got new %q, continues %v, %v; want March's new and February's carried on", ids(d.New), d.Continues, err)
		}
	}
	// On the same domain too.
	mar.ID = "tag:ex.org,2024-03-01:weeknotes"
	d, err := Compare([]Known{{Entry: jan}, {Entry: feb}}, []Entry{feb, mar}, Options{})
	if err != nil || ids(d.New) != mar.ID || len(d.Continues) != 0 {
		t.Errorf("same domain: got new %q, continues %v, %v; want March's new", ids(d.New), d.Continues, err)
	}
}

// TestCompareSeriesRedated: one post of a series (one slug and title) has its date corrected by renaming
// its file, alone or in a domain move: its file is the same, so it carries on; nothing is new.
func TestCompareSeriesRedated(t *testing.T) {
	jan := entry("tag:ex.org,2024-01-01:weeknotes", "a", 1)
	feb := entry("tag:ex.org,2024-02-01:weeknotes", "b", 1)
	jan.Title, feb.Title = "Weeknotes", "Weeknotes"
	for _, host := range []string{"ex.org", "new.example"} {
		jan2, feb2 := jan, feb
		jan2.ID = strings.Replace(jan.ID, "ex.org", host, 1)
		feb2.ID, feb2.URL = "tag:"+host+",2024-02-02:weeknotes", "https://"+host+"/2024/02/02/weeknotes"
		d, err := Compare([]Known{{Entry: jan}, {Entry: feb}}, []Entry{jan2, feb2}, Options{})
		if err != nil || len(d.New) != 0 || d.Continues[feb2.ID] != feb.ID {
			t.Errorf("%s: got new %q, continues %v, %v; want February's carried on", host, ids(d.New), d.Continues, err)
		}
	}
}

// TestContinuesAway: a post off the site while the ids setting changed comes back under the new scheme's
// id. It continues its old id only when the ids come from different schemes and the URL, title and date
// are the same, and no other id ever recorded had that URL.
func TestContinuesAway(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2021, 2, d, 0, 0, 0, 0, time.UTC) }
	const u = "https://blog.example.com/2021/02/01/away.html"
	tagged := Entry{ID: "tag:blog.example.com,2021-02-01:away", URL: u, Title: "Away", Date: day(1), Hash: "h1"}
	jekyll := Entry{ID: "https://blog.example.com/2021/02/01/away", URL: u, Title: "Away", Date: day(1), Hash: "h2"}
	byURL := jekyll
	byURL.ID = u
	byURLEdited := byURL // the file not the same either: the exception for an unchanged file does not tie it
	byURLEdited.Hash = "h3"
	redated := tagged // the same scheme: a date corrected while away is another post
	redated.ID, redated.Date = "tag:blog.example.com,2021-02-02:away", day(2)
	retitled := jekyll
	retitled.Title = "Away, again"
	other := Entry{ID: "tag:blog.example.com,2021-01-01:other", URL: "https://blog.example.com/other.html", Title: "Other", Date: day(1), Hash: "o"}
	otherJekyll := other
	otherJekyll.ID = "https://blog.example.com/other"
	tests := []struct {
		name          string
		known         []Known
		cur           []Entry
		wantNew       string
		wantContinues string // new<old
	}{
		{name: "tag to jekyll while away", known: []Known{known(tagged, true), known(otherJekyll, false)},
			cur: []Entry{otherJekyll, jekyll}, wantContinues: jekyll.ID + "<" + tagged.ID},
		{name: "jekyll to url while away", known: []Known{known(jekyll, true)}, cur: []Entry{byURL},
			wantContinues: byURL.ID + "<" + jekyll.ID},
		{name: "the same scheme is a new post", known: []Known{known(tagged, true)}, cur: []Entry{redated}, wantNew: redated.ID},
		{name: "another title is a new post", known: []Known{known(tagged, true)}, cur: []Entry{retitled}, wantNew: retitled.ID},
		{name: "two ids recorded at the URL tie neither", known: []Known{known(tagged, true), known(byURLEdited, true)},
			cur: []Entry{jekyll}, wantNew: jekyll.ID},
		{name: "two posts at the URL now tie neither", known: []Known{known(tagged, true)},
			cur: []Entry{jekyll, byURL}, wantNew: jekyll.ID + "," + byURL.ID},
		{name: "the post back under its own id", known: []Known{known(tagged, true)}, cur: []Entry{tagged}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Compare(tt.known, tt.cur, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(d.New); got != tt.wantNew {
				t.Errorf("new: got %q, want %q", got, tt.wantNew)
			}
			var cont []string
			for n, o := range d.Continues {
				cont = append(cont, n+"<"+o)
			}
			slices.Sort(cont)
			if got := strings.Join(cont, ","); got != tt.wantContinues {
				t.Errorf("continues: got %q, want %q", got, tt.wantContinues)
			}
		})
	}
}
