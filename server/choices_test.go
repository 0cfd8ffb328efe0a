package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/token"
)

// publishPosts records a run of posts with tags and languages, as herald publish does, so that the forms
// offer them.
func (e *env) publishPosts(posts ...store.Item) {
	e.t.Helper()
	for i := range posts {
		posts[i].URL, posts[i].Title, posts[i].Hash = "https://blog.example.com/"+posts[i].ID, posts[i].ID, posts[i].ID
	}
	if err := e.st.Record(e.t.Context(), &store.Run{Started: e.now.Add(-2 * time.Hour), Command: "publish"}, posts); err != nil {
		e.t.Fatal(err)
	}
}

func wantIn(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("the page has no %s:\n%s", want, body)
		}
	}
}

func TestPreferencesChoices(t *testing.T) {
	e := newEnv(t, nil)
	sub := e.add("Ann@Example.com", store.Active)
	tok := token.Sign(secret, "preferences", sub.ID, time.Time{})

	// A site with no tags and one language offers neither; the page says whose preferences these are.
	w := e.do("GET", "/preferences?token="+tok, nil, nil)
	wantStatus(t, w, http.StatusOK, `<p id="address">For <strong>Ann@Example.com</strong></p>`)
	wantIn(t, w.Body.String(), `<option value="monthly">A monthly digest of the new posts</option>`)
	if strings.Contains(w.Body.String(), `id="topics"`) || strings.Contains(w.Body.String(), `id="lang"`) {
		t.Errorf("a site without tags or languages offers them:\n%s", w.Body)
	}

	e.publishPosts(store.Item{ID: "a", Tags: store.MakeTags("Go", "Releases"), Lang: "en"},
		store.Item{ID: "b", Tags: store.MakeTags("news"), Lang: "fr"})
	w = e.do("GET", "/preferences?token="+tok, nil, nil)
	wantStatus(t, w, http.StatusOK, `id="topics"`)
	wantIn(t, w.Body.String(), `<input type="checkbox" name="tag" value="go">`, `<input type="checkbox" name="tag" value="releases">`,
		`<option value="" selected>The site&#39;s main language</option>`, `<option value="fr">fr</option>`)

	w = e.do("POST", "/preferences", url.Values{"token": {tok}, "frequency": {"monthly"}, "tag": {"go", "news"}, "lang": {"fr"}, "action": {"save"}}, nil)
	wantStatus(t, w, http.StatusOK, "you will get a monthly digest of the new posts about go, news.")
	if got := e.sub("ann@example.com"); got.Frequency != store.Monthly || got.Tags != "|go|news|" || got.Lang != "fr" {
		t.Errorf("after saving: %+v", got)
	}
	w = e.do("GET", "/preferences?token="+tok, nil, nil)
	wantIn(t, w.Body.String(), `<input type="checkbox" name="tag" value="go" checked>`, `<input type="checkbox" name="tag" value="releases">`,
		`<option value="fr" selected>fr</option>`, `<option value="monthly" selected>`)

	// A topic or language the site does not have is refused, and changes nothing.
	before := e.sub("ann@example.com")
	for _, f := range []url.Values{{"tag": {"crypto"}}, {"lang": {"de"}}} {
		f.Set("token", tok)
		f.Set("frequency", "daily")
		wantStatus(t, e.do("POST", "/preferences", f, nil), http.StatusUnprocessableEntity, "Choose among the topics and languages offered.")
	}
	if got := e.sub("ann@example.com"); got != before {
		t.Errorf("a refused change changed %+v to %+v", before, got)
	}
	// None checked is every post again.
	wantStatus(t, e.do("POST", "/preferences", url.Values{"token": {tok}, "frequency": {"weekly"}}, nil), http.StatusOK, "weekly digest of the new posts.")
	if got := e.sub("ann@example.com"); got.Tags != "" || got.Lang != "" {
		t.Errorf("after saving no choice: tags %q, lang %q; want none", got.Tags, got.Lang)
	}
}

func TestSignUpChoices(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.LangNames = map[string]string{"de": "Deutsch"} })
	e.publishPosts(store.Item{ID: "a", Tags: store.MakeTags("go"), Lang: "en"}, store.Item{ID: "b", Tags: store.MakeTags("news"), Lang: "de"})
	w := e.do("GET", "/subscribe?tag=news", nil, nil)
	wantStatus(t, w, http.StatusOK, `<input type="checkbox" name="tag" value="news" checked>`)
	wantIn(t, w.Body.String(), `<input type="checkbox" name="tag" value="go">`, `<option value="de">Deutsch</option>`, `<option value="en">en</option>`,
		`<option value="monthly">A monthly digest of the new posts</option>`)

	wantStatus(t, e.signUp("bob@example.com", url.Values{"tag": {"nope"}}), http.StatusUnprocessableEntity, "Choose among the topics")
	if len(e.conf.all()) != 0 {
		t.Fatalf("a refused sign-up sent %d confirmations", len(e.conf.all()))
	}
	wantStatus(t, e.signUp("bob@example.com", url.Values{"tag": {"News"}, "lang": {"de"}, "frequency": {"monthly"}}), http.StatusOK, "")
	got := e.sub("bob@example.com")
	if got.Tags != "|news|" || got.Lang != "de" || got.Frequency != store.Monthly || got.Status != store.Pending {
		t.Errorf("after the sign-up: %+v, want pending, monthly, |news|, de", got)
	}
}

// A reader's topic or language that the site no longer has (its posts removed) stays theirs: the
// preferences page shows it checked, and saving the page (to change the frequency, say) keeps it, rather
// than dropping it, which made a reader of topics "go" alone a reader of every post.
func TestPreferencesKeepGoneChoices(t *testing.T) {
	e := newEnv(t, nil)
	sub := e.add("ann@example.com", store.Active)
	tok := token.Sign(secret, "preferences", sub.ID, time.Time{})
	e.publishPosts(store.Item{ID: "a", Tags: store.MakeTags("go"), Lang: "fa"},
		store.Item{ID: "b", Tags: store.MakeTags("news"), Lang: "fr"}, store.Item{ID: "c", Lang: "en"})
	if err := e.st.UpdateSubscriber(t.Context(), sub.ID, e.now, func(s *store.Subscriber) {
		s.Tags, s.Lang = store.MakeTags("go", "news"), "fa"
	}); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Minute)
	e.publishPosts(store.Item{ID: "b", Tags: store.MakeTags("news"), Lang: "fr"}, store.Item{ID: "c", Lang: "en"}) // a is gone

	w := e.do("GET", "/preferences?token="+tok, nil, nil)
	wantStatus(t, w, http.StatusOK, `id="topics"`)
	wantIn(t, w.Body.String(), `<input type="checkbox" name="tag" value="go" checked>`, `<input type="checkbox" name="tag" value="news" checked>`,
		`<option value="fa" selected>fa</option>`)

	// The form as the page gives it, with another frequency.
	w = e.do("POST", "/preferences", url.Values{"token": {tok}, "frequency": {"weekly"}, "tag": {"go", "news"}, "lang": {"fa"}, "action": {"save"}}, nil)
	wantStatus(t, w, http.StatusOK, "you will get a weekly digest of the new posts about go, news.")
	if got := e.sub("ann@example.com"); got.Frequency != store.Weekly || got.Tags != "|go|news|" || got.Lang != "fa" {
		t.Errorf("after saving: frequency %q, tags %q, lang %q; want weekly, |go|news|, fa", got.Frequency, got.Tags, got.Lang)
	}
	// A topic the site does not have and that is not theirs is still refused.
	w = e.do("POST", "/preferences", url.Values{"token": {tok}, "frequency": {"weekly"}, "tag": {"crypto"}}, nil)
	wantStatus(t, w, http.StatusUnprocessableEntity, "Choose among the topics and languages offered.")
}
