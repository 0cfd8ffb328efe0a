package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/subscribers"
)

var subscriberStatuses = []string{store.Pending, store.Active, store.Unsubscribed, store.Bounced}

// checkStatus makes a --status that is not a status a usage error that names the valid ones.
func checkStatus(fs *flag.FlagSet, status string) error {
	if status == "" || slices.Contains(subscriberStatuses, status) {
		return nil
	}
	return errUsage{fmt.Sprintf("--status %q: want %s; see herald %s --help", status, strings.Join(subscriberStatuses, ", "), fs.Name())}
}

// subscriberJSON is one subscriber in `subscribers list --json` and `subscribers export`: all Herald
// holds about them. The keys are the CSV export's columns. Times are RFC 3339 in UTC, null when unset.
type subscriberJSON struct {
	ID             int64           `json:"id"`
	Email          string          `json:"email"`
	Name           string          `json:"name"`
	Status         string          `json:"status"`
	Frequency      string          `json:"frequency"`
	CreatedAt      *time.Time      `json:"created_at"`
	ConsentSource  string          `json:"consent_source"`
	ConsentAt      *time.Time      `json:"consent_at"`
	ConsentIP      string          `json:"consent_ip"`
	ConfirmedAt    *time.Time      `json:"confirmed_at"`
	UnsubscribedAt *time.Time      `json:"unsubscribed_at"`
	HardBounces    int             `json:"hard_bounces"`
	LastDigestAt   *time.Time      `json:"last_digest_at"`
	ComplainedAt   *time.Time      `json:"complained_at"`        // when they last marked a message as spam
	Tags           []string        `json:"tags"`                 // the topics they chose; [] for every post
	Lang           string          `json:"lang"`                 // the language they chose; "" for the site's
	Deliveries     *[]deliveryJSON `json:"deliveries,omitempty"` // one subscriber's export only, [] when none
}

func toJSON(s store.Subscriber) subscriberJSON {
	return subscriberJSON{ID: s.ID, Email: s.Email, Name: s.Name, Status: s.Status, Frequency: s.Frequency,
		CreatedAt: timePtr(s.CreatedAt), ConsentSource: s.ConsentSource, ConsentAt: timePtr(s.ConsentAt),
		ConsentIP: s.ConsentIP, ConfirmedAt: timePtr(s.ConfirmedAt), UnsubscribedAt: timePtr(s.UnsubscribedAt),
		HardBounces: s.HardBounces, LastDigestAt: timePtr(s.LastDigestAt), ComplainedAt: timePtr(s.ComplainedAt),
		Tags: append([]string{}, s.Tags.List()...), Lang: s.Lang}
}

// deliveryJSON is one message Herald sent (or meant to send) to a subscriber.
type deliveryJSON struct {
	ID            int64      `json:"id"`
	Kind          string     `json:"kind"`             // "post" or "digest"
	Digest        string     `json:"digest,omitempty"` // "daily 2025-01-03", "weekly 2025-W01"
	Posts         []postJSON `json:"posts"`            // a digest's newest first
	Status        string     `json:"status"`
	MessageID     string     `json:"message_id"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error"`
	QueuedAt      *time.Time `json:"queued_at"`
	SendingAt     *time.Time `json:"sending_at"`
	SentAt        *time.Time `json:"sent_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

type postJSON struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// exportColumns are the CSV export's header: the columns `subscribers import` reads back (email, name,
// status, frequency, consent_at, consent_ip, confirmed_at, unsubscribed_at) and the rest of the record.
var exportColumns = []string{"id", "email", "name", "status", "frequency", "created_at", "consent_source", "consent_at",
	"consent_ip", "confirmed_at", "unsubscribed_at", "hard_bounces", "last_digest_at", "complained_at", "tags", "lang"}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func csvRecord(s store.Subscriber) []string {
	return []string{strconv.FormatInt(s.ID, 10), subscribers.CSVText(s.Email), subscribers.CSVText(s.Name), s.Status, s.Frequency, csvTime(s.CreatedAt),
		s.ConsentSource, csvTime(s.ConsentAt), s.ConsentIP, csvTime(s.ConfirmedAt), csvTime(s.UnsubscribedAt),
		strconv.Itoa(s.HardBounces), csvTime(s.LastDigestAt), csvTime(s.ComplainedAt),
		subscribers.CSVText(strings.Join(s.Tags.List(), "|")), s.Lang}
}

func subscribersExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("subscribers export", stderr, `Usage: herald subscribers export [EMAIL] [flags]

Writes everything Herald holds about the subscribers to standard output, ordered by id: address, name,
status, frequency, the consent record (created, how, when, from which IP, confirmed, unsubscribed), hard
bounces, last digest, the last complaint (a message marked as spam, as the provider reported it), and
the topics (tags, "|" between them in CSV) and language they chose. Times are RFC 3339 in UTC. With EMAIL, only that subscriber, with every message
Herald sent or meant to send them (a subscriber's request for their data): a JSON object rather than an
array. The CSV export imports again with herald subscribers import. Addresses are personal data: mind
where the output goes.

Flags:
`)
	var dir string
	siteFlag(fs, &dir)
	format := fs.String("format", "json", "json or csv")
	status := fs.String("status", "", "only those with this status: pending, active, unsubscribed or bounced")
	pos, err := parseArgs(fs, args, 0, 1, "")
	if err != nil {
		return err
	}
	var email string
	if len(pos) > 0 {
		email = pos[0]
	}
	if err := checkStatus(fs, *status); err != nil {
		return err
	}
	switch {
	case *format != "json" && *format != "csv":
		return errUsage{fmt.Sprintf("--format %q: want json or csv; see herald subscribers export --help", *format)}
	case email != "" && *status != "":
		return errUsage{"give EMAIL or --status, not both; see herald subscribers export --help"}
	case email != "" && *format == "csv":
		return errUsage{"a subscriber's deliveries do not fit the CSV table: export one subscriber with --format json; see herald subscribers export --help"}
	}
	st, err := siteStore(ctx, dir, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	if email != "" {
		return exportOne(ctx, st, email, stdout)
	}
	subs, err := st.Subscribers(ctx, *status)
	if err != nil {
		return err
	}
	if *format == "csv" {
		w := csv.NewWriter(stdout)
		w.Write(exportColumns)
		for _, s := range subs {
			w.Write(csvRecord(s))
		}
		w.Flush()
		return w.Error()
	}
	out := make([]subscriberJSON, len(subs))
	for i, s := range subs {
		out[i] = toJSON(s)
	}
	return writeJSON(stdout, out)
}

// exportOne writes one subscriber's record and deliveries as a JSON object.
func exportOne(ctx context.Context, st store.Store, email string, stdout io.Writer) error {
	s, err := st.SubscriberByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s is not on the list", email)
	}
	if err != nil {
		return err
	}
	ds, err := st.SubscriberDeliveries(ctx, s.ID)
	if err != nil {
		return err
	}
	items, err := st.Items(ctx)
	if err != nil {
		return err
	}
	byID := make(map[string]store.Item, len(items))
	for _, it := range items {
		byID[it.ID] = it
	}
	out := toJSON(s)
	djs := make([]deliveryJSON, len(ds))
	out.Deliveries = &djs
	for i, d := range ds {
		dj := deliveryJSON{ID: d.ID, Kind: "post", Digest: d.DigestKey, Posts: make([]postJSON, len(d.ItemIDs)), Status: d.Status,
			MessageID: d.MessageID, Attempts: d.Attempts, LastError: d.LastError, QueuedAt: timePtr(d.QueuedAt),
			SendingAt: timePtr(d.SendingAt), SentAt: timePtr(d.SentAt), NextAttemptAt: timePtr(d.NextAttemptAt)}
		if d.DigestKey != "" {
			dj.Kind = "digest"
		}
		for j, id := range d.ItemIDs {
			it := byID[id]
			dj.Posts[j] = postJSON{ID: id, Title: it.Title, URL: it.URL}
		}
		djs[i] = dj
	}
	return writeJSON(stdout, out)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
