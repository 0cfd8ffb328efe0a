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

// eventsReport is what the providers reported in the last 30 days.
type eventsReport struct {
	HardBounces int `json:"hard_bounces"`
	SoftBounces int `json:"soft_bounces"`
	Complaints  int `json:"complaints"`
	Deliveries  int `json:"deliveries"`
	Unmatched   int `json:"unmatched"` // about an address Herald does not know
}

// postComplaints is one post's reports in the last 30 days.
type postComplaints struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Sent        int    `json:"sent"`
	HardBounces int    `json:"hard_bounces"`
	Complaints  int    `json:"complaints"`
}

func (p postComplaints) rate() float64 { return float64(p.Complaints) / float64(p.Sent) }

// readEvents reads the bounces and complaints of the last 30 days before now, and those of each post sent
// in that time; a complaint rate above complaintWarn is warned about on stderr.
func readEvents(ctx context.Context, st store.Store, now time.Time, stderr io.Writer) (eventsReport, []postComplaints, error) {
	since := now.Add(-eventsWindow)
	evs, err := st.Events(ctx, since)
	if err != nil {
		return eventsReport{}, nil, err
	}
	ps, err := st.PostEvents(ctx, since)
	if err != nil {
		return eventsReport{}, nil, err
	}
	var r eventsReport
	for _, e := range evs {
		switch e.Kind {
		case store.EventHardBounce:
			r.HardBounces++
		case store.EventSoftBounce:
			r.SoftBounces++
		case store.EventComplaint:
			r.Complaints++
		case store.EventDelivered:
			r.Deliveries++
		}
		if e.SubscriberID == 0 {
			r.Unmatched++
		}
	}
	out := make([]postComplaints, 0, len(ps))
	for _, p := range ps {
		pc := postComplaints{ID: p.ItemID, Title: strings.TrimSpace(p.Title), Sent: p.Sent, HardBounces: p.HardBounces, Complaints: p.Complaints}
		if pc.rate() > complaintWarn {
			fmt.Fprintf(stderr, "warning: %s drew complaints from %.2f%% of its %d messages, above 0.1%%: Gmail and Yahoo filter a sender whose rate nears 0.3%%; check that every subscriber asked for this mail\n",
				pc.ID, 100*pc.rate(), pc.Sent)
		}
		out = append(out, pc)
	}
	return r, out, nil
}

// printEvents shows the bounces and complaints of the last 30 days, and the complaint rate of each post.
func printEvents(w io.Writer, r eventsReport, ps []postComplaints) {
	line := fmt.Sprintf("providers' reports, last 30 days: %s, %s, %s, %s",
		count(r.HardBounces, "hard bounce", "hard bounces"), count(r.SoftBounces, "soft bounce", "soft bounces"),
		count(r.Complaints, "complaint", "complaints"), count(r.Deliveries, "delivery", "deliveries"))
	if r.Unmatched > 0 {
		line += fmt.Sprintf(" (%d about no subscriber Herald knows)", r.Unmatched)
	}
	fmt.Fprintln(w, line)
	if len(ps) == 0 {
		return
	}
	fmt.Fprintln(w, "complaints by post, last 30 days:")
	for _, p := range ps {
		mark := ""
		if p.rate() > complaintWarn {
			mark = "  ABOVE 0.1%"
		}
		fmt.Fprintf(w, "  %s  %s: sent %d, hard bounces %d, complaints %d (%.2f%%)%s\n", p.ID, p.Title,
			p.Sent, p.HardBounces, p.Complaints, 100*p.rate(), mark)
	}
}

// count is "1 thing" or "n things".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
