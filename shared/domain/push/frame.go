package push

import (
	"encoding/json"
	"fmt"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/domain/post"
)

// Frame types a server sends on a websocket.
const (
	// FrameMessage carries a new message of one of the user's conversations.
	FrameMessage = "message"
)

// MessageFrame is the frame of a new message: {"type": "message",
// "message": {...}}, the message in the shape GET
// /v1/conversations/{id}/messages returns, plus its recipients. Clients
// deduplicate on message.id: a redelivered event may push a message twice.
type MessageFrame struct {
	Type    string         `json:"type"`
	Message MessagePayload `json:"message"`
}

// MessagePayload is messaging.Message with the recipients.
type MessagePayload struct {
	messaging.Message
	RecipientIDs []string `json:"recipient_ids"`
}

// NewMessageFrame encodes the frame of a MessageSent event.
func NewMessageFrame(e *eventsv1.MessageSent) ([]byte, error) {
	m := MessagePayload{
		Message: messaging.Message{
			ID: e.GetMessageId(), ConversationID: e.GetConversationId(), Sequence: e.GetSequence(),
			SenderID: e.GetSenderId(), ClientMessageID: e.GetClientMessageId(),
			Type: messaging.TypeFromProto(e.GetType()), Content: e.GetContent(),
			Media: post.MediaFromProto(e.GetMedia()), SentAt: e.GetSentAt().AsTime().UTC(),
		},
		RecipientIDs: e.GetRecipientIds(),
	}
	if m.Media == nil {
		m.Media = []post.Media{}
	}
	if m.RecipientIDs == nil {
		m.RecipientIDs = []string{}
	}
	b, err := json.Marshal(MessageFrame{Type: FrameMessage, Message: m})
	if err != nil {
		return nil, fmt.Errorf("push: encode message frame: %w", err)
	}
	return b, nil
}
