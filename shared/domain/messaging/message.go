package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Message types.
const (
	Text  = "TEXT"
	Image = "IMAGE"
	Video = "VIDEO"
	Audio = "AUDIO"
)

// MaxClientMessageIDLen bounds a client_message_id.
const MaxClientMessageIDLen = 128

// Message is a stored message as the API shows it.
type Message struct {
	ID              string       `json:"id"`
	ConversationID  string       `json:"conversation_id"`
	Sequence        int64        `json:"sequence"`
	SenderID        string       `json:"sender_id"`
	ClientMessageID string       `json:"client_message_id"`
	Type            string       `json:"type"`
	Content         string       `json:"content"`
	Media           []post.Media `json:"media"`
	SentAt          time.Time    `json:"sent_at"`
}

// ParseMediaIDs reads the media ids of a message from outside (a request
// or an event); a malformed one is an InputError naming media_ids.
func ParseMediaIDs(raw []string) ([]id.MediaID, error) {
	out := make([]id.MediaID, 0, len(raw))
	for _, r := range raw {
		m, err := id.ParseMediaID(r)
		if err != nil {
			return nil, invalid("media_ids", "%q is not a media id", r)
		}
		out = append(out, m)
	}
	return out, nil
}

// NewMessage is the input of Send.
type NewMessage struct {
	ClientMessageID string
	// Type is TEXT (the default when empty), IMAGE, VIDEO or AUDIO; the
	// protobuf names (MESSAGE_TYPE_TEXT…) are accepted too.
	Type     string
	Content  string
	MediaIDs []id.MediaID
}

// ParseType normalises a message type name.
func ParseType(s string) (string, error) {
	u := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "MESSAGE_TYPE_")
	switch u {
	case "":
		return Text, nil
	case Text, Image, Video, Audio:
		return u, nil
	}
	return "", invalid("type", "must be TEXT, IMAGE, VIDEO or AUDIO")
}

// TypeFromProto names a protobuf message type; UNSPECIFIED is TEXT.
func TypeFromProto(t eventsv1.MessageType) string {
	switch t {
	case eventsv1.MessageType_MESSAGE_TYPE_IMAGE:
		return Image
	case eventsv1.MessageType_MESSAGE_TYPE_VIDEO:
		return Video
	case eventsv1.MessageType_MESSAGE_TYPE_AUDIO:
		return Audio
	}
	return Text
}

// TypeToProto is the protobuf value of a type name.
func TypeToProto(t string) eventsv1.MessageType {
	switch t {
	case Image:
		return eventsv1.MessageType_MESSAGE_TYPE_IMAGE
	case Video:
		return eventsv1.MessageType_MESSAGE_TYPE_VIDEO
	case Audio:
		return eventsv1.MessageType_MESSAGE_TYPE_AUDIO
	}
	return eventsv1.MessageType_MESSAGE_TYPE_TEXT
}

// ValidClientMessageID reports whether s can be a client_message_id:
// 1 to MaxClientMessageIDLen printable ASCII characters without spaces.
func ValidClientMessageID(s string) bool {
	if s == "" || len(s) > MaxClientMessageIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// check validates in and returns its normalised type.
func (s *Service) check(in NewMessage) (string, error) {
	if !ValidClientMessageID(in.ClientMessageID) {
		return "", invalid("client_message_id", "required: 1 to %d printable ASCII characters without spaces", MaxClientMessageIDLen)
	}
	typ, err := ParseType(in.Type)
	if err != nil {
		return "", err
	}
	if !utf8.ValidString(in.Content) {
		return "", invalid("content", "not valid UTF-8")
	}
	// PostgreSQL text cannot hold NUL; refusing it here makes a typed
	// message carrying one a dead letter with a reason, not a retried 500.
	if strings.ContainsRune(in.Content, 0) {
		return "", invalid("content", "must not contain NUL characters")
	}
	if utf8.RuneCountInString(in.Content) > s.cfg.MaxContentRunes {
		return "", invalid("content", "at most %d characters", s.cfg.MaxContentRunes)
	}
	if len(in.MediaIDs) > s.cfg.MaxMedia {
		return "", invalid("media_ids", "at most %d media", s.cfg.MaxMedia)
	}
	for _, m := range in.MediaIDs {
		if _, err := id.ParseMediaID(string(m)); err != nil {
			return "", invalid("media_ids", "%q is not a media id", m)
		}
	}
	switch {
	case typ == Text && strings.TrimSpace(in.Content) == "":
		return "", invalid("content", "a TEXT message needs content")
	case typ == Text && len(in.MediaIDs) > 0:
		return "", invalid("media_ids", "a TEXT message carries no media")
	case typ != Text && len(in.MediaIDs) == 0:
		return "", invalid("media_ids", "an %s message needs media", typ)
	}
	return typ, nil
}

// errDuplicate rolls back a transaction that lost the race to store a
// (sender, client_message_id) to a concurrent one.
var errDuplicate = errors.New("duplicate client message id")

// Send stores a message of sender in conv and emits MessageSent, once per
// (sender, client_message_id): when that pair is already stored in conv the
// stored message is returned with created false and nothing is emitted. A
// sender who is not a participant gets ErrNotFound; a client id already
// used in another conversation, ErrConflict.
func (s *Service) Send(ctx context.Context, sender id.UserID, conv id.ConversationID, in NewMessage) (Message, bool, error) {
	if sender.IsZero() {
		return Message{}, false, errors.New("messaging: send: no sender")
	}
	if _, err := id.ParseConversationID(string(conv)); err != nil {
		return Message{}, false, ErrNotFound
	}
	typ, err := s.check(in)
	if err != nil {
		return Message{}, false, err
	}
	if err := s.MaySend(ctx, sender, conv); err != nil {
		return Message{}, false, err
	}
	if m, ok, err := s.stored(ctx, sender, conv, in.ClientMessageID); err != nil || ok {
		return m, false, err
	}
	media := []post.Media{}
	if len(in.MediaIDs) > 0 {
		if s.cfg.Media == nil {
			return Message{}, false, invalid("media_ids", "media attachments are not available")
		}
		media, err = s.cfg.Media.ResolveMedia(ctx, sender, in.MediaIDs)
		if errors.Is(err, ErrMediaUnavailable) {
			return Message{}, false, invalid("media_ids", "%s", err.Error())
		}
		if err != nil {
			return Message{}, false, fmt.Errorf("messaging: resolve media: %w", err)
		}
	}
	mediaJSON, err := json.Marshal(media)
	if err != nil {
		return Message{}, false, fmt.Errorf("messaging: encode media: %w", err)
	}
	m := Message{
		ID: id.NewMessageID().String(), ConversationID: string(conv), SenderID: string(sender),
		ClientMessageID: in.ClientMessageID, Type: typ, Content: in.Content, Media: media, SentAt: s.now(),
	}
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		// The conversation row lock orders the conversation's messages and
		// is always taken before the outbox's key lock.
		if err := tx.QueryRow(ctx, `UPDATE conversations SET last_sequence = last_sequence + 1,
				last_activity_at = GREATEST(last_activity_at, $2)
			WHERE id = $1 RETURNING last_sequence`, m.ConversationID, m.SentAt).Scan(&m.Sequence); err != nil {
			return fmt.Errorf("draw sequence: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO messages (id, conversation_id, sequence, sender_id, client_message_id, type, content, media, sent_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sender_id, client_message_id) DO NOTHING`,
			m.ID, m.ConversationID, m.Sequence, m.SenderID, m.ClientMessageID, m.Type, m.Content, mediaJSON, m.SentAt)
		if err != nil {
			return fmt.Errorf("insert message: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return errDuplicate
		}
		var recipients []string
		// Invitees receive nothing until they accept.
		rows, err := tx.Query(ctx, `SELECT user_id::text FROM conversation_participants
			WHERE conversation_id = $1 AND user_id <> $2 AND status = 'ACTIVE' ORDER BY user_id`, m.ConversationID, m.SenderID)
		if err != nil {
			return fmt.Errorf("read recipients: %w", err)
		}
		if recipients, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("read recipients: %w", err)
		}
		if recipients, err = s.unblocked(ctx, sender, recipients); err != nil {
			return err
		}
		ev := &eventsv1.MessageSent{
			MessageId: m.ID, ConversationId: m.ConversationID, SenderId: m.SenderID, RecipientIds: recipients,
			Content: m.Content, Type: TypeToProto(m.Type), SentAt: timestamppb.New(m.SentAt),
			ClientMessageId: m.ClientMessageID, Sequence: m.Sequence, Media: post.MediaToProto(m.Media),
		}
		if _, err := s.cfg.Outbox.Enqueue(ctx, tx, ev, envelope.WithTime(m.SentAt)); err != nil {
			return fmt.Errorf("enqueue event: %w", err)
		}
		return nil
	})
	if errors.Is(err, errDuplicate) {
		// A concurrent request stored the same client id first.
		m, ok, err := s.stored(ctx, sender, conv, in.ClientMessageID)
		if err == nil && !ok {
			err = fmt.Errorf("messaging: send: stored message %s/%s vanished", sender, in.ClientMessageID)
		}
		return m, false, err
	}
	if err != nil {
		return Message{}, false, wrap("send", err)
	}
	return m, true, nil
}

// MaySend is nil when sender may write to conv now: a member who has
// accepted, and not one of a DIRECT conversation's blocked pair. Otherwise
// ErrNotFound, as for a conversation that is not theirs. The realtime
// gateway asks it (through GET /v1/conversations/{id}'s can_send) before
// taking a typed message.
func (s *Service) MaySend(ctx context.Context, sender id.UserID, conv id.ConversationID) error {
	if _, err := id.ParseConversationID(string(conv)); err != nil {
		return ErrNotFound
	}
	if err := mustBeMember(ctx, s.cfg.Pool, sender, conv); err != nil {
		return wrap("send", err)
	}
	if err := s.mustNotBeBlocked(ctx, sender, conv); err != nil {
		return wrap("send", err)
	}
	return nil
}

// mustNotBeBlocked is ErrNotFound when conv is a DIRECT conversation whose
// two people are a blocked pair: to either, it takes no more messages, as
// if it were not theirs (the block is not revealed to the blocked).
func (s *Service) mustNotBeBlocked(ctx context.Context, sender id.UserID, conv id.ConversationID) error {
	if s.cfg.Relations == nil {
		return nil
	}
	var other *string
	err := s.cfg.Pool.QueryRow(ctx, `SELECT (SELECT p.user_id::text FROM conversation_participants p
			WHERE p.conversation_id = c.id AND p.user_id <> $2 LIMIT 1)
		FROM conversations c WHERE c.id = $1 AND c.kind = 'DIRECT'`, string(conv), string(sender)).Scan(&other)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && other == nil) {
		return nil // a group: blocks decide recipients, not who may speak
	}
	if err != nil {
		return fmt.Errorf("find the other person: %w", err)
	}
	otherID, err := id.ParseUserID(*other)
	if err != nil {
		return fmt.Errorf("the other person: %w", err)
	}
	blocked, err := s.cfg.Relations.BlockedAmong(ctx, sender, []id.UserID{otherID})
	if err != nil {
		return fmt.Errorf("check blocks: %w", err)
	}
	if len(blocked) > 0 {
		return ErrNotFound
	}
	return nil
}

// unblocked leaves out of recipients those with a block either way with
// sender: in a group, a blocked pair do not receive each other's messages.
func (s *Service) unblocked(ctx context.Context, sender id.UserID, recipients []string) ([]string, error) {
	if s.cfg.Relations == nil || len(recipients) == 0 {
		return recipients, nil
	}
	ids := make([]id.UserID, len(recipients))
	for i, r := range recipients {
		var err error
		if ids[i], err = id.ParseUserID(r); err != nil {
			return nil, fmt.Errorf("recipient: %w", err)
		}
	}
	blocked, err := s.cfg.Relations.BlockedAmong(ctx, sender, ids)
	if err != nil {
		return nil, fmt.Errorf("check blocks: %w", err)
	}
	if len(blocked) == 0 {
		return recipients, nil
	}
	return slices.DeleteFunc(recipients, func(r string) bool {
		return slices.ContainsFunc(blocked, func(b id.UserID) bool { return b.String() == r })
	}), nil
}

// stored finds sender's message with the client id: ok and the message when
// it is in conv, ErrConflict when it is in another conversation.
func (s *Service) stored(ctx context.Context, sender id.UserID, conv id.ConversationID, clientID string) (Message, bool, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE sender_id = $1 AND client_message_id = $2`, string(sender), clientID)
	if err != nil {
		return Message{}, false, fmt.Errorf("messaging: find message: %w", err)
	}
	m, err := pgx.CollectExactlyOneRow(rows, scanMessage)
	if errors.Is(err, pgx.ErrNoRows) {
		return Message{}, false, nil
	}
	if err != nil {
		return Message{}, false, fmt.Errorf("messaging: find message: %w", err)
	}
	if m.ConversationID != string(conv) {
		return Message{}, false, ErrConflict
	}
	return m, true, nil
}

const messageColumns = `id::text, conversation_id::text, sequence, sender_id::text, client_message_id, type, content, media, sent_at`

func scanMessage(row pgx.CollectableRow) (Message, error) {
	var (
		m     Message
		media []byte
	)
	if err := row.Scan(&m.ID, &m.ConversationID, &m.Sequence, &m.SenderID, &m.ClientMessageID, &m.Type, &m.Content, &media, &m.SentAt); err != nil {
		return Message{}, err
	}
	m.SentAt = m.SentAt.UTC()
	if err := json.Unmarshal(media, &m.Media); err != nil {
		return Message{}, fmt.Errorf("decode media of %s: %w", m.ID, err)
	}
	if m.Media == nil {
		m.Media = []post.Media{}
	}
	return m, nil
}

// MessageCursor is a position in a conversation's history: messages after
// sequence After (newer) or before sequence Before (older); one of the two.
type MessageCursor struct {
	After  int64 `json:"a,omitempty"`
	Before int64 `json:"b,omitempty"`
}

// Validate checks a cursor a client sent back.
func (c MessageCursor) Validate() error {
	if (c.After > 0) == (c.Before > 0) || c.After < 0 || c.Before < 0 {
		return errors.New("want exactly one positive position")
	}
	return nil
}

// History is one page of a conversation, oldest first. Newer and Older are
// the cursors of the adjacent pages, nil at either end.
type History struct {
	Messages []Message
	Newer    *MessageCursor
	Older    *MessageCursor
}

// Messages reads a page of conv's history for user, always oldest first.
// With no cursor it starts at the beginning, or with latest at the end (the
// newest limit messages). ErrNotFound unless user takes part.
func (s *Service) Messages(ctx context.Context, user id.UserID, conv id.ConversationID, cur *MessageCursor, latest bool, limit int) (History, error) {
	if limit < 1 {
		return History{}, invalid("limit", "must be positive")
	}
	if _, err := id.ParseConversationID(string(conv)); err != nil {
		return History{}, ErrNotFound
	}
	var h History
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if err := mustBeMember(ctx, tx, user, conv); err != nil {
			return err
		}
		backward := latest || (cur != nil && cur.Before > 0)
		var (
			rows pgx.Rows
			err  error
		)
		switch {
		case cur != nil && cur.Before > 0:
			rows, err = tx.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE conversation_id = $1 AND sequence < $2
				ORDER BY sequence DESC LIMIT $3`, string(conv), cur.Before, limit+1)
		case backward:
			rows, err = tx.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE conversation_id = $1
				ORDER BY sequence DESC LIMIT $2`, string(conv), limit+1)
		default:
			after := int64(0)
			if cur != nil {
				after = cur.After
			}
			rows, err = tx.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE conversation_id = $1 AND sequence > $2
				ORDER BY sequence LIMIT $3`, string(conv), after, limit+1)
		}
		if err != nil {
			return fmt.Errorf("read messages: %w", err)
		}
		ms, err := pgx.CollectRows(rows, scanMessage)
		if err != nil {
			return fmt.Errorf("read messages: %w", err)
		}
		more := len(ms) > limit
		if more {
			ms = ms[:limit]
		}
		if backward {
			slices.Reverse(ms)
		}
		h.Messages = ms
		if len(ms) == 0 {
			return nil
		}
		first, last := ms[0].Sequence, ms[len(ms)-1].Sequence
		// The page in the direction read has more exactly when the extra
		// row came back; the other side has more when the page does not
		// touch the conversation's first message or a cursor stood there.
		if backward {
			if more {
				h.Older = &MessageCursor{Before: first}
			}
			if cur != nil && cur.Before > 0 {
				h.Newer = &MessageCursor{After: last}
			}
		} else {
			if more {
				h.Newer = &MessageCursor{After: last}
			}
			if first > 1 {
				h.Older = &MessageCursor{Before: first}
			}
		}
		return nil
	})
	if err != nil {
		return History{}, wrap("read messages", err)
	}
	if h.Messages == nil {
		h.Messages = []Message{}
	}
	return h, nil
}
