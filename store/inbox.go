package store

import "context"

// FindDelivery is herald inbox's look-up of the delivery a returned message is about: by its id (a VERP
// return path's token names it) when id > 0, else by the Message-ID it was sent with (with or without
// its angle brackets), through recipient, the address the report names, when it names one (see
// messageid.go). A delivery never sent has no Message-ID and is found only by id. None is an error
// wrapping ErrNotFound.
func (s *sqliteStore) FindDelivery(ctx context.Context, id int64, messageID, recipient string) (Delivery, error) {
	found := id
	if id == 0 {
		var err error
		if found, _, err = findByMessageID(ctx, s.db, messageID, recipient); err != nil {
			return Delivery{}, s.fileErr("find delivery", err)
		}
	}
	var ds []Delivery
	if found > 0 {
		var err error
		if ds, err = s.deliveries(ctx, "find delivery", `SELECT `+deliveryCols+` FROM deliveries d WHERE d.id = ?`, found); err != nil {
			return Delivery{}, err
		}
	}
	return foundDelivery(ds, id, s.checkErr)
}

func foundDelivery(ds []Delivery, id int64, checkErr func(format string, args ...any) error) (Delivery, error) {
	if len(ds) == 0 {
		if id > 0 {
			return Delivery{}, checkErr("delivery %d: %w", id, ErrNotFound)
		}
		return Delivery{}, checkErr("delivery by Message-ID: %w", ErrNotFound)
	}
	return ds[0], nil
}
