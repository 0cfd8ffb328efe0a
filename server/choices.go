package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/heraldhq/herald/store"
)

// fillChoices puts on p the topics (the site's tags and categories) and, on a multilingual site (its
// posts in more than one language), the languages a reader may choose, with tags and lang checked. When
// they are a subscriber's own (own, on the preferences page), a topic or language of theirs that the site
// no longer has (its posts removed) is offered too, checked: left out, saving the page would drop it
// without the reader knowing (a reader of one topic would get every post).
func (s *Server) fillChoices(ctx context.Context, p *page, tags store.Tags, lang string, own bool) error {
	c, err := s.o.Store.Choices(ctx)
	if err != nil {
		return fmt.Errorf("server: the choices of the forms: %w", err)
	}
	mine, topics, langs := tags.List(), c.Tags, c.Langs
	if own {
		topics, langs = withOwn(topics, mine...), withOwn(langs, lang)
	}
	for _, t := range topics {
		p.Topics = append(p.Topics, option{Value: t, Label: t, Selected: slices.Contains(mine, t)})
	}
	if len(c.Langs) > 1 || len(langs) > len(c.Langs) {
		p.Langs = append(p.Langs, option{Value: "", Label: "The site's main language", Selected: lang == ""})
		for _, l := range langs {
			label := s.o.LangNames[l]
			if label == "" {
				label = l
			}
			p.Langs = append(p.Langs, option{Value: l, Label: label, Selected: l == lang})
		}
	}
	return nil
}

// withOwn is offered with the reader's own choices that it lacks (none for ""), sorted.
func withOwn(offered []string, own ...string) []string {
	out := slices.Clone(offered)
	for _, o := range own {
		if o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// readChoices reads the topics (tag, any number) and language (lang) of a posted form. chosen is false
// when one of them is neither among those the site offers nor the reader's own already (own: the
// subscriber whose preferences these are, nil on the sign-up page).
func (s *Server) readChoices(r *http.Request, own *store.Subscriber) (tags store.Tags, lang string, chosen bool, err error) {
	picked, lang := r.PostForm["tag"], r.PostForm.Get("lang")
	if len(picked) == 0 && lang == "" {
		return "", "", true, nil
	}
	c, err := s.o.Store.Choices(r.Context())
	if err != nil {
		return "", "", false, fmt.Errorf("server: the choices of the forms: %w", err)
	}
	var mine []string
	ownLang := ""
	if own != nil {
		mine, ownLang = own.Tags.List(), own.Lang
	}
	tags = store.MakeTags(picked...)
	for _, t := range tags.List() {
		if !slices.Contains(c.Tags, t) && !slices.Contains(mine, t) {
			return tags, lang, false, nil
		}
	}
	if lang != "" && lang != ownLang && (len(c.Langs) < 2 || !slices.Contains(c.Langs, lang)) {
		return tags, lang, false, nil
	}
	return tags, lang, true, nil
}
