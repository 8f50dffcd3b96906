package content

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/domain/media/mediaurl"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
)

// FollowGraph answers whether one user follows another; *identity.Service
// implements it.
type FollowGraph interface {
	Follows(ctx context.Context, follower, followee id.UserID) (bool, error)
}

// BlockGraph answers whether either of two users blocked the other;
// *identity.Service implements it.
type BlockGraph interface {
	Blocked(ctx context.Context, a, b id.UserID) (bool, error)
}

// MediaLibrary returns those of ids that owner uploaded, by id, as posts
// carry them; *media.Service implements it.
type MediaLibrary interface {
	Media(ctx context.Context, owner id.UserID, ids []id.MediaID) (map[string]post.Media, error)
}

// PendingMedia is the uploads waiting for their owner's next post (Redis
// pending_media:{user_id}); *pendingmedia.Store implements it.
type PendingMedia interface {
	Pending(ctx context.Context, user string, now time.Time) ([]string, error)
	Remove(ctx context.Context, user string, ids ...string) error
}

// Config holds the Service's dependencies and limits. Zero limits take their
// defaults (Defaults).
type Config struct {
	Pool    *pgxpool.Pool
	Outbox  *outbox.Outbox
	Follows FollowGraph
	// Blocks hides a post from its author's blocked users and from those
	// who blocked the author (404, as for a post that does not exist).
	// nil checks no blocks: only for services that show no post to a
	// viewer (moderation-apply's).
	Blocks BlockGraph
	Logger *slog.Logger
	// Media lets posts carry uploads (media_ids); nil refuses media_ids.
	Media MediaLibrary
	// Pending, with Media, attaches a user's pending uploads to their next
	// post that names no media_ids; nil turns that off.
	Pending PendingMedia
	// MediaURLs signs the URLs of media of posts that are not public when
	// a post is shown; nil shows them as stored.
	MediaURLs *mediaurl.Signer
	// MediaRemover deletes a deleted post's media and files; nil leaves
	// them to the file server, which refuses them.
	MediaRemover MediaRemover
	// MaxMedia bounds the media of one post. Default 10.
	MaxMedia int

	// MaxContentRunes bounds a post's or a comment's text. Default 5000.
	MaxContentRunes int
	// MaxTags bounds the number of tags of a post. Default 10.
	MaxTags int
	// MaxTagRunes bounds one tag. Default 50.
	MaxTagRunes int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.MaxContentRunes == 0 {
		c.MaxContentRunes = 5000
	}
	if c.MaxTags == 0 {
		c.MaxTags = 10
	}
	if c.MaxTagRunes == 0 {
		c.MaxTagRunes = 50
	}
	if c.MaxMedia == 0 {
		c.MaxMedia = 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a configuration the Service cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is nil"))
	}
	if c.Outbox == nil {
		errs = append(errs, errors.New("outbox is nil"))
	}
	if c.Follows == nil {
		errs = append(errs, errors.New("follow graph is nil"))
	}
	if c.MaxContentRunes < 1 || c.MaxTags < 0 || c.MaxTagRunes < 1 {
		errs = append(errs, fmt.Errorf("limits must be positive (content %d, tags %d, tag %d)",
			c.MaxContentRunes, c.MaxTags, c.MaxTagRunes))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("clock is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("content config: %w", err)
	}
	return nil
}
