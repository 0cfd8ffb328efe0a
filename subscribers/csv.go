package subscribers

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The columns a CSV list may have, by normalised header name (see normalize); any other column is
// ignored. Each service's names come from its exports:
//
//   - Mailchimp: an audience export is a zip of one CSV per status: subscribed, unsubscribed and cleaned
//     (http://ginkgo.st/~ca/roadmap/mailchimp-and-civicrm-overview/notes-on-mailchimp-data-exports). Their
//     header is "Email Address,First Name,Last Name,...,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,
//     CONFIRM_IP,...,LEID,EUID,NOTES,TAGS"; the unsubscribed file adds UNSUB_TIME, UNSUB_CAMPAIGN_TITLE,
//     UNSUB_REASON..., the cleaned file CLEAN_TIME, CLEAN_CAMPAIGN_TITLE... (the export fixtures of Ghost's
//     Mailchimp importer, github.com/TryGhost/migrate packages/mg-mailchimp-members/src/test/fixtures, and
//     its process.ts, which takes CONFIRM_TIME as the subscription time and UNSUB_TIME as unsubscribed).
//     So a file with an UNSUB_TIME column is all unsubscribed and one with CLEAN_TIME all bounced.
//   - Substack: "email,active_subscription,expiry,email_disabled,created_at" (the signup list) and
//     "email,expiry,email_disabled,stripe_connected_customer_id,type" (paid subscribers), from the fixtures
//     of Ghost's Substack importer (github.com/TryGhost/migrate packages/mg-substack-members-csv/test/fixtures),
//     whose lib/process.js reads email_disabled=true as "gets no email". active_subscription and expiry are
//     about a paid plan, not about email, and are ignored.
//   - Buttondown: the subscriber fields email (email_address in the 2024 API), notes, metadata, tags,
//     referrer_url, creation_date, subscriber_type (type in the 2024 API), source, utm_*
//     (https://docs.buttondown.email/api-reference/subscribers, https://docs.buttondown.com/api-subscribers-introduction),
//     and the dashboard's Subscription date, Unsubscription date and Undeliverability date
//     (https://docs.buttondown.com/subscriber-dashboard).
//   - Herald's own: email, name, status, frequency, consent_at, and from its export (herald subscribers
//     export) consent_ip, confirmed_at and unsubscribed_at; its other columns are ignored.
var (
	emailColumns = []string{"email", "email_address", "e_mail", "e_mail_address"}
	nameColumns  = []string{"name", "full_name"}
	// Every status column that is there counts, and the one that mails less wins (see stricter).
	statusColumns    = []string{"status", "subscriber_type", "type"}
	frequencyColumns = []string{"frequency"}
	// The first non-empty one is the consent time. Mailchimp's CONFIRM_TIME (double opt-in done) is
	// preferred to its OPTIN_TIME, and Buttondown's subscription date to its row's creation date.
	consentColumns = []string{"consent_at", "confirm_time", "optin_time", "subscription_date", "subscribed_at", "created_at", "creation_date"}
	// Mailchimp's CONFIRM_IP goes with the CONFIRM_TIME taken as the consent time.
	consentIPColumns      = []string{"consent_ip", "confirm_ip", "optin_ip"}
	confirmedColumns      = []string{"confirmed_at", "confirm_time"}
	unsubscribedAtColumns = []string{"unsubscribed_at", "unsub_time", "unsubscription_date"}
)

// columns is where the columns Parse reads are in one file; -1 is absent.
type columns struct {
	header                     []string
	email                      int
	name, first, last          int
	status                     []int
	frequency                  int
	consent                    []int
	consentIP                  []int
	confirmed, unsubscribedAt  []int
	emailDisabled              int // Substack
	unsubDate, undeliverableAt int // Buttondown
	fileStatus                 string
}

// findColumns maps a header row. It fails when there is no email column, or when a column it reads
// appears twice (which one would be meant?).
func findColumns(header []string) (*columns, error) {
	index := make(map[string]int, len(header))
	twice := make(map[string]bool)
	for i, h := range header {
		n := normalize(h)
		if _, ok := index[n]; ok {
			twice[n] = true
			continue
		}
		index[n] = i
	}
	var err error
	find := func(names ...string) int {
		for _, n := range names {
			if i, ok := index[n]; ok {
				if twice[n] && err == nil {
					err = fmt.Errorf("the header has column %q twice", header[i])
				}
				return i
			}
		}
		return -1
	}
	all := func(names []string) []int {
		var is []int
		for _, n := range names {
			if i := find(n); i >= 0 {
				is = append(is, i)
			}
		}
		return is
	}
	c := &columns{
		header:          header,
		email:           find(emailColumns...),
		name:            find(nameColumns...),
		first:           find("first_name"),
		last:            find("last_name"),
		status:          all(statusColumns),
		frequency:       find(frequencyColumns...),
		consent:         all(consentColumns),
		consentIP:       all(consentIPColumns),
		confirmed:       all(confirmedColumns),
		unsubscribedAt:  all(unsubscribedAtColumns),
		emailDisabled:   find("email_disabled"),
		unsubDate:       find("unsubscription_date"),
		undeliverableAt: find("undeliverability_date"),
		fileStatus:      active,
	}
	if find("clean_time") >= 0 {
		c.fileStatus = bounced
	}
	if find("unsub_time") >= 0 {
		c.fileStatus = unsubscribed
	}
	if err != nil {
		return nil, err
	}
	if c.email < 0 {
		return nil, fmt.Errorf("no email column (looked for %s); the header row is %s; add an \"email\" header above the addresses",
			quoteList([]string{"email", "email address", "e-mail"}), quoteList(header))
	}
	return c, nil
}

// quoteList writes at most 8 names, quoted, for a message.
func quoteList(names []string) string {
	const most = 8
	var b strings.Builder
	for i, n := range names {
		if i == most {
			fmt.Fprintf(&b, ", ... (%d more)", len(names)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	return b.String()
}

func cell(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	v := strings.TrimSpace(rec[i])
	if len(v) > 1 && v[0] == '\'' && strings.ContainsRune(formulaStarts+"'", rune(v[1])) {
		v = v[1:] // CSVText's quote
	}
	return v
}

// formulaStarts are the first characters that make a spreadsheet read a cell as a formula.
const formulaStarts = "=+-@\t\r"

// CSVText is s as a CSV cell that a spreadsheet shows as text: a name typed into the web form, such as
// =HYPERLINK(...), must not run as a formula when the export is opened. It puts a ' before a formula's
// first character (OWASP's advice on CSV injection); the import takes it off again. A value that starts
// with ' gets one too, so that what the import takes off is always CSVText's.
func CSVText(s string) string {
	if s != "" && strings.ContainsRune(formulaStarts+"'", rune(s[0])) {
		return "'" + s
	}
	return s
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// parseCSV reads a CSV list into l. The first row that is not blank is the header.
func parseCSV(name string, r io.Reader, l *list) error {
	l.file = name
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // exports pad or trim trailing empty fields; a missing one is empty
	var cols *columns
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("%s: read: %w", name, err)
			}
			// The rows after a quoting error cannot be trusted to start where they seem to, so this is
			// the last error. An unclosed quote shows where the row began, not at the end of the file.
			const fix = "a field with a quote, comma or line break must be in double quotes, with each quote doubled"
			if pe.StartLine != pe.Line {
				l.bad(pe.StartLine, "%v at line %d, column %d, in the row that starts here (%s)", pe.Err, pe.Line, pe.Column, fix)
			} else {
				l.bad(pe.Line, "column %d: %v (%s)", pe.Column, pe.Err, fix)
			}
			return l.err()
		}
		if blank(rec) {
			continue
		}
		line, _ := cr.FieldPos(0)
		if cols == nil {
			if cols, err = findColumns(rec); err != nil {
				return &Error{File: name, Line: line, Msg: err.Error()}
			}
			continue
		}
		l.add(csvRow(l, cols, rec, line))
	}
	if cols == nil {
		return fmt.Errorf("%s: the file is empty (want a header row with an \"email\" column, then one subscriber a row)", name)
	}
	return nil
}

// csvRow reads one row. Problems are reported to l; the row is then not added, as the list will fail.
func csvRow(l *list, c *columns, rec []string, line int) row {
	var problems []string
	problem := func(col int, err error) {
		msg := err.Error()
		if col >= 0 {
			msg = fmt.Sprintf("column %q: %v", c.header[col], err)
		}
		if !slices.Contains(problems, msg) { // a column read for two fields (CONFIRM_TIME) is reported once
			problems = append(problems, msg)
		}
	}
	r := row{Record: Record{Line: line, Status: c.fileStatus, Frequency: immediate}}

	r.Email = cell(rec, c.email)
	if err := CheckEmail(r.Email); err != nil {
		problem(-1, err)
	}

	name := cell(rec, c.name)
	if name == "" {
		name = strings.TrimSpace(cell(rec, c.first) + " " + cell(rec, c.last))
	}
	var err error
	if r.Name, err = cleanName(name); err != nil {
		problem(-1, err)
	}

	for _, i := range c.status {
		s, err := parseStatus(cell(rec, i))
		if err != nil {
			problem(i, err)
			continue
		}
		r.Status = stricter(r.Status, s)
	}
	if v := cell(rec, c.emailDisabled); v != "" {
		if off, err := parseBool(v); err != nil {
			problem(c.emailDisabled, err)
		} else if off {
			r.Status = stricter(r.Status, unsubscribed)
		}
	}
	if cell(rec, c.unsubDate) != "" {
		r.Status = stricter(r.Status, unsubscribed)
	}
	if cell(rec, c.undeliverableAt) != "" {
		r.Status = stricter(r.Status, bounced)
	}

	if r.Frequency, r.freqSet, err = parseFrequency(cell(rec, c.frequency)); err != nil {
		problem(c.frequency, err)
	}

	for _, t := range []struct {
		dst  *time.Time
		cols []int
	}{{&r.ConsentAt, c.consent}, {&r.ConfirmedAt, c.confirmed}, {&r.UnsubscribedAt, c.unsubscribedAt}} {
		// The first column with a value is the one.
		for _, i := range t.cols {
			v := cell(rec, i)
			if v == "" {
				continue
			}
			if *t.dst, err = parseTime(v); err != nil {
				problem(i, err)
			}
			break
		}
	}
	for _, i := range c.consentIP {
		v := cell(rec, i)
		if v == "" {
			continue
		}
		if a, err := netip.ParseAddr(v); err != nil {
			problem(i, fmt.Errorf("%q is not an IP address", v))
		} else {
			r.ConsentIP = a.String()
		}
		break
	}

	if len(problems) > 0 {
		l.bad(line, "%s", strings.Join(problems, "; "))
	}
	return r
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "t", "yes", "y", "1":
		return true, nil
	case "false", "f", "no", "n", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither true nor false", v)
}
