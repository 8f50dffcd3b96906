// Package notify decides which events become notifications and for whom:
// a message for each recipient who is offline (online ones see it live on
// the websocket), a follow for the followed user, a like or a comment for
// the post's author — never for one's own action, and never between a
// blocked pair (whoever blocked the other, neither hears of the other's
// follows, likes, comments or messages). Storing, grouping and
// deduplicating is the inbox's job (shared/domain/notification).
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/notification"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Presence tells whether a user has a live connection; *presence.Store is
// one.
type Presence interface {
	Online(ctx context.Context, user id.UserID) (bool, error)
}

// Inbox records notifications; *notification.Service is one.
type Inbox interface {
	Record(ctx context.Context, trigger notification.Trigger, in []notification.Incoming) (notification.Result, error)
	// Erase removes a deleted account from every inbox, once per trigger.
	Erase(ctx context.Context, trigger notification.Trigger, user id.UserID) (bool, error)
}

// Blocks tells who among others blocked user or was blocked by them;
// *identity.Graph is one, over the identity tables of the same database.
type Blocks interface {
	BlockedAmong(ctx context.Context, user id.UserID, others []id.UserID) ([]id.UserID, error)
}

// Reactor turns decoded events into notifications. It is safe for
// concurrent use.
type Reactor struct {
	inbox    Inbox
	presence Presence
	blocks   Blocks
	log      *slog.Logger
}

// NewReactor returns a Reactor writing to inbox and asking presence and
// blocks.
func NewReactor(inbox Inbox, presence Presence, blocks Blocks, log *slog.Logger) (*Reactor, error) {
	if inbox == nil || presence == nil || blocks == nil {
		return nil, errors.New("notify: inbox, presence and blocks are required")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Reactor{inbox: inbox, presence: presence, blocks: blocks, log: log}, nil
}

// React files the notifications d calls for. Events that notify no one by
// their nature (views, unlikes, one's own like, other event types) are
// acknowledged without touching the inbox. A permanent error
// (delivery.IsPermanent) means the event can never be applied.
func (r *Reactor) React(ctx context.Context, d envelope.Decoded) error {
	if m, ok := d.Message.(*eventsv1.UserDeleted); ok {
		return r.erase(ctx, d, m)
	}
	in, notifies, err := r.incoming(ctx, d.Message)
	if err != nil {
		return err
	}
	if !notifies {
		return nil
	}
	// Still recorded when nothing is left, as for a message whose
	// recipients are all online: a redelivery after an unblock does not
	// notify late.
	if in, err = r.unblocked(ctx, in); err != nil {
		return err
	}
	src, evID := envelope.DedupeKey(d.Event)
	res, err := r.inbox.Record(ctx, notification.Trigger{Source: src, ID: evID}, in)
	if errors.Is(err, notification.ErrInvalid) {
		return delivery.Permanent(err)
	}
	if err != nil {
		return err
	}
	if res.Duplicate {
		r.log.DebugContext(ctx, "event already notified", "id", d.Event.ID(), "source", d.Event.Source())
	}
	return nil
}

// incoming returns the notifications msg calls for. notifies is false for
// events that can never notify anyone; it is true for a message even when
// every recipient is online, so the decision is recorded and a redelivery
// after someone went offline does not notify late.
func (r *Reactor) incoming(ctx context.Context, msg any) (in []notification.Incoming, notifies bool, err error) {
	switch m := msg.(type) {
	case *eventsv1.MessageSent:
		return r.message(ctx, m)
	case *eventsv1.UserFollowed:
		follower, err1 := id.ParseUserID(m.GetFollowerId())
		followee, err2 := id.ParseUserID(m.GetFolloweeId())
		if err := errors.Join(err1, err2); err != nil {
			return nil, false, delivery.Permanent(fmt.Errorf("notify: UserFollowed: %w", err))
		}
		if follower == followee {
			return nil, false, nil
		}
		return []notification.Incoming{{Recipient: followee, Kind: notification.Follow,
			SubjectID: followee.String(), Actor: follower}}, true, nil
	case *eventsv1.Engagement:
		var kind notification.Kind
		switch m.GetKind() {
		case eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE:
			kind = notification.Like
		case eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT:
			kind = notification.Comment
		default:
			return nil, false, nil
		}
		user, err1 := id.ParseUserID(m.GetUserId())
		author, err2 := id.ParseUserID(m.GetAuthorId())
		post, err3 := id.ParsePostID(m.GetPostId())
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, false, delivery.Permanent(fmt.Errorf("notify: Engagement %s: %w", m.GetKind(), err))
		}
		if user == author {
			return nil, false, nil
		}
		return []notification.Incoming{{Recipient: author, Kind: kind, SubjectID: post.String(),
			Actor: user, Preview: m.GetCommentText()}}, true, nil
	}
	return nil, false, nil
}

func (r *Reactor) message(ctx context.Context, m *eventsv1.MessageSent) ([]notification.Incoming, bool, error) {
	sender, err := id.ParseUserID(m.GetSenderId())
	if err != nil {
		return nil, false, delivery.Permanent(fmt.Errorf("notify: MessageSent sender: %w", err))
	}
	if m.GetConversationId() == "" {
		return nil, false, delivery.Permanent(errors.New("notify: MessageSent without conversation"))
	}
	var in []notification.Incoming
	seen := map[id.UserID]bool{sender: true}
	for _, raw := range m.GetRecipientIds() {
		to, err := id.ParseUserID(raw)
		if err != nil {
			return nil, false, delivery.Permanent(fmt.Errorf("notify: MessageSent recipient: %w", err))
		}
		if seen[to] {
			continue
		}
		seen[to] = true
		online, err := r.presence.Online(ctx, to)
		if err != nil {
			return nil, false, fmt.Errorf("notify: presence of %s: %w", to, err)
		}
		if online {
			continue
		}
		in = append(in, notification.Incoming{Recipient: to, Kind: notification.Message,
			SubjectID: m.GetConversationId(), Actor: sender, Preview: preview(m)})
	}
	return in, true, nil
}

// unblocked leaves out the notifications whose recipient and actor are a
// blocked pair, asking once per actor (an event has one).
func (r *Reactor) unblocked(ctx context.Context, in []notification.Incoming) ([]notification.Incoming, error) {
	byActor := map[id.UserID][]id.UserID{}
	for _, n := range in {
		byActor[n.Actor] = append(byActor[n.Actor], n.Recipient)
	}
	drop := map[[2]id.UserID]bool{}
	for actor, recipients := range byActor {
		blocked, err := r.blocks.BlockedAmong(ctx, actor, recipients)
		if err != nil {
			return nil, fmt.Errorf("notify: blocks of %s: %w", actor, err)
		}
		for _, b := range blocked {
			drop[[2]id.UserID{actor, b}] = true
		}
	}
	out := in[:0]
	for _, n := range in {
		if !drop[[2]id.UserID{n.Actor, n.Recipient}] {
			out = append(out, n)
		}
	}
	return out, nil
}

// preview is what a message notification quotes.
func preview(m *eventsv1.MessageSent) string {
	if m.GetContent() != "" {
		return m.GetContent()
	}
	switch m.GetType() {
	case eventsv1.MessageType_MESSAGE_TYPE_IMAGE:
		return "[photo]"
	case eventsv1.MessageType_MESSAGE_TYPE_VIDEO:
		return "[video]"
	case eventsv1.MessageType_MESSAGE_TYPE_AUDIO:
		return "[voice message]"
	}
	return ""
}

// erase removes a deleted account from the inboxes: notifications to it,
// and its part in everyone else's.
func (r *Reactor) erase(ctx context.Context, d envelope.Decoded, m *eventsv1.UserDeleted) error {
	user, err := id.ParseUserID(m.GetUserId())
	if err != nil {
		return delivery.Permanent(fmt.Errorf("notify: UserDeleted: %w", err))
	}
	src, evID := envelope.DedupeKey(d.Event)
	fresh, err := r.inbox.Erase(ctx, notification.Trigger{Source: src, ID: evID}, user)
	if errors.Is(err, notification.ErrInvalid) {
		return delivery.Permanent(err)
	}
	if err != nil {
		return err
	}
	if !fresh {
		r.log.DebugContext(ctx, "deletion already applied", "id", d.Event.ID(), "source", d.Event.Source())
	}
	return nil
}
