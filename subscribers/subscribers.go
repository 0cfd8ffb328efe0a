// Package subscribers reads subscriber lists (CSV with a header row, as Mailchimp, Substack and Buttondown export them, or YAML) for import.
package subscribers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Statuses and frequencies, as the store spells them.
const (
	active       = "active"
	pending      = "pending"
	unsubscribed = "unsubscribed"
	bounced      = "bounced"

	immediate = "immediate"
	daily     = "daily"
	weekly    = "weekly"
	monthly   = "monthly"
)

// Record is one subscriber read from a list.
type Record struct {
	Email     string    // as written, trimmed; a bare address (no display name) that net/mail accepts
	Name      string    // whitespace runs (line breaks included) made one space
	Status    string    // "active" (the default: they consented where the list comes from), "pending", "unsubscribed", "bounced"
	Frequency string    // "immediate" (the default), "daily", "weekly", "monthly"
	ConsentAt time.Time // when they subscribed, if the file says; zero otherwise
	ConsentIP string    // the address they subscribed or confirmed from, if the file says
	// When they confirmed (kept only when the status is not pending) and when they unsubscribed (kept
	// only when the status is unsubscribed), if the file says: Herald's own export carries both.
	ConfirmedAt, UnsubscribedAt time.Time
	Line                        int // the file line (CSV: the physical line where the row starts; YAML: the item's line), for messages
}

// Error is a problem with one place in a list: a bad row, a missing column, a syntax error.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ErrFormat is returned (wrapped) for a file name whose extension says no format this package reads.
var ErrFormat = errors.New("subscribers: unknown list format (want .csv, .yaml, .yml or .json)")

// maxErrors is how many bad rows one error reports: enough to fix a few in one go, not a wall of text
// when the whole file is wrong.
const maxErrors = 10

// Parse reads a list. name is for messages, and its extension decides the format: .csv (a header row,
// then one subscriber a row; see the column names in csv.go), .yaml or .yml (a list of maps with the keys
// email, name, status, frequency and consent_at, or a map with that list under "subscribers"), .json
// (the same shape as the YAML).
//
// The import is all or nothing: if any row is bad, Parse returns no records and an error that names the
// file, the line and what is wrong for each bad row (up to ten of them). Errors for a place in the file
// are *Error values, joined with errors.Join when there are several.
//
// Rows for the same address (Key: the local part as written, the domain in any case) are merged into the
// first, which keeps its place, address, line and values; a later row only fills in a name, frequency or
// consent time the first left empty, and its status wins if it mails less (active < pending < bounced <
// unsubscribed), so a duplicate can never put back on the list someone another row takes off.
// Unsubscribed ranks above bounced because an opt-out must outlive a mailbox that comes back. merged
// is how many rows were folded into an earlier one.
func Parse(name string, r io.Reader) (recs []Record, merged int, err error) {
	br := bufio.NewReader(r)
	// A UTF-8 byte order mark (Excel writes one) is not part of the first header name.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\ufeff")) {
		br.Discard(3)
	}
	var l list
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		err = parseCSV(name, br, &l)
	case ".yaml", ".yml", ".json":
		// JSON is YAML (1.2), and the YAML parser gives every node its line.
		err = parseYAML(name, br, &l)
	default:
		return nil, 0, fmt.Errorf("%s: %w", name, ErrFormat)
	}
	if err == nil && len(l.errs) > 0 {
		err = l.err()
	}
	if err != nil {
		return nil, 0, err
	}
	recs = make([]Record, len(l.recs))
	for i, r := range l.recs {
		recs[i] = r.Record
		// A time that does not go with the final status (after merging) is dropped rather than stored:
		// a pending subscriber has not confirmed, and only one who left has left.
		if r.Status == pending {
			recs[i].ConfirmedAt = time.Time{}
		}
		if r.Status != unsubscribed {
			recs[i].UnsubscribedAt = time.Time{}
		}
	}
	return recs, l.merged, nil
}

// Key is the comparison key of an address, as the store's: the local part with its ASCII letters in lower
// case, "@", the domain in lower case. (RFC 5321 lets a server treat local parts as case-sensitive; the
// big providers do not, and list tools change the case of addresses, so "Ann@" and "ann@" are one reader.)
// A string without "@" is returned as it is.
func Key(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return email
	}
	local := strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, email[:at+1])
	return local + strings.ToLower(email[at+1:])
}

// row is a record being built, with what the merge needs to know.
type row struct {
	Record
	freqSet bool // Frequency came from the file, not the default
}

// list collects the rows of one file: records merged by Key, and errors by line.
type list struct {
	file   string
	recs   []row
	index  map[string]int // Key -> index in recs
	merged int
	errs   []error
	more   int // bad rows beyond maxErrors
}

// bad records a problem with the row at line and keeps going, so one run reports several bad rows.
func (l *list) bad(line int, format string, args ...any) {
	if len(l.errs) == maxErrors {
		l.more++
		return
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *list) err() error {
	errs := l.errs
	if l.more > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("%s: and %d more bad rows", l.file, l.more))
	}
	return errors.Join(errs...)
}

// add merges r into the list (see Parse for the rule).
func (l *list) add(r row) {
	if len(l.errs) > 0 {
		return // nothing will be returned; only errors matter from here
	}
	if l.index == nil {
		l.index = make(map[string]int)
	}
	k := Key(r.Email)
	i, ok := l.index[k]
	if !ok {
		l.index[k] = len(l.recs)
		l.recs = append(l.recs, r)
		return
	}
	l.merged++
	first := &l.recs[i]
	if first.Name == "" {
		first.Name = r.Name
	}
	if !first.freqSet && r.freqSet {
		first.Frequency, first.freqSet = r.Frequency, true
	}
	if first.ConsentAt.IsZero() {
		first.ConsentAt = r.ConsentAt
	}
	if first.ConsentIP == "" {
		first.ConsentIP = r.ConsentIP
	}
	if first.ConfirmedAt.IsZero() {
		first.ConfirmedAt = r.ConfirmedAt
	}
	if first.UnsubscribedAt.IsZero() {
		first.UnsubscribedAt = r.UnsubscribedAt
	}
	if rank[r.Status] > rank[first.Status] {
		first.Status = r.Status
	}
}

// rank orders statuses by how much they keep a subscriber off the list.
var rank = map[string]int{active: 0, pending: 1, bounced: 2, unsubscribed: 3}

// stricter returns whichever of a and b mails less.
func stricter(a, b string) string {
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// maxEmailLen is the longest address SMTP can carry (RFC 5321 4.5.3.1.3 limits a path to 256 octets,
// angle brackets included).
const maxEmailLen = 254

// CheckEmail says what is wrong with an address, or nil. net/mail does the parsing; on top of it an
// import wants the address alone (no display name, comment or quoting, which would not survive being
// stored and compared as written) and a domain mail can be delivered to over the Internet. herald
// serve's sign-up form uses it too, so that every address on the list can be exported and imported back.
func CheckEmail(s string) error {
	if s == "" {
		return errors.New("no email address")
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("email %q is not UTF-8 (save the file as UTF-8)", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return fmt.Errorf("%q is not an email address (%v)", s, err)
	}
	if a.Name != "" || strings.ContainsAny(s, "<>") {
		return fmt.Errorf("%q is not a bare email address: write just %s", s, a.Address)
	}
	if a.Address != s {
		return fmt.Errorf("%q is not a plain email address (quoted or commented addresses are not supported)", s)
	}
	// net/mail takes U+2028, U+0085, no-break and zero-width spaces inside an address; none belongs in
	// one, and some would break or disguise a header.
	if i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("%q is not an email address: it has the character %U", s, r)
	}
	if len(s) > maxEmailLen {
		return fmt.Errorf("%q is not an email address: longer than %d bytes", s, maxEmailLen)
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	if strings.HasPrefix(domain, "[") || !strings.Contains(domain, ".") {
		return fmt.Errorf("%q is not an email address: %q is not a mail domain", s, domain)
	}
	return nil
}

// cleanName makes one line of a name: line breaks and other runs of white space become one space (a
// name ends up in a To header), and control characters or bytes that are not UTF-8 are an error.
func cleanName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("name %q is not UTF-8 (save the file as UTF-8)", s)
	}
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return "", fmt.Errorf("name %q has a control character", s)
	}
	return s, nil
}

// statusWords maps every status word the supported exports use to Herald's status. A word not here
// is an error rather than a guess: guessing "active" could mail someone who left.
var statusWords = map[string]string{
	// Herald's own.
	active: active, pending: pending, unsubscribed: unsubscribed, bounced: bounced,
	// Mailchimp's member statuses (https://mailchimp.com/help/about-cleaned-contacts: cleaned
	// addresses hard-bounced or kept soft-bouncing).
	"subscribed": active, "cleaned": bounced,
	// Buttondown's subscriber types (SubscriberType in https://github.com/buttondown/openapi enums.json,
	// and https://docs.buttondown.email/api-reference/subscribers). Paid states still get the newsletter;
	// "undeliverable" is Buttondown's word for an address that bounces
	// (https://docs.buttondown.com/subscriber-dashboard); "removed" (by the author) and "spammy" (by
	// Buttondown) are addresses Buttondown will not mail, so neither does Herald.
	"regular": active, "premium": active, "trialed": active, "unpaid": active, "gifted": active,
	"churning": active, "paused": active, "past_due": active,
	"unactivated":   pending,
	"undeliverable": bounced,
	"removed":       unsubscribed, "spammy": unsubscribed,
	// Substack's subscription types (the "type" column of its subscriber export; see csv.go). All of
	// them get email unless email_disabled says otherwise.
	"free": active, "paid": active, "comp": active, "gift": active, "founding": active,
}

// parseStatus maps a status cell to Herald's status; an empty cell is active.
func parseStatus(v string) (string, error) {
	if v == "" {
		return active, nil
	}
	if s, ok := statusWords[normalize(v)]; ok {
		return s, nil
	}
	return "", fmt.Errorf("unknown status %q (want active, pending, unsubscribed or bounced)", v)
}

// parseFrequency maps a frequency cell; an empty cell is the default.
func parseFrequency(v string) (freq string, set bool, err error) {
	switch normalize(v) {
	case "":
		return immediate, false, nil
	case immediate, "immediately":
		return immediate, true, nil
	case daily:
		return daily, true, nil
	case weekly:
		return weekly, true, nil
	case monthly:
		return monthly, true, nil
	}
	return "", false, fmt.Errorf("unknown frequency %q (want immediate, daily, weekly or monthly)", v)
}

// timeLayouts are the date forms of the supported exports, tried in order. A time without a zone is
// UTC, which is what Mailchimp's export times are.
var timeLayouts = []string{
	time.RFC3339,                // 2018-08-27T15:06:27.713Z (Substack), 2019-08-24T14:15:22Z (Buttondown); fractions are accepted
	"2006-01-02 15:04:05Z07:00", // 2024-01-05 10:00:00.123456+00:00
	"2006-01-02T15:04:05",       // no zone
	"2006-01-02 15:04:05",       // 2018-02-05 19:28:23 (Mailchimp)
	"2006-01-02",                // a day
}

// parseTime parses a consent time; an empty cell is the zero time.
func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (want 2006-01-02, 2006-01-02 15:04:05 or RFC 3339 such as 2006-01-02T15:04:05Z)", v)
}

// normalize makes a header name or a word comparable: trimmed, lower-cased, and each run of spaces,
// hyphens and underscores one underscore, so "Email Address", "email_address" and "EMAIL-ADDRESS" match.
func normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	gap := false
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '-' || r == '_' {
			gap = true
			continue
		}
		if gap && b.Len() > 0 {
			b.WriteByte('_')
		}
		gap = false
		b.WriteRune(r)
	}
	return b.String()
}
