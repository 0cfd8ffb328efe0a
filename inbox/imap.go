package inbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// DefaultProcessed is the IMAP folder handled messages move to, made when missing. "/" stands for the
// server's hierarchy separator.
const DefaultProcessed = "Herald/Processed"

// IMAPConfig says where an IMAP mailbox is.
type IMAPConfig struct {
	Addr      string // host:port
	TLS       bool   // imaps: TLS from the start; otherwise STARTTLS, but for a loopback address
	User      string
	Password  string
	Mailbox   string // default INBOX
	Processed string // default DefaultProcessed
	TLSConfig *tls.Config
	Timeout   time.Duration // of the connection; default 30 s
}

// ParseIMAPURL reads imap://USER@HOST[:PORT]/MAILBOX or imaps://... (the port defaults to 143 and 993,
// the mailbox to INBOX). A password in the URL is refused: it comes from elsewhere.
func ParseIMAPURL(s string) (IMAPConfig, error) {
	// A password is looked for before the URL is parsed: one that keeps it from parsing (a space, a "/")
	// must not reach an error either.
	if userinfo, _, ok := cutUserinfo(s); ok && strings.Contains(userinfo, ":") {
		return IMAPConfig{}, ErrURLPassword
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "imap" && u.Scheme != "imaps") || u.Host == "" || u.User == nil || u.User.Username() == "" {
		return IMAPConfig{}, fmt.Errorf("inbox: %q is not imap://USER@HOST[:PORT]/MAILBOX or imaps://...", RedactURL(s))
	}
	c := IMAPConfig{TLS: u.Scheme == "imaps", User: u.User.Username(), Mailbox: strings.TrimPrefix(u.Path, "/")}
	port := u.Port()
	if port == "" {
		port = map[bool]string{true: "993", false: "143"}[c.TLS]
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return IMAPConfig{}, fmt.Errorf("inbox: %q: port %q is not a number", RedactURL(s), port)
	}
	c.Addr = net.JoinHostPort(u.Hostname(), port)
	if c.Mailbox == "" {
		c.Mailbox = "INBOX"
	}
	return c, nil
}

// ErrURLPassword is ParseIMAPURL's error for a URL that holds a password.
var ErrURLPassword = errors.New("inbox: the IMAP URL holds a password: take it out; the password is given apart")

// RedactURL is a mailbox URL fit to show: the user alone where it parses, and no user information at all
// where it does not (what looks like the host may then be part of the password).
func RedactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.Redacted()
	}
	if _, rest, ok := cutUserinfo(s); ok {
		scheme, _, _ := strings.Cut(s, "://")
		return scheme + "://(hidden)@" + rest
	}
	return s
}

// cutUserinfo splits a URL's user information (up to the last "@" after "://") from the rest, with no
// parsing: false when it has none.
func cutUserinfo(s string) (userinfo, rest string, ok bool) {
	_, after, ok := strings.Cut(s, "://")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(after, '@')
	if i < 0 {
		return "", "", false
	}
	return after[:i], after[i+1:], true
}

// IMAP is an IMAP mailbox as a Source. Messages are read with BODY.PEEK (they stay unseen) and moved
// with MOVE (COPY, then a \Deleted flag and EXPUNGE, on a server without it).
type IMAP struct {
	c         *imapclient.Client
	processed string
	made      bool // the processed folder exists
	stop      func() bool
	closed    bool
}

// DialIMAP connects, logs in and selects the mailbox. Plain text is allowed to a loopback address only:
// elsewhere imap:// takes STARTTLS.
func DialIMAP(ctx context.Context, cfg IMAPConfig) (*IMAP, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Mailbox == "" {
		cfg.Mailbox = "INBOX"
	}
	o := &imapclient.Options{TLSConfig: cfg.TLSConfig, Dialer: &net.Dialer{Timeout: cfg.Timeout}}
	var c *imapclient.Client
	var err error
	host, _, _ := net.SplitHostPort(cfg.Addr)
	switch ip := net.ParseIP(host); {
	case cfg.TLS:
		c, err = imapclient.DialTLS(cfg.Addr, o)
	case host == "localhost" || ip != nil && ip.IsLoopback():
		c, err = imapclient.DialInsecure(cfg.Addr, o)
	default:
		c, err = imapclient.DialStartTLS(cfg.Addr, o)
	}
	if err != nil {
		return nil, fmt.Errorf("inbox: connect to %s: %w", cfg.Addr, err)
	}
	m := &IMAP{c: c, processed: cfg.Processed}
	if m.processed == "" {
		m.processed = DefaultProcessed
	}
	// The client's commands take no context: closing the connection ends them.
	m.stop = context.AfterFunc(ctx, func() { c.Close() })
	if err := c.Login(cfg.User, cfg.Password).Wait(); err != nil {
		m.Close()
		return nil, fmt.Errorf("inbox: log in to %s as %s: %w", cfg.Addr, cfg.User, err)
	}
	if _, err := c.Select(cfg.Mailbox, nil).Wait(); err != nil {
		m.Close()
		return nil, fmt.Errorf("inbox: open mailbox %q on %s: %w", cfg.Mailbox, cfg.Addr, err)
	}
	return m, nil
}

// Messages yields every message not marked \Deleted, by UID, fetched in batches as it goes.
func (m *IMAP) Messages(ctx context.Context) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		small, err := m.uids()
		if err != nil {
			yield(Message{}, err)
			return
		}
		section := &imap.FetchItemBodySection{Peek: true}
		for i := 0; i < len(small); i += imapBatch {
			if err := ctx.Err(); err != nil {
				yield(Message{}, err)
				return
			}
			batch := small[i:min(i+imapBatch, len(small))]
			msgs, err := m.c.Fetch(imap.UIDSetNum(batch...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
			if err != nil {
				yield(Message{}, fmt.Errorf("inbox: fetch messages: %w", err))
				return
			}
			for _, msg := range msgs {
				if !yield(Message{Key: "UID " + strconv.FormatUint(uint64(msg.UID), 10), Raw: msg.FindBodySection(section)}, nil) {
					return
				}
			}
		}
	}
}

// imapBatch is how many messages a fetch asks for at once.
const imapBatch = 20

// uids returns the UIDs of the messages not marked \Deleted and small enough to be a report.
func (m *IMAP) uids() ([]imap.UID, error) {
	data, err := m.c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("inbox: search the mailbox: %w", err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return nil, nil
	}
	// The size first: a message too large to be a report is not fetched whole.
	sizes, err := m.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("inbox: fetch the sizes: %w", err)
	}
	var small []imap.UID
	for _, s := range sizes {
		if s.RFC822Size <= MaxSize {
			small = append(small, s.UID)
		}
	}
	return small, nil
}

// Done moves the message to the processed folder, which it makes first if the server has none.
func (m *IMAP) Done(ctx context.Context, msg Message) error {
	n, err := strconv.ParseUint(strings.TrimPrefix(msg.Key, "UID "), 10, 32)
	if err != nil {
		return fmt.Errorf("inbox: %q is no UID", msg.Key)
	}
	if err := m.folder(); err != nil {
		return err
	}
	if _, err := m.c.Move(imap.UIDSetNum(imap.UID(n)), m.processed).Wait(); err != nil {
		return fmt.Errorf("inbox: move message %d to %q: %w", n, m.processed, err)
	}
	return nil
}

// folder makes sure the processed folder exists, its "/" written with the server's separator.
func (m *IMAP) folder() error {
	if m.made {
		return nil
	}
	list, err := m.c.List("", "", nil).Collect()
	if err != nil {
		return fmt.Errorf("inbox: list the folders: %w", err)
	}
	if len(list) > 0 && list[0].Delim != 0 && list[0].Delim != '/' {
		m.processed = strings.ReplaceAll(m.processed, "/", string(list[0].Delim))
	}
	found, err := m.c.List("", m.processed, nil).Collect()
	if err != nil {
		return fmt.Errorf("inbox: look for folder %q: %w", m.processed, err)
	}
	if len(found) == 0 {
		if err := m.c.Create(m.processed, nil).Wait(); err != nil {
			return fmt.Errorf("inbox: make folder %q: %w", m.processed, err)
		}
	}
	m.made = true
	return nil
}

// Close logs out and closes the connection; again, it does nothing.
func (m *IMAP) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	m.stop()
	err := m.c.Logout().Wait()
	if cerr := m.c.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}
