package content

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// eraseBatch bounds how many PostDeleted events one outbox insert carries,
// so an author with many posts costs several bounded statements rather
// than one unbounded one.
const eraseBatch = 500

// EraseUser erases what the content domain holds of a deleted account,
// inside the account deletion's transaction tx:
//
//   - the author's posts become tombstones: text, tags, media and the
//     moderation reason blanked and the author replaced by id.Deleted. The
//     rows stay, as any deleted post's does, so late engagement and
//     moderation events still find a deleted post and change nothing; each
//     post still live gets a PostDeleted, so feeds, search, ranking,
//     trust-safety and analytics drop it as they drop any deleted post;
//   - the user's comments and likes, on anyone's posts, are deleted;
//   - the user's post_media rows are deleted (the media rows and objects
//     are the media domain's);
//   - a reviewing admin's id on posts they hid is replaced by id.Deleted.
//
// Others' comments and likes on the author's posts stay with the tombstone,
// as they do under any deleted post.
func (s *Service) EraseUser(ctx context.Context, tx pgx.Tx, uid id.UserID, at time.Time) error {
	rows, err := tx.Query(ctx, `UPDATE posts SET author_id = $2, content = '', tags = '{}', media = '[]',
			hidden_reason = '', deleted_at = COALESCE(deleted_at, $3), updated_at = $3
		WHERE author_id = $1
		RETURNING id::text, deleted_at = $3`, uid.String(), id.Deleted.String(), at)
	if err != nil {
		return fmt.Errorf("content: erase posts of %s: %w", uid, err)
	}
	var live []string
	for rows.Next() {
		var pid string
		var now bool
		if err := rows.Scan(&pid, &now); err != nil {
			rows.Close()
			return fmt.Errorf("content: erase posts of %s: %w", uid, err)
		}
		if now {
			live = append(live, pid)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("content: erase posts of %s: %w", uid, err)
	}
	for len(live) > 0 {
		n := min(len(live), eraseBatch)
		msgs := make([]proto.Message, 0, n)
		for _, pid := range live[:n] {
			msgs = append(msgs, &eventsv1.PostDeleted{PostId: pid, UserId: uid.String(), DeletedAt: timestamppb.New(at)})
		}
		if _, err := s.cfg.Outbox.EnqueueAll(ctx, tx, msgs, envelope.WithTime(at)); err != nil {
			return fmt.Errorf("content: erase posts of %s: enqueue: %w", uid, err)
		}
		live = live[n:]
	}
	for _, q := range []string{
		`DELETE FROM comments WHERE author_id = $1`,
		`DELETE FROM likes WHERE user_id = $1`,
		`DELETE FROM post_media WHERE owner_id = $1`,
		`DELETE FROM engagement_counted WHERE user_id = $1`,
	} {
		if _, err := tx.Exec(ctx, q, uid.String()); err != nil {
			return fmt.Errorf("content: erase %s: %w", uid, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE posts SET hidden_by = $2 WHERE hidden_by = $1`, uid.String(), id.Deleted.String()); err != nil {
		return fmt.Errorf("content: erase reviews of %s: %w", uid, err)
	}
	return nil
}
