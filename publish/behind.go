package publish

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/heraldhq/herald/history"
)

// ErrStoreBehind: the feeds in the output folder hold posts that the store has never recorded and that no
// run of this machine wrote there unrecorded. A run the store does not remember wrote them: the store was
// restored from an older copy (or another store was used meanwhile), and taking those posts for new would
// mail them again.
var ErrStoreBehind = errors.New("publish: the store is behind the published feeds")

// CheckBehind refuses a diff whose new posts are in the output folder's feeds already, unless unrecorded
// holds their ids: the ids that runs of this machine wrote into feeds without recording them (herald build,
// or a publish stopped between writing its feeds and recording its run). A first run is
// CheckNewHistory's to judge. Only Herald's own feed files are read (feed.Marked), and only when they are
// regular files.
func CheckBehind(f Feeds, d history.Diff, unrecorded map[string]bool) error {
	if d.Baseline || len(d.New) == 0 {
		return nil
	}
	for _, name := range []string{f.JSON, f.Atom, f.RSS} {
		if name == "" {
			continue
		}
		p := filepath.Join(f.Dir, filepath.FromSlash(name))
		b, err := readRegular(p, maxFeedBytes)
		if err != nil || !heraldFeed(b) {
			continue
		}
		published := feedIDs(b)
		var behind []string
		for _, e := range d.New {
			if published[e.ID] && !unrecorded[e.ID] {
				behind = append(behind, e.ID)
			}
		}
		if len(behind) == 0 {
			continue
		}
		list := strings.Join(behind[:min(3, len(behind))], ", ")
		if len(behind) > 3 {
			list += fmt.Sprintf(" and %d more", len(behind)-3)
		}
		return fmt.Errorf("%w: %s holds %s that the store has never recorded (%s), written by a run this store does not remember", ErrStoreBehind, p, Plural(len(behind), "post", "posts"), list)
	}
	return nil
}

// feedIDs returns the ids of the items of a feed: a JSON Feed's items' id, RSS items' guid, Atom entries'
// id. A document that is none of them has none.
func feedIDs(b []byte) map[string]bool {
	ids := map[string]bool{}
	b = bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(b) > 0 && b[0] == '{' {
		var jf struct {
			Items []struct {
				ID json.RawMessage `json:"id"`
			} `json:"items"`
		}
		if json.Unmarshal(b, &jf) == nil {
			for _, it := range jf.Items {
				var s string
				if json.Unmarshal(it.ID, &s) == nil && s != "" {
					ids[s] = true
				}
			}
		}
		return ids
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var path []string
	for {
		tok, err := d.Token()
		if err != nil {
			return ids
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			n := len(path)
			if n >= 2 && (path[n-2] == "item" && t.Name.Local == "guid" || path[n-2] == "entry" && t.Name.Local == "id") {
				var s string
				if d.DecodeElement(&s, &t) == nil && strings.TrimSpace(s) != "" {
					ids[strings.TrimSpace(s)] = true
				}
				path = path[:n-1]
			}
		case xml.EndElement:
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
		}
	}
}
