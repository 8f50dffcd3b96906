// Package fanout is the feed-fanout function's logic: it applies content,
// user and ranking events to the home feeds in Redis and announces each
// applied post on feed-updates.
package fanout

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Emitter publishes an event the reaction produces. Options carry the
// deterministic id and time that make a redelivered reaction emit the same
// event again rather than a new one.
type Emitter interface {
	Emit(ctx context.Context, msg proto.Message, opts ...envelope.Option) error
}

// Reactor applies events to the feed store.
type Reactor struct {
	store *feed.Store
	emit  Emitter
	log   *slog.Logger
}

// NewReactor returns a reactor writing to store and emitting FeedUpdated
// through emit.
func NewReactor(store *feed.Store, emit Emitter, log *slog.Logger) *Reactor {
	return &Reactor{store: store, emit: emit, log: log}
}

// React applies one decoded event. It is safe to call again with the same
// event: a processed event is skipped, and every effect is idempotent, so a
// failure half-way is mended by the retry.
func (r *Reactor) React(ctx context.Context, d envelope.Decoded) error {
	src, id := envelope.DedupeKey(d.Event)
	done, err := r.store.Processed(ctx, src, id)
	if err != nil {
		return err
	}
	if done {
		r.log.DebugContext(ctx, "event already processed", "source", src, "id", id, "type", d.Event.Type())
		return nil
	}
	if err := r.apply(ctx, d); err != nil {
		return fmt.Errorf("%s %s: %w", d.Event.Type(), id, err)
	}
	return r.store.MarkProcessed(ctx, src, id)
}

func (r *Reactor) apply(ctx context.Context, d envelope.Decoded) error {
	switch m := d.Message.(type) {
	case *eventsv1.PostCreated:
		if m.CreatedAt == nil {
			// A plain record from a console producer may carry no time; the
			// record's own timestamp is the best account of when it happened.
			m.CreatedAt = timestamppb.New(d.At())
		}
		res, err := r.store.PostCreated(ctx, post.FromCreated(m))
		if err != nil {
			return err
		}
		return r.announce(ctx, d, m.GetPostId(), m.GetUserId(), eventsv1.FeedUpdateKind_FEED_UPDATE_KIND_INSERTED, res)
	case *eventsv1.PostUpdated:
		if m.UpdatedAt == nil {
			m.UpdatedAt = timestamppb.New(d.At())
		}
		res, err := r.store.PostUpdated(ctx, func(s post.Summary) (post.Summary, bool) { return s.Apply(m) }, m.GetPostId())
		if err != nil {
			return err
		}
		return r.announce(ctx, d, m.GetPostId(), m.GetUserId(), eventsv1.FeedUpdateKind_FEED_UPDATE_KIND_REFRESHED, res)
	case *eventsv1.PostDeleted:
		res, err := r.store.PostDeleted(ctx, m.GetPostId(), m.GetUserId())
		if err != nil {
			return err
		}
		return r.announce(ctx, d, m.GetPostId(), m.GetUserId(), eventsv1.FeedUpdateKind_FEED_UPDATE_KIND_REMOVED, res)
	case *eventsv1.UserFollowed:
		_, err := r.store.Follow(ctx, m.GetFollowerId(), m.GetFolloweeId())
		return err
	case *eventsv1.UserUnfollowed:
		_, err := r.store.Unfollow(ctx, m.GetFollowerId(), m.GetFolloweeId())
		return err
	case *eventsv1.UserRegistered:
		return r.store.UpdateProfile(ctx, m.GetUserId(), feed.ProfileChange{Username: proto.String(m.GetUsername())})
	case *eventsv1.UserProfileUpdated:
		return r.store.UpdateProfile(ctx, m.GetUserId(), feed.ProfileChange{
			Username: m.Username, DisplayName: m.DisplayName, AvatarURL: m.AvatarUrl,
		})
	case *eventsv1.UserDeleted:
		uid, err := id.ParseUserID(m.GetUserId())
		if err != nil {
			return delivery.Permanent(fmt.Errorf("UserDeleted: %w", err))
		}
		return r.store.EraseUser(ctx, uid.String())
	case *eventsv1.PostScoreUpdated:
		return r.store.SetScore(ctx, m.GetPostId(), m.GetScore())
	default:
		// Another event of a topic this function reads; not ours to handle.
		r.log.DebugContext(ctx, "event type not handled here", "type", d.Event.Type())
		return nil
	}
}

// announce emits FeedUpdated for an applied post event. Its id and time are
// derived from the triggering event, so a retried reaction emits the same
// event and consumers deduplicate it.
func (r *Reactor) announce(ctx context.Context, d envelope.Decoded, postID, author string, kind eventsv1.FeedUpdateKind, res feed.Result) error {
	if res.Ignored {
		return nil
	}
	at := d.At()
	msg := &eventsv1.FeedUpdated{
		PostId:       postID,
		AuthorId:     author,
		Kind:         kind,
		FeedsWritten: res.FeedsWritten,
		FanoutOnRead: res.FanoutOnRead,
		UpdatedAt:    timestamppb.New(at),
	}
	return r.emit.Emit(ctx, msg, envelope.WithID(envelope.DerivedID(at, d.Event.Source(), d.Event.ID())), envelope.WithTime(at))
}
