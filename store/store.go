// Package store keeps Herald's state between runs: the runs, every post ever seen, the subscribers, the ledger of deliveries, and herald serve's sign-up queue and limits.
//
// A post is a posts row whose integer id never changes; the public ids it has been published under (its
// feed ids) are its aliases. A run that finds an id continuing one that left in the same run adds it to
// that post as another alias, and nothing else moves: a known id never changes post. The ledger records
// posts, not ids, so whether a subscriber had a post is a question about the post (delivery_items has
// one row per subscriber and post), whatever id it went under. A post is removed when none of its
// aliases is on the site: what waits to go of it then leaves the queue, and when an alias comes back the
// post is planned again from that run for whoever it is still owed to.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is the state. Open gives the SQLite store (sqlite.go) for a file, the PostgreSQL store
// (postgres.go) for a postgres:// URL: both keep the same contract, and the contract tests run against both.
type Store interface {
	// Items returns every id ever recorded (every alias of every post), removed ones included, ordered by
	// ID (byte order).
	Items(ctx context.Context) ([]Item, error)
	// Aliases returns every id ever recorded as Items does, but only what a run's diff compares of it, in
	// one plain read of the aliases: a run over an unchanged site reads no more than it needs.
	Aliases(ctx context.Context) ([]Alias, error)
	// Runs returns the newest n runs, newest first; n <= 0 returns them all.
	Runs(ctx context.Context, n int) ([]Run, error)
	// Counts returns how many runs, items (ids, and of them removed), subscribers and deliveries there are.
	Counts(ctx context.Context) (Counts, error)
	// Record stores a run and the items it saw, in one transaction: items new to the store are inserted
	// (FirstRun/FirstSeen = this run), known ones updated (URL, Title, Date, Hash, LastRun/LastSeen; Removed
	// = false), and known items absent from seen are marked Removed (kept, never deleted). It sets run.ID.
	// Either all of it is stored or none of it (a kill -9 in the middle leaves the previous state).
	//
	// The run's counts (Items, New, ...) are stored as given: they are the caller's diff. An item's
	// FirstSeen and LastSeen are run.Started, which must be set. Only ID, URL, Title, Date, Hash,
	// Sendable and Continues of the seen items are read; IDs must be non-empty and unique.
	//
	// A new id whose Continues names a known id not on the site (it left in this run, or in an earlier one)
	// is another alias of that id's post; any other new id is a new post. A known id stays with its post,
	// whatever its Continues. A post none of whose ids is on the site any more is removed, and what waits
	// to go of it leaves the queue (not what a server may have: see deliveries' maybe_sent); a removed post
	// with an id back on the site, or a new id joining it, is planned again from this run.
	//
	// A new post with Sendable set is recorded as sendable: Plan mails it to the subscribers it is due
	// to. The caller sets it on the diff's New items (backfilled ones included), never on the rest of a
	// baseline. Sendable on an id of a post the store already knows is ignored: a post becomes sendable
	// when it is first seen or never. Storing it in the same transaction as the run means that a crash
	// cannot record a post as seen and lose that it was to be mailed.
	Record(ctx context.Context, run *Run, seen []Item) error

	// ImportSubscribers adds or merges subs in one transaction: all of them or none. Subscribers are
	// matched by address, the domain compared case-insensitively. A known subscriber keeps their id and
	// consent record; the import fills in their name and frequency where given, confirms a pending one
	// it says is active, and applies an unsubscribed or bounced status. An import never brings back
	// someone unsubscribed or bounced: those rows are skipped. New subscribers default to active,
	// immediate, consent source "import"; now is their CreatedAt and the default ConsentAt (and
	// ConfirmedAt when active).
	ImportSubscribers(ctx context.Context, subs []Subscriber, now time.Time) (ImportResult, error)
	// AddSubscriber adds one subscriber and returns it as stored (with its ID). Defaults: status
	// pending, frequency immediate, consent source "command", CreatedAt and ConsentAt now, ConfirmedAt
	// now if active. An address already known is an error wrapping ErrExists.
	AddSubscriber(ctx context.Context, s Subscriber, now time.Time) (Subscriber, error)
	// Subscribers returns the subscribers with the given status ("" for all), ordered by ID.
	Subscribers(ctx context.Context, status string) ([]Subscriber, error)
	// Subscriber returns one subscriber, or an error wrapping ErrNotFound.
	Subscriber(ctx context.Context, id int64) (Subscriber, error)
	// SubscribersByID returns the subscribers with the given ids, by id, in one query (a sender loads
	// those of a page of deliveries at once); an id with no subscriber is left out.
	SubscribersByID(ctx context.Context, ids []int64) (map[int64]Subscriber, error)
	// SubscriberByEmail returns the subscriber with the address email (domain case-insensitive), or an
	// error wrapping ErrNotFound. Its errors do not hold the address.
	SubscriberByEmail(ctx context.Context, email string) (Subscriber, error)
	// UpdateSubscriber reads subscriber id, lets change modify it, and writes it back, in one
	// transaction. A status change sets the matching time to at unless change set it: becoming active
	// sets ConfirmedAt (and clears UnsubscribedAt and HardBounces), becoming unsubscribed sets
	// UnsubscribedAt. Leaving active cancels the subscriber's queued and deferred deliveries. A new
	// address that another subscriber has is an error wrapping ErrExists.
	UpdateSubscriber(ctx context.Context, id int64, at time.Time, change func(*Subscriber)) error
	// DeleteSubscriber erases a subscriber for good, with their deliveries: nothing of them is left in
	// the store's files, free space included (backups and copies made before are another matter). It
	// rewrites the file to get there, which takes time in proportion to the store's size.
	DeleteSubscriber(ctx context.Context, id int64) error
	// DeleteExpiredPending deletes the subscribers who signed up on the web form (consent source web)
	// and are still pending with a consent time before before: their confirmation link has expired, and
	// an address whose owner never consented is not to be kept. It returns how many it deleted. Someone
	// who had unsubscribed before that sign-up is not deleted but unsubscribed again, so that their
	// choice is kept (an import never brings them back). Unlike DeleteSubscriber it does not rewrite the
	// file.
	DeleteExpiredPending(ctx context.Context, before time.Time) (int, error)
	// DeleteUnsentSignUp deletes subscriber id if they are still a web sign-up pending since consentAt
	// who had not subscribed or unsubscribed before: a new address whose confirmation could not be sent,
	// so that the next sign-up sends one at once. It says whether it deleted. Like DeleteExpiredPending,
	// it does not rewrite the file.
	DeleteUnsentSignUp(ctx context.Context, id int64, consentAt time.Time) (bool, error)
	// Compact rewrites the file (VACUUM) and empties the WAL, so that nothing deleted is left in free
	// space. It fails when another process keeps the WAL from being emptied.
	Compact(ctx context.Context) error
	// SubscriberDeliveries returns every delivery to subscriber id, whatever its status, ordered by ID:
	// what Herald holds about what it sent them (a subscriber's right to their data). A digest's ItemIDs
	// are newest first, as in Due. A subscriber with none, or none at all, gives an empty slice.
	SubscriberDeliveries(ctx context.Context, id int64) ([]Delivery, error)

	// QueueSignUp stores a sign-up of the web form until it is handled (one INSERT): herald serve answers
	// the form only once it is stored.
	QueueSignUp(ctx context.Context, q QueuedSignUp) error
	// QueuedSignUps returns up to n queued sign-ups, oldest first.
	QueuedSignUps(ctx context.Context, n int) ([]QueuedSignUp, error)
	// DequeueSignUp deletes a handled sign-up from the queue. One that is not there is no error.
	DequeueSignUp(ctx context.Context, id int64) error
	// TakeLimit counts one request at now against the limit of n a window for key, if there is room,
	// in one statement. The count runs in fixed windows: the first request for a key, or the first
	// after its window ended, starts one of length window. It returns the key's count in its window,
	// this request included, or 0 when the window is full (nothing is counted or written then).
	TakeLimit(ctx context.Context, key string, n int, window time.Duration, now time.Time) (int, error)
	// PruneLimits deletes the limits' counts whose window ended by now, and returns how many.
	PruneLimits(ctx context.Context, now time.Time) (int, error)
	// CheckWrite commits a write to the store (one row, the time of the check), to find out whether the
	// store takes writes now: the error is the write's.
	CheckWrite(ctx context.Context, now time.Time) error

	// Plan is PlanWith the digests due at midnight UTC, weekly ones on Mondays, and every post for every
	// subscriber whatever its language.
	Plan(ctx context.Context, now time.Time) (int, error)
	// PlanWith queues, in one transaction, the deliveries due at now and returns how many it queued:
	//   - to each active subscriber with frequency immediate, every sendable post they have not had, one
	//     delivery each;
	//   - to each active daily, weekly or monthly subscriber whose digest is due (their last digest, or
	//     their confirmation, was before the start of now's period: see PlanOptions), one digest delivery
	//     with every sendable post they have not had, none when there is nothing; their next digest is
	//     due in the next period either way.
	// A post is a subscriber's when it is sendable (see Record), not removed, first seen after the
	// subscriber confirmed, recorded after the subscriber was added to the store, and what they chose:
	// one of their tags (any post when they chose none), and their language (the site's, o.Lang, when
	// they chose none). A post that waits (Item.Delay, Item.Held) is released first when its time has
	// come and it is not held, and is then planned like a post of the latest run. Nobody gets a post
	// twice, alone or in a digest, under any of its ids, whatever their frequency was. Planning again
	// queues nothing new.
	PlanWith(ctx context.Context, now time.Time, o PlanOptions) (int, error)
	// DigestsDue is how many digests PlanWith(now, o) would queue, by frequency (Daily, Weekly, Monthly;
	// none for a frequency with none): it runs Plan's own statements, the release of the posts whose wait
	// is over and the choice of the subscribers whose digest is due and for whom a post waits, in a
	// transaction it rolls back, and so changes nothing.
	DigestsDue(ctx context.Context, now time.Time, o PlanOptions) (map[string]int, error)
	// Approve lets the mail of the post that id is an alias of go (see Item.Held): the next Plan plans it.
	// It says whether the post was held; an id the store does not know is an error wrapping ErrNotFound.
	Approve(ctx context.Context, id string) (bool, error)
	// Choices are the tags and the languages of the posts on the site (not removed), sorted: what a
	// reader may choose from.
	Choices(ctx context.Context) (Choices, error)
	// Due returns up to limit deliveries to attempt at now, oldest first: queued ones and deferred ones
	// whose next attempt is due, of active subscribers only.
	Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// DueAfter is Due for the deliveries with ids above after: a run pages through what is due with it,
	// whatever becomes of the deliveries it has already taken.
	DueAfter(ctx context.Context, now time.Time, after int64, limit int) ([]Delivery, error)
	// Sending marks a batch of deliveries as being sent, durably, in one transaction; call it before
	// a message's DATA begins. Each delivery keeps the first Message-ID it was sent with (a delivery
	// from Due with a MessageID must be sent with that one). It returns the ids it did not mark,
	// which must not be sent: their subscriber has left, or they are no longer queued or deferred.
	Sending(ctx context.Context, attempts []Attempt, at time.Time) (skipped []int64, err error)
	// Finish records a batch of outcomes of deliveries marked sending, in one transaction. A failed
	// outcome with enhanced status code 5.1.1 counts a hard bounce of the subscriber; the second marks
	// them bounced and cancels what is queued for them.
	Finish(ctx context.Context, outcomes []Outcome) error
	// Commit is Finish(outcomes) and then Sending(attempts, at) in one transaction: one durable write for
	// a message's result and the start of the next.
	Commit(ctx context.Context, outcomes []Outcome, attempts []Attempt, at time.Time) (skipped []int64, err error)
	// ClaimAfter is DueAfter for a sender that holds LockSend: it returns up to limit due deliveries with
	// ids above after that no other running sender has claimed, and claims them for this one. On
	// PostgreSQL, several senders claim at once without waiting for each other (FOR UPDATE SKIP LOCKED),
	// and a claim lasts while its sender's session does: when a sender ends, however it ends, what it
	// claimed and did not send is free for the next. On SQLite, with one sender at a time, it is DueAfter.
	ClaimAfter(ctx context.Context, now time.Time, after int64, limit int) ([]Delivery, error)
	// Recover turns the deliveries left sending by a sender that is no longer running into unknown (the
	// server may have them) and returns how many; what running senders are sending is theirs. Call it at
	// the start of a send, holding LockSend.
	Recover(ctx context.Context) (int, error)
	// RetryUnknown queues the unknown deliveries of active subscribers again, keeping their
	// Message-IDs, and returns how many: those whose first attempt began at since or later, or all of
	// them when since is zero.
	RetryUnknown(ctx context.Context, since time.Time) (int, error)
	// FailOld marks deferred deliveries first tried before now-maxAge as failed and returns how many.
	FailOld(ctx context.Context, now time.Time, maxAge time.Duration) (int, error)
	// DeliveryCounts returns how many deliveries there are by status (statuses without any left out).
	DeliveryCounts(ctx context.Context) (map[string]int, error)

	// RecordEvent stores what a mail provider reported about a message after taking it, and applies it,
	// in one transaction. The event is matched to the delivery that was sent with e.MessageID (angle
	// brackets or not), else to the subscriber with the address e.Recipient; one that matches neither is
	// stored all the same, matched to nothing. A hard bounce makes an active or pending subscriber
	// bounced, and cancels what is queued for them; a complaint records the complaint on the subscriber
	// (ComplainedAt) and unsubscribes an active or pending one, cancelling what is queued; a delivery or
	// a soft bounce is only recorded, with its delivery. An event whose Provider and ProviderEventID are
	// stored already (a provider's retry, or a replay) changes nothing, and RecordEvent returns false.
	RecordEvent(ctx context.Context, e Event) (bool, error)
	// Events returns the events that happened (At) at or after since, oldest first; all of them for the
	// zero time.
	Events(ctx context.Context, since time.Time) ([]Event, error)
	// PostEvents returns, for each post of which deliveries were sent at or after since, how many were
	// sent and how many of those drew a hard bounce or a complaint, ordered by post. A digest counts for
	// each of its posts. The zero time counts every delivery sent.
	PostEvents(ctx context.Context, since time.Time) ([]PostEvents, error)
	// FindDelivery returns the delivery a returned message is about (herald inbox): by its id when id > 0
	// (a VERP return path's token names it), else by the Message-ID it was sent with, with or without its
	// angle brackets. recipient is the address the message was returned from ("" when the report names
	// none): a delivery to it is found fast, any other by a scan of the deliveries. None is an error
	// wrapping ErrNotFound.
	FindDelivery(ctx context.Context, id int64, messageID, recipient string) (Delivery, error)

	// Lock takes the store's run lock for a publishing run. A second Lock on the same store, from this or
	// another process, fails at once with a *LockedError (wrapping ErrLocked) that says who holds it. A lock
	// whose holder died does not block. Reads (Items, Runs, Counts) never wait for the lock. command says
	// what the run is ("publish", "send"), for the message a second run gets.
	Lock(ctx context.Context, command string) (Lock, error)
	// LockSend makes this store a sender, for a send run (herald send, or the sending of a publish),
	// and returns its lock. On SQLite it is the run lock (Lock), which this store may hold already (a
	// publish that sends): one sender at a time. On PostgreSQL it is a shared hold of the run lock,
	// which keeps publishing runs and copies out while senders run but lets several senders share the
	// queue (see ClaimAfter), and a number of this sender's own, held by its database session. A Lock
	// while senders run fails with a *LockedError that says how many.
	LockSend(ctx context.Context, command string) (Lock, error)
	// Close closes the store, releasing any lock still held through it.
	Close() error
}

// Lock is a held run lock.
type Lock interface {
	// Unlock releases the lock. A second call does nothing.
	Unlock() error
}

var (
	// ErrLocked is wrapped by the error of a Lock that another run holds (a *LockedError).
	ErrLocked = errors.New("store: locked by another run")
	// ErrNewer is wrapped by Open's error when the store was written by a newer Herald, whose schema this
	// one does not know.
	ErrNewer = errors.New("store: schema newer than this Herald")
	// ErrCorrupt is wrapped by the error of any operation that finds the store file damaged: not an SQLite
	// file at all, truncated, or with pages SQLite reports as malformed.
	ErrCorrupt = errors.New("store: corrupt")
	// ErrNotFound is wrapped by the error of a look-up of a subscriber that does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is wrapped by the error of adding (or renaming to) an address another subscriber has.
	ErrExists = errors.New("store: subscriber exists")
	// ErrNotStore is wrapped by Open's error when the file is a sound SQLite database that Herald did not
	// make (another program's tables, or another program's application id).
	ErrNotStore = errors.New("store: not a Herald store")
)

// Item is one public id of a post (an alias) as the store remembers it across runs.
type Item struct {
	ID, URL, Title string
	Date           time.Time // the post's date
	Hash           string    // content hash (computed by the caller)
	FirstRun       int64
	FirstSeen      time.Time
	LastRun        int64
	LastSeen       time.Time
	Removed        bool
	Sendable       bool // the post was counted as new when first seen: Plan mails it (see Record)
	// Continues is the id of the item this one carries on, when the post's id changed (history.Diff.Continues):
	// Record makes a new id that carries on an id gone in the same run another alias of that id's post.
	Continues string
	Post      int64 // the post this id is an alias of (set by Items; Record ignores it)

	// What Record stores of a new post, and Items gives back (but Tags and Lang): who may want it, and
	// whether and when it may be mailed (see Plan).
	Tags    Tags          // its tags and categories
	Lang    string        // its language, "" for none
	NoEmail bool          // email: false in its front matter: never mailed (a sendable one is recorded as not)
	Held    bool          // its mail waits for Approve
	Delay   time.Duration // its mail waits this long from when it is first recorded (Record only)
	// WaitUntil is when its mail may go (Items only): zero once Plan has released it, or when it never waited.
	WaitUntil time.Time
}

// Alias is an id the store knows, as a run's diff compares it (see Aliases): Item's fields of the same names.
type Alias struct {
	ID, URL, Title string
	Date           time.Time
	Hash           string
	Removed        bool
}

// Run is one recorded run.
type Run struct {
	ID                           int64
	Started                      time.Time
	Finished                     time.Time
	Command                      string // "publish", "build --record", ...
	ConfigHash                   string // which version of the configuration ran
	Items, New, Updated, Removed int
	Baseline                     bool // the first run: everything recorded, nothing counted as new
	Forced                       bool // --force overrode the flood guard
}

// Subscriber statuses.
const (
	Pending      = "pending"      // awaiting confirmation
	Active       = "active"       // confirmed: gets mail
	Unsubscribed = "unsubscribed" // left
	Bounced      = "bounced"      // the address does not exist
)

// Subscriber frequencies.
const (
	Immediate = "immediate" // one message per post
	Daily     = "daily"     // a digest on the first run of each day (from PlanOptions' hour)
	Weekly    = "weekly"    // a digest on the first run of each week (from PlanOptions' weekday and hour)
	Monthly   = "monthly"   // a digest on the first run of each month (from the first, at PlanOptions' hour)
)

// Consent sources.
const (
	FromImport  = "import"
	FromWeb     = "web"
	FromCommand = "command"
)

// Subscriber is one address on the list, with its consent record. Times are zero when unset.
type Subscriber struct {
	ID             int64
	Email          string // as written; the domain is compared case-insensitively
	Name           string
	Status         string // Pending, Active, Unsubscribed or Bounced
	Frequency      string // Immediate, Daily, Weekly or Monthly
	CreatedAt      time.Time
	ConsentSource  string // FromImport, FromWeb or FromCommand
	ConsentAt      time.Time
	ConsentIP      string // the web form's client address
	ConfirmedAt    time.Time
	UnsubscribedAt time.Time
	LastDigestAt   time.Time
	HardBounces    int       // 5.1.1 replies since the subscriber was last activated
	ComplainedAt   time.Time // when they last marked a message as spam (a provider's complaint; see RecordEvent)
	Tags           Tags      // the tags and categories whose posts they want; none: every post
	Lang           string    // the language whose posts they want; "": the site's (see PlanWith)
}

// Choices are what a reader may choose from: the tags and languages of the site's posts.
type Choices struct {
	Tags  []string
	Langs []string
}

// ImportResult says what ImportSubscribers did with each row: Added+Updated+Unchanged+Skipped is the
// number of rows.
type ImportResult struct {
	Added     int // new subscribers
	Updated   int // rows that changed a known subscriber (or one added earlier in the same import)
	Unchanged int // rows that matched a known subscriber and changed nothing
	Skipped   int // rows of unsubscribed or bounced subscribers, left as they are
}

// QueuedSignUp is a sign-up of the web form that herald serve has answered and not yet handled.
type QueuedSignUp struct {
	ID        int64  // set by the store: the order of the queue
	Email     string // as typed
	Name      string
	Frequency string // "" keeps a known subscriber's
	Tags      Tags   // "" keeps a known subscriber's
	Lang      string // "" keeps a known subscriber's
	IP        string // the client's address
	At        time.Time
}

// Delivery statuses.
const (
	Queued    = "queued"
	Sending   = "sending"   // durable before the message's DATA begins
	Sent      = "sent"      // the server said 250
	Deferred  = "deferred"  // a 4xx or a network error: tried again at NextAttemptAt
	Failed    = "failed"    // a 5xx, or deferred for too long: never tried again
	Unknown   = "unknown"   // the connection died after DATA: the server may have it
	Cancelled = "cancelled" // the subscriber left before it was sent
)

// Delivery is one message of the ledger: a post or a digest to a subscriber.
type Delivery struct {
	ID           int64
	SubscriberID int64
	// ItemIDs are the posts it carries, each by its id on the site (the newest, when it has several there;
	// the one last seen there, when it has none): one for a post; a digest's, newest first.
	ItemIDs       []string
	DigestKey     string // "daily 2025-01-03" or "weekly 2025-W01"; "" for a post
	Status        string
	MessageID     string // the Message-ID it was first sent with; "" until then (the mailer makes one from ID)
	Attempts      int
	LastError     string
	QueuedAt      time.Time
	SendingAt     time.Time // when its first attempt began
	SentAt        time.Time
	NextAttemptAt time.Time // while deferred
}

// Attempt is a delivery about to be sent, and the Message-ID it carries.
type Attempt struct {
	DeliveryID int64
	MessageID  string
}

// Outcome is how an attempt ended.
type Outcome struct {
	DeliveryID   int64
	Status       string    // Sent, Deferred, Failed or Unknown
	Error        string    // the server's reply or the network error; "" when sent
	EnhancedCode string    // the reply's enhanced status code (RFC 3463), such as "5.1.1"
	NextAttempt  time.Time // when to try a deferred delivery again
	At           time.Time // when it ended
}

// Event kinds: what a mail provider reports about a message after it took it.
const (
	EventDelivered  = "delivered"   // the receiving server took it
	EventSoftBounce = "soft_bounce" // it was refused for now (a full mailbox, a server down)
	EventHardBounce = "hard_bounce" // it was refused for good: the address does not exist
	EventComplaint  = "complaint"   // the reader marked it as spam
)

// Event is a mail provider's report about one message (herald serve's webhooks). MessageID and
// Recipient are what RecordEvent matches it by, and are not stored: Events returns the delivery and
// subscriber it matched (0 for none) instead.
type Event struct {
	ID              int64
	Provider        string // "ses", "postmark", "mailgun", "resend"
	ProviderEventID string // unique for the provider: the same event twice is one
	Kind            string // EventDelivered, EventSoftBounce, EventHardBounce or EventComplaint
	At              time.Time
	ReceivedAt      time.Time
	Detail          string // the provider's or the receiving server's words, such as a bounce's reason
	MessageID       string // the Message-ID Herald sent the message with, when the event names it
	Recipient       string // the address the event is about, when it names one
	DeliveryID      int64
	SubscriberID    int64
}

// PostEvents are the sent deliveries of one post and what came back about them, for herald status.
type PostEvents struct {
	PostID      int64
	ItemID      string // the post's id on the site (its newest, as in Delivery.ItemIDs)
	Title       string
	Sent        int
	HardBounces int
	Complaints  int
}

// Counts are the sizes of the store's tables, for herald status.
type Counts struct{ Runs, Items, Removed, Subscribers, Deliveries int }

// LockedError is the error of a Lock that another run holds: who holds it, as that run wrote it down.
// Holder fields are zero when the holder had not written them yet.
type LockedError struct {
	Path    string // the store
	Senders int    // senders that share the lock (PostgreSQL), when they hold it rather than one run
	PID     int
	Host    string
	Command string
	Since   time.Time
}

func (e *LockedError) Error() string {
	if e.Senders > 0 {
		return fmt.Sprintf("store %s is locked by %d running %s (herald send); try again when they have finished", e.Path, e.Senders, map[bool]string{true: "sender", false: "senders"}[e.Senders == 1])
	}
	if e.PID == 0 {
		return fmt.Sprintf("store %s is locked by another run (which has not said who it is yet); try again when it has finished", e.Path)
	}
	return fmt.Sprintf("store %s is locked by another run: %q, pid %d on %s, since %s; try again when it has finished",
		e.Path, e.Command, e.PID, e.Host, e.Since.UTC().Format(time.RFC3339))
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// pathError is an error about the store file as a whole (corrupt, newer, foreign, unreadable): it names
// the file and wraps one of the sentinels, and the underlying cause if there is one.
type pathError struct {
	path string
	msg  string // follows the path, and says the cause if there is one: "is corrupt (...); restore ..."
	kind error  // a sentinel, or nil
	err  error  // the cause, or nil
}

func (e *pathError) Error() string { return "store " + e.path + " " + e.msg }

func (e *pathError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}
