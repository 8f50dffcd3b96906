package messaging

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
)

// Statuses of a participant.
const (
	Active  = "ACTIVE"
	Invited = "INVITED"
)

// Kinds of conversation.
const (
	Direct = "DIRECT"
	Group  = "GROUP"
)

// Conversation is a conversation as the API shows it to a participant.
type Conversation struct {
	ID             string   `json:"id"`
	Kind           string   `json:"kind"`
	Title          string   `json:"title,omitempty"`
	CreatedBy      string   `json:"created_by"`
	ParticipantIDs []string `json:"participant_ids"`
	// InvitedIDs are those of ParticipantIDs who have not accepted yet.
	InvitedIDs     []string  `json:"invited_ids"`
	LastSequence   int64     `json:"last_sequence"`
	LastActivityAt time.Time `json:"last_activity_at"`
	CreatedAt      time.Time `json:"created_at"`
}

// NewConversation is the input of CreateConversation.
type NewConversation struct {
	// ParticipantIDs are the other people; the creator is added.
	ParticipantIDs []id.UserID
	// Title makes the conversation a group even with one other person.
	Title string
}

// ConversationCursor is a position in a user's conversation list (newest
// activity first).
type ConversationCursor struct {
	At time.Time `json:"t"`
	ID string    `json:"id"`
}

// Validate checks a cursor a client sent back.
func (c ConversationCursor) Validate() error {
	if _, err := id.ParseConversationID(c.ID); err != nil {
		return err
	}
	if c.At.IsZero() {
		return errors.New("no time")
	}
	return nil
}

// CreateConversation opens a conversation of creator with in.ParticipantIDs.
// One other person and no title is a DIRECT conversation, returned as it is
// (created false) when the pair already has one. Anything else is a new
// GROUP.
func (s *Service) CreateConversation(ctx context.Context, creator id.UserID, in NewConversation) (Conversation, bool, error) {
	if creator.IsZero() {
		return Conversation{}, false, errors.New("messaging: create conversation: no creator")
	}
	// A caller in Go may have converted a string; parsing again keeps
	// every id a well-formed one.
	others := make([]id.UserID, 0, len(in.ParticipantIDs))
	for _, raw := range in.ParticipantIDs {
		p, err := id.ParseUserID(string(raw))
		if err != nil {
			return Conversation{}, false, invalid("participant_ids", "%q is not a user id", raw)
		}
		if p != creator && !slices.Contains(others, p) {
			others = append(others, p)
		}
	}
	if len(others) == 0 {
		return Conversation{}, false, invalid("participant_ids", "name at least one other user")
	}
	if len(others)+1 > s.cfg.MaxParticipants {
		return Conversation{}, false, invalid("participant_ids", "a conversation has at most %d participants", s.cfg.MaxParticipants)
	}
	title := strings.TrimSpace(in.Title)
	if utf8.RuneCountInString(title) > s.cfg.MaxTitleRunes {
		return Conversation{}, false, invalid("title", "at most %d characters", s.cfg.MaxTitleRunes)
	}
	if !utf8.ValidString(title) {
		return Conversation{}, false, invalid("title", "not valid UTF-8")
	}
	if strings.ContainsRune(title, 0) {
		return Conversation{}, false, invalid("title", "must not contain NUL characters")
	}
	if s.cfg.UserExists != nil {
		for _, p := range others {
			ok, err := s.cfg.UserExists(ctx, p)
			if err != nil {
				return Conversation{}, false, fmt.Errorf("messaging: check participant %s: %w", p, err)
			}
			if !ok {
				return Conversation{}, false, invalid("participant_ids", "user %s does not exist", p)
			}
		}
	}
	if s.cfg.Relations != nil {
		// A blocked pair is told what a user who does not exist is told,
		// so a block is not revealed.
		blocked, err := s.cfg.Relations.BlockedAmong(ctx, creator, others)
		if err != nil {
			return Conversation{}, false, fmt.Errorf("messaging: check blocks: %w", err)
		}
		if len(blocked) > 0 {
			return Conversation{}, false, invalid("participant_ids", "user %s does not exist", blocked[0])
		}
	}
	members := []string{string(creator)}
	for _, o := range others {
		members = append(members, string(o))
	}
	slices.Sort(members)
	now := s.now()
	c := Conversation{
		ID: id.NewConversationID().String(), Kind: Group, Title: title, CreatedBy: string(creator),
		ParticipantIDs: members, LastActivityAt: now, CreatedAt: now,
	}
	var pairKey *string
	if len(others) == 1 && title == "" {
		c.Kind = Direct
		k := members[0] + ":" + members[1]
		pairKey = &k
	}
	// Consent: in a group, whoever does not follow the creator is invited,
	// not added. A DIRECT conversation needs none: it is the two of them,
	// and a block ends it.
	invited := []string{}
	if c.Kind == Group && s.cfg.Relations != nil {
		for _, o := range others {
			f, err := s.cfg.Relations.Follows(ctx, o, creator)
			if err != nil {
				return Conversation{}, false, fmt.Errorf("messaging: check follows: %w", err)
			}
			if !f {
				invited = append(invited, string(o))
			}
		}
		slices.Sort(invited)
	}
	c.InvitedIDs = invited
	created := true
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO conversations (id, kind, title, created_by, pair_key, last_activity_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (pair_key) DO NOTHING`,
			c.ID, c.Kind, c.Title, c.CreatedBy, pairKey, now)
		if err != nil {
			return fmt.Errorf("insert conversation: %w", err)
		}
		if tag.RowsAffected() == 0 {
			// The pair already talks: hand back their conversation.
			created = false
			var existing string
			if err := tx.QueryRow(ctx, `SELECT id FROM conversations WHERE pair_key = $1`, *pairKey).Scan(&existing); err != nil {
				return fmt.Errorf("find direct conversation: %w", err)
			}
			c, err = s.loadTx(ctx, tx, existing)
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO conversation_participants (conversation_id, user_id, joined_at, status)
			SELECT $1, u, $3, CASE WHEN u = ANY($4::uuid[]) THEN 'INVITED' ELSE 'ACTIVE' END
			FROM unnest($2::uuid[]) AS u`, c.ID, members, now, invited)
		if err != nil {
			return fmt.Errorf("insert participants: %w", err)
		}
		return nil
	})
	if err != nil {
		return Conversation{}, false, wrap("create conversation", err)
	}
	return c, created, nil
}

// Conversation returns a conversation of which user is a participant, and
// ErrNotFound otherwise.
func (s *Service) Conversation(ctx context.Context, user id.UserID, conv id.ConversationID) (Conversation, error) {
	var c Conversation
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if err := mustParticipate(ctx, tx, user, conv); err != nil {
			return err
		}
		var err error
		c, err = s.loadTx(ctx, tx, string(conv))
		return err
	})
	return c, wrap("get conversation", err)
}

// Conversations lists user's conversations, newest activity first, after
// the cursor position when one is given. more says whether another page
// follows.
func (s *Service) Conversations(ctx context.Context, user id.UserID, after *ConversationCursor, limit int) ([]Conversation, bool, error) {
	if limit < 1 {
		return nil, false, invalid("limit", "must be positive")
	}
	args := []any{string(user), limit + 1}
	cond := ""
	if after != nil {
		cond = `AND (c.last_activity_at, c.id) < ($3, $4)`
		args = append(args, after.At, after.ID)
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT `+conversationColumns+`
		FROM conversation_participants p JOIN conversations c ON c.id = p.conversation_id
		WHERE p.user_id = $1 `+cond+`
		ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("messaging: list conversations: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanConversation)
	if err != nil {
		return nil, false, fmt.Errorf("messaging: list conversations: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

const conversationColumns = `c.id::text, c.kind, c.title, c.created_by::text,
	ARRAY(SELECT user_id::text FROM conversation_participants WHERE conversation_id = c.id ORDER BY user_id),
	ARRAY(SELECT user_id::text FROM conversation_participants WHERE conversation_id = c.id AND status = 'INVITED' ORDER BY user_id),
	c.last_sequence, c.last_activity_at, c.created_at`

func scanConversation(row pgx.CollectableRow) (Conversation, error) {
	var c Conversation
	err := row.Scan(&c.ID, &c.Kind, &c.Title, &c.CreatedBy, &c.ParticipantIDs, &c.InvitedIDs, &c.LastSequence, &c.LastActivityAt, &c.CreatedAt)
	if c.InvitedIDs == nil {
		c.InvitedIDs = []string{}
	}
	c.LastActivityAt, c.CreatedAt = c.LastActivityAt.UTC(), c.CreatedAt.UTC()
	return c, err
}

func (s *Service) loadTx(ctx context.Context, tx pgx.Tx, conv string) (Conversation, error) {
	rows, err := tx.Query(ctx, `SELECT `+conversationColumns+` FROM conversations c WHERE c.id = $1`, conv)
	if err != nil {
		return Conversation{}, fmt.Errorf("load conversation: %w", err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanConversation)
	if errors.Is(err, pgx.ErrNoRows) {
		return Conversation{}, ErrNotFound
	}
	if err != nil {
		return Conversation{}, fmt.Errorf("load conversation: %w", err)
	}
	return c, nil
}

type queryRower interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}

// mustParticipate is ErrNotFound unless user takes part in conv, invited
// or a member: an invitee sees the conversation, to accept or decline it.
func mustParticipate(ctx context.Context, q queryRower, user id.UserID, conv id.ConversationID) error {
	_, err := participation(ctx, q, user, conv)
	return err
}

// mustBeMember is ErrNotFound unless user is a member of conv: reading
// and writing messages wait for an invitee's consent.
func mustBeMember(ctx context.Context, q queryRower, user id.UserID, conv id.ConversationID) error {
	st, err := participation(ctx, q, user, conv)
	if err == nil && st != Active {
		return ErrNotFound
	}
	return err
}

// participation is user's status in conv, ErrNotFound when none.
func participation(ctx context.Context, q queryRower, user id.UserID, conv id.ConversationID) (string, error) {
	var st string
	err := q.QueryRow(ctx, `SELECT status FROM conversation_participants WHERE conversation_id = $1 AND user_id = $2`,
		string(conv), string(user)).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("check participant: %w", err)
	}
	return st, nil
}

// Accept makes user, invited to conv, a member. Accepting again changes
// nothing; someone neither invited nor a member gets ErrNotFound.
func (s *Service) Accept(ctx context.Context, user id.UserID, conv id.ConversationID) (Conversation, error) {
	if _, err := id.ParseConversationID(string(conv)); err != nil {
		return Conversation{}, ErrNotFound
	}
	var c Conversation
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if err := mustParticipate(ctx, tx, user, conv); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE conversation_participants SET status = 'ACTIVE', joined_at = $3
			WHERE conversation_id = $1 AND user_id = $2 AND status = 'INVITED'`, string(conv), string(user), s.now()); err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		var err error
		c, err = s.loadTx(ctx, tx, string(conv))
		return err
	})
	return c, wrap("accept invitation", err)
}

// Decline takes user out of the group conv: an invitee declines, a member
// leaves; the last one out takes the group and its messages along. A DIRECT conversation is not left (a block ends it); someone not
// in conv gets ErrNotFound.
func (s *Service) Decline(ctx context.Context, user id.UserID, conv id.ConversationID) error {
	if _, err := id.ParseConversationID(string(conv)); err != nil {
		return ErrNotFound
	}
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if err := mustParticipate(ctx, tx, user, conv); err != nil {
			return err
		}
		var kind string
		if err := tx.QueryRow(ctx, `SELECT kind FROM conversations WHERE id = $1`, string(conv)).Scan(&kind); err != nil {
			return fmt.Errorf("decline: %w", err)
		}
		if kind != Group {
			return invalid("id", "a direct conversation cannot be left")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM conversation_participants WHERE conversation_id = $1 AND user_id = $2`,
			string(conv), string(user)); err != nil {
			return fmt.Errorf("decline: %w", err)
		}
		// A group no one is left in goes with its messages, as when its
		// last member's account is deleted.
		for _, q := range []string{
			`DELETE FROM messages WHERE conversation_id = $1
				AND NOT EXISTS (SELECT 1 FROM conversation_participants WHERE conversation_id = $1)`,
			`DELETE FROM conversations WHERE id = $1
				AND NOT EXISTS (SELECT 1 FROM conversation_participants WHERE conversation_id = $1)`,
		} {
			if _, err := tx.Exec(ctx, q, string(conv)); err != nil {
				return fmt.Errorf("decline: drop empty group: %w", err)
			}
		}
		return nil
	})
	return wrap("decline", err)
}
