package posts

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// dateLayouts are the forms of a date Herald reads exactly. Layouts without a zone are read in the site's
// time zone.
var dateLayouts = []struct {
	layout string
	zone   bool
}{
	{time.RFC3339Nano, true},
	{"2006-01-02 15:04:05.999999999 -0700", true},
	{"2006-01-02 15:04:05.999999999 -07:00", true},
	{"2006-01-02 15:04:05.999999999 Z07:00", true},
	{"2006-01-02 15:04:05.999999999Z07:00", true},
	{"2006-01-02 15:04:05 -0700 MST", true},
	{"2006-01-02 15:04 -0700", true},
	{"2006-01-02 15:04 -07:00", true},
	{"2006-01-02T15:04-07:00", true},
	{time.RFC1123Z, true},
	{time.RFC1123, true},
	{"2006-01-02 15:04:05 MST", true},
	{"2006-01-02T15:04:05.999999999", false},
	{"2006-01-02 15:04:05.999999999", false},
	{"2006-01-02T15:04", false},
	{"2006-01-02 15:04", false},
	{"2006-01-02", false},
	{"2006/01/02 15:04:05", false},
	{"2006/01/02 15:04", false},
	{"2006/01/02", false},
	{"January 2, 2006", false},
	{"Jan 2, 2006", false},
	{"2 January 2006", false},
	{"2 Jan 2006", false},
	{"20060102", false},
}

// looseDate finds a date, a time and a zone anywhere in a string, as Ruby's Time.parse (which Jekyll uses)
// does: "2023-01-29 18:30:22 2023 -0800" is 18:30:22 on 29 January 2023, eight hours behind UTC.
var (
	looseDay  = regexp.MustCompile(`(\d{4})[-/](\d{1,2})[-/](\d{1,2})`)
	looseTime = regexp.MustCompile(`(?i)(?:^|[T\s])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?:\s*([ap])\.?m\.?\b)?`)
	looseZone = regexp.MustCompile(`(?:^|\s|\d)([+-])(\d{2}):?(\d{2})\b|\b([A-Z]{1,5})\b`)
)

// zoneOffsets are the zone abbreviations Ruby's Time.parse knows that posts use, in hours east of UTC.
var zoneOffsets = map[string]float64{
	"Z": 0, "UT": 0, "UTC": 0, "GMT": 0, "WET": 0, "BST": 1, "CET": 1, "WEST": 1, "CEST": 2, "EET": 2,
	"EEST": 3, "MSK": 3, "IST": 5.5, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
	"HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "CST": -6, "CDT": -5,
	"EST": -5, "EDT": -4, "AST": -4, "ADT": -3,
}

// parseDate reads a post date. guessed reports that the date was not in a form Herald reads exactly, so the
// caller can warn.
func parseDate(s string, loc *time.Location) (t time.Time, guessed bool, err error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		var t time.Time
		var err error
		if l.zone {
			t, err = time.Parse(l.layout, s)
			// A named zone Go does not know parses with offset 0; only UTC and GMT are trusted.
			if err == nil && strings.Contains(l.layout, "MST") {
				if name, _ := t.Zone(); name != "UTC" && name != "GMT" {
					continue
				}
			}
		} else {
			t, err = time.ParseInLocation(l.layout, s, loc)
		}
		if err == nil {
			return t, false, nil
		}
	}
	d := looseDay.FindStringSubmatchIndex(s)
	if d == nil {
		return time.Time{}, false, fmt.Errorf("cannot read date %q; write it as YYYY-MM-DD, optionally with HH:MM:SS and a zone like -0700", s)
	}
	y, mo, dd := numIn(s, d, 1), numIn(s, d, 2), numIn(s, d, 3)
	rest := s[d[1]:]
	var h, mi, sec int
	if m := looseTime.FindStringSubmatchIndex(rest); m != nil {
		h, mi, sec = numIn(rest, m, 1), numIn(rest, m, 2), numIn(rest, m, 3)
		if m[8] >= 0 { // AM or PM
			if h < 1 || h > 12 {
				return time.Time{}, false, fmt.Errorf("cannot read date %q: %d is not an hour on a 12-hour clock", s, h)
			}
			h %= 12
			if strings.EqualFold(rest[m[8]:m[9]], "p") {
				h += 12
			}
		}
		rest = rest[m[1]:]
	}
	zone := loc
	for _, m := range looseZone.FindAllStringSubmatch(rest, -1) {
		if m[4] == "" {
			hh, _ := strconv.Atoi(m[2])
			mm, _ := strconv.Atoi(m[3])
			off := hh*3600 + mm*60
			if m[1] == "-" {
				off = -off
			}
			zone = time.FixedZone("", off)
			break
		}
		if off, ok := zoneOffsets[m[4]]; ok {
			zone = time.FixedZone(m[4], int(off*3600))
			break
		}
	}
	if mo < 1 || mo > 12 || dd < 1 || dd > 31 || h > 23 || mi > 59 || sec > 60 {
		return time.Time{}, false, fmt.Errorf("cannot read date %q: a field is out of range", s)
	}
	t = time.Date(y, time.Month(mo), dd, h, mi, sec, 0, zone)
	if t.Day() != dd {
		return time.Time{}, false, fmt.Errorf("cannot read date %q: no such day", s)
	}
	return t, true, nil
}

func numIn(s string, m []int, i int) int {
	if m[2*i] < 0 {
		return 0
	}
	n, _ := strconv.Atoi(s[m[2*i]:m[2*i+1]])
	return n
}
