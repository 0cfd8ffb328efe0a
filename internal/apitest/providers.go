package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"strings"
)

// postmark answers POST /email as Postmark's Email API reference documents it (postmarkapp.com/developer/
// api/email-api, /developer/api/overview): the server token in X-Postmark-Server-Token (else 401), JSON in
// and out (Accept and Content-Type application/json), at most 10 MB (else 413), From and To required, at
// most 50 recipients, TextBody or HtmlBody, Metadata of at most 10 fields (names of up to 20 characters,
// values of up to 80); a bad request is 422 with {ErrorCode, Message}; success is 200 with {To, SubmittedAt,
// MessageID, ErrorCode: 0, Message: "OK"}.
func (s *Server) postmark(w http.ResponseWriter, r *http.Request) {
	n := s.count()
	if r.Method != http.MethodPost || r.URL.Path != "/email" {
		s.violation("%s %s: want POST /email", r.Method, r.URL.Path)
		writeJSON(w, http.StatusNotFound, `{"ErrorCode":404,"Message":"Not found"}`)
		return
	}
	if r.Header.Get("X-Postmark-Server-Token") != s.Key {
		s.violation("X-Postmark-Server-Token is missing or wrong")
		writeJSON(w, http.StatusUnauthorized, `{"ErrorCode":10,"Message":"No Account or Server API tokens were supplied in the HTTP headers. Please add a header for either X-Postmark-Server-Token or X-Postmark-Account-Token."}`)
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) || !strings.Contains(r.Header.Get("Accept"), "application/json") {
		s.violation("Content-Type %q, Accept %q: want application/json", r.Header.Get("Content-Type"), r.Header.Get("Accept"))
		writeJSON(w, http.StatusUnprocessableEntity, `{"ErrorCode":409,"Message":"JSON required."}`)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20+1))
	if err != nil {
		return // the client went away part-way (a sender killed while it wrote): no request to judge
	}
	if len(body) > 10<<20 {
		s.violation("a request of more than 10 MB")
		writeJSON(w, http.StatusRequestEntityTooLarge, `{"ErrorCode":413,"Message":"Payload Too Large"}`)
		return
	}
	var e struct {
		From, To, Cc, Bcc, Subject, Tag, HtmlBody, TextBody, ReplyTo string
		Metadata                                                     map[string]string
		Headers                                                      []struct{ Name, Value string }
		TrackOpens                                                   bool
		TrackLinks                                                   string
		Attachments                                                  []json.RawMessage
		MessageStream                                                string
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		s.violation("body: %v", err)
		writeJSON(w, http.StatusUnprocessableEntity, `{"ErrorCode":402,"Message":"Received invalid JSON input."}`)
		return
	}
	bad := func(msg string) {
		s.violation("%s", msg)
		writeJSON(w, http.StatusUnprocessableEntity, fmt.Sprintf(`{"ErrorCode":300,"Message":%q}`, msg))
	}
	to, err := mail.ParseAddressList(e.To)
	switch {
	case e.From == "":
		bad("Invalid 'From' address: ''.")
		return
	case err != nil || len(to) == 0:
		bad(fmt.Sprintf("Invalid 'To' address: '%s'.", e.To))
		return
	case len(to) > 50:
		bad("Maximum of 50 recipients allowed per email message")
		return
	case e.TextBody == "" && e.HtmlBody == "":
		bad("Provide either email TextBody or HtmlBody or both.")
		return
	case e.TrackLinks != "" && e.TrackLinks != "None" && e.TrackLinks != "HtmlAndText" && e.TrackLinks != "HtmlOnly" && e.TrackLinks != "TextOnly":
		bad("Invalid TrackLinks value")
		return
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		bad(fmt.Sprintf("Invalid 'From' address: '%s'.", e.From))
		return
	}
	if len(e.Metadata) > 10 {
		bad("Metadata: at most 10 fields")
		return
	}
	for k, v := range e.Metadata {
		if k == "" || len(k) > 20 || len(v) > 80 {
			bad(fmt.Sprintf("Metadata field %q: names of 1 to 20 characters, values of at most 80", k))
			return
		}
	}
	headers := map[string]string{}
	for _, h := range e.Headers {
		if h.Name == "" || strings.ContainsAny(h.Name+h.Value, "\r\n") {
			bad(fmt.Sprintf("Invalid header %q", h.Name))
			return
		}
		headers[h.Name] = h.Value
	}
	if s.refused(w, to[0].Address, n) {
		return
	}
	id := s.store(Message{To: to[0].Address, MessageID: headers["Message-ID"], Subject: e.Subject, Headers: headers, Text: e.TextBody, HTML: e.HtmlBody, Metadata: e.Metadata})
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"To":%q,"SubmittedAt":"2026-12-07T10:00:00.0000000-05:00","MessageID":%q,"ErrorCode":0,"Message":"OK"}`, e.To, id))
}

// resend answers POST /emails as Resend's reference documents it (resend.com/docs/api-reference: send-email,
// errors, introduction): Authorization: Bearer KEY (missing: 401 missing_api_key; wrong: 403
// invalid_api_key), a User-Agent (else 403), JSON with from, to (at most 50) and subject required
// (422 missing_required_field), headers an object of strings; Idempotency-Key of 1 to 256 characters (else
// 400 invalid_idempotency_key): the same key and body again gets the first answer and sends nothing, another
// body 409 invalid_idempotent_request. Errors are {statusCode, name, message}; success is 200 {"id"}.
func (s *Server) resend(w http.ResponseWriter, r *http.Request) {
	n := s.count()
	fail := func(status int, name, msg string) {
		writeJSON(w, status, fmt.Sprintf(`{"statusCode":%d,"name":%q,"message":%q}`, status, name, msg))
	}
	if r.Method != http.MethodPost || r.URL.Path != "/emails" {
		s.violation("%s %s: want POST /emails", r.Method, r.URL.Path)
		fail(http.StatusNotFound, "not_found", "The requested endpoint does not exist.")
		return
	}
	switch auth := r.Header.Get("Authorization"); {
	case auth == "":
		s.violation("no Authorization")
		fail(http.StatusUnauthorized, "missing_api_key", "Missing API key in the authorization header.")
		return
	case auth != "Bearer "+s.Key:
		s.violation("a wrong Authorization")
		fail(http.StatusForbidden, "invalid_api_key", "API key is invalid.")
		return
	}
	if r.Header.Get("User-Agent") == "" {
		s.violation("no User-Agent")
		fail(http.StatusForbidden, "validation_error", "error code: 1010")
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		s.violation("Content-Type %q", r.Header.Get("Content-Type"))
		fail(http.StatusUnprocessableEntity, "validation_error", "Invalid content type")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if _, ok := r.Header["Idempotency-Key"]; ok && (len(key) < 1 || len(key) > 256) {
		s.violation("Idempotency-Key of %d characters", len(key))
		fail(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency keys, if present, must have between 1 and 256 characters.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 50<<20))
	if err != nil {
		return
	}
	var e struct {
		From    string            `json:"from"`
		To      []string          `json:"to"`
		Subject string            `json:"subject"`
		HTML    string            `json:"html"`
		Text    *string           `json:"text"`
		Headers map[string]string `json:"headers"`
		ReplyTo json.RawMessage   `json:"reply_to"`
		Cc      json.RawMessage   `json:"cc"`
		Bcc     json.RawMessage   `json:"bcc"`
		Tags    json.RawMessage   `json:"tags"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		s.violation("body: %v", err)
		fail(http.StatusUnprocessableEntity, "validation_error", "Invalid JSON: "+err.Error())
		return
	}
	switch {
	case e.From == "" || len(e.To) == 0 || e.Subject == "":
		s.violation("from, to and subject are required")
		fail(http.StatusUnprocessableEntity, "missing_required_field", "Missing `from`, `to` or `subject` field.")
		return
	case len(e.To) > 50:
		s.violation("%d recipients", len(e.To))
		fail(http.StatusUnprocessableEntity, "validation_error", "Too many recipients: max 50.")
		return
	}
	to, err := mail.ParseAddress(e.To[0])
	if _, ferr := mail.ParseAddress(e.From); err != nil || ferr != nil {
		s.violation("from %q or to %q is not an address", e.From, e.To[0])
		fail(http.StatusUnprocessableEntity, "validation_error", "Invalid `to` field.")
		return
	}
	for k, v := range e.Headers {
		if strings.ContainsAny(k+v, "\r\n") || k == "" {
			s.violation("header %q", k)
			fail(http.StatusUnprocessableEntity, "validation_error", "Invalid header")
			return
		}
	}
	if key != "" {
		s.mu.Lock()
		prev, seen := s.byKey[key]
		s.mu.Unlock()
		switch {
		case seen && prev.body == hash(body):
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{"id":%q}`, prev.id))
			return
		case seen:
			fail(http.StatusConflict, "invalid_idempotent_request", "This idempotency key has been used with this HTTP method and endpoint within the last 24 hours, but the request body was modified and doesn't match the original request.")
			return
		}
	}
	if s.refused(w, to.Address, n) {
		return
	}
	text := ""
	if e.Text != nil {
		text = *e.Text
	}
	msg := Message{To: to.Address, MessageID: e.Headers["Message-ID"], Subject: e.Subject, Headers: e.Headers, Text: text, HTML: e.HTML, Key: key}
	// The key is recorded with the message, before the answer: a client that never reads the answer
	// (it was killed) gets it on its retry.
	s.mu.Lock()
	msg.ID = fmt.Sprintf("%s-%06d", s.Kind, len(s.msgs)+1)
	s.msgs = append(s.msgs, msg)
	if key != "" {
		s.byKey[key] = keyed{hash(body), msg.ID}
	}
	total, hook := len(s.msgs), s.onStore
	s.mu.Unlock()
	if hook != nil {
		hook(total)
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"id":%q}`, msg.ID))
}

// mailgun answers POST /v3/{domain}/messages.mime as Mailgun's reference documents it (documentation.mailgun.com:
// "Send an email in MIME format", "API Response Codes"): basic authentication as api:KEY (else 401
// Forbidden), multipart/form-data with to and message (a file) required (else 400 {"message"}), a message
// of at most 25 MB (else 413), an unknown domain 404; success is 200 {"id", "message": "Queued. Thank you."}.
func (s *Server) mailgun(w http.ResponseWriter, r *http.Request) {
	n := s.count()
	want := "/v3/" + s.Domain + "/messages.mime"
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/v3/") || !strings.HasSuffix(r.URL.Path, "/messages.mime") {
		s.violation("%s %s: want POST %s", r.Method, r.URL.Path, want)
		writeJSON(w, http.StatusNotFound, `{"message":"not found"}`)
		return
	}
	if r.URL.Path != want {
		writeJSON(w, http.StatusNotFound, `{"message":"Domain not found: `+strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v3/"), "/messages.mime")+`"}`)
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != "api" || pass != s.Key {
		s.violation("basic authentication is missing or wrong")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("Forbidden"))
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		s.violation("Content-Type %q: want multipart/form-data", r.Header.Get("Content-Type"))
		writeJSON(w, http.StatusBadRequest, `{"message":"need multipart/form-data"}`)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 26<<20)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return // the client went away part-way (a sender killed while it wrote): no request to judge
		}
		s.violation("form: %v", err)
		writeJSON(w, http.StatusRequestEntityTooLarge, `{"message":"request entity too large"}`)
		return
	}
	for k := range r.MultipartForm.Value {
		if k != "to" && !strings.HasPrefix(k, "o:") && !strings.HasPrefix(k, "h:") && !strings.HasPrefix(k, "v:") && !strings.HasPrefix(k, "t:") && k != "template" {
			s.violation("unknown field %q", k)
		}
	}
	to := r.MultipartForm.Value["to"]
	files := r.MultipartForm.File["message"]
	if len(to) == 0 || to[0] == "" {
		s.violation("no to")
		writeJSON(w, http.StatusBadRequest, `{"message":"to parameter is missing"}`)
		return
	}
	if len(files) != 1 {
		s.violation("message must be one file upload")
		writeJSON(w, http.StatusBadRequest, `{"message":"message parameter is missing"}`)
		return
	}
	f, err := files[0].Open()
	if err != nil {
		return
	}
	raw, _ := io.ReadAll(f)
	f.Close()
	if len(raw) > 25<<20 {
		s.violation("a message of %d bytes", len(raw))
		writeJSON(w, http.StatusRequestEntityTooLarge, `{"message":"message too large"}`)
		return
	}
	rcpt, err := mail.ParseAddress(to[0])
	if err != nil {
		s.violation("to %q", to[0])
		writeJSON(w, http.StatusBadRequest, `{"message":"to parameter is not a valid address. please check documentation"}`)
		return
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		s.violation("message: %v", err)
		writeJSON(w, http.StatusBadRequest, `{"message":"message is not valid MIME"}`)
		return
	}
	headers := map[string]string{}
	for k, v := range m.Header {
		headers[k] = v[0]
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if s.refused(w, rcpt.Address, n) {
		return
	}
	id := s.store(Message{To: rcpt.Address, MessageID: m.Header.Get("Message-Id"), Subject: subject, Headers: headers, Raw: raw})
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"id":"<%s@%s>","message":"Queued. Thank you."}`, id, s.Domain))
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}
