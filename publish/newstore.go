package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/feed"
	"github.com/heraldhq/herald/internal/sitefs"
)

// ErrStoreLooksNew: the store has no history, but the site looks published before. Starting a history
// then would take every post on the site for the baseline, and a store that was lost (a CI machine keeps
// nothing; a deleted file) would go unnoticed until readers missed their mail.
var ErrStoreLooksNew = errors.New("publish: the store has no history, but the site looks published before")

const (
	// maxFeedBytes bounds what is read of a feed, local or remote, to look for items: a feed's first item
	// comes near its start, and no real feed comes near it.
	maxFeedBytes = 32 << 20
	// feedTimeout bounds the whole look at the published feeds: a site that does not answer by then says
	// nothing either way.
	feedTimeout = 3 * time.Second
)

// Earlier is where else CheckNewHistory looks for an earlier history, besides the feeds in the output
// folder: a static site generator that builds into an empty folder (jekyll build wipes _site) leaves none
// of Herald's feeds there, and a store that was deleted leaves its neighbours behind.
type Earlier struct {
	// SiteURL is the site's public URL (posts.Site.URL): the feeds published at SiteURL + "/" + name
	// that hold items are evidence; one that cannot be fetched is not evidence either way. "": not looked at.
	SiteURL string
	// Client fetches them; nil: one that follows redirects on the same host only. Either way the look
	// ends after feedTimeout.
	Client *http.Client
	// Outbox is the Maildir folder messages go to without SMTP: a message in new/ or cur/ went out from
	// an earlier history.
	Outbox string
}

// CheckNewHistory refuses to start a history in st (nil: no store yet) when the site looks published
// before: a feed in f's output folder or at the site's public URL holds items, the store's neighbours (the
// outbox) are left from an earlier history, or the run is in CI (ci), where a store found
// empty is almost always one that was not carried over. fresh says the author asked for a new history.
func CheckNewHistory(ctx context.Context, st Recorder, f Feeds, e Earlier, ci, fresh bool) error {
	if fresh {
		return nil
	}
	if st != nil {
		runs, err := st.Runs(ctx, 1)
		if err != nil || len(runs) > 0 {
			return err
		}
	}
	if ci {
		return fmt.Errorf("%w: this run is in CI, whose machines keep nothing between runs", ErrStoreLooksNew)
	}
	names := []string{f.RSS, f.Atom, f.JSON}
	for _, name := range names {
		if name == "" {
			continue
		}
		p := filepath.Join(f.Dir, filepath.FromSlash(name))
		if b, err := readRegular(p, maxFeedBytes); err == nil && heraldFeed(b) && feedItems(b) > 0 {
			return fmt.Errorf("%w: %s holds posts", ErrStoreLooksNew, p)
		}
	}
	if e.Outbox != "" {
		for _, sub := range []string{"new", "cur"} {
			dir := filepath.Join(e.Outbox, sub)
			if hasEntries(dir) {
				return fmt.Errorf("%w: the outbox %s holds messages sent before", ErrStoreLooksNew, dir)
			}
		}
	}
	if e.SiteURL != "" {
		if u := publishedFeed(ctx, e.Client, e.SiteURL, names); u != "" {
			return fmt.Errorf("%w: %s holds posts", ErrStoreLooksNew, u)
		}
	}
	return nil
}

// hasEntries tells whether dir is a folder (not a link to one) that holds something.
func hasEntries(dir string) bool {
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return false
	}
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer d.Close()
	names, _ := d.Readdirnames(1)
	return len(names) > 0
}

// publishedFeed returns the URL of the first of the feeds named names, published under site, that holds
// items, or "" when none does or none can be fetched.
func publishedFeed(ctx context.Context, client *http.Client, site string, names []string) string {
	base, err := url.Parse(strings.TrimRight(site, "/"))
	if err != nil || base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return ""
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 || !strings.EqualFold(req.URL.Hostname(), via[0].URL.Hostname()) {
				return http.ErrUseLastResponse // another host's answer is not this site's feed
			}
			return nil
		}}
	}
	ctx, cancel := context.WithTimeout(ctx, feedTimeout)
	defer cancel()
	for _, name := range names {
		if name == "" {
			continue
		}
		u := base.String() + "/" + strings.TrimLeft(filepath.ToSlash(name), "/")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return "" // out of time: the other feeds would be too
			}
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxFeedBytes))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && heraldFeed(b) && feedItems(b) > 0 {
			return u
		}
	}
	return ""
}

// heraldFeed tells whether Herald wrote the feed b (feed.Marked): another's, at the same path (jekyll-feed's
// feed.xml, which Herald takes over), is no sign of an earlier history.
func heraldFeed(b []byte) bool {
	ok, _ := feed.Marked(b)
	return ok
}

// readRegular reads at most limit bytes of the file at path if it is a regular file (sitefs.OpenRegular).
func readRegular(path string, limit int64) ([]byte, error) {
	f, _, err := sitefs.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// feedItems counts the items of a feed: RSS (2.0 or 1.0) items and Atom entries, with or without a
// prefix, or a JSON Feed's items; a document that is neither has none. Text that only mentions an item
// (escaped, in CDATA) is not one.
func feedItems(b []byte) int {
	b = bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	if b[0] == '{' {
		var jf struct {
			Items []json.RawMessage `json:"items"`
		}
		if json.Unmarshal(b, &jf) != nil {
			return 0
		}
		n := 0
		for _, it := range jf.Items {
			if bytes.HasPrefix(bytes.TrimSpace(it), []byte("{")) {
				n++
			}
		}
		return n
	}
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD")) // a Latin-1 feed, say: only the names matter here
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false // feeds in the wild use HTML's entities and leave tags open
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil } // the names are ASCII
	n, depth := 0, 0
	for {
		tok, err := d.RawToken()
		if err != nil {
			return n // a feed cut short still holds the items before the cut
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth > 0 && (t.Name.Local == "item" || t.Name.Local == "entry") {
				n++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}
