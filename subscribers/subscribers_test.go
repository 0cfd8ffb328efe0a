package subscribers

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// rec makes a wanted record; status "" and frequency "" mean the defaults.
func rec(line int, email, name, status, freq, consent string) Record {
	r := Record{Email: email, Name: name, Status: status, Frequency: freq, Line: line}
	if r.Status == "" {
		r.Status = active
	}
	if r.Frequency == "" {
		r.Frequency = immediate
	}
	if consent != "" {
		r.ConsentAt = date(consent)
	}
	return r
}

func checkRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d records, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Email != w.Email || g.Name != w.Name || g.Status != w.Status || g.Frequency != w.Frequency ||
			!g.ConsentAt.Equal(w.ConsentAt) || g.Line != w.Line {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func parseFile(t *testing.T, file string) ([]Record, int, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(file, f)
}

// The fixtures are built from each service's documented export columns (see csv.go).
func TestParseExports(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []Record
	}{
		{
			name: "mailchimp subscribed",
			file: "mailchimp_subscribed.csv",
			want: []Record{
				rec(2, "ada@example.com", "Ada Lovelace", "", "", "2023-04-21T11:17:30Z"), // CONFIRM_TIME over OPTIN_TIME
				rec(3, "grace@Example.ORG", "Grace Hopper", "", "", "2018-02-05T19:28:22Z"),
				rec(4, "alan@example.net", "", "", "", "2018-02-12T10:54:27Z"), // no CONFIRM_TIME: OPTIN_TIME
			},
		},
		{
			name: "mailchimp unsubscribed",
			file: "mailchimp_unsubscribed.csv",
			want: []Record{
				rec(2, "edsger@example.com", "Edsger", unsubscribed, "", "2018-02-12T10:54:27Z"),
				rec(3, "barbara@example.com", "Liskov", unsubscribed, "", "2020-12-25T13:35:34Z"),
			},
		},
		{
			name: "mailchimp cleaned",
			file: "mailchimp_cleaned.csv",
			want: []Record{
				rec(2, "ken@example.com", "Ken", bounced, "", "2018-02-05T19:28:23Z"),
				rec(3, "dennis@example.com", "Dennis Ritchie", bounced, "", "2020-06-04T15:28:08Z"),
			},
		},
		{
			name: "substack signups",
			file: "substack_signups.csv",
			want: []Record{
				rec(2, "paid.reader@example.com", "", "", "", "2018-08-27T15:06:27.713Z"),
				rec(3, "free.reader@example.com", "", "", "", "2018-12-19T08:03:04.977Z"),
				rec(4, "muted.reader@example.com", "", unsubscribed, "", "2018-08-29T20:50:03.435Z"), // email_disabled
				rec(5, "ömer@example.com", "", "", "", "2020-08-06T10:21:25.605Z"),
			},
		},
		{
			name: "substack subscribers",
			file: "substack_subscribers.csv",
			want: []Record{
				rec(2, "paid.reader@example.com", "", "", "", ""),
				rec(3, "comp.reader@example.com", "", "", "", ""),
				rec(4, "gift.reader@example.com", "", unsubscribed, "", ""),
			},
		},
		{
			name: "buttondown",
			file: "buttondown.csv",
			want: []Record{
				rec(2, "reader@example.com", "", "", "", "2019-08-24T14:15:22Z"),
				rec(3, "new.reader@example.com", "", pending, "", "2024-03-01T09:30:00.123456Z"),
				rec(4, "gone@example.com", "", unsubscribed, "", "2021-05-02T08:00:00Z"),
				rec(6, "patron@example.com", "", "", "", "2022-11-20T17:45:10Z"), // the row above spans two lines
			},
		},
		{
			name: "buttondown api names",
			file: "buttondown_api.csv",
			want: []Record{
				rec(2, "Reader@Example.com", "", "", "", "2024-02-10T08:00:00Z"),
				rec(3, "pending.reader@example.com", "", pending, "", "2024-05-01T12:30:45.5Z"),
				rec(4, "bounce@example.com", "", bounced, "", "2023-11-11T11:11:11Z"),
				rec(5, "left@example.com", "", unsubscribed, "", "2022-01-31T23:59:59Z"),
				rec(6, "patron@example.com", "", "", "", "2023-07-04T14:00:00Z"),
			},
		},
		{
			name: "herald csv",
			file: "herald.csv",
			want: []Record{
				rec(2, "ada@example.com", "Ada Lovelace", "", weekly, "2024-01-02T10:00:00Z"),
				rec(3, "grace@example.org", "Hopper, Grace", pending, "", ""),
				rec(4, "alan@example.net", "", unsubscribed, daily, "2023-06-30T00:00:00Z"),
			},
		},
		{
			name: "herald yaml",
			file: "herald.yaml",
			want: []Record{
				rec(3, "ada@example.com", "Ada Lovelace", "", weekly, "2024-01-02T10:00:00Z"),
				rec(8, "grace@example.org", "Hopper, Grace", pending, "", ""),
				rec(11, "alan@example.net", "", unsubscribed, daily, "2023-06-30T00:00:00Z"),
			},
		},
		{
			name: "herald json",
			file: "herald.json",
			want: []Record{
				rec(2, "ada@example.com", "Ada Lovelace", "", weekly, "2024-01-02T10:00:00Z"),
				rec(3, "grace@example.org", "Hopper, Grace", pending, "", ""),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, merged, err := parseFile(t, tt.file)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if merged != 0 {
				t.Errorf("got %d merged, want 0", merged)
			}
			checkRecords(t, got, tt.want)
		})
	}
}

// TestParseShapes covers what a CSV or YAML file may look like beyond the fixtures.
func TestParseShapes(t *testing.T) {
	tests := []struct {
		name string
		file string
		in   string
		want []Record
	}{
		{
			name: "BOM and CRLF",
			file: "list.csv",
			in:   "\ufeffEmail,Name\r\nada@example.com,Ada\r\ngrace@example.org,Grace\r\n",
			want: []Record{rec(2, "ada@example.com", "Ada", "", "", ""), rec(3, "grace@example.org", "Grace", "", "", "")},
		},
		{
			name: "quoted commas and line breaks keep physical lines",
			file: "list.csv",
			in:   "name,email\n\"Lovelace,\r\nAda\",ada@example.com\n\"Hopper, Grace\",grace@example.org\n",
			want: []Record{rec(2, "ada@example.com", "Lovelace, Ada", "", "", ""), rec(4, "grace@example.org", "Hopper, Grace", "", "", "")},
		},
		{
			name: "empty lines, blank rows and short rows",
			file: "list.csv",
			in:   "\n\nemail,name,frequency\n\nada@example.com\n,,\n  ,  \n\ngrace@example.org,Grace,weekly,extra\n",
			want: []Record{rec(5, "ada@example.com", "", "", "", ""), rec(9, "grace@example.org", "Grace", "", weekly, "")},
		},
		{
			name: "header only",
			file: "list.csv",
			in:   "email,name\n",
		},
		{
			name: "header names in any case and spelling",
			file: "LIST.CSV",
			in:   " E-Mail ,FULL NAME,Status,Consent-At\nada@example.com,Ada,Subscribed,2024-01-02 10:00:00+02:00\n",
			want: []Record{rec(2, "ada@example.com", "Ada", "", "", "2024-01-02T08:00:00Z")},
		},
		{
			name: "unknown columns ignored",
			file: "list.csv",
			in:   "MEMBER_RATING,email,plan,expiry\n5,ada@example.com,gold,never\n",
			want: []Record{rec(2, "ada@example.com", "", "", "", "")},
		},
		{
			name: "buttondown dashboard dates",
			file: "list.csv",
			in: "Email,Status,Subscription date,Unsubscription date,Undeliverability date\n" +
				"a@example.com,Regular,2024-01-05,,\n" +
				"b@example.com,Regular,2024-01-05,2024-02-01,\n" + // resubscribed or not, a date of leaving keeps them off
				"c@example.com,Undeliverable,2024-01-05,,2024-03-01\n" +
				"d@example.com,Past due,,,\n",
			want: []Record{
				rec(2, "a@example.com", "", "", "", "2024-01-05T00:00:00Z"),
				rec(3, "b@example.com", "", unsubscribed, "", "2024-01-05T00:00:00Z"),
				rec(4, "c@example.com", "", bounced, "", "2024-01-05T00:00:00Z"),
				rec(5, "d@example.com", "", "", "", ""),
			},
		},
		{
			name: "the status that mails less wins",
			file: "list.csv",
			in:   "email,status,email_disabled\na@example.com,bounced,yes\nb@example.com,pending,0\n",
			want: []Record{rec(2, "a@example.com", "", unsubscribed, "", ""), rec(3, "b@example.com", "", pending, "", "")},
		},
		{
			name: "names made one line",
			file: "list.csv",
			in:   "email,first name,last name\na@example.com,\" Ada\u2028\",\"Love\tlace \"\nb@example.com,,Hopper\n",
			want: []Record{rec(2, "a@example.com", "Ada Love lace", "", "", ""), rec(3, "b@example.com", "Hopper", "", "", "")},
		},
		{
			name: "yaml plain list with nulls and an alias",
			file: "list.yml",
			in:   "- email: \" a@example.com \"\n  name: &n Ada\n  status: ~\n- {email: b@example.com, name: *n, frequency: Immediately}\n",
			want: []Record{rec(1, "a@example.com", "Ada", "", "", ""), rec(4, "b@example.com", "Ada", "", "", "")},
		},
		{
			name: "yaml empty list",
			file: "list.yaml",
			in:   "subscribers: []\n",
		},
		{
			name: "yaml empty subscribers key",
			file: "list.yaml",
			in:   "subscribers:\n",
		},
		{
			name: "yaml BOM",
			file: "list.yaml",
			in:   "\ufeff- email: a@example.com\n",
			want: []Record{rec(1, "a@example.com", "", "", "", "")},
		},
		{
			name: "json under subscribers",
			file: "list.json",
			in:   "{\"subscribers\": [\n\t{\"email\": \"a@example.com\", \"consent_at\": \"2024-01-02T03:04:05.5+01:00\"}]}",
			want: []Record{rec(2, "a@example.com", "", "", "", "2024-01-02T02:04:05.5Z")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Parse(tt.file, strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			checkRecords(t, got, tt.want)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		in   string
		line int    // 0: the error names the file but no line
		msg  string // a part of the message
	}{
		{"bad address", "l.csv", "email\na@example.com\nnot an address\n", 3, `"not an address" is not an email address`},
		{"display name", "l.csv", "email\n\"Ada <ada@example.com>\"\n", 2, "write just ada@example.com"},
		{"domain without a dot", "l.csv", "email\nada@localhost\n", 2, `"localhost" is not a mail domain`},
		{"domain literal", "l.csv", "email\nada@[192.0.2.1]\n", 2, "is not a mail domain"},
		{"quoted local part", "l.csv", "email\n\"\"\"a b\"\"@example.com\"\n", 2, "not a plain email address"},
		{"line separator in an address", "l.csv", "email\na\u2028b@example.com\n", 2, "it has the character U+2028"},
		{"zero-width space in an address", "l.csv", "email\nab\u200b@example.com\n", 2, "it has the character U+200B"},
		{"no-break space in an address", "l.yaml", "- email: \"a\u00a0b@example.com\"\n", 1, "it has the character U+00A0"},
		{"address too long", "l.csv", "email\n" + strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190) + ".com\n", 2, "longer than 254 bytes"},
		{"empty email", "l.csv", "email,name\n,Ada\n", 2, "no email address"},
		{"unknown status", "l.csv", "email,status\na@example.com,active\nb@example.com,gone\n", 3, `column "status": unknown status "gone"`},
		{"unknown buttondown type", "l.csv", "email,subscriber_type\na@example.com,mystery\n", 2, `column "subscriber_type": unknown status "mystery"`},
		{"unknown frequency", "l.csv", "email,frequency\na@example.com,hourly\n", 2, `unknown frequency "hourly"`},
		{"bad date", "l.csv", "email,created_at\na@example.com,yesterday\n", 2, `column "created_at": "yesterday" is not a date`},
		{"bad email_disabled", "l.csv", "email,email_disabled\na@example.com,maybe\n", 2, `"maybe" is neither true nor false`},
		{"several problems in a row", "l.csv", "email,status,frequency\nbad,gone,hourly\n", 2, `"bad" is not an email address (mail: missing '@' or angle-addr); column "status": unknown status "gone" (want active, pending, unsubscribed or bounced); column "frequency"`},
		{"control character in a name", "l.csv", "email,name\na@example.com,\"Ada\x00\"\n", 2, "has a control character"},
		{"name not UTF-8", "l.csv", "email,name\na@example.com,Ren\xe9\n", 2, "not UTF-8"},
		{"no email column", "l.csv", "\n\nName,Phone\nAda,555\n", 3, `no email column (looked for "email", "email address", "e-mail"); the header row is "Name", "Phone"`},
		{"headerless list", "l.csv", "ada@example.com\n", 1, `the header row is "ada@example.com"; add an "email" header`},
		{"email column twice", "l.csv", "Email,E-mail,email\na@example.com,b@example.com,c@example.com\n", 1, `the header has column "Email" twice`},
		{"bare quote", "l.csv", "email,name\na@example.com,Ada\nb@example.com,Gr\"ace\n", 3, `column 17: bare " in non-quoted-field`},
		{"unterminated quote", "l.csv", "email,name\na@example.com,\"Ada\nb@example.com,Grace\n", 2, "extraneous or missing \" in quoted-field at line 3, column 21, in the row that starts here"},
		{"bad row after a multi-line field", "l.csv", "email,name\na@example.com,\"Ada\n\nLovelace\"\nbad@,Grace\n", 5, `"bad@" is not an email address`},
		{"empty csv", "l.csv", "", 0, "the file is empty"},
		{"only blank lines", "l.csv", "\n\r\n,,\n", 0, "the file is empty"},
		{"yaml bad address", "l.yaml", "subscribers:\n  - email: a@example.com\n  - email: nope\n    name: N\n", 3, `"nope" is not an email address`},
		{"yaml missing email", "l.yaml", "- name: Ada\n", 1, "no email address"},
		{"yaml unknown key", "l.yaml", "- email: a@example.com\n  frequncy: weekly\n", 1, `"frequncy": unknown key`},
		{"yaml key twice", "l.yaml", "- email: a@example.com\n  name: A\n  name: B\n", 1, "name: given twice"},
		{"yaml bad status", "l.yaml", "- email: a@example.com\n- email: b@example.com\n  status: gone\n", 2, `status: unknown status "gone"`},
		{"yaml nested value", "l.yaml", "- email: [a@example.com]\n", 1, "email: want a single value"},
		{"yaml item not a map", "l.yaml", "- a@example.com\n", 1, "a subscriber is a map"},
		{"yaml not a list", "l.yaml", "email: a@example.com\n", 1, `unexpected key "email"`},
		{"yaml scalar", "l.yaml", "hello\n", 1, "want a list of subscribers"},
		{"yaml syntax", "l.yaml", "- email: a@example.com\n- email: b@example.com\n  name: a: b\n", 3, "YAML: mapping values are not allowed"},
		{"yaml unknown anchor", "l.yaml", "- email: *nope\n", 0, "unknown anchor"},
		{"yaml two documents", "l.yaml", "- email: a@example.com\n---\n- email: b@example.com\n", 2, "a second YAML document"},
		{"yaml empty", "l.yml", "", 0, "the file is empty"},
		{"json bad address", "l.json", "[\n\t{\"email\": \"a@example.com\"},\n\t{\"email\": \"b@\"}\n]", 3, `"b@" is not an email address`},
		{"unknown format", "l.txt", "email\na@example.com\n", 0, "unknown list format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, merged, err := Parse(tt.file, strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("got %d records and no error, want an error", len(recs))
			}
			if recs != nil || merged != 0 {
				t.Errorf("got %d records and %d merged with the error, want none", len(recs), merged)
			}
			prefix := tt.file + ":"
			if tt.line > 0 {
				prefix = fmt.Sprintf("%s:%d: ", tt.file, tt.line)
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("got %T %v, want an *Error", err, err)
				}
				if e.File != tt.file || e.Line != tt.line {
					t.Errorf("got %s:%d, want %s:%d", e.File, e.Line, tt.file, tt.line)
				}
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("got %q, want it to start with %q", err, prefix)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestParseUnknownFormat(t *testing.T) {
	_, _, err := Parse("list.xlsx", strings.NewReader(""))
	if !errors.Is(err, ErrFormat) {
		t.Errorf("got %v, want ErrFormat", err)
	}
}

// A list with many bad rows reports each of the first ten by line, then how many more.
func TestParseManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("email\nok@example.com\n")
	for i := range 13 {
		fmt.Fprintf(&b, "bad%d\n", i)
	}
	_, _, err := Parse("l.csv", strings.NewReader(b.String()))
	if err == nil {
		t.Fatal("got no error, want one")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 11 {
		t.Fatalf("got %d lines, want 11:\n%v", len(lines), err)
	}
	for i, l := range lines[:10] {
		if want := fmt.Sprintf("l.csv:%d: \"bad%d\"", i+3, i); !strings.HasPrefix(l, want) {
			t.Errorf("line %d: got %q, want it to start with %q", i, l, want)
		}
	}
	if got, want := lines[10], "l.csv: and 3 more bad rows"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 {
		t.Errorf("got first error %+v, want line 3", e)
	}
}

func TestParseDuplicates(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		in     string
		want   []Record
		merged int
	}{
		{
			name:   "an address in any case is one address",
			file:   "l.csv",
			in:     "email\nada@Example.COM\nada@example.com\nADA@example.com\nada@EXAMPLE.com\n",
			want:   []Record{rec(2, "ada@Example.COM", "", "", "", "")},
			merged: 3,
		},
		{
			name: "later rows fill what the first left empty",
			file: "l.csv",
			in: "email,name,frequency,consent_at\n" +
				"ada@example.com,,,\n" +
				"grace@example.org,Grace,daily,2020-01-01\n" +
				"ada@EXAMPLE.com,Ada,weekly,2021-01-01\n" +
				"grace@example.org,G. Hopper,weekly,2019-01-01\n",
			want: []Record{
				rec(2, "ada@example.com", "Ada", "", weekly, "2021-01-01T00:00:00Z"),
				rec(3, "grace@example.org", "Grace", "", daily, "2020-01-01T00:00:00Z"),
			},
			merged: 2,
		},
		{
			name: "the status that mails less wins",
			file: "l.csv",
			in: "email,status\n" +
				"a@example.com,active\na@example.com,unsubscribed\na@example.com,active\n" +
				"b@example.com,bounced\nb@example.com,pending\n" +
				"c@example.com,bounced\nc@example.com,unsubscribed\n" +
				"d@example.com,unsubscribed\nd@example.com,bounced\n",
			want: []Record{
				rec(2, "a@example.com", "", unsubscribed, "", ""),
				rec(5, "b@example.com", "", bounced, "", ""),
				rec(7, "c@example.com", "", unsubscribed, "", ""),
				rec(9, "d@example.com", "", unsubscribed, "", ""),
			},
			merged: 5,
		},
		{
			name:   "yaml",
			file:   "l.yaml",
			in:     "- email: a@example.com\n- email: a@EXAMPLE.com\n  name: Ada\n- email: A@example.com\n",
			want:   []Record{rec(1, "a@example.com", "Ada", "", "", "")},
			merged: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, merged, err := Parse(tt.file, strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if merged != tt.merged {
				t.Errorf("got %d merged, want %d", merged, tt.merged)
			}
			checkRecords(t, got, tt.want)
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name, email, want string
	}{
		{"lower-cases the address", "Ada@Example.COM", "ada@example.com"},
		{"the local part's ASCII only", "ADA.Lovelace+Élan@example.com", "ada.lovelace+Élan@example.com"},
		{"non-ASCII domain", "a@ÉXAMPLE.fr", "a@éxample.fr"},
		{"no at sign", "Nobody", "Nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Key(tt.email); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParseConsentRecord checks the parts of the consent record beyond the consent time: the IP address,
// when they confirmed and when they left, as Mailchimp's exports and Herald's own export carry them.
func TestParseConsentRecord(t *testing.T) {
	type want struct {
		email, ip           string
		confirmed, unsubbed string // "" for none
	}
	tests := []struct {
		name string
		file string
		in   string // "" reads file from testdata
		want []want
	}{
		{
			name: "mailchimp subscribed",
			file: "mailchimp_subscribed.csv",
			want: []want{
				{"ada@example.com", "203.0.113.7", "2023-04-21T11:17:30Z", ""},
				{"grace@Example.ORG", "", "2018-02-05T19:28:22Z", ""},
				{"alan@example.net", "", "", ""}, // opted in, never confirmed
			},
		},
		{
			name: "mailchimp unsubscribed",
			file: "mailchimp_unsubscribed.csv",
			want: []want{
				{"edsger@example.com", "", "2018-02-12T10:54:27Z", "2018-07-23T12:19:27Z"},
				{"barbara@example.com", "", "2020-12-25T13:35:34Z", "2022-12-05T21:01:47Z"},
			},
		},
		{
			name: "herald export",
			file: "export.csv",
			in: "id,email,name,status,frequency,created_at,consent_source,consent_at,consent_ip,confirmed_at,unsubscribed_at,hard_bounces,last_digest_at\n" +
				"1,a@example.com,,active,weekly,2025-01-01T00:00:00Z,web,2025-01-01T00:00:00Z,2001:db8::1,2025-01-01T00:05:00.5Z,,1,\n" +
				"2,b@example.com,,unsubscribed,immediate,2025-01-01T00:00:00Z,import,2025-01-01T00:00:00Z,,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,0,\n" +
				// A pending subscriber has not confirmed, and one who is not unsubscribed has not left.
				"3,c@example.com,,pending,immediate,2025-01-01T00:00:00Z,web,2025-01-01T00:00:00Z,192.0.2.1,2025-01-02T00:00:00Z,2025-01-03T00:00:00Z,0,\n",
			want: []want{
				{"a@example.com", "2001:db8::1", "2025-01-01T00:05:00.5Z", ""},
				{"b@example.com", "", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"},
				{"c@example.com", "192.0.2.1", "", ""},
			},
		},
		{
			name: "duplicates fill in",
			file: "list.csv",
			in:   "email,consent_ip,confirmed_at\na@example.com,,\na@EXAMPLE.com,192.0.2.9,2025-01-01T00:00:00Z\n",
			want: []want{{"a@example.com", "192.0.2.9", "2025-01-01T00:00:00Z", ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Record
			var err error
			if tt.in == "" {
				got, _, err = parseFile(t, tt.file)
			} else {
				got, _, err = Parse(tt.file, strings.NewReader(tt.in))
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				var confirmed, unsubbed time.Time
				if w.confirmed != "" {
					confirmed = date(w.confirmed)
				}
				if w.unsubbed != "" {
					unsubbed = date(w.unsubbed)
				}
				if g.Email != w.email || g.ConsentIP != w.ip || !g.ConfirmedAt.Equal(confirmed) || !g.UnsubscribedAt.Equal(unsubbed) {
					t.Errorf("record %d: got %s ip %q confirmed %v unsubscribed %v, want %+v", i, g.Email, g.ConsentIP, g.ConfirmedAt, g.UnsubscribedAt, w)
				}
			}
		})
	}

	_, _, err := Parse("list.csv", strings.NewReader("Email Address,CONFIRM_TIME,CONFIRM_IP\na@example.com,yesterday,not-an-ip\n"))
	if err == nil {
		t.Fatal("got no error for a bad time and IP, want one")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "list.csv:2: ") || strings.Count(msg, `"yesterday" is not a date`) != 1 || !strings.Contains(msg, `column "CONFIRM_IP": "not-an-ip" is not an IP address`) {
		t.Errorf("got %q, want one error at list.csv:2 naming the time once and the IP", msg)
	}
}

// TestCSVTextRoundTrip: what CSVText writes, the import reads back as it was, formulas and quotes
// included; and a quote typed in a file that Herald did not write is kept.
func TestCSVTextRoundTrip(t *testing.T) {
	for _, name := range []string{"Ada", "=HYPERLINK(\"x\")", "+1", "-x", "@a", "'hello", "'=x", "''", "'"} {
		var b strings.Builder
		w := csv.NewWriter(&b)
		w.WriteAll([][]string{{"email", "name"}, {"a@example.com", CSVText(name)}})
		recs, _, err := Parse("l.csv", strings.NewReader(b.String()))
		if err != nil || len(recs) != 1 || recs[0].Name != name {
			t.Errorf("name %q: got %+v, %v", name, recs, err)
		}
	}
	recs, _, err := Parse("l.csv", strings.NewReader("email,name\na@example.com,'hello\n"))
	if err != nil || len(recs) != 1 || recs[0].Name != "'hello" {
		t.Errorf("a quote typed in a file: got %+v, %v", recs, err)
	}
}
