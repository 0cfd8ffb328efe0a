package publish

import (
	"net/mail"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/mailer"
	"github.com/heraldhq/herald/posts"
)

// TestPreparedShapes: a run prepares each post once and each digest of the same posts (in the same
// order) once; a digest of one post is not that post's email; a run that meets many keeps few.
func TestPreparedShapes(t *testing.T) {
	c, err := mailer.NewComposer(mailer.Options{From: mail.Address{Address: "author@blog.example.com"},
		SiteTitle: "Blog", SiteURL: "https://blog.example.com", PostalAddress: "1 Main St",
		UnsubscribeMailto: "leave@blog.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	post := func(id string) *posts.Post {
		return &posts.Post{ID: id, Title: "Post " + id, URL: "https://blog.example.com/" + id, ContentHTML: "<p>" + id + "</p>"}
	}
	a, b := post("a"), post("b")
	p := newPrepared(c)
	get := func(digest bool, ps ...*posts.Post) *mailer.Prepared {
		t.Helper()
		pp, err := p.get(ps, digest)
		if err != nil {
			t.Fatal(err)
		}
		return pp
	}
	if get(false, a) != get(false, a) {
		t.Error("a post was prepared twice")
	}
	if get(true, a, b) != get(true, a, b) {
		t.Error("a digest was prepared twice")
	}
	for _, tt := range []struct {
		name string
		x, y *mailer.Prepared
	}{
		{"a post and a digest of it", get(false, a), get(true, a)},
		{"two posts", get(false, a), get(false, b)},
		{"a digest in another order", get(true, a, b), get(true, b, a)},
	} {
		if tt.x == tt.y {
			t.Errorf("%s share a prepared email", tt.name)
		}
	}
	m, err := get(true, a, b).Message(mailer.Recipient{Email: "ann@example.com"}, "digest/k", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := "Post a and 1 more"; m.Subject != want { // the first post's title leads a digest's subject
		t.Errorf("digest subject %q, want %q", m.Subject, want)
	}
	for i := range 3 * maxPrepared {
		get(false, post(strconv.Itoa(i)))
		if len(p.m) > maxPrepared {
			t.Fatalf("%d prepared emails kept, want at most %d", len(p.m), maxPrepared)
		}
	}
}
