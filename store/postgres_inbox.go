package store

import "context"

func (s *pgStore) FindDelivery(ctx context.Context, id int64, messageID string) (Delivery, error) {
	bare, bracketed := messageIDs(messageID)
	ds, err := s.deliveries(ctx, "find delivery", `SELECT `+deliveryCols+` FROM deliveries d
		WHERE ($1::bigint > 0 AND d.id = $1) OR ($1 = 0 AND $2::text <> '' AND d.message_id IN ($2, $3)) ORDER BY d.id LIMIT 1`,
		id, bare, bracketed)
	if err != nil {
		return Delivery{}, err
	}
	return foundDelivery(ds, id, s.checkErr)
}
