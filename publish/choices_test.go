package publish

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/posts"
)

func TestPlanOptions(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	post := func(lang string) *posts.Post { return &posts.Post{Lang: lang} }
	tests := []struct {
		name string
		site *posts.Site
		lang string
	}{
		{"one language: every post for everyone", &posts.Site{Lang: "en", Posts: []*posts.Post{post("en"), post("EN")}}, ""},
		{"no language at all", &posts.Site{Posts: []*posts.Post{post(""), post("")}}, ""},
		{"posts in two languages: the site's is the default", &posts.Site{Lang: "en", Posts: []*posts.Post{post("en"), post("fr")}}, "en"},
		{"Hugo's languages, one with posts so far", &posts.Site{Lang: "de", Languages: []posts.Language{{Lang: "de"}, {Lang: "en"}},
			Posts: []*posts.Post{post("de")}}, "de"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.site.Location = berlin
			o := PlanOptions(tt.site, 7, time.Friday)
			if o.Lang != tt.lang || o.Hour != 7 || o.Weekday != time.Friday || o.Location != berlin {
				t.Errorf("got %+v, want lang %q, 7, Friday, Europe/Berlin", o, tt.lang)
			}
		})
	}
}
