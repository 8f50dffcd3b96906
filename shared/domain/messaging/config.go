package messaging

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

// MediaResolver checks media ids a sender attaches and returns what a
// message carries of them, in the given order. An id that does not exist,
// is not the owner's or is not ready must give an error matching
// ErrMediaUnavailable.
type MediaResolver interface {
	ResolveMedia(ctx context.Context, owner id.UserID, ids []id.MediaID) ([]post.Media, error)
}

// ErrMediaUnavailable is what a MediaResolver's error matches when an id
// cannot be attached; the sender is told which input was refused.
var ErrMediaUnavailable = errors.New("messaging: media not available")

// UserExists reports whether a user exists; conversations are only opened
// with existing users.
type UserExists func(ctx context.Context, user id.UserID) (bool, error)

// Relations answers the follow and block questions consent and blocks
// need; *identity.Service and *identity.Graph implement it.
type Relations interface {
	Follows(ctx context.Context, follower, followee id.UserID) (bool, error)
	// BlockedAmong returns those of others who blocked user or whom user
	// blocked.
	BlockedAmong(ctx context.Context, user id.UserID, others []id.UserID) ([]id.UserID, error)
}

// Config holds the Service's dependencies and limits. Zero limits take their
// defaults (Defaults).
type Config struct {
	Pool   *pgxpool.Pool
	Outbox *outbox.Outbox
	Logger *slog.Logger
	// Media resolves attached media ids; nil refuses messages with media.
	Media MediaResolver
	// MediaURLs signs the URLs of a message's media when it is shown: a
	// conversation's files are never public. nil shows them as stored.
	MediaURLs *mediaurl.Signer
	// UserExists checks participants when a conversation is created; nil
	// skips the check (chat-persist never creates conversations).
	UserExists UserExists
	// Relations makes group members who do not follow the creator invited
	// until they accept, refuses conversations between a blocked pair, and
	// leaves a blocked pair out of each other's message recipients. nil:
	// everyone added is a member and no block is checked (tests and tools
	// only; nova-api and chat-persist always set it).
	Relations Relations

	// MaxParticipants bounds a conversation, creator included. Default 256.
	MaxParticipants int
	// MaxContentRunes bounds a message's text. Default 5000.
	MaxContentRunes int
	// MaxTitleRunes bounds a group's title. Default 100.
	MaxTitleRunes int
	// MaxMedia bounds the media of one message. Default 10.
	MaxMedia int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.MaxParticipants == 0 {
		c.MaxParticipants = 256
	}
	if c.MaxContentRunes == 0 {
		c.MaxContentRunes = 5000
	}
	if c.MaxTitleRunes == 0 {
		c.MaxTitleRunes = 100
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
	if c.MaxParticipants < 2 || c.MaxContentRunes < 1 || c.MaxTitleRunes < 1 || c.MaxMedia < 1 {
		errs = append(errs, fmt.Errorf("limits must be positive (participants %d >= 2, content %d, title %d, media %d)",
			c.MaxParticipants, c.MaxContentRunes, c.MaxTitleRunes, c.MaxMedia))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("clock is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("messaging config: %w", err)
	}
	return nil
}

// OwnedMedia adapts a lookup of the media an owner uploaded (such as
// media.Owned over a pool) into a MediaResolver: every named id must be the
// sender's, or the message is refused.
type OwnedMedia func(ctx context.Context, owner id.UserID, ids []id.MediaID) (map[string]post.Media, error)

// ResolveMedia returns the media in the order named.
func (f OwnedMedia) ResolveMedia(ctx context.Context, owner id.UserID, ids []id.MediaID) ([]post.Media, error) {
	found, err := f(ctx, owner, ids)
	if err != nil {
		return nil, err
	}
	out := make([]post.Media, 0, len(ids))
	for _, m := range ids {
		pm, ok := found[m.String()]
		if !ok {
			return nil, fmt.Errorf("%w: %s is not one of your uploads", ErrMediaUnavailable, m)
		}
		out = append(out, pm)
	}
	return out, nil
}
