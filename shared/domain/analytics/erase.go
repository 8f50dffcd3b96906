package analytics

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
)

// anonymise unlinks a deleted account from the counts, inside the
// transaction that records its UserDeleted. Counts are kept (they are
// everyone's history: a day's active users, a post's views), the user's id
// is not: its posts' counters name id.Deleted as author, and its active
// days move to a random id drawn once for this deletion, so daily active
// users stay right and nothing leads back to the account. The SHA-256 of
// the id is kept (analytics_erased_users) so that events about the account
// arriving later are counted without it.
func anonymise(ctx context.Context, tx pgx.Tx, user string) error {
	// Events naming the user hold this lock shared while they count
	// (unlinkErased): one counted before waits to be anonymised here, one
	// counted after finds the erasure.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, erasedLockClass, user); err != nil {
		return fmt.Errorf("lock user: %w", err)
	}
	// Then rows in the order every transaction here takes: posts, then
	// user days.
	if _, err := tx.Exec(ctx, `UPDATE analytics_posts SET author_id = $2, updated_at = now() WHERE author_id = $1`,
		user, id.Deleted.String()); err != nil {
		return fmt.Errorf("anonymise posts: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE analytics_user_days SET user_id = $2 WHERE user_id = $1`,
		user, string(id.NewUserID())); err != nil {
		return fmt.Errorf("anonymise user days: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO analytics_erased_users (user_hash) VALUES ($1) ON CONFLICT DO NOTHING`,
		erasedHash(user)); err != nil {
		return fmt.Errorf("remember erasure: %w", err)
	}
	return nil
}

// erasedLockClass keeps the erasure's advisory locks apart from others'
// (the first int4 of the two-key form; "anle" in ASCII).
const erasedLockClass int32 = 0x616e6c65

// erasedHash is how analytics_erased_users names an account.
func erasedHash(user string) []byte {
	h := sha256.Sum256([]byte(user))
	return h[:]
}

// unlinkErased drops the actor and author of an event that names a
// deleted account: it still counts, for no one.
func (c *counts) unlinkErased(ctx context.Context, tx pgx.Tx) error {
	for _, who := range []*string{&c.actor, &c.author} {
		if *who == "" {
			continue
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1, hashtext($2))`, erasedLockClass, *who); err != nil {
			return fmt.Errorf("lock user: %w", err)
		}
		var erased bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM analytics_erased_users WHERE user_hash = $1)`,
			erasedHash(*who)).Scan(&erased); err != nil {
			return fmt.Errorf("check erased: %w", err)
		}
		if erased {
			*who = ""
		}
	}
	if c.author == "" {
		c.author = id.Deleted.String()
	}
	return nil
}
