package store

// The PostgreSQL store's schema. Its versions are the SQLite store's (schema.go): a new PostgreSQL store
// is made at version pgBase, the model of that version in PostgreSQL's types, and each later SQLite
// migration has its PostgreSQL twin in pgMigrations, so that a store of version N means the same on
// both (TestPostgresVersions checks that none is missing). There is no history to migrate before pgBase:
// no Herald wrote a PostgreSQL store of an older version.
//
// herald_meta holds what SQLite keeps in its file header: an application marker, so that another
// program's tables are never taken for a store, and the schema version, changed in the same transaction
// as the migration that sets it.

// pgApplication is herald_meta.application of every PostgreSQL store.
const pgApplication = "herald"

// pgBase is the version a new PostgreSQL store is made at.
const pgBase = 7

// pgSchema makes a version-pgBase store. Times are TIMESTAMPTZ (microseconds), booleans BOOLEAN, ids
// identity columns, which are never reused (the ledger points at posts, tokens are HMACs of subscriber
// ids, Message-IDs may be made from delivery ids). public_id sorts as bytes (COLLATE "C"), as Items
// promises. The comments of schema.go say what each table and column is for; only what differs is said
// here.
const pgSchema = `
CREATE TABLE herald_meta (
	one         BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), -- a single row
	application TEXT    NOT NULL,
	version     INTEGER NOT NULL
);
INSERT INTO herald_meta (application, version) VALUES ('` + pgApplication + `', 7); -- pgBase

CREATE TABLE runs (
	id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	started       TIMESTAMPTZ NOT NULL,
	finished      TIMESTAMPTZ,
	command       TEXT    NOT NULL,
	config_hash   TEXT    NOT NULL,
	items_count   INTEGER NOT NULL,
	new_count     INTEGER NOT NULL,
	updated_count INTEGER NOT NULL,
	removed_count INTEGER NOT NULL,
	baseline      BOOLEAN NOT NULL,
	forced        BOOLEAN NOT NULL
);

CREATE TABLE posts (
	id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	first_run  BIGINT      NOT NULL REFERENCES runs (id),
	first_seen TIMESTAMPTZ NOT NULL,
	plan_run   BIGINT      NOT NULL,
	sendable   BOOLEAN     NOT NULL DEFAULT FALSE,
	removed    BOOLEAN     NOT NULL DEFAULT FALSE
);
CREATE INDEX posts_sendable ON posts (sendable, plan_run);

CREATE TABLE aliases (
	public_id  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	post_id    BIGINT      NOT NULL REFERENCES posts (id),
	url        TEXT        NOT NULL,
	title      TEXT        NOT NULL,
	date       TIMESTAMPTZ,
	hash       TEXT        NOT NULL,
	first_run  BIGINT      NOT NULL REFERENCES runs (id),
	first_seen TIMESTAMPTZ NOT NULL,
	last_run   BIGINT      REFERENCES runs (id),
	last_seen  TIMESTAMPTZ,
	removed    BOOLEAN     NOT NULL DEFAULT FALSE,
	CHECK (removed = (last_run IS NOT NULL) AND removed = (last_seen IS NOT NULL))
);
CREATE INDEX aliases_post ON aliases (post_id);

-- SQLite's lower(): ASCII letters only, whatever the database's locale, as emailKey folds them.
CREATE FUNCTION herald_ascii_lower(s TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');

CREATE TABLE subscribers (
	id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	email           TEXT    NOT NULL,
	email_key       TEXT    NOT NULL UNIQUE, -- emailKey; a store copied from SQLite may hold keys of before version 5
	name            TEXT    NOT NULL DEFAULT '',
	status          TEXT    NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
	frequency       TEXT    NOT NULL DEFAULT 'immediate'
		CHECK (frequency IN ('immediate', 'daily', 'weekly')),
	created_at      TIMESTAMPTZ NOT NULL,
	consent_source  TEXT    NOT NULL CHECK (consent_source IN ('import', 'web', 'command')),
	consent_at      TIMESTAMPTZ,
	consent_ip      TEXT,
	confirmed_at    TIMESTAMPTZ,
	unsubscribed_at TIMESTAMPTZ,
	hard_bounces    INTEGER NOT NULL DEFAULT 0,
	last_digest_at  TIMESTAMPTZ,
	planned_run     BIGINT  NOT NULL DEFAULT 0,
	start_run       BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX subscribers_plan ON subscribers (status, frequency, planned_run);
CREATE INDEX subscribers_email_fold ON subscribers (herald_ascii_lower(email_key));

CREATE TABLE deliveries (
	id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	subscriber_id   BIGINT  NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	post_id         BIGINT  REFERENCES posts (id),
	digest_key      TEXT,
	status          TEXT    NOT NULL DEFAULT 'queued'
		CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'unknown', 'cancelled')),
	message_id      TEXT,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	queued_at       TIMESTAMPTZ NOT NULL,
	sending_at      TIMESTAMPTZ,
	sent_at         TIMESTAMPTZ,
	next_attempt_at TIMESTAMPTZ,
	maybe_sent      BOOLEAN NOT NULL DEFAULT FALSE,
	CHECK ((post_id IS NULL) <> (digest_key IS NULL)),
	UNIQUE (id, subscriber_id)
);

CREATE TABLE delivery_items (
	subscriber_id BIGINT NOT NULL,
	post_id       BIGINT NOT NULL REFERENCES posts (id),
	delivery_id   BIGINT NOT NULL,
	PRIMARY KEY (subscriber_id, post_id),
	FOREIGN KEY (delivery_id, subscriber_id) REFERENCES deliveries (id, subscriber_id) ON DELETE CASCADE
);

CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
CREATE INDEX deliveries_queued ON deliveries (id, subscriber_id) WHERE status = 'queued';
CREATE INDEX deliveries_deferred ON deliveries (id, next_attempt_at, subscriber_id) WHERE status = 'deferred';
CREATE INDEX deliveries_sending ON deliveries (id) WHERE status = 'sending';
CREATE UNIQUE INDEX deliveries_digest ON deliveries (subscriber_id, digest_key) WHERE digest_key IS NOT NULL;
CREATE INDEX delivery_items_delivery ON delivery_items (delivery_id, subscriber_id);
CREATE INDEX delivery_items_post ON delivery_items (post_id);

-- Who holds the run lock, for the error a second run gets (SQLite's store writes it in its lock file).
-- The lock itself is a session-level advisory lock (appID, lock_key), which the server drops when the
-- holder's session ends however it ends; backend_pid tells whether this row's writer still holds it.
CREATE TABLE run_lock (
	lock_key    INTEGER     PRIMARY KEY,
	backend_pid INTEGER     NOT NULL,
	pid         INTEGER     NOT NULL,
	host        TEXT        NOT NULL,
	command     TEXT        NOT NULL,
	since       TIMESTAMPTZ NOT NULL
);
`

// pgMigrations[i] takes a PostgreSQL store from version pgBase+i to pgBase+i+1, as migrations[pgBase+i]
// does an SQLite one.
var pgMigrations = []string{
	// 8: herald serve's own state (limit counts, the sign-up queue, the write check).
	`
CREATE TABLE limit_counts (
	key        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	window_end TIMESTAMPTZ NOT NULL,
	count      INTEGER     NOT NULL
);
CREATE INDEX limit_counts_end ON limit_counts (window_end);

CREATE TABLE signup_queue (
	id        BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	email     TEXT        NOT NULL,
	name      TEXT        NOT NULL,
	frequency TEXT        NOT NULL,
	ip        TEXT        NOT NULL,
	at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE write_checks (
	id         INTEGER     PRIMARY KEY CHECK (id = 1),
	checked_at TIMESTAMPTZ NOT NULL
);
`,
	// 9: the sender that claimed a delivery (see ClaimAfter), and the numbers senders take: a sender holds
	// the session lock (senderKey, its number) while it runs, so its claims end with its session.
	`
ALTER TABLE deliveries ADD COLUMN claimed_by BIGINT;
CREATE INDEX deliveries_claimed ON deliveries (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE SEQUENCE sender_ids MAXVALUE 2147483647 CYCLE;
`,
	// 10: the providers' events, and the complaints of subscribers.
	`
CREATE TABLE events (
	id                BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	provider          TEXT        NOT NULL,
	provider_event_id TEXT        NOT NULL,
	kind              TEXT        NOT NULL CHECK (kind IN ('delivered', 'soft_bounce', 'hard_bounce', 'complaint')),
	at                TIMESTAMPTZ NOT NULL,
	received_at       TIMESTAMPTZ NOT NULL,
	detail            TEXT        NOT NULL DEFAULT '',
	delivery_id       BIGINT      REFERENCES deliveries (id) ON DELETE CASCADE,
	subscriber_id     BIGINT      REFERENCES subscribers (id) ON DELETE CASCADE,
	UNIQUE (provider, provider_event_id)
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_delivery ON events (delivery_id) WHERE delivery_id IS NOT NULL;
CREATE INDEX events_subscriber ON events (subscriber_id) WHERE subscriber_id IS NOT NULL;
CREATE INDEX deliveries_message_id ON deliveries (message_id) WHERE message_id IS NOT NULL;
ALTER TABLE subscribers ADD COLUMN complained_at TIMESTAMPTZ;
`,
	// 11: a reader's choices (monthly digests, tags, a language) and the author's hold on a post's mail.
	`
ALTER TABLE subscribers DROP CONSTRAINT subscribers_frequency_check;
ALTER TABLE subscribers ADD CONSTRAINT subscribers_frequency_check
	CHECK (frequency IN ('immediate', 'daily', 'weekly', 'monthly'));
ALTER TABLE subscribers ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE subscribers ADD COLUMN lang TEXT NOT NULL DEFAULT '';
ALTER TABLE posts ADD COLUMN lang TEXT NOT NULL DEFAULT '';
ALTER TABLE posts ADD COLUMN no_email BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE posts ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE posts ADD COLUMN wait_until TIMESTAMPTZ;
CREATE INDEX posts_waiting ON posts (wait_until) WHERE wait_until IS NOT NULL;
CREATE TABLE post_tags (
	post_id BIGINT NOT NULL REFERENCES posts (id),
	tag     TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (post_id, tag)
);
CREATE INDEX post_tags_tag ON post_tags (tag);
ALTER TABLE signup_queue ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE signup_queue ADD COLUMN lang TEXT NOT NULL DEFAULT '';
`,
	// 12: SQLite's deliveries_open, in the place of its deliveries_queued and deliveries_sending, saves
	// a page written for each commit of the ledger. PostgreSQL keeps the two: its update of a row's status
	// makes a new version of the row with an entry in every index whose condition it meets, merged or not,
	// and its log records the entries, not the pages; deliveries_sending keeps Recover, which each of
	// several senders runs as it starts, from passing over the queue.
	`-- nothing changes`,
	// 13: deliveries_message_id goes, as in SQLite: its entry for each message sent cost more than the
	// rare look-ups it served (messageid.go).
	`
DROP INDEX deliveries_message_id;
`,
	// 14: SQLite's CHECK on deliveries.status written with ORs, which it checks without a temporary
	// b-tree. PostgreSQL compares an IN list of constants in place: its CHECK stays.
	`-- nothing changes`,
}

// pgTables are the tables each version makes, for the check that a store has all of its version's (a
// store with one missing was damaged: dropped by hand, or restored in part).
var pgTables = map[int][]string{
	pgBase: {"aliases", "deliveries", "delivery_items", "herald_meta", "posts", "run_lock", "runs", "subscribers"},
	8:      {"limit_counts", "signup_queue", "write_checks"},
	10:     {"events"},
	11:     {"post_tags"},
}
