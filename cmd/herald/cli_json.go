package main

import (
	"encoding/json"
	"io"

	"github.com/heraldhq/herald/history"
	"github.com/heraldhq/herald/publish"
)

// publishReport is what herald publish --json prints: README.md documents its fields. A nil report takes
// nothing, so that publishRun fills one in only for --json.
type publishReport struct {
	DryRun bool                `json:"dry_run"`
	Run    int64               `json:"run"`  // the run recorded; 0 on a dry run
	Diff   history.Diff        `json:"diff"` // as herald diff --json prints it
	Mail   *publish.SendResult `json:"-"`
}

// mailReport is the mail part of publish --json.
type mailReport struct {
	Where    string `json:"where"` // the SMTP server or provider, or the outbox folder; "" when nothing was due
	Sent     int    `json:"sent"`
	Deferred int    `json:"deferred"`
	Failed   int    `json:"failed"`
	Unknown  int    `json:"unknown"`
	Skipped  int    `json:"skipped"`
}

func (r *publishReport) setDiff(d history.Diff) {
	if r != nil {
		r.Diff = d
	}
}

func (r *publishReport) setRun(id int64) {
	if r != nil {
		r.Run = id
	}
}

// mail is where the send fills in what it did.
func (r *publishReport) mail() *publish.SendResult {
	if r == nil {
		return nil
	}
	r.Mail = &publish.SendResult{}
	return r.Mail
}

func (r *publishReport) print(w io.Writer) error {
	for _, l := range []*[]history.Entry{&r.Diff.New, &r.Diff.Updated, &r.Diff.Removed} {
		if *l == nil {
			*l = []history.Entry{}
		}
	}
	out := struct {
		*publishReport
		Mail mailReport `json:"mail"`
	}{publishReport: r}
	if m := r.Mail; m != nil {
		out.Mail = mailReport{Where: m.Where, Sent: m.Sent, Deferred: m.Deferred, Failed: m.Failed, Unknown: m.Unknown, Skipped: m.Skipped}
	}
	return encodeJSON(w, out)
}

// encodeJSON writes v as indented JSON, with <, > and & as they are.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
