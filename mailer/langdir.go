package mailer

import (
	"strings"

	"golang.org/x/text/language"
)

// rtlScripts are the ISO 15924 codes of the scripts written right to left that language tags name or
// imply (Unicode's bidi class R or AL for their letters).
var rtlScripts = map[string]bool{
	"Adlm": true, "Arab": true, "Aran": true, "Armi": true, "Avst": true, "Chrs": true, "Cprt": true, "Elym": true,
	"Hatr": true, "Hebr": true, "Hung": true, "Khar": true, "Lydi": true, "Mand": true, "Mani": true, "Mend": true,
	"Nbat": true, "Narb": true, "Nkoo": true, "Orkh": true, "Ougr": true, "Palm": true, "Phli": true, "Phlp": true,
	"Phnx": true, "Prti": true, "Rohg": true, "Samr": true, "Sarb": true, "Sogd": true, "Sogo": true, "Syrc": true,
	"Thaa": true, "Yezi": true,
}

// inLanguage makes d an email in the language lang (a post's posts.Post.Lang): its lang and dir, and on a
// multilingual site that language's title and home page.
func (c *Composer) inLanguage(d *TemplateData, lang string) {
	d.Lang, d.Dir = lang, c.dirOf(lang)
	for _, l := range c.o.Languages {
		if l.Lang == lang && l.Title != "" && l.URL != "" {
			d.Site.Title, d.Site.URL = sanitize(l.Title), l.URL
			return
		}
	}
}

// dirOf is the direction of the text in the language tag lang: the direction its language of the site
// sets (Hugo's languageDirection), else that of its script (the function textDir).
func (c *Composer) dirOf(lang string) string {
	for _, l := range c.o.Languages {
		if l.Lang == lang && l.Dir != "" {
			return l.Dir
		}
	}
	return textDir(lang)
}

// textDir is the direction of the text of a language tag, for an HTML dir attribute: "rtl" when the tag's
// script, as written ("az-Arab") or as likely for the language ("fa-IR" is Arabic script, "yi" Hebrew), is
// written right to left; else "ltr", also for an empty or malformed tag.
func textDir(tag string) string {
	t, err := language.Parse(strings.TrimSpace(tag))
	if err != nil {
		return "ltr"
	}
	if s, conf := t.Script(); conf != language.No && rtlScripts[s.String()] {
		return "rtl"
	}
	return "ltr"
}
