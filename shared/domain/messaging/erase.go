package messaging

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
)

// EraseUser erases what messaging holds of a deleted account, inside the
// account deletion's transaction tx. A conversation is shared history, so
// what the others still read is anonymised rather than torn out:
//
//   - the user leaves every conversation (participant rows deleted);
//   - a conversation nobody is left in is deleted with its messages;
//   - the user's messages in the others stay in their place (sequence,
//     time) with the sender replaced by id.Deleted and text and media
//     erased, so the others' history keeps its order and shows a deleted
//     message;
//   - conversations the user created name id.Deleted as creator, and a
//     direct conversation's pair key no longer holds the user's id.
func (s *Service) EraseUser(ctx context.Context, tx pgx.Tx, uid id.UserID, _ time.Time) error {
	u, gone := uid.String(), id.Deleted.String()
	var left []string
	rows, err := tx.Query(ctx, `DELETE FROM conversation_participants WHERE user_id = $1 RETURNING conversation_id::text`, u)
	if err == nil {
		left, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return fmt.Errorf("messaging: erase %s: leave conversations: %w", uid, err)
	}
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"drop empty conversations' messages", `DELETE FROM messages m WHERE m.conversation_id = ANY($1::uuid[])
			AND NOT EXISTS (SELECT 1 FROM conversation_participants p WHERE p.conversation_id = m.conversation_id)`, []any{left}},
		{"drop empty conversations", `DELETE FROM conversations c WHERE c.id = ANY($1::uuid[])
			AND NOT EXISTS (SELECT 1 FROM conversation_participants p WHERE p.conversation_id = c.id)`, []any{left}},
		{"anonymise messages", `UPDATE messages SET sender_id = $2, client_message_id = id::text,
			type = 'TEXT', content = '', media = '[]' WHERE sender_id = $1`, []any{u, gone}},
		{"anonymise creators", `UPDATE conversations SET created_by = $2 WHERE created_by = $1`, []any{u, gone}},
		// Only direct conversations have a pair key, "<id>:<id>".
		{"anonymise pair keys", `UPDATE conversations SET pair_key = 'deleted:' || id::text
			WHERE pair_key LIKE $1 || ':%' OR pair_key LIKE '%:' || $1`, []any{u}},
	}
	for _, st := range steps {
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("messaging: erase %s: %s: %w", uid, st.what, err)
		}
	}
	return nil
}
