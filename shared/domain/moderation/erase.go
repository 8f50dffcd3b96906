package moderation

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
)

// EraseAuthor deletes what trust-safety remembers of a deleted account's
// posts (their judged text and queue entries), inside the account
// deletion's transaction tx. A PostDeleted of one of them, arriving later,
// finds nothing to forget; one of its PostCreated still in flight is
// followed by its PostDeleted on the same partition, which forgets it
// again.
func EraseAuthor(ctx context.Context, tx pgx.Tx, author id.UserID) error {
	for _, q := range []string{
		`DELETE FROM moderation_queue WHERE author_id = $1`,
		`DELETE FROM moderation_subjects WHERE author_id = $1`,
	} {
		if _, err := tx.Exec(ctx, q, author.String()); err != nil {
			return fmt.Errorf("moderation: erase %s: %w", author, err)
		}
	}
	return nil
}

// EraseAuthor is the package's EraseAuthor in a transaction of its own, for
// trust-safety's UserDeleted.
func (s *Store) EraseAuthor(ctx context.Context, author id.UserID) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return EraseAuthor(ctx, tx, author) })
}
