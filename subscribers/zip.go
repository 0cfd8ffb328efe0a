package subscribers

import (
	"archive/zip"
	"fmt"
	"io"
	"path"
	"strings"
)

// maxZipMembers bounds the CSV files read from one zip: Mailchimp's export has three.
const maxZipMembers = 20

// ParseZip reads a zip of CSV lists as Mailchimp's audience export downloads it (members_export_ID.zip
// holding subscribed_members_export_ID.csv, unsubscribed_… and cleaned_…; see csv.go for how each file's
// columns say its status). Each CSV file is read as Parse reads one, and an error names the file in the
// zip (members_export_1.zip/cleaned_members_export_1.csv:3: …). An address in more than one file is one
// record, with the status that mails least (active < pending < bounced < unsubscribed), so that no file
// can put back on the list someone another takes off. Files that are not CSV are ignored; a zip with none
// is an error.
func ParseZip(name string, r io.ReaderAt, size int64) (recs []Record, merged int, err error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	at := map[string]int{} // Key → index in recs
	files := 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !strings.EqualFold(path.Ext(f.Name), ".csv") || strings.HasPrefix(path.Base(f.Name), ".") {
			continue // folders, and the ._ files of a zip made on a Mac
		}
		if files++; files > maxZipMembers {
			return nil, 0, fmt.Errorf("%s: more than %d CSV files; Mailchimp's export has one for each status", name, maxZipMembers)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, 0, fmt.Errorf("%s/%s: %w", name, f.Name, err)
		}
		part, m, err := Parse(name+"/"+f.Name, rc)
		rc.Close()
		if err != nil {
			return nil, 0, err
		}
		merged += m
		for _, rec := range part {
			i, ok := at[Key(rec.Email)]
			if !ok {
				at[Key(rec.Email)] = len(recs)
				recs = append(recs, rec)
				continue
			}
			merged++
			if statusRank(rec.Status) > statusRank(recs[i].Status) {
				recs[i] = rec
			}
		}
	}
	if files == 0 {
		return nil, 0, fmt.Errorf("%s: no CSV file in the zip (want Mailchimp's audience export, as downloaded)", name)
	}
	return recs, merged, nil
}

// statusRank orders the statuses by how little they mail, as Parse merges rows.
func statusRank(s string) int {
	switch s {
	case pending:
		return 1
	case bounced:
		return 2
	case unsubscribed:
		return 3
	}
	return 0
}
