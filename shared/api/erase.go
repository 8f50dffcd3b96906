package api

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/moderation"
	"github.com/nova-social/nova/shared/domain/pendingmedia"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/ratelimit"
)

// accountErasers are what an account deletion runs inside its transaction,
// one per store nova-api writes (README, "Deleting an account"). Content
// goes first, so its PostDeleted events are enqueued before UserDeleted;
// media last of the PostgreSQL ones, since it deletes objects that a
// rollback cannot bring back. What the event functions keep (feeds,
// search, analytics, the inbox they fill, trust-safety's counters) they
// erase on UserDeleted.
//
// guard, when rate limits are on, holds the account's login names.
func (s *Server) accountErasers(guard identity.LoginGuard) []identity.Eraser {
	erasers := []identity.Eraser{
		s.Content,
		s.Messaging,
		s.Notifications,
		identity.EraserFunc(func(ctx context.Context, tx pgx.Tx, uid id.UserID, _ time.Time) error {
			return moderation.EraseAuthor(ctx, tx, uid)
		}),
		s.Media,
		// Uploads waiting for a post: Redis, not in the transaction, but
		// a failure still rolls the deletion back.
		identity.EraserFunc(func(ctx context.Context, _ pgx.Tx, uid id.UserID, _ time.Time) error {
			return erasePending(ctx, s.rdb, uid)
		}),
	}
	if g, ok := guard.(*ratelimit.LoginGuard); ok {
		// Login throttling is keyed by what was typed: the username and
		// the e-mail address, read while the row is still there.
		erasers = append(erasers, identity.EraserFunc(func(ctx context.Context, tx pgx.Tx, uid id.UserID, _ time.Time) error {
			var name, email string
			if err := tx.QueryRow(ctx, `SELECT username, email FROM users WHERE id = $1`, uid.String()).Scan(&name, &email); err != nil {
				return fmt.Errorf("login names of %s: %w", uid, err)
			}
			return g.Forget(ctx, uid.String(), name, email)
		}))
	}
	return erasers
}

func erasePending(ctx context.Context, rdb *redis.Client, uid id.UserID) error {
	if err := rdb.Del(ctx, pendingmedia.Key(uid.String())).Err(); err != nil {
		return fmt.Errorf("pending media of %s: %w", uid, err)
	}
	return nil
}
