package analytics

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
)

// anonymise unlinks a deleted account from the counts, inside the
// transaction that records its UserDeleted. Counts are kept (they are
// everyone's history: a day's active users, a post's views), the user's id
// is not: its posts' counters name id.Deleted as author, and its active
// days move to a random id drawn once for this deletion, so daily active
// users stay right and nothing leads back to the account.
func anonymise(ctx context.Context, tx pgx.Tx, user string) error {
	// Locked in the order every transaction here takes: posts, then user
	// days.
	if _, err := tx.Exec(ctx, `UPDATE analytics_posts SET author_id = $2, updated_at = now() WHERE author_id = $1`,
		user, id.Deleted.String()); err != nil {
		return fmt.Errorf("anonymise posts: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE analytics_user_days SET user_id = $2 WHERE user_id = $1`,
		user, string(id.NewUserID())); err != nil {
		return fmt.Errorf("anonymise user days: %w", err)
	}
	return nil
}
