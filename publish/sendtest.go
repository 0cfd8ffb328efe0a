package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
	"github.com/heraldhq/herald/store"
)

// SendTest sends one copy of each distinct message that is due (one per post, one per kind of digest) to
// addr, with the test subject the caller's Mail composes, through Mail's transport. st must be a copy of
// the store: Plan changes it. plan is what Send would plan with (SendOptions.Plan).
func SendTest(ctx context.Context, site *posts.Site, st Sender, mail func() (*Mail, error), addr string, plan store.PlanOptions, out io.Writer) error {
	now := time.Now()
	if _, err := st.PlanWith(ctx, now, plan); err != nil {
		return err
	}
	due, err := st.Due(ctx, now, 1<<30)
	if err != nil {
		return err
	}
	onSite := byID(site)
	recorded, err := st.Items(ctx)
	if err != nil {
		return err
	}
	removed := make(map[string]bool, len(recorded))
	for _, it := range recorded {
		removed[it.ID] = it.Removed
	}
	// What Send would not send: it waits for a post, or none of its posts is left.
	waiting := 0
	due = slices.DeleteFunc(due, func(d store.Delivery) bool {
		if waits(d, onSite, removed) {
			waiting++
			return true
		}
		return !slices.ContainsFunc(d.ItemIDs, func(id string) bool { return onSite[id] != nil })
	})
	if len(due) == 0 {
		if waiting > 0 {
			fmt.Fprintf(out, "mail: nothing would go now, so there is nothing to test (%s for a post that is not on the site now)\n",
				Plural(waiting, "message waits", "messages wait"))
			return nil
		}
		fmt.Fprintln(out, "mail: nothing is due, so there is nothing to test")
		return nil
	}
	m, err := mail()
	if err != nil {
		return err
	}
	pick, need := distinct(due, onSite)
	if _, err := site.Render(ctx, need); err != nil {
		return err
	}
	sender, err := m.Dial(ctx)
	if err != nil {
		return errors.Join(mailer.ErrConnect, err)
	}
	defer sender.Close()
	prep := newPrepared(m.Composer)
	for _, d := range pick {
		msg, err := compose(ctx, st, m, prep, d, onSite, now, addr)
		if err != nil {
			return err
		}
		if err := sender.Send(ctx, msg); err != nil {
			_, reason := mailer.Classify(err)
			return fmt.Errorf("test message %q: %s", msg.Subject, reason)
		}
	}
	fmt.Fprintf(out, "mail (%s): sent %s to %s; nothing was recorded\n", m.Where, Plural(len(pick), "test message", "test messages"), addr)
	return nil
}

// distinct picks one delivery of each kind and set of posts, and the posts they need.
func distinct(due []store.Delivery, onSite map[string]*posts.Post) (pick []store.Delivery, need []*posts.Post) {
	seen := map[string]bool{}
	for _, d := range due {
		kind, _, _ := strings.Cut(d.DigestKey, " ")
		k := kind + "|" + strings.Join(d.ItemIDs, "|")
		if seen[k] {
			continue
		}
		seen[k] = true
		pick = append(pick, d)
		for _, id := range d.ItemIDs {
			if p := onSite[id]; p != nil {
				need = append(need, p)
			}
		}
	}
	return pick, need
}
