package content

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/id"
)

// Posts that reach content-events without content.
//
// Content writes its post events to content-events, but so can anyone the
// topic lets in (an operator with kcat, the design document's console
// producer test). Feeds and search take what the topic says; the
// content-sync function reads it too and keeps content's store in step:
// a PostCreated content would have accepted becomes a post here (Adopt),
// and any other post event naming a post content never held is withdrawn
// (Withdraw): a tombstone here and a PostDeleted to every consumer.

// Holds reports whether content has a row for postID, live or deleted. A
// deleted post's row stays (Delete, Moderate, EraseUser), and so does a
// withdrawn one, so a late copy of a post's creation finds it. It is one
// lookup of the posts primary key.
func (s *Service) Holds(ctx context.Context, postID id.PostID) (bool, error) {
	var ok bool
	if err := s.cfg.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM posts WHERE id = $1)`, postID.String()).Scan(&ok); err != nil {
		return false, fmt.Errorf("content: look up post %s: %w", postID, err)
	}
	return ok, nil
}

// CheckCreated returns the post content would have stored had m's author
// submitted it to Create, or the *InputError (ErrInvalid) Create would
// have answered: the same rules for text, tags, type and visibility, the
// tags normalised as Create stores them, and the creation time m's own (at
// PostgreSQL's precision). Whether the author is an account is the
// caller's to check, in the transaction that adopts the post.
//
// A post carrying media is refused: content attaches only uploads it can
// trace to their owner (post_media), and an event's media references are
// not that.
func (s *Service) CheckCreated(m *eventsv1.PostCreated) (post.Summary, error) {
	pid, err := id.ParsePostID(m.GetPostId())
	if err != nil {
		return post.Summary{}, invalid("post_id", "%s", err.Error())
	}
	author, err := id.ParseUserID(m.GetUserId())
	if err != nil {
		return post.Summary{}, invalid("user_id", "%s", err.Error())
	}
	if len(m.GetMedia()) > 0 {
		return post.Summary{}, invalid("media", "%d media not uploaded through content", len(m.GetMedia()))
	}
	if m.GetCreatedAt() == nil {
		return post.Summary{}, invalid("created_at", "created_at is required")
	}
	if err := m.GetCreatedAt().CheckValid(); err != nil {
		return post.Summary{}, invalid("created_at", "%s", err.Error())
	}
	typ, err := checkType(post.TypeFromProto(m.GetType()))
	if err != nil {
		return post.Summary{}, err
	}
	vis, err := checkVisibility(post.VisibilityFromProto(m.GetVisibility()))
	if err != nil {
		return post.Summary{}, err
	}
	tags, err := s.normTags(m.GetTags())
	if err != nil {
		return post.Summary{}, err
	}
	// As in Create: text posts need words; without media nothing else
	// may go wordless either, but IMAGE, VIDEO and REEL posts may.
	if err := s.checkText("content", m.GetContent(), typ == post.Text); err != nil {
		return post.Summary{}, err
	}
	created := m.GetCreatedAt().AsTime().UTC().Truncate(time.Microsecond)
	return post.Summary{
		ID: pid.String(), AuthorID: author.String(), Content: m.GetContent(), Type: typ, Visibility: vis,
		Tags: tags, Media: []post.Media{}, CreatedAt: created, UpdatedAt: created,
	}, nil
}

// Adopt stores p, a post CheckCreated returned, in tx as Create stores a
// post, and enqueues nothing: the PostCreated announcing it is on
// content-events already. It reports false, writing nothing, when content
// holds a row for p.ID (live, deleted or withdrawn).
func (s *Service) Adopt(ctx context.Context, tx pgx.Tx, p post.Summary) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO posts (id, author_id, content, type, visibility, tags, media, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (id) DO NOTHING`,
		p.ID, p.AuthorID, p.Content, string(p.Type), string(p.Visibility), p.Tags, p.Media, p.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("content: adopt post %s: %w", p.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Withdraw records in tx that post postID, which content never held, is
// withdrawn, and enqueues the PostDeleted (keyed by author, as every event
// of the post) that takes it out of feeds, search and every other
// consumer. The record is a deleted post's row with nothing of the post in
// it, so the post is never adopted later (a redelivered or replayed
// creation finds the row) and reads as any deleted post does. It reports
// false, writing and enqueuing nothing, when content holds a row for
// postID already.
func (s *Service) Withdraw(ctx context.Context, tx pgx.Tx, postID id.PostID, author id.UserID) (bool, error) {
	now := s.now()
	tag, err := tx.Exec(ctx, `INSERT INTO posts (id, author_id, content, type, visibility, created_at, updated_at, deleted_at)
		VALUES ($1, $2, '', $3, $4, $5, $5, $5)
		ON CONFLICT (id) DO NOTHING`,
		postID.String(), author.String(), string(post.Text), string(post.Private), now)
	if err != nil {
		return false, fmt.Errorf("content: withdraw post %s: %w", postID, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if err := s.enqueue(ctx, tx, &eventsv1.PostDeleted{
		PostId: postID.String(), UserId: author.String(), DeletedAt: timestamppb.New(now),
	}, now); err != nil {
		return false, fmt.Errorf("content: withdraw post %s: %w", postID, err)
	}
	return true, nil
}
