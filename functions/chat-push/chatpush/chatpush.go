// Package chatpush is chat-push's reaction (the design document's
// handle_message_sent): a MessageSent is pushed to the live connections of
// its online recipients — never to the sender — on whichever gateway replica
// holds them, through shared/domain/push.
//
// chat-push records no processed event ids: a redelivered event pushes the
// message again, and the gateway drops it on each connection that was
// already sent that message id (it remembers the last 512 per connection).
// A push to a live gateway that has no subscriber fails
// (shared/domain/push.ErrNotListening), so the event is retried rather than lost
// while the gateway re-subscribes after a Redis outage; a gateway that is
// gone (no alive mark) took its connections with it and holds nothing up.
// Offline recipients are skipped; the notifier reaches them.
package chatpush

import (
	"context"
	"fmt"
	"log/slog"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Pusher sends a frame to users' connections; *push.Pusher is one.
type Pusher interface {
	Push(ctx context.Context, users []id.UserID, frame []byte) (push.Result, error)
}

// Reactor handles chat-push's events.
type Reactor struct {
	pusher Pusher
	log    *slog.Logger
}

// NewReactor returns a Reactor pushing through p.
func NewReactor(p Pusher, log *slog.Logger) *Reactor {
	if log == nil {
		log = slog.Default()
	}
	return &Reactor{pusher: p, log: log}
}

// React pushes a MessageSent; other events of the topic are acknowledged
// and ignored.
func (r *Reactor) React(ctx context.Context, d envelope.Decoded) error {
	m, ok := d.Message.(*eventsv1.MessageSent)
	if !ok {
		return nil
	}
	if m.GetMessageId() == "" || m.GetConversationId() == "" || m.GetSenderId() == "" {
		return delivery.Permanent(fmt.Errorf("chat-push: MessageSent %s lacks message, conversation or sender id", d.Event.ID()))
	}
	var to []id.UserID
	for _, raw := range m.GetRecipientIds() {
		u, err := id.ParseUserID(raw)
		if err != nil {
			return delivery.Permanent(fmt.Errorf("chat-push: MessageSent %s: recipient: %w", d.Event.ID(), err))
		}
		if raw != m.GetSenderId() {
			to = append(to, u)
		}
	}
	if len(to) == 0 {
		return nil
	}
	frame, err := push.NewMessageFrame(m)
	if err != nil {
		return delivery.Permanent(err)
	}
	res, err := r.pusher.Push(ctx, to, frame)
	if err != nil {
		return fmt.Errorf("chat-push: message %s: %w", m.GetMessageId(), err)
	}
	r.log.DebugContext(ctx, "message pushed", "message", m.GetMessageId(), "online", len(res.Online), "gateways", res.Gateways)
	return nil
}
