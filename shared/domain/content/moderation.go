package content

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/id"
)

// ModerationAction is what a moderation decision asks of a post.
type ModerationAction string

const (
	// ModerationHide hides the post from everyone but its author, who sees
	// the reason.
	ModerationHide ModerationAction = "hide"
	// ModerationRemove deletes the post, as its author's delete would.
	ModerationRemove ModerationAction = "remove"
	// ModerationAllow restores a hidden post: any hidden post when a
	// reviewer decided, only one the rules hid when the rules decided.
	ModerationAllow ModerationAction = "allow"
)

// DecidedByRules is Moderation.DecidedBy for a decision of the automatic
// rules; any other value is a reviewer's user id.
const DecidedByRules = "auto"

// Moderation is a decision about one version of a post.
type Moderation struct {
	PostID id.PostID
	Action ModerationAction
	// Reason is shown to the author of a hidden post.
	Reason string
	// DecidedBy is DecidedByRules or a reviewer's user id.
	DecidedBy string
	// ContentAt is the post version (created_at or updated_at) the decision
	// judged; a decision about an older version than the post's current one
	// is not applied.
	ContentAt time.Time
}

// ModerationOutcome says what Moderate did.
type ModerationOutcome string

const (
	// ModerationApplied: the post changed and its event was written.
	ModerationApplied ModerationOutcome = "applied"
	// ModerationUnchanged: the post already was as decided (a redelivered
	// decision, or an automatic allow of a post a reviewer hid).
	ModerationUnchanged ModerationOutcome = "unchanged"
	// ModerationStale: the post changed since the version decided about.
	ModerationStale ModerationOutcome = "stale"
	// ModerationGone: no such post, or it is deleted already.
	ModerationGone ModerationOutcome = "gone"
)

// Moderate applies a moderation decision: it hides, removes or restores the
// post and writes PostUpdated (hidden, hidden_reason) or PostDeleted in the
// same transaction, so feeds and search drop the post. Applying the same
// decision again changes nothing and emits nothing.
func (s *Service) Moderate(ctx context.Context, m Moderation) (ModerationOutcome, error) {
	switch m.Action {
	case ModerationHide, ModerationRemove, ModerationAllow:
	default:
		return "", invalid("action", "unknown moderation action %q", m.Action)
	}
	if m.DecidedBy == "" {
		return "", invalid("decided_by", "a decision needs its decider")
	}
	if m.ContentAt.IsZero() {
		return "", invalid("content_at", "a decision needs the post version it is about")
	}
	var out ModerationOutcome
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var (
			cur                 post.Summary
			deleted             bool
			hiddenBy            string
			moderatedAt, modVer *time.Time
		)
		row := tx.QueryRow(ctx, `SELECT `+summaryColumns+`, p.deleted_at IS NOT NULL, p.hidden_by,
				p.moderated_at, p.moderation_version
			FROM posts p WHERE p.id = $1 FOR UPDATE OF p`, m.PostID.String())
		cur, err := scanSummary(row, &deleted, &hiddenBy, &moderatedAt, &modVer)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && deleted) {
			out = ModerationGone
			return nil
		}
		if err != nil {
			return fmt.Errorf("read post: %w", err)
		}
		version := contentVersion(cur.UpdatedAt, moderatedAt, modVer)
		if m.ContentAt.Before(version) {
			out = ModerationStale
			return nil
		}
		now := s.now()
		switch m.Action {
		case ModerationRemove:
			if _, err := tx.Exec(ctx, `UPDATE posts SET deleted_at = $2, hidden_reason = $3, hidden_by = $4 WHERE id = $1`,
				cur.ID, now, m.Reason, m.DecidedBy); err != nil {
				return fmt.Errorf("remove post: %w", err)
			}
			out = ModerationApplied
			return s.enqueue(ctx, tx, &eventsv1.PostDeleted{
				PostId: cur.ID, UserId: cur.AuthorID, DeletedAt: timestamppb.New(now),
			}, now)
		case ModerationHide:
			if cur.Hidden && cur.HiddenReason == m.Reason {
				out = ModerationUnchanged
				return nil
			}
			cur.Hidden, cur.HiddenReason, hiddenBy = true, m.Reason, m.DecidedBy
		case ModerationAllow:
			if !cur.Hidden || (m.DecidedBy == DecidedByRules && hiddenBy != DecidedByRules) {
				out = ModerationUnchanged
				return nil
			}
			cur.Hidden, cur.HiddenReason, hiddenBy = false, "", ""
		}
		// The version judged stays the post's version: moderation moves
		// updated_at so consumers apply the change, and remembers that it
		// did (moderated_at) and which version it judged.
		if err := tx.QueryRow(ctx, `UPDATE posts SET hidden = $2, hidden_reason = $3, hidden_by = $4,
				updated_at = GREATEST($5, updated_at + interval '1 microsecond'),
				moderated_at = GREATEST($5, updated_at + interval '1 microsecond'),
				moderation_version = $6
			WHERE id = $1 RETURNING updated_at`,
			cur.ID, cur.Hidden, cur.HiddenReason, hiddenBy, now, version).Scan(&cur.UpdatedAt); err != nil {
			return fmt.Errorf("moderate post: %w", err)
		}
		cur.UpdatedAt = cur.UpdatedAt.UTC()
		out = ModerationApplied
		return s.enqueue(ctx, tx, &eventsv1.PostUpdated{
			PostId: cur.ID, UserId: cur.AuthorID, Tags: cur.Tags, Media: post.MediaToProto(cur.Media),
			Type: cur.Type.Proto(), UpdatedAt: timestamppb.New(cur.UpdatedAt),
			Hidden: proto.Bool(cur.Hidden), HiddenReason: cur.HiddenReason,
		}, cur.UpdatedAt)
	})
	if err != nil {
		return "", wrap("moderate post", err)
	}
	return out, nil
}

// contentVersion is the post version moderation decisions refer to: its
// updated_at, unless moderation itself wrote that updated_at, in which case
// the version moderation judged then.
func contentVersion(updatedAt time.Time, moderatedAt, judged *time.Time) time.Time {
	if moderatedAt != nil && judged != nil && moderatedAt.Equal(updatedAt) {
		return *judged
	}
	return updatedAt
}
