package server

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/templates"
)

var pageNames = []string{"subscribe", "confirm", "unsubscribe", "preferences", "message"}

// parsePages parses templates/pages/layout.html and choices.html (the form fields that subscribe.html and
// preferences.html share) with each page, the site's copy of a file winning.
func parsePages(site fs.FS) (map[string]*template.Template, error) {
	read := func(name string) (string, error) {
		if site != nil {
			b, err := fs.ReadFile(site, name)
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("server: read template %s: %w", name, err)
			}
		}
		b, err := fs.ReadFile(templates.FS, name)
		if err != nil {
			return "", fmt.Errorf("server: read default template %s: %w", name, err)
		}
		return string(b), nil
	}
	layout, err := read("pages/layout.html")
	if err != nil {
		return nil, err
	}
	base, err := template.New("layout.html").Option("missingkey=error").Parse(layout)
	if err != nil {
		return nil, fmt.Errorf("server: template %w", err)
	}
	choices, err := read("pages/choices.html")
	if err != nil {
		return nil, err
	}
	if _, err := base.New("choices.html").Parse(choices); err != nil {
		return nil, fmt.Errorf("server: template %w", err)
	}
	pages := make(map[string]*template.Template)
	for _, name := range pageNames {
		src, err := read("pages/" + name + ".html")
		if err != nil {
			return nil, err
		}
		t := template.Must(base.Clone())
		if _, err := t.New(name + ".html").Parse(src); err != nil {
			return nil, fmt.Errorf("server: template %w", err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page is what the page templates see. Every string is plain text; html/template escapes it.
type page struct {
	Lang string
	Site struct{ Title, URL string }
	Base string // the path the routes live under: "" or "/news"

	Title   string // the h1 and the <title>
	Message string // message.html
	Link    *link  // message.html: where to go next; may be nil
	Error   string // subscribe.html: what is wrong with the form
	Notice  string // preferences.html

	// The forms' values.
	Token          string
	Email, Name    string
	Frequencies    []option
	Topics         []option // the site's tags and categories: none checked is every post
	Langs          []option // the site's languages, on a multilingual site; "" is its default
	PreferencesURL string   // unsubscribe.html: a gentler way out
}

type link struct{ URL, ID, Text string }

type option struct {
	Value, Label string
	Selected     bool
}

func (s *Server) newPage(title string) *page {
	p := &page{Lang: s.o.Lang, Base: s.base, Title: title}
	p.Site.Title, p.Site.URL = s.o.SiteTitle, s.o.SiteURL
	return p
}

func frequencies(selected string) []option {
	if selected == "" {
		selected = store.Immediate
	}
	opts := make([]option, len(frequencyLabels))
	for i, f := range frequencyLabels {
		opts[i] = option{Value: f.Value, Label: f.Label, Selected: f.Value == selected}
	}
	return opts
}

// frequencyLabels are the frequencies a subscriber can choose, in the order the forms show them.
var frequencyLabels = []option{
	{Value: store.Immediate, Label: "Each new post, as it is published"},
	{Value: store.Daily, Label: "A daily digest of the new posts"},
	{Value: store.Weekly, Label: "A weekly digest of the new posts"},
	{Value: store.Monthly, Label: "A monthly digest of the new posts"},
}

// frequencyLabel is the label of frequency f, starting in lower case for the middle of a sentence.
func frequencyLabel(f string) string {
	for _, o := range frequencyLabels {
		if o.Value == f {
			return strings.ToLower(o.Label[:1]) + o.Label[1:]
		}
	}
	return f
}

// render writes a page. The headers keep the pages, which carry tokens in their URLs and forms, out of
// caches, Referer headers and other sites' frames.
func (s *Server) render(w http.ResponseWriter, status int, name string, p *page) {
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	securityHeaders(h)
	w.WriteHeader(status)
	w.Write(b.Bytes()) //nolint:errcheck // the client went away
}

func securityHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// message renders message.html.
func (s *Server) message(w http.ResponseWriter, status int, title, msg string, l *link) {
	p := s.newPage(title)
	p.Message, p.Link = msg, l
	s.render(w, status, "message", p)
}
