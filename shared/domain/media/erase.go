package media

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
)

// EraseUser deletes a deleted account's uploads, inside the account
// deletion's transaction tx: the media rows, then their objects and
// thumbnails in the store. The objects go before the transaction commits,
// so a deletion that committed never leaves one behind; a store failure
// rolls the deletion back, and should the commit fail after the objects
// went, the account keeps rows without objects until the deletion is asked
// again (a missing object is not an error to Store.Delete).
func (s *Service) EraseUser(ctx context.Context, tx pgx.Tx, uid id.UserID, _ time.Time) error {
	rows, err := tx.Query(ctx, `DELETE FROM media WHERE owner_id = $1 RETURNING storage_key, COALESCE(thumbnail_key, '')`, uid.String())
	if err != nil {
		return fmt.Errorf("media: erase %s: %w", uid, err)
	}
	var keys []string
	for rows.Next() {
		var k, thumb string
		if err := rows.Scan(&k, &thumb); err != nil {
			rows.Close()
			return fmt.Errorf("media: erase %s: %w", uid, err)
		}
		keys = append(keys, k)
		if thumb != "" {
			keys = append(keys, thumb)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("media: erase %s: %w", uid, err)
	}
	for _, k := range keys {
		if err := s.cfg.Store.Delete(ctx, k); err != nil {
			return fmt.Errorf("media: erase %s: object %s: %w", uid, k, err)
		}
	}
	return nil
}
