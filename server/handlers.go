package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/subscribers"
	"github.com/heraldhq/herald/token"
)

// maxForm bounds a form's body: the largest holds an address, a name and a token.
const maxForm = 16 << 10

// Handler returns the routes, behind the cross-origin check and the request log.
//
// The pages keep no cookies and no sessions: the token in each link and form is what authorises a
// change, so a cross-site request forgery has nothing to ride on. The cross-origin check refuses a POST
// that a browser says comes from another site (Sec-Fetch-Site, or Origin not matching) anyway, as
// defence in depth; the sign-up form also takes posts from the site's own pages. Requests that carry
// neither header pass: mail providers' one-click unsubscribe (RFC 8058) is sent that way, by servers.
// A one-click unsubscribe is taken from anywhere: a webmail may send it from the reader's browser, with
// its own Origin, and the token in the List-Unsubscribe URL is all that authorises it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	b := s.base
	mux.HandleFunc("GET "+b+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, b+"/subscribe", http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+b+"/subscribe", s.subscribeForm)
	mux.HandleFunc("POST "+b+"/subscribe", s.subscribe)
	mux.HandleFunc("GET "+b+"/"+token.Confirm, s.confirmPage)
	mux.HandleFunc("POST "+b+"/"+token.Confirm, s.confirm)
	mux.HandleFunc("GET "+b+"/"+token.Unsubscribe, s.unsubscribePage)
	mux.HandleFunc("POST "+b+"/"+token.Unsubscribe, s.unsubscribe)
	mux.HandleFunc("GET "+b+"/"+token.Preferences, s.preferencesPage)
	mux.HandleFunc("POST "+b+"/"+token.Preferences, s.preferences)
	mux.HandleFunc("GET "+b+"/healthz", s.healthz)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s.message(w, http.StatusNotFound, "Page not found", "There is no page here.", s.subscribeLink())
	})
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.o.Webhooks != nil && strings.HasPrefix(r.URL.Path, b+"/webhooks/") {
			s.o.Webhooks.ServeHTTP(w, r)
			return
		}
		cop := s.cop
		switch r.URL.Path {
		case b + "/subscribe":
			cop = s.copSub
		case b + "/unsubscribe":
			if r.Method == http.MethodPost {
				if !s.parseForm(w, r) {
					return
				}
				if oneClick(r) && r.URL.Query().Get("token") != "" {
					mux.ServeHTTP(w, r)
					return
				}
			}
		}
		if err := cop.Check(r); err != nil {
			s.message(w, http.StatusForbidden, "Form refused",
				"This form was sent from another web site, so it was not accepted. Use the form on this site instead.", s.subscribeLink())
			return
		}
		mux.ServeHTTP(w, r)
	})
	return s.logRequests(h)
}

// statusWriter remembers the status of a response for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs each request: method, path (never the query, which holds tokens), status, duration.
func (s *Server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

func (s *Server) subscribeLink() *link {
	return &link{URL: s.base + "/subscribe", ID: "resubscribe", Text: "Subscribe"}
}

// parseForm reads a POST body of at most maxForm bytes, urlencoded or multipart (RFC 8058 allows
// both for one-click unsubscribe). false: it answered already.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	err := r.ParseForm() // ParseMultipartForm would hide its error behind ErrNotMultipart
	if err == nil {
		if err = r.ParseMultipartForm(maxForm); err == nil || errors.Is(err, http.ErrNotMultipart) {
			return true
		}
	}
	status := http.StatusBadRequest
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		status = http.StatusRequestEntityTooLarge
	}
	s.message(w, status, "Form not understood", "The form could not be read. Go back and try again.", nil)
	return false
}

// cleanName is a name from a form: control characters and line breaks out, spaces collapsed, at most
// 100 characters.
func cleanName(s string) string {
	s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100])
	}
	return strings.TrimSpace(s)
}

// checkAddress returns the address in a form's email field, trimmed, or false when it is not a plain
// address ("ann@example.com", no display name, no comments). It takes exactly what herald subscribers
// import takes, so that the list the form builds exports and imports back.
func checkAddress(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if subscribers.CheckEmail(s) != nil {
		return "", false
	}
	return s, true
}

// addressKey is the per-address limits' key: the address in lower case without a +tag, so that
// ann+1@, ann+2@, … which reach the same inbox, share a limit. Gmail also ignores dots in the local
// part, and googlemail.com is gmail.com. The key is never stored: the address is kept as typed.
func addressKey(addr string) string {
	addr = strings.ToLower(addr)
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], addr[at+1:]
	if plus := strings.IndexByte(local, '+'); plus >= 0 {
		local = local[:plus]
	}
	if domain == "gmail.com" || domain == "googlemail.com" {
		local, domain = strings.ReplaceAll(local, ".", ""), "gmail.com"
	}
	return local + "@" + domain
}

var validFrequencies = []string{store.Immediate, store.Daily, store.Weekly, store.Monthly}

func (s *Server) subscribeForm(w http.ResponseWriter, r *http.Request) {
	p := s.newPage("Subscribe to " + s.o.SiteTitle)
	q := r.URL.Query()
	p.Email, _ = checkAddress(q.Get("email")) // a site can link to the form with the address filled in
	p.Frequencies = frequencies(q.Get("frequency"))
	if err := s.fillChoices(r.Context(), p, store.MakeTags(q["tag"]...), q.Get("lang"), false); err != nil {
		s.serverError(w, err)
		return
	}
	s.render(w, http.StatusOK, "subscribe", p)
}

// subscribe takes a sign-up: it checks the form, counts the sign-up against the limits, and stores it in
// the queue before it answers, the same for every address; the worker does the rest. A sign-up that
// could not be stored is answered 503, never "check your inbox".
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	email, name, freq := r.PostForm.Get("email"), cleanName(r.PostForm.Get("name")), r.PostForm.Get("frequency")
	if r.PostForm.Get("website") != "" {
		// The honeypot: only a bot fills in a field it cannot see. It gets the page everyone gets.
		s.log.Debug("sign-up honeypot filled")
		s.subscribed(w, strings.TrimSpace(email))
		return
	}
	addr, ok := checkAddress(email)
	tags, lang, chosen, err := s.readChoices(r, nil)
	if err != nil {
		s.log.Error("sign-up", "err", err)
		s.unavailable(w)
		return
	}
	if !ok || (freq != "" && !slices.Contains(validFrequencies, freq)) || !chosen {
		p := s.newPage("Subscribe to " + s.o.SiteTitle)
		p.Email, p.Name, p.Frequencies = strings.TrimSpace(email), name, frequencies(freq)
		p.Error = "That is not an email address. Check it and try again: it should look like name@example.com."
		if ok && !chosen {
			p.Error = "Choose among the topics and languages offered."
		} else if ok {
			p.Error = "Choose how often you want to get emails."
		}
		if err := s.fillChoices(r.Context(), p, tags, lang, false); err != nil {
			s.log.Error("sign-up", "err", err)
		}
		s.render(w, http.StatusUnprocessableEntity, "subscribe", p)
		return
	}
	if s.closed.Load() {
		s.unavailable(w)
		return
	}
	ctx, now, ip := r.Context(), s.o.Now(), s.clientIP(r)
	admitted, err := s.admit(ctx, ip, addr, now)
	if err != nil {
		s.log.Error("sign-up", "err", err)
		s.unavailable(w)
		return
	}
	if !admitted {
		s.tooMany(w)
		return
	}
	n, err := s.take(ctx, "address-day", addressKey(addr), s.limits.addressDay, now)
	if err != nil {
		s.log.Error("sign-up", "err", err)
		s.unavailable(w)
		return
	}
	if n == 0 {
		// Nothing is sent, as for a pending sign-up mailed recently: the answer is the usual one.
		s.log.Debug("sign-up over the daily limit of its address: nothing sent", "email", addr)
		s.subscribed(w, addr)
		return
	}
	began := time.Now()
	err = s.o.Store.QueueSignUp(ctx, store.QueuedSignUp{Email: addr, Name: name, Frequency: freq, Tags: tags, Lang: lang,
		IP: ip.String(), At: now})
	s.wrote(began, err)
	if err != nil {
		s.log.Error("sign-up", "err", err) // the store's errors do not quote the address
		s.unavailable(w)
		return
	}
	s.wakeWorker()
	s.subscribed(w, addr)
}

// subscribed is the answer to every accepted sign-up, whoever the address belongs to.
func (s *Server) subscribed(w http.ResponseWriter, addr string) {
	s.message(w, http.StatusOK, "Check your inbox",
		"If "+addr+" is not subscribed yet, a link to confirm is on its way to it. Open it to confirm: until then you get nothing. Nothing came after a few minutes? Look in the spam folder.", nil)
}

func (s *Server) tooMany(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "3600")
	s.message(w, http.StatusTooManyRequests, "Too many sign-ups",
		"There have been too many sign-ups from here or for this address. Please try again later.", nil)
}

// unavailable answers a sign-up that was not taken: the store could not be written, or the server is
// stopping.
func (s *Server) unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "60")
	s.message(w, http.StatusServiceUnavailable, "Try again in a minute",
		"Your sign-up could not be taken just now, and no email was sent. Please try again in a minute.", s.subscribeLink())
}

// badToken answers a link whose token is forged, tampered with, expired or for someone no longer here.
func (s *Server) badToken(w http.ResponseWriter, err error) {
	if errors.Is(err, token.ErrExpired) {
		s.message(w, http.StatusBadRequest, "This link has expired",
			"This confirmation link is too old. Subscribe again to get a new one.", s.subscribeLink())
		return
	}
	s.message(w, http.StatusBadRequest, "This link does not work",
		"This link is not valid: it may have been cut short or changed. Use the link in your latest email, or subscribe again.", s.subscribeLink())
}

// confirmSubscriber checks a confirm token: its purpose carries the subscriber's consent time, so
// only the link of the current sign-up verifies.
func (s *Server) confirmSubscriber(r *http.Request, tok string) (store.Subscriber, error) {
	id, err := token.ID(tok)
	if err != nil {
		return store.Subscriber{}, err
	}
	sub, err := s.o.Store.Subscriber(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Subscriber{}, token.ErrInvalid
	}
	if err != nil {
		return store.Subscriber{}, err
	}
	if _, err := token.Verify(s.o.Secret, confirmPurpose(sub.ConsentAt), tok, s.o.Now()); err != nil {
		return store.Subscriber{}, err
	}
	return sub, nil
}

// tokenSubscriber checks a token of a link without expiry (unsubscribe, preferences).
func (s *Server) tokenSubscriber(r *http.Request, purpose, tok string) (store.Subscriber, error) {
	id, err := token.Verify(s.o.Secret, purpose, tok, s.o.Now())
	if err != nil {
		return store.Subscriber{}, err
	}
	sub, err := s.o.Store.Subscriber(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Subscriber{}, token.ErrInvalid
	}
	return sub, err
}

// tokenError answers an error of confirmSubscriber or tokenSubscriber.
func (s *Server) tokenError(w http.ResponseWriter, err error) {
	if errors.Is(err, token.ErrInvalid) || errors.Is(err, token.ErrExpired) {
		s.badToken(w, err)
		return
	}
	s.serverError(w, err)
}

func (s *Server) serverError(w http.ResponseWriter, err error) {
	s.log.Error("request failed", "err", err)
	s.message(w, http.StatusInternalServerError, "Something went wrong",
		"Something went wrong on our side. Please try again in a few minutes.", nil)
}

// confirmState answers a confirm link whose subscriber is not pending; false when they are.
func (s *Server) confirmState(w http.ResponseWriter, sub store.Subscriber) bool {
	switch sub.Status {
	case store.Pending:
		return false
	case store.Active:
		s.message(w, http.StatusOK, "Already confirmed", "Your subscription is confirmed already: there is nothing more to do.", nil)
	default:
		// They left (or bounced) after this link was sent: it must not bring them back.
		s.message(w, http.StatusBadRequest, "This link no longer works",
			"You have unsubscribed since this link was sent. To get the emails again, subscribe again.", s.subscribeLink())
	}
	return true
}

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	sub, err := s.confirmSubscriber(r, tok)
	if err != nil {
		s.tokenError(w, err)
		return
	}
	if s.confirmState(w, sub) {
		return
	}
	p := s.newPage("Confirm your subscription")
	p.Token = tok
	s.render(w, http.StatusOK, "confirm", p)
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	sub, err := s.confirmSubscriber(r, r.PostForm.Get("token"))
	if err != nil {
		s.tokenError(w, err)
		return
	}
	if s.confirmState(w, sub) {
		return
	}
	err = s.o.Store.UpdateSubscriber(r.Context(), sub.ID, s.o.Now(), func(u *store.Subscriber) {
		if u.Status == store.Pending && u.ConsentAt.Equal(sub.ConsentAt) { // unchanged since the check
			u.Status = store.Active
		}
	})
	if err == nil {
		sub, err = s.o.Store.Subscriber(r.Context(), sub.ID)
	}
	if errors.Is(err, store.ErrNotFound) {
		// The sign-up expired and was deleted after the token was checked.
		s.tokenError(w, token.ErrExpired)
		return
	}
	if err != nil {
		s.serverError(w, err)
		return
	}
	if sub.Status != store.Active {
		s.confirmState(w, sub)
		return
	}
	s.log.Info("subscriber confirmed", "subscriber", sub.ID)
	// Whoever signed the address up chose the name and frequency, maybe not its owner: say them here,
	// where the owner confirms, beside the link to change them.
	msg := "Thank you: your subscription is confirmed. You will get " + frequencyLabel(sub.Frequency) + "."
	if sub.Name != "" {
		msg = "Thank you: your subscription is confirmed. You will get " + frequencyLabel(sub.Frequency) +
			", addressed to “" + sub.Name + "”. Not your name? Change it in your preferences."
	}
	s.message(w, http.StatusOK, "You are subscribed", msg,
		&link{URL: s.links.URL(token.Preferences, sub.ID),
			ID: "preferences", Text: "Change your name or how often you get emails"})
}

// unsubscribeToken is the token of an unsubscribe request: in the URL (the List-Unsubscribe link,
// which one-click posts to) or in the page's form.
func unsubscribeToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if r.PostForm != nil {
		return r.PostForm.Get("token")
	}
	return ""
}

// oneClick says whether a parsed POST is an RFC 8058 one-click unsubscribe.
func oneClick(r *http.Request) bool {
	return r.PostForm.Get("List-Unsubscribe") == "One-Click"
}

func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	tok := unsubscribeToken(r)
	sub, err := s.tokenSubscriber(r, token.Unsubscribe, tok)
	if err != nil {
		s.tokenError(w, err)
		return
	}
	if sub.Status == store.Unsubscribed {
		s.unsubscribed(w)
		return
	}
	p := s.newPage("Unsubscribe")
	p.Token = tok
	p.PreferencesURL = s.links.URL(token.Preferences, sub.ID)
	s.render(w, http.StatusOK, "unsubscribe", p)
}

func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	sub, err := s.tokenSubscriber(r, token.Unsubscribe, unsubscribeToken(r))
	if err == nil {
		err = s.leave(r, sub.ID)
	}
	if oneClick(r) {
		// RFC 8058: a mail provider's server posts this; nobody reads the page.
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		switch {
		case errors.Is(err, token.ErrInvalid):
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte("invalid unsubscribe link\n")) //nolint:errcheck
		case err != nil:
			s.log.Error("one-click unsubscribe", "err", err)
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("try again later\n")) //nolint:errcheck
		default:
			w.Write([]byte("unsubscribed\n")) //nolint:errcheck
		}
		return
	}
	if err != nil {
		s.tokenError(w, err)
		return
	}
	s.unsubscribed(w)
}

// leave unsubscribes a subscriber who is active or pending (a bounced address stays bounced). Doing it
// twice changes nothing.
func (s *Server) leave(r *http.Request, id int64) error {
	changed := false
	err := s.o.Store.UpdateSubscriber(r.Context(), id, s.o.Now(), func(u *store.Subscriber) {
		if u.Status == store.Active || u.Status == store.Pending {
			u.Status = store.Unsubscribed
			changed = true
		}
	})
	if err == nil && changed {
		s.log.Info("subscriber unsubscribed", "subscriber", id)
	}
	return err
}

func (s *Server) unsubscribed(w http.ResponseWriter) {
	s.message(w, http.StatusOK, "You are unsubscribed",
		"You will get no more emails from "+s.o.SiteTitle+". Changed your mind? You can subscribe again at any time.",
		s.subscribeLink())
}

func (s *Server) preferencesPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	sub, err := s.tokenSubscriber(r, token.Preferences, tok)
	if err != nil {
		s.tokenError(w, err)
		return
	}
	s.renderPreferences(r.Context(), w, http.StatusOK, tok, sub, "")
}

func (s *Server) renderPreferences(ctx context.Context, w http.ResponseWriter, status int, tok string, sub store.Subscriber, notice string) {
	p := s.newPage("Your email preferences")
	p.Token, p.Email, p.Name, p.Frequencies, p.Notice = tok, sub.Email, sub.Name, frequencies(sub.Frequency), notice
	if notice == "" && sub.Status != store.Active && sub.Status != store.Pending {
		p.Notice = "You are unsubscribed: you get no emails. What you choose here applies if you subscribe again."
	}
	if err := s.fillChoices(ctx, p, sub.Tags, sub.Lang, true); err != nil {
		s.serverError(w, err)
		return
	}
	s.render(w, status, "preferences", p)
}

func (s *Server) preferences(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	tok := r.PostForm.Get("token")
	sub, err := s.tokenSubscriber(r, token.Preferences, tok)
	if err != nil {
		s.tokenError(w, err)
		return
	}
	if r.PostForm.Get("action") == "unsubscribe" {
		if err := s.leave(r, sub.ID); err != nil {
			s.serverError(w, err)
			return
		}
		s.unsubscribed(w)
		return
	}
	freq := r.PostForm.Get("frequency")
	if !slices.Contains(validFrequencies, freq) {
		s.renderPreferences(r.Context(), w, http.StatusUnprocessableEntity, tok, sub, "Choose how often you want to get emails.")
		return
	}
	tags, lang, chosen, err := s.readChoices(r, &sub)
	if err != nil {
		s.serverError(w, err)
		return
	}
	if !chosen {
		s.renderPreferences(r.Context(), w, http.StatusUnprocessableEntity, tok, sub, "Choose among the topics and languages offered.")
		return
	}
	name := cleanName(r.PostForm.Get("name"))
	if err := s.o.Store.UpdateSubscriber(r.Context(), sub.ID, s.o.Now(), func(u *store.Subscriber) {
		u.Name, u.Frequency, u.Tags, u.Lang = name, freq, tags, lang
	}); err != nil {
		s.serverError(w, err)
		return
	}
	how := frequencyLabel(freq)
	if tags != "" {
		how += " about " + strings.Join(tags.List(), ", ")
	}
	msg := "Saved: you will get " + how + "."
	if sub.Status != store.Active && sub.Status != store.Pending {
		msg = "Saved. You are unsubscribed, so you get nothing for now; if you subscribe again, you will get " + how + "."
	}
	s.message(w, http.StatusOK, "Preferences saved", msg,
		&link{URL: s.links.With(token.Preferences, tok), ID: "preferences", Text: "Change them again"})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := s.o.Store.Runs(r.Context(), 1); err != nil {
		s.log.Error("health check", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("store unavailable\n")) //nolint:errcheck
		return
	}
	// Reading is not enough: with its disk full, the store answers reads and takes no sign-up.
	if err := s.writable(r.Context()); err != nil {
		s.log.Error("health check", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("store cannot be written\n")) //nolint:errcheck
		return
	}
	w.Write([]byte("ok\n")) //nolint:errcheck
}
