package subscribers

import (
	"archive/zip"
	"fmt"
	"io"
	"path"
	"strings"
)

// A zip is read within bounds, so that a zip bomb (a few kB that inflate to gigabytes) or a huge member
// is refused before it is read: maxZipMembers CSV files (Mailchimp's export has three) among at most
// maxZipEntries entries, and maxZipBytes of CSV once inflated, by the sizes the zip declares, which
// archive/zip holds each member to as it inflates it.
const (
	maxZipMembers = 20
	maxZipEntries = 1000
	maxZipBytes   = 256 << 20
)

// ParseZip reads a zip of CSV lists as Mailchimp's audience export downloads it (members_export_ID.zip
// holding subscribed_members_export_ID.csv, unsubscribed_… and cleaned_…; see csv.go for how each file's
// columns say its status). Each CSV file is read as Parse reads one, and an error names the file in the
// zip (members_export_1.zip/cleaned_members_export_1.csv:3: …). An address in more than one file is one
// record, with the status that mails least (active < pending < bounced < unsubscribed), so that no file
// can put back on the list someone another takes off. Files that are not CSV are ignored; a zip with none
// is an error.
func ParseZip(name string, r io.ReaderAt, size int64) (recs []Record, merged int, err error) {
	return parseZip(name, r, size, maxZipBytes)
}

// parseZip is ParseZip with at most maxBytes of CSV, uncompressed.
func parseZip(name string, r io.ReaderAt, size, maxBytes int64) (recs []Record, merged int, err error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	if len(zr.File) > maxZipEntries {
		return nil, 0, fmt.Errorf("%s: %d entries, more than the %d a list's zip may hold; Mailchimp's export has one CSV file for each status", name, len(zr.File), maxZipEntries)
	}
	at := map[string]int{} // Key → index in recs
	files := 0
	left := maxBytes
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !strings.EqualFold(path.Ext(f.Name), ".csv") || strings.HasPrefix(path.Base(f.Name), ".") {
			continue // folders, and the ._ files of a zip made on a Mac
		}
		if files++; files > maxZipMembers {
			return nil, 0, fmt.Errorf("%s: more than %d CSV files; Mailchimp's export has one for each status", name, maxZipMembers)
		}
		if f.UncompressedSize64 > uint64(left) {
			return nil, 0, fmt.Errorf("%s/%s: the zip's CSV files hold more than %s uncompressed, more than a list of subscribers; unzip it and import each file on its own if it really is one", name, f.Name, mib(maxBytes))
		}
		left -= int64(f.UncompressedSize64)
		rc, err := f.Open()
		if err != nil {
			return nil, 0, fmt.Errorf("%s/%s: %w", name, f.Name, err)
		}
		// archive/zip fails a member that inflates past the size it declares (zip.ErrFormat).
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

func mib(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
