package store

import (
	"fmt"
	"strings"
)

// The model of finding a delivery by the Message-ID it was sent with (a provider's event, a returned
// message): no index holds Message-IDs, since version 13. Each is a hash, so its entry went to a random
// page of the index, one more page to write for every message sent, and the look-ups it served are
// rare. A look-up goes instead through the recipient the event or the report names: the deliveries of
// the subscribers of that address (any case of its local part, as a subscriber is found by address),
// by their index, and among them the one with the Message-ID. Only when that finds nothing (no
// recipient, or one a forward or an alias rewrote) does it scan every delivery for the Message-ID. The
// delivery found is the one a scan finds, the first with the Message-ID: each delivery's Message-ID is a
// hash of its own key, reused only by a retry of the same delivery, so no two deliveries share one.

// messageIDs are the two ways a Message-ID may be written in an event: Herald stores it with its angle
// brackets, and some providers drop them.
func messageIDs(id string) (bare, bracketed string) {
	bare = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
	return bare, "<" + bare + ">"
}

// messageIDLookup is one query of a look-up by Message-ID, in the named parameters of bind. It selects
// the delivery's id and subscriber id, at most one row.
type messageIDLookup struct {
	query string
	args  map[string]any
}

// messageIDLookups are the queries that find the delivery sent with messageID to recipient ("" when
// none is known), to be run in turn until one finds a row: none for an empty Message-ID. fold is the
// store's SQL function that folds an address's local part as emailKey does (SQLite's lower).
func messageIDLookups(fold, messageID, recipient string) []messageIDLookup {
	bare, bracketed := messageIDs(messageID)
	if bare == "" {
		return nil
	}
	var out []messageIDLookup
	if key, ok := emailKey(recipient); ok {
		out = append(out, messageIDLookup{
			query: `SELECT d.id, d.subscriber_id FROM subscribers s JOIN deliveries d ON d.subscriber_id = s.id
				WHERE ` + fmt.Sprintf("%s(s.email_key)", fold) + ` = :key AND d.message_id IN (:bare, :bracketed)
				ORDER BY d.id LIMIT 1`,
			args: map[string]any{"key": key, "bare": bare, "bracketed": bracketed},
		})
	}
	return append(out, messageIDLookup{
		query: `SELECT id, subscriber_id FROM deliveries WHERE message_id IN (:bare, :bracketed) ORDER BY id LIMIT 1`,
		args:  map[string]any{"bare": bare, "bracketed": bracketed},
	})
}
