package store

import (
	"context"
	"database/sql"
	"fmt"
)

// The schema's version lives in the file header (PRAGMA user_version), not in a table: SQLite reads it
// without knowing any table, it changes in the same transaction as the migration that sets it, and a
// foreign database has 0 there. PRAGMA application_id marks the file as Herald's, so that a database of
// another program that also counts user_version is not taken for a store. (PostgreSQL has neither: its
// store keeps both in the table herald_meta, and each migration here has a PostgreSQL twin in
// postgres_schema.go.)
//
// appID is "HRLD" read as a big-endian integer.
const appID = 0x48524c44

// migrations are the schema's versions: applying migrations[i] to a version-i store makes it version i+1.
// Never edit a released step; append a new one. The DDL is SQLite's (AUTOINCREMENT, WITHOUT ROWID,
// INTEGER 0/1 for booleans); the queries in sqlite.go keep to SQL that PostgreSQL runs too.
//
// Times are TEXT in UTC, RFC 3339 with nine fractional digits (formatTime): fixed width, so they sort
// as they compare; NULL where there is no time.
var migrations = []string{
	// 1: runs and every item ever seen.
	`
CREATE TABLE runs (
	id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: items point at runs
	started       TEXT    NOT NULL,
	finished      TEXT,
	command       TEXT    NOT NULL,
	config_hash   TEXT    NOT NULL,
	items_count   INTEGER NOT NULL,
	new_count     INTEGER NOT NULL,
	updated_count INTEGER NOT NULL,
	removed_count INTEGER NOT NULL,
	baseline      INTEGER NOT NULL CHECK (baseline IN (0, 1)),
	forced        INTEGER NOT NULL CHECK (forced IN (0, 1))
);

-- Ordered by id, which is how Items reads it and how Record looks rows up. Every item that is not removed
-- was seen by the latest run (Record marks the others removed), so its last_run and last_seen are NULL,
-- meaning "the latest run": a run that changes nothing writes no item rows. Marking an item removed
-- writes the last run that saw it there.
CREATE TABLE items (
	id         TEXT    NOT NULL PRIMARY KEY,
	url        TEXT    NOT NULL,
	title      TEXT    NOT NULL,
	date       TEXT,
	hash       TEXT    NOT NULL,
	first_run  INTEGER NOT NULL REFERENCES runs (id),
	first_seen TEXT    NOT NULL,
	last_run   INTEGER REFERENCES runs (id),
	last_seen  TEXT,
	removed    INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
	CHECK ((removed = 1) = (last_run IS NOT NULL) AND (removed = 1) = (last_seen IS NOT NULL))
) WITHOUT ROWID;
`,
	// 2: subscribers and the delivery ledger, for the mail and subscriber issues.
	`
CREATE TABLE subscribers (
	id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: tokens are HMACs of it
	email           TEXT    NOT NULL,        -- as the subscriber wrote it
	email_key       TEXT    NOT NULL UNIQUE, -- local part as written, "@", domain in lower case (lower case since version 5)
	name            TEXT    NOT NULL DEFAULT '',
	status          TEXT    NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
	frequency       TEXT    NOT NULL DEFAULT 'immediate'
		CHECK (frequency IN ('immediate', 'daily', 'weekly')),
	created_at      TEXT    NOT NULL, -- when the row was made
	consent_source  TEXT    NOT NULL CHECK (consent_source IN ('import', 'web', 'command')),
	consent_at      TEXT,             -- when consent was given (an import may know an earlier time)
	consent_ip      TEXT,             -- the web form's client address
	confirmed_at    TEXT,             -- double opt-in done; posts first seen after this are theirs
	unsubscribed_at TEXT,
	hard_bounces    INTEGER NOT NULL DEFAULT 0, -- 5.1.1 replies; the second marks the subscriber bounced
	last_digest_at  TEXT
);
CREATE INDEX subscribers_status ON subscribers (status, frequency);

-- One row per message: a post (item_id) or a digest (digest_key, e.g. "weekly 2025-W03") to a subscriber.
CREATE TABLE deliveries (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	item_id         TEXT    REFERENCES items (id),
	digest_key      TEXT,
	status          TEXT    NOT NULL DEFAULT 'queued'
		CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'unknown')),
	message_id      TEXT    UNIQUE, -- deterministic per delivery: a retry of an unknown one reuses it
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	queued_at       TEXT    NOT NULL,
	sending_at      TEXT,
	sent_at         TEXT,
	next_attempt_at TEXT,
	CHECK ((item_id IS NULL) <> (digest_key IS NULL)),
	UNIQUE (subscriber_id, item_id),
	UNIQUE (subscriber_id, digest_key),
	UNIQUE (id, subscriber_id) -- the target of delivery_items' foreign key
);
-- What a run sends: queued work, and deferred work whose next attempt is due.
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);

-- The posts each delivery carries (one for a post, several for a digest). The primary key is what makes
-- a post reach a subscriber once, alone or in a digest, even if they change frequency in between.
CREATE TABLE delivery_items (
	subscriber_id INTEGER NOT NULL,
	item_id       TEXT    NOT NULL REFERENCES items (id),
	delivery_id   INTEGER NOT NULL,
	PRIMARY KEY (subscriber_id, item_id),
	FOREIGN KEY (delivery_id, subscriber_id) REFERENCES deliveries (id, subscriber_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX delivery_items_delivery ON delivery_items (delivery_id, subscriber_id);
CREATE INDEX delivery_items_item ON delivery_items (item_id);
`,
	// 3: what Plan needs: which items to mail, how far each subscriber's planning has come, and a
	// status for deliveries cancelled because the subscriber left. SQLite cannot change a CHECK
	// constraint, so deliveries and delivery_items are made anew (https://www.sqlite.org/lang_altertable.html#otheralter):
	// the old ones are renamed away first, so that the new ones are made under their own names, with
	// the DDL written here. Dropping delivery_items before deliveries keeps its ON DELETE CASCADE from
	// firing. The AUTOINCREMENT counter moves over, so that no delivery id is ever reused (a Message-ID
	// may be made from it).
	`
-- Set by Record on the items a run counts as new (never on a baseline's, unless backfilled).
ALTER TABLE items ADD COLUMN sendable INTEGER NOT NULL DEFAULT 0 CHECK (sendable IN (0, 1));
CREATE INDEX items_sendable ON items (sendable, first_run);

-- Every sendable item with first_run <= planned_run has been planned for the subscriber (or was not
-- theirs). It keeps Plan from looking again at every old item for every subscriber on every run, and
-- it starts at the newest sendable item when the subscriber is added: nothing recorded before that is
-- theirs, whatever consent time an import brings along.
ALTER TABLE subscribers ADD COLUMN planned_run INTEGER NOT NULL DEFAULT 0;
DROP INDEX subscribers_status;
CREATE INDEX subscribers_plan ON subscribers (status, frequency, planned_run);

ALTER TABLE delivery_items RENAME TO delivery_items_v2;
ALTER TABLE deliveries RENAME TO deliveries_v2;

-- One row per message: a post (item_id) or a digest (digest_key, e.g. "weekly 2025-W03") to a subscriber.
CREATE TABLE deliveries (
	id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: Message-IDs may be made from it
	subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	item_id         TEXT    REFERENCES items (id),
	digest_key      TEXT,
	status          TEXT    NOT NULL DEFAULT 'queued'
		CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'unknown', 'cancelled')),
	message_id      TEXT,   -- the one it was first sent with: a retry of an unknown one reuses it
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	queued_at       TEXT    NOT NULL,
	sending_at      TEXT,
	sent_at         TEXT,
	next_attempt_at TEXT,   -- set only while deferred
	CHECK ((item_id IS NULL) <> (digest_key IS NULL)),
	UNIQUE (subscriber_id, item_id),
	UNIQUE (id, subscriber_id) -- the target of delivery_items' foreign key
);

-- The posts each delivery carries (one for a post, several for a digest). The primary key is what makes
-- a post reach a subscriber once, alone or in a digest, even if they change frequency in between.
CREATE TABLE delivery_items (
	subscriber_id INTEGER NOT NULL,
	item_id       TEXT    NOT NULL REFERENCES items (id),
	delivery_id   INTEGER NOT NULL,
	PRIMARY KEY (subscriber_id, item_id),
	FOREIGN KEY (delivery_id, subscriber_id) REFERENCES deliveries (id, subscriber_id) ON DELETE CASCADE
) WITHOUT ROWID;

INSERT INTO deliveries (id, subscriber_id, item_id, digest_key, status, message_id, attempts, last_error,
		queued_at, sending_at, sent_at, next_attempt_at)
	SELECT id, subscriber_id, item_id, digest_key, status, message_id, attempts, last_error,
		queued_at, sending_at, sent_at, next_attempt_at
	FROM deliveries_v2;
INSERT INTO delivery_items (subscriber_id, item_id, delivery_id)
	SELECT subscriber_id, item_id, delivery_id FROM delivery_items_v2;
DELETE FROM sqlite_sequence WHERE name = 'deliveries';
UPDATE sqlite_sequence SET name = 'deliveries' WHERE name = 'deliveries_v2';
DROP TABLE delivery_items_v2;
DROP TABLE deliveries_v2;

-- What a run sends: queued work (next_attempt_at NULL, in id order), and deferred work whose next
-- attempt is due.
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
-- Partial, unlike version 2's UNIQUE constraints: the many post deliveries have no digest key, and no
-- Message-ID until they are sent, so planning them writes two index entries fewer each.
CREATE UNIQUE INDEX deliveries_digest ON deliveries (subscriber_id, digest_key) WHERE digest_key IS NOT NULL;
CREATE UNIQUE INDEX deliveries_message_id ON deliveries (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX delivery_items_delivery ON delivery_items (delivery_id, subscriber_id);
CREATE INDEX delivery_items_item ON delivery_items (item_id);
`,
	// 4: fewer pages written for each message sent. deliveries_due held every delivery under its status,
	// so each message moved its entry twice (queued, sending, sent): the partial indexes hold only the
	// work still to do, and a message leaves them once (and passes through the small one of messages in
	// flight). deliveries_message_id put each Message-ID, a hash, on a random page; no query looks a
	// delivery up by it, and each is unique by construction (the hash of the delivery's own key, reused
	// only by a retry of the same delivery). BenchmarkSend wrote 28 KB to disk per message before, 17 KB
	// after.
	`
DROP INDEX deliveries_due;
DROP INDEX deliveries_message_id;
CREATE INDEX deliveries_queued ON deliveries (id, subscriber_id) WHERE status = 'queued';
CREATE INDEX deliveries_deferred ON deliveries (id, next_attempt_at, subscriber_id) WHERE status = 'deferred';
-- What a crash left in flight (Recover): a handful of entries, on one page.
CREATE INDEX deliveries_sending ON deliveries (id) WHERE status = 'sending';
`,
	// 5: an address is found whatever the case of its local part (emailKey): new keys are written in
	// lower case, and the store looks them up by lower(email_key), which also finds the keys of version 4
	// and before, written with the local part as the subscriber wrote it. The rows that one address got
	// then, one per case, stay; lookups take the latest decision among them (latestFirst), and an opt-out
	// of one is given to the others that had not consented since (an import in another case brought
	// back someone who had left).
	`
CREATE INDEX subscribers_email_fold ON subscribers (lower(email_key));
-- o opts v out: o is a bounce (the mailbox is the same), or v came by import, or v consented before o left.
-- A variant that signed up again by double opt-in after the opt-out keeps its subscription.
CREATE TEMP VIEW case_opt_outs AS
	SELECT v.id AS id, o.status AS status, o.unsubscribed_at AS unsubscribed_at
	FROM subscribers v JOIN subscribers o ON lower(o.email_key) = lower(v.email_key) AND o.id <> v.id
	WHERE v.status IN ('active', 'pending') AND o.status IN ('unsubscribed', 'bounced')
		AND (o.status = 'bounced' OR v.consent_source = 'import'
			OR COALESCE(v.confirmed_at, v.consent_at, v.created_at) <= o.unsubscribed_at);
UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL,
		last_error = 'the subscriber opted out under another case of the address'
	WHERE status IN ('queued', 'deferred') AND subscriber_id IN (SELECT id FROM case_opt_outs);
UPDATE subscribers AS s SET
		status = (SELECT c.status FROM case_opt_outs c WHERE c.id = s.id ORDER BY c.status DESC LIMIT 1),
		unsubscribed_at = (SELECT MAX(c.unsubscribed_at) FROM case_opt_outs c WHERE c.id = s.id)
	WHERE s.id IN (SELECT id FROM case_opt_outs);
DROP VIEW case_opt_outs;
`,
	// 6: a post taken off the site and put back is planned again, for whoever it is still owed to (a
	// digest that went out while it was gone did not have it). Plan looks at an item from its plan_run:
	// its first run, or the run that put it back. planned_run moves on, so start_run keeps where a
	// subscriber started: an item recorded before is never theirs, put back or not. For a subscriber
	// added before this version it is the last run started before they were added (about what
	// planStart gave them then).
	`
ALTER TABLE items ADD COLUMN plan_run INTEGER NOT NULL DEFAULT 0;
UPDATE items SET plan_run = first_run;
DROP INDEX items_sendable;
CREATE INDEX items_sendable ON items (sendable, plan_run);
-- The ids one post has had share a lineage (the first one's id: Record's carryOn passes it on), so that
-- whoever had the post under one id has it under all of them, whatever comes back.
ALTER TABLE items ADD COLUMN lineage TEXT;
UPDATE items SET lineage = id;
CREATE INDEX items_lineage ON items (lineage);
-- An older Herald that opened the store before this migration inserts items without plan_run and lineage.
CREATE TRIGGER items_defaults AFTER INSERT ON items WHEN NEW.plan_run = 0 OR NEW.lineage IS NULL
BEGIN
	UPDATE items SET plan_run = CASE NEW.plan_run WHEN 0 THEN NEW.first_run ELSE NEW.plan_run END,
		lineage = COALESCE(NEW.lineage, NEW.id) WHERE id = NEW.id;
END;
ALTER TABLE subscribers ADD COLUMN start_run INTEGER NOT NULL DEFAULT 0;
UPDATE subscribers SET start_run = MIN(planned_run,
	COALESCE((SELECT MAX(r.id) FROM runs r WHERE r.started <= subscribers.created_at), 0));
-- The same for subscribers: an older Herald sets planned_run where they start, and no start_run.
CREATE TRIGGER subscribers_start_run AFTER INSERT ON subscribers WHEN NEW.start_run = 0 AND NEW.planned_run > 0
BEGIN
	UPDATE subscribers SET start_run = NEW.planned_run WHERE id = NEW.id;
END;
-- Set when an unknown delivery is queued again (--retry-unknown): whatever becomes of it, a server may
-- have it, so it is never taken out of the queue with its post (Record).
ALTER TABLE deliveries ADD COLUMN maybe_sent INTEGER NOT NULL DEFAULT 0 CHECK (maybe_sent IN (0, 1));
`,
	// 7: a post is a posts row with an id of its own, and its public ids are its aliases (see the package
	// comment). The ledger records posts, not ids, so an id that changes moves nothing: items, lineage and
	// their triggers go. The ids of one post are those of a lineage, with the lineages joined that a
	// single-post delivery links (a Herald before version 6 moved its delivery_items row to the new id and
	// left deliveries.item_id on the old one). A subscriber's rows of one post become one: the strongest
	// is kept (sent, sending, unknown or queued again after it, deferred, queued, failed, cancelled; the
	// oldest among equals); a weaker message still to go is cancelled, or leaves its digest (cancelled
	// with it when it was the digest's last post). deliveries and delivery_items are made anew as in
	// version 3, and deliveries keeps its AUTOINCREMENT counter.
	`
CREATE TABLE posts (
	id         INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the ledger points at posts
	first_run  INTEGER NOT NULL REFERENCES runs (id),
	first_seen TEXT    NOT NULL,
	plan_run   INTEGER NOT NULL, -- Plan looks at it from this run: its first, or the one that put it back
	sendable   INTEGER NOT NULL DEFAULT 0 CHECK (sendable IN (0, 1)),
	removed    INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)) -- none of its aliases is on the site
);
CREATE INDEX posts_sendable ON posts (sendable, plan_run);

-- What items held, for each public id: as there, NULL last_run and last_seen mean the latest run.
CREATE TABLE aliases (
	public_id  TEXT    NOT NULL PRIMARY KEY,
	post_id    INTEGER NOT NULL REFERENCES posts (id),
	url        TEXT    NOT NULL,
	title      TEXT    NOT NULL,
	date       TEXT,
	hash       TEXT    NOT NULL,
	first_run  INTEGER NOT NULL REFERENCES runs (id),
	first_seen TEXT    NOT NULL,
	last_run   INTEGER REFERENCES runs (id),
	last_seen  TEXT,
	removed    INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
	CHECK ((removed = 1) = (last_run IS NOT NULL) AND (removed = 1) = (last_seen IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX aliases_post ON aliases (post_id);

-- Each lineage's group: the smallest lineage it reaches through the links.
CREATE TEMP TABLE v7_link AS
	SELECT DISTINCT a.lineage AS x, b.lineage AS y
	FROM deliveries d JOIN delivery_items di ON di.delivery_id = d.id
		JOIN items a ON a.id = d.item_id JOIN items b ON b.id = di.item_id
	WHERE a.lineage <> b.lineage;
CREATE TEMP TABLE v7_group AS
	WITH RECURSIVE edge (x, y) AS (SELECT x, y FROM v7_link UNION SELECT y, x FROM v7_link),
		reach (lineage, other) AS (
			SELECT DISTINCT lineage, lineage FROM items
			UNION SELECT r.lineage, e.y FROM reach r JOIN edge e ON e.x = r.other)
	SELECT lineage, MIN(other) AS grp FROM reach GROUP BY lineage;
CREATE TEMP TABLE v7_post AS
	SELECT g.grp, ROW_NUMBER() OVER (ORDER BY MIN(i.first_seen), g.grp) AS id,
		MIN(i.first_run) AS first_run, MIN(i.first_seen) AS first_seen, MAX(i.plan_run) AS plan_run,
		MAX(i.sendable) AS sendable, MIN(i.removed) AS removed
	FROM items i JOIN v7_group g ON g.lineage = i.lineage GROUP BY g.grp;
CREATE TEMP TABLE v7_item (id TEXT NOT NULL PRIMARY KEY, post_id INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO v7_item (id, post_id)
	SELECT i.id, p.id FROM items i JOIN v7_group g ON g.lineage = i.lineage JOIN v7_post p ON p.grp = g.grp;

INSERT INTO posts (id, first_run, first_seen, plan_run, sendable, removed)
	SELECT id, first_run, first_seen, plan_run, sendable, removed FROM v7_post ORDER BY id;
INSERT INTO aliases (public_id, post_id, url, title, date, hash, first_run, first_seen, last_run, last_seen, removed)
	SELECT i.id, m.post_id, i.url, i.title, i.date, i.hash, i.first_run, i.first_seen, i.last_run, i.last_seen, i.removed
	FROM items i JOIN v7_item m ON m.id = i.id;

-- Every row that says a subscriber had a post (a post's own delivery says it too), ranked.
CREATE TEMP TABLE v7_had AS
	SELECT h.subscriber_id, h.post_id, h.delivery_id, ROW_NUMBER() OVER (PARTITION BY h.subscriber_id, h.post_id
		ORDER BY CASE WHEN d.status = 'sent' THEN 0 WHEN d.status = 'sending' THEN 1
			WHEN d.status = 'unknown' OR d.maybe_sent = 1 AND d.status IN ('queued', 'deferred') THEN 2
			WHEN d.status = 'deferred' THEN 3 WHEN d.status = 'queued' THEN 4 WHEN d.status = 'failed' THEN 5 ELSE 6 END,
			h.delivery_id) AS rank
	FROM (SELECT di.subscriber_id, m.post_id, di.delivery_id FROM delivery_items di JOIN v7_item m ON m.id = di.item_id
		UNION SELECT d.subscriber_id, m.post_id, d.id FROM deliveries d JOIN v7_item m ON m.id = d.item_id) h
	JOIN deliveries d ON d.id = h.delivery_id;

ALTER TABLE delivery_items RENAME TO delivery_items_v6;
ALTER TABLE deliveries RENAME TO deliveries_v6;

-- One row per message: a post (post_id) or a digest (digest_key, e.g. "weekly 2025-W03") to a subscriber.
CREATE TABLE deliveries (
	id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: Message-IDs may be made from it
	subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	post_id         INTEGER REFERENCES posts (id),
	digest_key      TEXT,
	status          TEXT    NOT NULL DEFAULT 'queued'
		CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'unknown', 'cancelled')),
	message_id      TEXT,   -- the one it was first sent with: a retry of an unknown one reuses it
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	queued_at       TEXT    NOT NULL,
	sending_at      TEXT,
	sent_at         TEXT,
	next_attempt_at TEXT,   -- set only while deferred
	maybe_sent      INTEGER NOT NULL DEFAULT 0 CHECK (maybe_sent IN (0, 1)), -- see version 6
	CHECK ((post_id IS NULL) <> (digest_key IS NULL)),
	UNIQUE (id, subscriber_id) -- the target of delivery_items' foreign key
);

-- The posts each delivery carries (one for a post, several for a digest). The primary key is what makes
-- a post reach a subscriber once, alone or in a digest, under whichever of its ids: every delivery of a
-- post has its subscriber and post here (a post's message leaves it only with the message).
CREATE TABLE delivery_items (
	subscriber_id INTEGER NOT NULL,
	post_id       INTEGER NOT NULL REFERENCES posts (id),
	delivery_id   INTEGER NOT NULL,
	PRIMARY KEY (subscriber_id, post_id),
	FOREIGN KEY (delivery_id, subscriber_id) REFERENCES deliveries (id, subscriber_id) ON DELETE CASCADE
) WITHOUT ROWID;

INSERT INTO deliveries (id, subscriber_id, post_id, digest_key, status, message_id, attempts, last_error,
		queued_at, sending_at, sent_at, next_attempt_at, maybe_sent)
	SELECT d.id, d.subscriber_id, m.post_id, d.digest_key, d.status, d.message_id, d.attempts, d.last_error,
		d.queued_at, d.sending_at, d.sent_at, d.next_attempt_at, d.maybe_sent
	FROM deliveries_v6 d LEFT JOIN v7_item m ON m.id = d.item_id;
INSERT INTO delivery_items (subscriber_id, post_id, delivery_id)
	SELECT subscriber_id, post_id, delivery_id FROM v7_had WHERE rank = 1;
UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL,
		last_error = 'the subscriber had this post under another of its ids'
	WHERE status IN ('queued', 'deferred') AND id IN (SELECT delivery_id FROM v7_had WHERE rank > 1)
		AND (digest_key IS NULL OR NOT EXISTS (SELECT 1 FROM delivery_items di WHERE di.delivery_id = deliveries.id));
DELETE FROM sqlite_sequence WHERE name = 'deliveries';
UPDATE sqlite_sequence SET name = 'deliveries' WHERE name = 'deliveries_v6';

DROP TABLE delivery_items_v6;
DROP TABLE deliveries_v6;
DROP TABLE items; -- and its trigger, items_defaults
-- It gave a start to subscribers that a Herald before version 6 added; such a Herald cannot run on
-- version 7 (it reads items).
DROP TRIGGER subscribers_start_run;
DROP TABLE v7_link;
DROP TABLE v7_group;
DROP TABLE v7_post;
DROP TABLE v7_item;
DROP TABLE v7_had;

-- A subscriber's deliveries (their cancellation, their erasure), now that no unique key starts with them.
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
CREATE INDEX deliveries_queued ON deliveries (id, subscriber_id) WHERE status = 'queued';
CREATE INDEX deliveries_deferred ON deliveries (id, next_attempt_at, subscriber_id) WHERE status = 'deferred';
CREATE INDEX deliveries_sending ON deliveries (id) WHERE status = 'sending';
CREATE UNIQUE INDEX deliveries_digest ON deliveries (subscriber_id, digest_key) WHERE digest_key IS NOT NULL;
CREATE INDEX delivery_items_delivery ON delivery_items (delivery_id, subscriber_id);
CREATE INDEX delivery_items_post ON delivery_items (post_id);
`,
	// 8: herald serve's own state, so that a restart forgets nothing: the counts of its sign-up limits, the
	// sign-ups it has answered and not yet handled, and its check that the store takes writes.
	`
-- One row per limit and what it counts (an IP, an address, a domain, ...), for the window in which the
-- count runs: a request after window_end starts a new window. The key is a keyed hash made by herald
-- serve, so no address or IP is kept here. Rows whose window has ended are deleted.
CREATE TABLE limit_counts (
	key        TEXT    NOT NULL PRIMARY KEY,
	window_end TEXT    NOT NULL,
	count      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX limit_counts_end ON limit_counts (window_end);

-- A sign-up of the web form is written here before the form is answered, and deleted once handled
-- (stored as a subscriber, and sent its confirmation): a crash or a restart in between loses none.
CREATE TABLE signup_queue (
	id        INTEGER PRIMARY KEY, -- the order of the queue
	email     TEXT    NOT NULL,    -- as typed
	name      TEXT    NOT NULL,
	frequency TEXT    NOT NULL,    -- '' keeps a known subscriber's
	ip        TEXT    NOT NULL,    -- the client's address, for the consent record
	at        TEXT    NOT NULL     -- when it was answered: the consent time
);

-- One row: herald serve's /healthz commits a write here to know that the store takes writes (a full
-- disk, a file made read-only).
CREATE TABLE write_checks (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	checked_at TEXT    NOT NULL
);
`,
	// 9: the sender that claimed a delivery, so that several senders share a PostgreSQL store's queue (see
	// ClaimAfter). An SQLite store has one sender at a time, its run lock's holder, and leaves it NULL.
	`
ALTER TABLE deliveries ADD COLUMN claimed_by INTEGER;
`,
	// 10: what the mail providers report about the messages they took (herald serve's webhooks), and the
	// complaints of subscribers.
	`
-- One row per event, kept (herald status counts them). An event names its message by the Message-ID
-- Herald sent, which is how it is matched to its delivery (and so to its subscriber), or else by its
-- recipient's address; neither is kept here, only what it matched. (provider, provider_event_id) is
-- unique: an event that comes again, retried by the provider or replayed by someone else, is one.
-- Erasing a subscriber erases their events with their deliveries.
CREATE TABLE events (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	provider          TEXT    NOT NULL,
	provider_event_id TEXT    NOT NULL,
	kind              TEXT    NOT NULL CHECK (kind IN ('delivered', 'soft_bounce', 'hard_bounce', 'complaint')),
	at                TEXT    NOT NULL, -- when the provider says it happened
	received_at       TEXT    NOT NULL,
	detail            TEXT    NOT NULL DEFAULT '',
	delivery_id       INTEGER REFERENCES deliveries (id) ON DELETE CASCADE,
	subscriber_id     INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
	UNIQUE (provider, provider_event_id)
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_delivery ON events (delivery_id) WHERE delivery_id IS NOT NULL;
CREATE INDEX events_subscriber ON events (subscriber_id) WHERE subscriber_id IS NOT NULL;
-- Events find their delivery by its Message-ID (version 4 dropped the index when nothing did).
CREATE INDEX deliveries_message_id ON deliveries (message_id) WHERE message_id IS NOT NULL;
-- When the subscriber last marked a message as spam: kept when they subscribe again.
ALTER TABLE subscribers ADD COLUMN complained_at TEXT;
`,
	// 11: what a reader chooses and what the author holds back (issue 19). A subscriber may take a monthly
	// digest, and only the posts of some tags or categories, or of one language; a post records its tags
	// and language as first seen, and whether and when it may be mailed. SQLite cannot change the CHECK of
	// subscribers.frequency, so subscribers is made anew (https://www.sqlite.org/lang_altertable.html#otheralter,
	// the twelve steps: migrate turns foreign keys off around this migration, so that dropping the old
	// table cascades to nothing), with its AUTOINCREMENT counter.
	`
CREATE TABLE subscribers_v11 (
	id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: tokens are HMACs of it
	email           TEXT    NOT NULL,
	email_key       TEXT    NOT NULL UNIQUE,
	name            TEXT    NOT NULL DEFAULT '',
	status          TEXT    NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
	frequency       TEXT    NOT NULL DEFAULT 'immediate'
		CHECK (frequency IN ('immediate', 'daily', 'weekly', 'monthly')),
	created_at      TEXT    NOT NULL,
	consent_source  TEXT    NOT NULL CHECK (consent_source IN ('import', 'web', 'command')),
	consent_at      TEXT,
	consent_ip      TEXT,
	confirmed_at    TEXT,
	unsubscribed_at TEXT,
	hard_bounces    INTEGER NOT NULL DEFAULT 0,
	last_digest_at  TEXT,
	planned_run     INTEGER NOT NULL DEFAULT 0,
	start_run       INTEGER NOT NULL DEFAULT 0,
	complained_at   TEXT,
	-- The tags and categories whose posts they want, as "|go|news|" (normTags), or '' for every post.
	tags            TEXT    NOT NULL DEFAULT '',
	-- The language whose posts they want, or '' for the site's default (Plan's PlanOptions.Lang).
	lang            TEXT    NOT NULL DEFAULT ''
);
INSERT INTO subscribers_v11 (id, email, email_key, name, status, frequency, created_at, consent_source, consent_at,
		consent_ip, confirmed_at, unsubscribed_at, hard_bounces, last_digest_at, planned_run, start_run, complained_at)
	SELECT id, email, email_key, name, status, frequency, created_at, consent_source, consent_at,
		consent_ip, confirmed_at, unsubscribed_at, hard_bounces, last_digest_at, planned_run, start_run, complained_at
	FROM subscribers;
DELETE FROM sqlite_sequence WHERE name = 'subscribers_v11';
UPDATE sqlite_sequence SET name = 'subscribers_v11' WHERE name = 'subscribers';
DROP TABLE subscribers;
ALTER TABLE subscribers_v11 RENAME TO subscribers;
CREATE INDEX subscribers_plan ON subscribers (status, frequency, planned_run);
CREATE INDEX subscribers_email_fold ON subscribers (lower(email_key));

-- The post's language ('' when it has none), as first seen.
ALTER TABLE posts ADD COLUMN lang TEXT NOT NULL DEFAULT '';
-- email: false in its front matter: in the feeds, mailed to nobody (never sendable).
ALTER TABLE posts ADD COLUMN no_email INTEGER NOT NULL DEFAULT 0 CHECK (no_email IN (0, 1));
-- Held for herald send --approve (hold: true in herald.yaml).
ALTER TABLE posts ADD COLUMN held INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1));
-- A post that waits (email_after, or held) is not planned before this time, nor while held; Plan releases
-- it then (NULL) and plans it from the latest run.
ALTER TABLE posts ADD COLUMN wait_until TEXT;
CREATE INDEX posts_waiting ON posts (wait_until) WHERE wait_until IS NOT NULL;

-- Each post's tags and categories, as first seen (normTags' words).
CREATE TABLE post_tags (
	post_id INTEGER NOT NULL REFERENCES posts (id),
	tag     TEXT    NOT NULL,
	PRIMARY KEY (post_id, tag)
) WITHOUT ROWID;
CREATE INDEX post_tags_tag ON post_tags (tag);

-- A sign-up's choices, until it is handled.
ALTER TABLE signup_queue ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE signup_queue ADD COLUMN lang TEXT NOT NULL DEFAULT '';
`,
	// 12: fewer pages written for each message sent (issue 17). A message's delivery left
	// deliveries_queued when it was marked sending and entered deliveries_sending, which it left again
	// when its result was recorded: three changes to two indexes, and in the group commit one more page
	// of each commit to write and sync. One index holds both now, so that the next message's mark and the
	// last one's result touch the same page. Due reads the queued through it as before; Recover reads the
	// sending through it too, which also passes over the queued: one pass over a run's queue, at its
	// start, against an index entry fewer for each message of it.
	`
DROP INDEX deliveries_queued;
DROP INDEX deliveries_sending;
CREATE INDEX deliveries_open ON deliveries (id, subscriber_id) WHERE status = 'queued' OR status = 'sending';
`,
	// 13: one page fewer written for each message sent (issue 17). The first send of a delivery sets its
	// Message-ID, a hash, whose entry in deliveries_message_id went to a random page of the index: about a
	// fifth of the CPU time of the ledger's commits. An event or a returned message, which is rare, finds
	// its delivery through its recipient's deliveries instead, and scans them all only when that fails
	// (messageid.go).
	`
DROP INDEX deliveries_message_id;
`,
	// 14: less CPU for each message sent (issue 17). The CHECK on deliveries.status listed its seven values
	// with IN, for which SQLite builds a temporary b-tree of the values each time it checks a row: in every
	// UPDATE of a status, the two of each message's ledger commit, 13% of the commit's CPU time (store
	// BenchmarkCommit, 12 pairs). The same CHECK written with ORs compares in place. SQLite cannot change a
	// CHECK, so the table is made anew as https://www.sqlite.org/lang_altertable.html#otheralter says: the
	// new one made, the rows copied, the old one dropped and the new one renamed, so that delivery_items'
	// and events' references to deliveries, which name it, stay as they are. Its AUTOINCREMENT counter
	// comes along (a rename carries a table's sqlite_sequence row), and claimed_by (version 9) is written
	// in its place.
	`
CREATE TABLE deliveries_v14 (
	id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: Message-IDs may be made from it
	subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	post_id         INTEGER REFERENCES posts (id),
	digest_key      TEXT,
	status          TEXT    NOT NULL DEFAULT 'queued'
		CHECK (status = 'queued' OR status = 'sending' OR status = 'sent' OR status = 'deferred'
			OR status = 'failed' OR status = 'unknown' OR status = 'cancelled'),
	message_id      TEXT,   -- the one it was first sent with: a retry of an unknown one reuses it
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	queued_at       TEXT    NOT NULL,
	sending_at      TEXT,
	sent_at         TEXT,
	next_attempt_at TEXT,   -- set only while deferred
	maybe_sent      INTEGER NOT NULL DEFAULT 0 CHECK (maybe_sent IN (0, 1)), -- see version 6
	claimed_by      INTEGER, -- see version 9
	CHECK ((post_id IS NULL) <> (digest_key IS NULL)),
	UNIQUE (id, subscriber_id) -- the target of delivery_items' foreign key
);
INSERT INTO deliveries_v14 (id, subscriber_id, post_id, digest_key, status, message_id, attempts, last_error,
		queued_at, sending_at, sent_at, next_attempt_at, maybe_sent, claimed_by)
	SELECT id, subscriber_id, post_id, digest_key, status, message_id, attempts, last_error,
		queued_at, sending_at, sent_at, next_attempt_at, maybe_sent, claimed_by
	FROM deliveries;
DELETE FROM sqlite_sequence WHERE name = 'deliveries_v14';
INSERT INTO sqlite_sequence (name, seq) SELECT 'deliveries_v14', seq FROM sqlite_sequence WHERE name = 'deliveries';
DROP TABLE deliveries;
ALTER TABLE deliveries_v14 RENAME TO deliveries;
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
CREATE INDEX deliveries_deferred ON deliveries (id, next_attempt_at, subscriber_id) WHERE status = 'deferred';
CREATE UNIQUE INDEX deliveries_digest ON deliveries (subscriber_id, digest_key) WHERE digest_key IS NOT NULL;
CREATE INDEX deliveries_open ON deliveries (id, subscriber_id) WHERE status = 'queued' OR status = 'sending';
`,
}

// migrate brings the store on conn from its version to version to, in one transaction. It reads the
// version again inside the transaction: another process may have migrated it meanwhile.
//
// Foreign keys are off while it runs: version 11 makes subscribers anew, and dropping the old table must
// not cascade to their deliveries. The pragma cannot change inside a transaction; a foreign key check
// before the commit finds anything the migrations broke.
func migrate(ctx context.Context, conn *sql.Conn, to int) error {
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return err
	}
	err := migrateTx(ctx, conn, to)
	if _, onErr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); onErr != nil && err == nil {
		err = onErr
	}
	return err
}

func migrateTx(ctx context.Context, conn *sql.Conn, to int) error {
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dsn): no other writer in between
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var from int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&from); err != nil {
		return err
	}
	if from >= to {
		return nil
	}
	if from == 0 {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", appID)); err != nil {
			return err
		}
	}
	for v := from; v < to; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
	}
	var broken int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM pragma_foreign_key_check").Scan(&broken); err != nil {
		return err
	}
	if broken > 0 {
		return fmt.Errorf("migrate to version %d: %d rows break foreign keys", to, broken)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", to)); err != nil {
		return err
	}
	return tx.Commit()
}
