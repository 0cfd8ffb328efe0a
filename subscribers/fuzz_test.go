package subscribers

import (
	"bytes"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var fuzzNames = []string{"list.csv", "list.yaml", "list.json"}

// FuzzParse checks that Parse never panics, that whatever it accepts is importable (a bare address
// net/mail takes as it is written, a known status and frequency, a one-line name, one record per Key),
// and that every line of an error names the file.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for i, n := range fuzzNames {
			if filepath.Ext(n) == filepath.Ext(file) || filepath.Ext(file) == ".yml" && i == 1 {
				f.Add(b, uint8(i))
			}
		}
	}
	f.Add([]byte("\ufeffemail,name\r\n\"a@example.com\",\"A,\nB\"\r\n"), uint8(0))
	f.Add([]byte("email,status\na@Example.com,unsubscribed\na@example.COM,active\n"), uint8(0))
	f.Add([]byte("- email: &a a@example.com\n- email: *a\n"), uint8(1))

	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		name := fuzzNames[int(format)%len(fuzzNames)]
		recs, merged, err := Parse(name, bytes.NewReader(data))
		if err != nil {
			if recs != nil || merged != 0 {
				t.Errorf("got %d records and %d merged with error %v, want none", len(recs), merged, err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, name+":") {
					t.Errorf("got error line %q, want it to start with %q", line, name+":")
				}
			}
			return
		}
		if merged < 0 {
			t.Errorf("got %d merged, want >= 0", merged)
		}
		keys := make(map[string]bool)
		for _, r := range recs {
			a, err := mail.ParseAddress(r.Email)
			if err != nil || a.Name != "" || a.Address != r.Email {
				t.Errorf("got address %q, which net/mail reads as %v, %v", r.Email, a, err)
			}
			if i := strings.IndexFunc(r.Email, func(c rune) bool { return !unicode.IsGraphic(c) || unicode.IsSpace(c) }); i >= 0 || len(r.Email) > 254 {
				t.Errorf("got address %q, with a space or control character or too long", r.Email)
			}
			if keys[Key(r.Email)] {
				t.Errorf("got key %q twice", Key(r.Email))
			}
			keys[Key(r.Email)] = true
			if rank[r.Status] == 0 && r.Status != active {
				t.Errorf("%q: got status %q", r.Email, r.Status)
			}
			if r.Frequency != immediate && r.Frequency != daily && r.Frequency != weekly && r.Frequency != monthly {
				t.Errorf("%q: got frequency %q", r.Email, r.Frequency)
			}
			if !utf8.ValidString(r.Name) || strings.IndexFunc(r.Name, func(c rune) bool {
				return unicode.IsControl(c) || c == '\u2028' || c == '\u2029'
			}) >= 0 || strings.TrimSpace(r.Name) != r.Name {
				t.Errorf("%q: got name %q", r.Email, r.Name)
			}
			if r.Line < 1 {
				t.Errorf("%q: got line %d", r.Email, r.Line)
			}
		}
	})
}
