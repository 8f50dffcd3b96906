package gateway

import "encoding/json"

// Subprotocol is the websocket subprotocol the gateway speaks. A client
// passing its token as a subprotocol ("bearer.<token>") must offer this one
// too, since browsers fail a handshake that selects none of the offered.
const Subprotocol = "nova.v1"

// bearerProtocolPrefix marks the token among the offered subprotocols.
const bearerProtocolPrefix = "bearer."

// Frame types. Every frame is a JSON text message with a "type".
const (
	// Server to client.
	TypeHello = "hello" // first frame: who the connection is
	TypeAck   = "ack"   // a typed message was accepted (queued to be stored)
	TypeError = "error" // a client frame was refused
	TypePong  = "pong"  // answer to a client "ping"
	// Client to server (and "message" also server to client, see push).
	TypeMessage = "message"
	TypePing    = "ping"
)

// clientFrame is any frame a client sends.
type clientFrame struct {
	Type            string   `json:"type"`
	ConversationID  string   `json:"conversation_id"`
	ClientMessageID string   `json:"client_message_id"`
	Content         string   `json:"content"`
	MessageType     string   `json:"message_type"`
	MediaIDs        []string `json:"media_ids"`
}

type helloFrame struct {
	Type             string `json:"type"`
	UserID           string `json:"user_id"`
	ConnectionID     string `json:"connection_id"`
	GatewayID        string `json:"gateway_id"`
	HeartbeatSeconds int    `json:"heartbeat_seconds"`
}

type ackFrame struct {
	Type            string `json:"type"`
	ConversationID  string `json:"conversation_id"`
	ClientMessageID string `json:"client_message_id"`
}

type errorFrame struct {
	Type            string `json:"type"`
	ClientMessageID string `json:"client_message_id,omitempty"`
	Code            string `json:"code"`
	Message         string `json:"message"`
}

// Error codes of error frames.
const (
	CodeBadFrame    = "bad_frame"
	CodeInvalid     = "validation_failed"
	CodeUnavailable = "unavailable"
	// CodeNotParticipant: the sender is not in the conversation.
	CodeNotParticipant = "not_a_participant"
)

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// The frame types above always marshal.
		panic(err)
	}
	return b
}
