// Package persist is chat-persist's reaction: a ChatMessageSubmitted (a
// message typed on a websocket) is stored through messaging.Service.Send —
// the very method POST /v1/conversations/{id}/messages calls — so it is
// stored exactly once per (sender, client_message_id) whichever way it came,
// and MessageSent leaves through the outbox in the same transaction. A
// redelivered event finds its message stored and emits nothing.
//
// A sender who does not take part in the conversation (or a conversation
// that does not exist), a malformed message, or a client id already used in
// another conversation can never be stored: the failure is permanent and the
// event goes to the dead-letter sink with the reason. The gateway accepts
// such messages without knowing better, since it has no database.
package persist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Reactor handles chat-persist's events.
type Reactor struct {
	svc *messaging.Service
	log *slog.Logger
}

// NewReactor returns a Reactor storing through svc.
func NewReactor(svc *messaging.Service, log *slog.Logger) *Reactor {
	if log == nil {
		log = slog.Default()
	}
	return &Reactor{svc: svc, log: log}
}

// React stores a ChatMessageSubmitted; other events of the topic are
// acknowledged and ignored.
func (r *Reactor) React(ctx context.Context, d envelope.Decoded) error {
	m, ok := d.Message.(*eventsv1.ChatMessageSubmitted)
	if !ok {
		return nil
	}
	sender, err := id.ParseUserID(m.GetSenderId())
	if err != nil {
		return delivery.Permanent(fmt.Errorf("chat-persist: event %s: sender: %w", d.Event.ID(), err))
	}
	in := messaging.NewMessage{
		ClientMessageID: m.GetClientMessageId(), Type: messaging.TypeFromProto(m.GetType()), Content: m.GetContent(),
	}
	conv, err := id.ParseConversationID(m.GetConversationId())
	if err != nil {
		return delivery.Permanent(fmt.Errorf("chat-persist: event %s: conversation: %w", d.Event.ID(), err))
	}
	if in.MediaIDs, err = messaging.ParseMediaIDs(m.GetMediaIds()); err != nil {
		return delivery.Permanent(fmt.Errorf("chat-persist: event %s: %w", d.Event.ID(), err))
	}
	msg, created, err := r.svc.Send(ctx, sender, conv, in)
	switch {
	case errors.Is(err, messaging.ErrNotFound):
		return delivery.Permanent(fmt.Errorf("chat-persist: event %s: sender %s is not a participant of conversation %q: %w",
			d.Event.ID(), sender, m.GetConversationId(), err))
	case errors.Is(err, messaging.ErrInvalid), errors.Is(err, messaging.ErrConflict):
		return delivery.Permanent(fmt.Errorf("chat-persist: event %s: %w", d.Event.ID(), err))
	case err != nil:
		return fmt.Errorf("chat-persist: event %s: %w", d.Event.ID(), err)
	}
	r.log.DebugContext(ctx, "chat message stored", "message", msg.ID, "sequence", msg.Sequence, "new", created)
	return nil
}
