package inbox

import (
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/store"
)

// FuzzParse: whatever the message, Parse does not panic, and what it reads is well formed: a known kind,
// an id and Message-IDs of printable ASCII with no space, addresses with no space or control character,
// one-line details of bounded size, recipients only in a bounce or a complaint, and each of the kind's
// events.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"rfc3464-timeout.eml", "rfc3464-multiple.eml", "postfix-headers.eml", "gmail.eml",
		"yahoo-deferred.eml", "rfc5965.eml", "yahoo-arf.eml", "not-spam.eml", "unsubscribe-mailto.eml",
		"unsubscribe-reply.eml", "reply.eml"} {
		f.Add(sample(f, name, "<p1.1@blog.example.com>", "tok"))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := Parse(raw, "unsubscribe@blog.example.com")
		if err != nil {
			return
		}
		if !slices.Contains([]string{KindBounce, KindComplaint, KindUnsubscribe, KindOther}, r.Kind) {
			t.Fatalf("kind %q", r.Kind)
		}
		if r.ID == "" || !printable(r.ID) {
			t.Fatalf("id %q", r.ID)
		}
		if r.OriginalID != "" && (!printable(r.OriginalID) || r.OriginalID[0] != '<' || r.OriginalID[len(r.OriginalID)-1] != '>') {
			t.Fatalf("original id %q", r.OriginalID)
		}
		for _, a := range append(slices.Clone(r.Addresses), r.From) {
			if strings.ContainsAny(a, " \t\r\n\x00") {
				t.Fatalf("address %q", a)
			}
		}
		if (r.Kind == KindBounce || r.Kind == KindComplaint) != (len(r.Recipients) > 0) {
			t.Fatalf("%s with %d recipients", r.Kind, len(r.Recipients))
		}
		for _, rc := range r.Recipients {
			if strings.ContainsAny(rc.Address, " \t\r\n\x00") || len(rc.Detail) > maxDetail || strings.ContainsAny(rc.Detail, "\r\n\x00") {
				t.Fatalf("recipient %q", rc)
			}
			want := []string{store.EventHardBounce, store.EventSoftBounce, store.EventDelivered}
			if r.Kind == KindComplaint {
				want = []string{store.EventComplaint}
			}
			if !slices.Contains(want, rc.Kind) {
				t.Fatalf("a %s's recipient of kind %q", r.Kind, rc.Kind)
			}
		}
	})
}
