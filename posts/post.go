// Package posts finds a site's posts (Jekyll, Hugo or a plain folder), reads their front matter and renders
// them to HTML with absolute URLs, ready to be written as feed items.
package posts

import (
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/sitefs"
)

// Site is what Load found: the site's own settings and its posts, newest first.
type Site struct {
	Kind        string // "jekyll", "hugo" or "plain"
	Dir         string // the site's root folder
	Title       string
	Description string
	URL         string // absolute, with the base path and without a trailing slash
	Lang        string
	Author      Author
	Location    *time.Location // the site's time zone, for dates written without one
	OutputDir   string         // where the site generator writes the site (absolute)
	Posts       []*Post
	Languages   []Language // a multilingual Hugo site's, in Hugo's order (see hugolang.go); else none
	Warnings    []Warning

	files        *sitefs.FS           // the site's files, read only through it
	maxFM        int                  // the largest front matter parsed (Options.MaxFrontMatterBytes)
	liquidBounds LiquidBounds         // Options.Liquid, with its defaults
	render       renderer             // set by the loader, and its Liquid by Load; used by Render
	config       map[string]any       // Jekyll's _config.yml, for Liquid's site.*
	cache        *postCache           // set by the loader, before readPosts
	defaults     []frontMatterDefault // Jekyll's front matter defaults, least specific first

	warnMu   sync.Mutex
	reported map[Warning]bool // what Render returned already
}

// Files is the site's folder dir as an fs.FS (for the site's own templates), read as the posts are: a file
// outside the site, in Herald's private paths or not a regular file is refused.
func (s *Site) Files(dir string) fs.FS { return s.files.Sub(dir) }

// Author is a person named by a post or the site.
type Author struct {
	Name  string
	Email string
	URL   string
}

// Enclosure is a media file attached to a post (a podcast episode, say).
type Enclosure struct {
	URL    string
	Length int64
	Type   string
}

// Post is one post. Load fills everything except the rendered fields (ContentHTML, SummaryHTML, Summary),
// which Render fills.
type Post struct {
	Path        string // relative to the site folder, slash-separated
	ID          string // stable: front matter id or guid, else derived from the file name
	URL         string // absolute permalink
	Title       string // plain text
	Date        time.Time
	Updated     time.Time // last_modified_at, else Date
	Authors     []Author
	Categories  []string
	Tags        []string
	Image       string // absolute
	Enclosure   *Enclosure
	Lang        string
	ExcerptOnly bool
	Draft       bool
	NoEmail     bool          // email: false: in the feeds, mailed to nobody
	EmailAfter  time.Duration // email_after: the mail waits this long after the post is first published
	Hold        bool          // hold: true (or an unreadable email_after): the mail waits for herald send --approve
	Hash        string        // SHA-256 of the post's file: an edit changes it

	// Front matter as read, for Liquid's page.* variables.
	Data map[string]any

	Summary     string // plain text, may be empty
	SummaryHTML string
	ContentHTML string // full content, every URL absolute

	// When the post is visible: not before visibleFrom (its date, or Hugo's publishDate), not after
	// expires (Hugo's expiryDate) if set. Load filters on them against Options.Now.
	visibleFrom time.Time
	expires     time.Time

	bodyLine int    // the 1-based line where the body starts
	excerpt  string // front matter excerpt or description, as written
	sep      string // excerpt separator
	hasID    bool   // ID came from front matter
}

// Warning is a problem Herald worked around; the build goes on.
type Warning struct {
	File string // relative to the site folder
	Line int    // 0 when unknown
	Msg  string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
	}
	return fmt.Sprintf("%s: %s", w.File, w.Msg)
}

// Error is a problem in a site's file that stops the build.
type Error struct {
	File string
	Line int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", loc, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }
