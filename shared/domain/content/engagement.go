package content

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/id"
)

// Likes is a user's like state on a post after a Like or Unlike.
type Likes struct {
	PostID    string `json:"post_id"`
	Liked     bool   `json:"liked"`
	LikeCount int64  `json:"like_count"`
}

// Comment is a comment on a post.
type Comment struct {
	ID        string    `json:"id"`
	PostID    string    `json:"post_id"`
	AuthorID  string    `json:"author_id"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
}

// CommentCursor is the position after which a page of comments starts.
type CommentCursor struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"id"`
}

// Validate rejects cursors that cannot name a comment.
func (c CommentCursor) Validate() error {
	if c.CreatedAt.IsZero() {
		return errors.New("no time")
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		return fmt.Errorf("comment id: %w", err)
	}
	return nil
}

// Like records that user likes the post. Liking again changes nothing and
// emits nothing.
func (s *Service) Like(ctx context.Context, user id.UserID, postID id.PostID) (Likes, error) {
	p, err := s.visible(ctx, user, postID)
	if err != nil {
		return Likes{}, err
	}
	now := s.now()
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO likes (post_id, user_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (post_id, user_id) DO NOTHING`, p.ID, user.String(), now)
		if err != nil {
			return fmt.Errorf("insert like: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return s.enqueue(ctx, tx, s.engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE, p, user, now), now)
	})
	if err != nil {
		return Likes{}, wrap("like", err)
	}
	return s.likes(ctx, p.ID, true)
}

// Unlike withdraws user's like. Unliking a post one does not like changes
// nothing and emits nothing.
func (s *Service) Unlike(ctx context.Context, user id.UserID, postID id.PostID) (Likes, error) {
	p, err := s.visible(ctx, user, postID)
	if err != nil {
		return Likes{}, err
	}
	now := s.now()
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM likes WHERE post_id = $1 AND user_id = $2`, p.ID, user.String())
		if err != nil {
			return fmt.Errorf("delete like: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return s.enqueue(ctx, tx, s.engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_UNLIKE, p, user, now), now)
	})
	if err != nil {
		return Likes{}, wrap("unlike", err)
	}
	return s.likes(ctx, p.ID, false)
}

func (s *Service) likes(ctx context.Context, postID string, liked bool) (Likes, error) {
	out := Likes{PostID: postID, Liked: liked}
	if err := s.cfg.Pool.QueryRow(ctx, `SELECT count(*) FROM likes WHERE post_id = $1`, postID).Scan(&out.LikeCount); err != nil {
		return Likes{}, fmt.Errorf("content: count likes: %w", err)
	}
	return out, nil
}

// Comment adds author's comment to the post.
func (s *Service) Comment(ctx context.Context, author id.UserID, postID id.PostID, text string) (Comment, error) {
	if err := s.checkText("content", text, true); err != nil {
		return Comment{}, err
	}
	p, err := s.visible(ctx, author, postID)
	if err != nil {
		return Comment{}, err
	}
	c := Comment{ID: newID(), PostID: p.ID, AuthorID: author.String(), Content: text, CreatedAt: s.now()}
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO comments (id, post_id, author_id, content, created_at) VALUES ($1, $2, $3, $4, $5)`,
			c.ID, c.PostID, c.AuthorID, c.Content, c.CreatedAt); err != nil {
			return fmt.Errorf("insert comment: %w", err)
		}
		ev := s.engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT, p, author, c.CreatedAt)
		ev.CommentId, ev.CommentText = c.ID, c.Content
		return s.enqueue(ctx, tx, ev, c.CreatedAt)
	})
	if err != nil {
		return Comment{}, wrap("comment", err)
	}
	return c, nil
}

// Comments returns up to limit comments of the post after the cursor (nil
// for the first page), oldest first, and the cursor of the next page (nil
// on the last). Comments by someone the viewer blocked, or who blocked
// the viewer, are left out, so a page may come out short.
func (s *Service) Comments(ctx context.Context, viewer id.UserID, postID id.PostID, after *CommentCursor, limit int) ([]Comment, *CommentCursor, error) {
	if limit < 1 {
		return nil, nil, invalid("limit", "limit must be positive")
	}
	p, err := s.visible(ctx, viewer, postID)
	if err != nil {
		return nil, nil, err
	}
	var (
		at  *time.Time
		cid *string
	)
	if after != nil {
		at, cid = &after.CreatedAt, &after.ID
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT id::text, post_id::text, author_id::text, content, created_at
		FROM comments
		WHERE post_id = $1 AND deleted_at IS NULL
		  AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
		ORDER BY created_at, id
		LIMIT $4`, p.ID, at, cid, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("content: read comments: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Comment, error) {
		var c Comment
		err := r.Scan(&c.ID, &c.PostID, &c.AuthorID, &c.Content, &c.CreatedAt)
		c.CreatedAt = c.CreatedAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("content: read comments: %w", err)
	}
	var next *CommentCursor
	if len(cs) > limit {
		cs = cs[:limit]
		last := cs[limit-1]
		next = &CommentCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	blocked := map[string]bool{}
	shown := cs[:0]
	for _, c := range cs {
		b, seen := blocked[c.AuthorID]
		if !seen && c.AuthorID != viewer.String() {
			if b, err = s.blocked(ctx, viewer, c.AuthorID); err != nil {
				return nil, nil, err
			}
			blocked[c.AuthorID] = b
		}
		if !b {
			shown = append(shown, c)
		}
	}
	if len(shown) == 0 {
		shown = []Comment{}
	}
	return shown, next, nil
}

// View records that viewer saw the post. Views are events only: counting
// them is the analytics consumers' job.
func (s *Service) View(ctx context.Context, viewer id.UserID, postID id.PostID) error {
	return s.eventOnly(ctx, eventsv1.EngagementKind_ENGAGEMENT_KIND_VIEW, viewer, postID)
}

// Share records that user shared the post (an event only, like a view).
func (s *Service) Share(ctx context.Context, user id.UserID, postID id.PostID) error {
	return s.eventOnly(ctx, eventsv1.EngagementKind_ENGAGEMENT_KIND_SHARE, user, postID)
}

func (s *Service) eventOnly(ctx context.Context, kind eventsv1.EngagementKind, user id.UserID, postID id.PostID) error {
	p, err := s.visible(ctx, user, postID)
	if err != nil {
		return err
	}
	now := s.now()
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		// Counted at most once per window: the row is claimed, or moved
		// on once the window has passed, in the transaction that emits.
		tag, err := tx.Exec(ctx, `INSERT INTO engagement_counted (post_id, user_id, kind, counted_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (post_id, user_id, kind) DO UPDATE SET counted_at = EXCLUDED.counted_at
			WHERE engagement_counted.counted_at <= EXCLUDED.counted_at - make_interval(secs => $5)`,
			p.ID, user.String(), int16(kind), now, EngagementWindow.Seconds())
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return s.enqueue(ctx, tx, s.engagement(kind, p, user, now), now)
	})
	return wrap(kind.String(), err)
}

// EngagementWindow is how long a user's view or share of a post counts
// once: repeats inside it are accepted and ignored.
const EngagementWindow = 24 * time.Hour

func (s *Service) engagement(kind eventsv1.EngagementKind, p post.Summary, user id.UserID, at time.Time) *eventsv1.Engagement {
	return &eventsv1.Engagement{
		EngagementId: newID(),
		PostId:       p.ID,
		UserId:       user.String(),
		AuthorId:     p.AuthorID,
		Kind:         kind,
		OccurredAt:   timestamppb.New(at),
	}
}

// newID mints a UUIDv7 for comments and engagements, which have no id type
// of their own.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
