package screen

import (
	"context"
	"fmt"

	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/id"
)

// Erase deletes the repeat counters of a deleted author, found by their
// key prefix: the keys name the author, so they must go before their
// window would let them expire.
func (r *Repeats) Erase(ctx context.Context, author id.UserID) error {
	var cursor uint64
	match := r.prefix + "repeat:" + author.String() + ":*"
	for {
		keys, next, err := r.rdb.Scan(ctx, cursor, match, 500).Result()
		if err != nil {
			return fmt.Errorf("trust-safety: erase repeats of %s: %w", author, err)
		}
		if len(keys) > 0 {
			if err := r.rdb.Del(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("trust-safety: erase repeats of %s: %w", author, err)
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// erase forgets a deleted author: judged posts, queue entries and repeat
// counters. Both steps are removals, so a redelivery changes nothing.
func (r *Reactor) erase(ctx context.Context, user string) error {
	uid, err := id.ParseUserID(user)
	if err != nil {
		return delivery.Permanent(fmt.Errorf("trust-safety: UserDeleted: %w", err))
	}
	if err := r.store.EraseAuthor(ctx, uid); err != nil {
		return err
	}
	return r.repeats.Erase(ctx, uid)
}
