package token

import "time"

// The pages of herald serve that a signed link opens. Each page's path is its name, under the base URL,
// and its token is signed for that name, so a token made for one page opens no other.
const (
	Unsubscribe = "unsubscribe"
	Preferences = "preferences"
	Confirm     = "confirm"
)

// Links makes the signed links of one site's pages: the mail composer, the preview and the server use it.
type Links struct {
	Base   string // where herald serve answers, without a trailing slash; "" when it does not run
	Secret []byte
}

// URL is the link to page (Unsubscribe, Preferences) for subscriber id, valid for ever.
func (l Links) URL(page string, id int64) string {
	return l.With(page, Sign(l.Secret, page, id, time.Time{}))
}

// With is the link to page carrying tok as it is.
func (l Links) With(page, tok string) string { return l.Base + "/" + page + "?token=" + tok }
