package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/heraldhq/herald/store"
)

// What herald status says of the providers' events: Gmail and Yahoo want a bulk sender's complaint rate
// well under 0.3%, and Herald warns from 0.1%, where their guidance starts to worry.
const (
	eventsWindow  = 30 * 24 * time.Hour
	complaintWarn = 0.001
)

// printEvents shows the bounces and complaints of the last 30 days before now, and the complaint rate of
// each post sent in that time; a rate above complaintWarn is warned about on stderr.
func printEvents(ctx context.Context, st store.Store, now time.Time, stdout, stderr io.Writer) error {
	since := now.Add(-eventsWindow)
	evs, err := st.Events(ctx, since)
	if err != nil {
		return err
	}
	posts, err := st.PostEvents(ctx, since)
	if err != nil {
		return err
	}
	n := map[string]int{}
	unmatched := 0
	for _, e := range evs {
		n[e.Kind]++
		if e.SubscriberID == 0 {
			unmatched++
		}
	}
	line := fmt.Sprintf("providers' reports, last 30 days: %s, %s, %s, %s",
		count(n[store.EventHardBounce], "hard bounce", "hard bounces"), count(n[store.EventSoftBounce], "soft bounce", "soft bounces"),
		count(n[store.EventComplaint], "complaint", "complaints"), count(n[store.EventDelivered], "delivery", "deliveries"))
	if unmatched > 0 {
		line += fmt.Sprintf(" (%d about no subscriber Herald knows)", unmatched)
	}
	fmt.Fprintln(stdout, line)
	if len(posts) == 0 {
		return nil
	}
	fmt.Fprintln(stdout, "complaints by post, last 30 days:")
	for _, p := range posts {
		rate := float64(p.Complaints) / float64(p.Sent)
		mark := ""
		if rate > complaintWarn {
			mark = "  ABOVE 0.1%"
			fmt.Fprintf(stderr, "warning: %s drew complaints from %.2f%% of its %d messages, above 0.1%%: Gmail and Yahoo filter a sender whose rate nears 0.3%%; check that every subscriber asked for this mail\n",
				p.ItemID, 100*rate, p.Sent)
		}
		fmt.Fprintf(stdout, "  %s  %s: sent %d, hard bounces %d, complaints %d (%.2f%%)%s\n", p.ItemID, strings.TrimSpace(p.Title),
			p.Sent, p.HardBounces, p.Complaints, 100*rate, mark)
	}
	return nil
}

// count is "1 thing" or "n things".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
