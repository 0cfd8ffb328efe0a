package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/heraldhq/herald/store"
)

// fillChoices puts on p the topics (the site's tags and categories) and, on a multilingual site (its
// posts in more than one language), the languages a reader may choose, with tags and lang checked.
func (s *Server) fillChoices(ctx context.Context, p *page, tags store.Tags, lang string) error {
	c, err := s.o.Store.Choices(ctx)
	if err != nil {
		return fmt.Errorf("server: the choices of the forms: %w", err)
	}
	mine := tags.List()
	for _, t := range c.Tags {
		p.Topics = append(p.Topics, option{Value: t, Label: t, Selected: slices.Contains(mine, t)})
	}
	if len(c.Langs) > 1 {
		p.Langs = append(p.Langs, option{Value: "", Label: "The site's main language", Selected: lang == ""})
		for _, l := range c.Langs {
			label := s.o.LangNames[l]
			if label == "" {
				label = l
			}
			p.Langs = append(p.Langs, option{Value: l, Label: label, Selected: l == lang})
		}
	}
	return nil
}

// readChoices reads the topics (tag, any number) and language (lang) of a posted form. chosen is false
// when one of them is not among those the site offers.
func (s *Server) readChoices(r *http.Request) (tags store.Tags, lang string, chosen bool, err error) {
	picked, lang := r.PostForm["tag"], r.PostForm.Get("lang")
	if len(picked) == 0 && lang == "" {
		return "", "", true, nil
	}
	c, err := s.o.Store.Choices(r.Context())
	if err != nil {
		return "", "", false, fmt.Errorf("server: the choices of the forms: %w", err)
	}
	tags = store.MakeTags(picked...)
	for _, t := range tags.List() {
		if !slices.Contains(c.Tags, t) {
			return tags, lang, false, nil
		}
	}
	if lang != "" && (len(c.Langs) < 2 || !slices.Contains(c.Langs, lang)) {
		return tags, lang, false, nil
	}
	return tags, lang, true, nil
}
