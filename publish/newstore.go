package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrStoreLooksNew: the store has no history, but the site looks published before. Starting a history
// then would take every post on the site for the baseline, and a store that was lost (a CI machine keeps
// nothing; a deleted file) would go unnoticed until readers missed their mail.
var ErrStoreLooksNew = errors.New("publish: the store has no history, but the site looks published before")

// CheckNewHistory refuses to start a history in st (nil: no store yet) when the site looks published
// before: a feed in f's output folder holds items, or the run is in CI (ci), where a store found empty is
// almost always one that was not carried over. fresh says the author asked for a new history.
func CheckNewHistory(ctx context.Context, st Recorder, f Feeds, ci, fresh bool) error {
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
	for _, name := range []string{f.RSS, f.Atom, f.JSON} {
		p := filepath.Join(f.Dir, filepath.FromSlash(name))
		if b, err := os.ReadFile(p); err == nil && holdsItems(b) {
			return fmt.Errorf("%w: %s holds posts", ErrStoreLooksNew, p)
		}
	}
	return nil
}

// holdsItems tells whether a feed file (RSS, Atom or JSON Feed, Herald's or another's) has an item.
func holdsItems(b []byte) bool {
	for _, mark := range []string{"<item>", "<item ", "<entry>", "<entry ", `"items": [{`, `"items":[{`, `"items": [ {`} {
		if bytes.Contains(b, []byte(mark)) {
			return true
		}
	}
	return bytes.Contains(b, []byte(`"items"`)) && bytes.Contains(b, []byte(`"id"`))
}
