package store

import "context"

func (s *pgStore) FindDelivery(ctx context.Context, id int64, messageID, recipient string) (Delivery, error) {
	found := id
	if id == 0 {
		var err error
		if found, _, err = pgFindByMessageID(ctx, s.pool, messageID, recipient); err != nil {
			return Delivery{}, s.dbErr("find delivery", err)
		}
	}
	var ds []Delivery
	if found > 0 {
		var err error
		if ds, err = s.deliveries(ctx, "find delivery", `SELECT `+deliveryCols+` FROM deliveries d WHERE d.id = $1`, found); err != nil {
			return Delivery{}, err
		}
	}
	return foundDelivery(ds, id, s.checkErr)
}
