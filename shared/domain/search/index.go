package search

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Indexer applies content and user events to the search tables. It is safe
// for concurrent use; every method may be called again with the same event.
type Indexer struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// NewIndexer returns an Indexer writing through pool.
func NewIndexer(pool *pgxpool.Pool, log *slog.Logger) *Indexer {
	if log == nil {
		log = slog.Default()
	}
	return &Indexer{pool: pool, log: log}
}

// Apply applies one decoded event. Events the index has no use for are
// acknowledged and ignored. An event naming malformed ids can never be
// applied: its error is permanent (delivery.IsPermanent).
func (ix *Indexer) Apply(ctx context.Context, d envelope.Decoded) error {
	at := func(ts *timestamppb.Timestamp) time.Time { return versionTime(ts, d.Event.Time()) }
	var err error
	switch m := d.Message.(type) {
	case *eventsv1.PostCreated:
		err = ix.PostCreated(ctx, m, at(m.GetCreatedAt()))
	case *eventsv1.PostUpdated:
		err = ix.PostUpdated(ctx, m, at(m.GetUpdatedAt()))
	case *eventsv1.PostDeleted:
		err = ix.PostDeleted(ctx, m, at(m.GetDeletedAt()))
	case *eventsv1.UserRegistered:
		err = ix.UserRegistered(ctx, m, at(m.GetRegisteredAt()))
	case *eventsv1.UserProfileUpdated:
		err = ix.ProfileUpdated(ctx, m, at(m.GetUpdatedAt()))
	case *eventsv1.UserFollowed:
		err = ix.Follow(ctx, m.GetFollowerId(), m.GetFolloweeId(), true, at(m.GetFollowedAt()))
	case *eventsv1.UserUnfollowed:
		err = ix.Follow(ctx, m.GetFollowerId(), m.GetFolloweeId(), false, at(m.GetUnfollowedAt()))
	case *eventsv1.UserDeleted:
		err = ix.UserDeleted(ctx, m)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("search: %s %s: %w", d.Event.Type(), d.Event.ID(), err)
	}
	return nil
}

// versionTime is the time a change is ordered by: the message's own
// timestamp, else the event's, else now (a hand-written record may carry
// neither). PostgreSQL keeps microseconds, so the time is truncated to them
// and compares equal to what was stored.
func versionTime(ts *timestamppb.Timestamp, event time.Time) time.Time {
	t := event
	if ts != nil && ts.IsValid() && ts.AsTime().Unix() > 0 {
		t = ts.AsTime()
	}
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

func uuids(vals ...string) error {
	for _, v := range vals {
		if _, err := id.ParseUserID(v); err != nil {
			return delivery.Permanent(err)
		}
	}
	return nil
}

// PostCreated indexes a new post. A post already indexed (a redelivery, or
// a tombstone of its deletion) is left as it is.
func (ix *Indexer) PostCreated(ctx context.Context, m *eventsv1.PostCreated, at time.Time) error {
	if err := uuids(m.GetPostId(), m.GetUserId()); err != nil {
		return err
	}
	_, err := ix.pool.Exec(ctx, `INSERT INTO search_posts (post_id, author_id, content, tags, visibility, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (post_id) DO NOTHING`,
		m.GetPostId(), m.GetUserId(), m.GetContent(), nonNil(m.GetTags()),
		string(post.VisibilityFromProto(m.GetVisibility())), at)
	if err != nil {
		return fmt.Errorf("index post: %w", err)
	}
	return nil
}

// PostUpdated applies an edit, a visibility change or moderation's hiding,
// unless the index already holds a newer version or the post was deleted.
// An update for a post the index has never seen (its creation not yet
// delivered, which keyed ordering rules out) is logged and dropped: without
// the creation the post's visibility is unknown, and guessing could leak it.
func (ix *Indexer) PostUpdated(ctx context.Context, m *eventsv1.PostUpdated, at time.Time) error {
	if err := uuids(m.GetPostId(), m.GetUserId()); err != nil {
		return err
	}
	var vis *string
	if m.Visibility != nil {
		v := string(post.VisibilityFromProto(m.GetVisibility()))
		vis = &v
	}
	tag, err := ix.pool.Exec(ctx, `UPDATE search_posts SET
			content = COALESCE($2, content), tags = $3, visibility = COALESCE($4, visibility),
			hidden = COALESCE($5, hidden), updated_at = $6
		WHERE post_id = $1 AND deleted_at IS NULL AND updated_at <= $6`,
		m.GetPostId(), m.Content, nonNil(m.GetTags()), vis, m.Hidden, at)
	if err != nil {
		return fmt.Errorf("update post: %w", err)
	}
	if tag.RowsAffected() == 0 {
		var known bool
		if err := ix.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM search_posts WHERE post_id = $1)`, m.GetPostId()).Scan(&known); err != nil {
			return fmt.Errorf("update post: %w", err)
		}
		if !known {
			ix.log.WarnContext(ctx, "update of a post the index has not seen created; dropped", "post_id", m.GetPostId())
		}
	}
	return nil
}

// PostDeleted erases the post's text and leaves a tombstone.
func (ix *Indexer) PostDeleted(ctx context.Context, m *eventsv1.PostDeleted, at time.Time) error {
	if err := uuids(m.GetPostId(), m.GetUserId()); err != nil {
		return err
	}
	_, err := ix.pool.Exec(ctx, `INSERT INTO search_posts (post_id, author_id, visibility, created_at, updated_at, deleted_at)
		VALUES ($1, $2, 'PRIVATE', $3, $3, $3)
		ON CONFLICT (post_id) DO UPDATE SET content = '', tags = '{}',
			deleted_at = LEAST(COALESCE(search_posts.deleted_at, EXCLUDED.deleted_at), EXCLUDED.deleted_at)`,
		m.GetPostId(), m.GetUserId(), at)
	if err != nil {
		return fmt.Errorf("delete post: %w", err)
	}
	return nil
}

// UserRegistered indexes a new user's username.
func (ix *Indexer) UserRegistered(ctx context.Context, m *eventsv1.UserRegistered, at time.Time) error {
	if err := uuids(m.GetUserId()); err != nil {
		return err
	}
	_, err := ix.pool.Exec(ctx, `INSERT INTO search_users (user_id, username, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET username = EXCLUDED.username, updated_at = EXCLUDED.updated_at
		WHERE search_users.updated_at < EXCLUDED.updated_at`,
		m.GetUserId(), m.GetUsername(), at)
	if err != nil {
		return fmt.Errorf("index user: %w", err)
	}
	return nil
}

// ProfileUpdated applies the fields that changed, unless a newer profile
// is already indexed.
func (ix *Indexer) ProfileUpdated(ctx context.Context, m *eventsv1.UserProfileUpdated, at time.Time) error {
	if err := uuids(m.GetUserId()); err != nil {
		return err
	}
	_, err := ix.pool.Exec(ctx, `INSERT INTO search_users (user_id, username, display_name, updated_at)
		VALUES ($1, COALESCE($2, ''), COALESCE($3, ''), $4)
		ON CONFLICT (user_id) DO UPDATE SET
			username = COALESCE($2, search_users.username),
			display_name = COALESCE($3, search_users.display_name),
			updated_at = EXCLUDED.updated_at
		WHERE search_users.updated_at <= EXCLUDED.updated_at`,
		m.GetUserId(), m.Username, m.DisplayName, at)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return nil
}

// Follow records that follower follows (or no longer follows) followee,
// unless a newer change of that pair is already recorded.
func (ix *Indexer) Follow(ctx context.Context, follower, followee string, following bool, at time.Time) error {
	if err := uuids(follower, followee); err != nil {
		return err
	}
	_, err := ix.pool.Exec(ctx, `INSERT INTO search_follows (follower_id, followee_id, following, changed_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (follower_id, followee_id) DO UPDATE SET following = EXCLUDED.following, changed_at = EXCLUDED.changed_at
		WHERE search_follows.changed_at < EXCLUDED.changed_at`,
		follower, followee, following, at)
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
