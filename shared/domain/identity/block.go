package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Block is one user the owner of a block list has blocked.
type Block struct {
	User      User
	BlockedAt time.Time
}

// BlockCursor is the position in a block list to continue after.
type BlockCursor struct {
	BlockedAt time.Time `json:"t"`
	UserID    string    `json:"id"`
}

// Validate rejects cursors that cannot name a block.
func (c BlockCursor) Validate() error {
	if c.BlockedAt.IsZero() {
		return errors.New("no time")
	}
	if _, err := uuid.Parse(c.UserID); err != nil {
		return fmt.Errorf("user id: %w", err)
	}
	return nil
}

// checkBlockPair validates the two ids of a block.
func checkBlockPair(blocker, blocked id.UserID) error {
	if _, err := id.ParseUserID(string(blocker)); err != nil {
		return invalid("blocker_id", "is not a user id")
	}
	if _, err := id.ParseUserID(string(blocked)); err != nil {
		return invalid("blocked_id", "is not a user id")
	}
	if blocker == blocked {
		return ErrSelfBlock
	}
	return nil
}

// lockPair serialises, for one pair of users, the transactions that
// create a follow edge or a block between them: without it a follow
// checked against the blocks table before a concurrent block committed
// could land after that block removed the edges.
func lockPair(ctx context.Context, tx pgx.Tx, a, b id.UserID) error {
	lo, hi := string(a), string(b)
	if hi < lo {
		lo, hi = hi, lo
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "nova.pair:"+lo+":"+hi); err != nil {
		return fmt.Errorf("lock pair: %w", err)
	}
	return nil
}

// blockBetween reports who of a and b blocked the other, "" when neither
// did (a blocker of both ways reports a).
func blockBetween(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, a, b id.UserID) (id.UserID, error) {
	var blocker string
	err := q.QueryRow(ctx, `SELECT blocker_id::text FROM blocks
		WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)
		ORDER BY blocker_id = $1 DESC LIMIT 1`, string(a), string(b)).Scan(&blocker)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return id.ParseUserID(blocker)
}

// BlockHook is what another domain does, inside a new block's transaction,
// about the pair (the notification inbox forgets what each did to the
// other). An error rolls the block back.
type BlockHook interface {
	Blocked(ctx context.Context, tx pgx.Tx, blocker, blocked id.UserID) error
}

// Block makes blocker block blocked and reports whether the block is new.
// In the same transaction it removes the follow edges between the two, both
// ways, and enqueues a UserUnfollowed for each, so the feeds and the search
// index drop the posts as for any unfollow, and runs Config.BlockHooks. A
// user that does not exist gives ErrNotFound; blocking yourself
// ErrSelfBlock.
func (s *Service) Block(ctx context.Context, blocker, blocked id.UserID) (bool, error) {
	if err := checkBlockPair(blocker, blocked); err != nil {
		return false, err
	}
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockPair(ctx, tx, blocker, blocked); err != nil {
			return err
		}
		now := s.now()
		tag, err := tx.Exec(ctx, `INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (blocker_id, blocked_id) DO NOTHING`, string(blocker), string(blocked), now)
		if err != nil {
			return missingUser(err)
		}
		if tag.RowsAffected() == 0 {
			return nil // already blocked
		}
		created = true
		rows, err := tx.Query(ctx, `DELETE FROM follows
			WHERE (follower_id = $1 AND followee_id = $2) OR (follower_id = $2 AND followee_id = $1)
			RETURNING follower_id::text, followee_id::text`, string(blocker), string(blocked))
		if err != nil {
			return err
		}
		edges, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
			var e [2]string
			err := r.Scan(&e[0], &e[1])
			return e, err
		})
		if err != nil {
			return err
		}
		for _, e := range edges {
			if _, err := s.box.Enqueue(ctx, tx, &eventsv1.UserUnfollowed{
				FollowerId:   e[0],
				FolloweeId:   e[1],
				UnfollowedAt: timestamppb.New(now),
			}, envelope.WithTime(now)); err != nil {
				return err
			}
		}
		for _, h := range s.cfg.BlockHooks {
			if err := h.Blocked(ctx, tx, blocker, blocked); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("identity: %s block %s: %w", blocker, blocked, err)
	}
	return created, nil
}

// Unblock ends blocker's block of blocked and reports whether there was
// one. Follow edges removed by the block stay removed. Unblocking a user
// that does not exist gives ErrNotFound.
func (s *Service) Unblock(ctx context.Context, blocker, blocked id.UserID) (bool, error) {
	if err := checkBlockPair(blocker, blocked); err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2`, string(blocker), string(blocked))
	if err != nil {
		return false, fmt.Errorf("identity: %s unblock %s: %w", blocker, blocked, err)
	}
	if tag.RowsAffected() > 0 {
		return true, nil
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, string(blocked)).Scan(&exists); err != nil {
		return false, fmt.Errorf("identity: %s unblock %s: %w", blocker, blocked, err)
	}
	if !exists {
		return false, fmt.Errorf("identity: %s unblock %s: %w", blocker, blocked, ErrNotFound)
	}
	return false, nil
}

// Blocked reports whether either of a and b blocked the other. Other
// domains ask it in process (content for posts, messaging for
// conversations); a user never blocks themselves.
func (s *Service) Blocked(ctx context.Context, a, b id.UserID) (bool, error) {
	if err := checkBlockPair(a, b); err != nil {
		if errors.Is(err, ErrSelfBlock) {
			return false, nil
		}
		return false, err
	}
	who, err := blockBetween(ctx, s.pool, a, b)
	if err != nil {
		return false, fmt.Errorf("identity: is %s blocked with %s: %w", a, b, err)
	}
	return who != "", nil
}

// BlockedBy reports whether blocker blocked blocked (one way).
func (s *Service) BlockedBy(ctx context.Context, blocked, blocker id.UserID) (bool, error) {
	if err := checkBlockPair(blocker, blocked); err != nil {
		if errors.Is(err, ErrSelfBlock) {
			return false, nil
		}
		return false, err
	}
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2)`,
		string(blocker), string(blocked)).Scan(&ok); err != nil {
		return false, fmt.Errorf("identity: did %s block %s: %w", blocker, blocked, err)
	}
	return ok, nil
}

// Blocks returns up to limit users uid blocked after the cursor (nil for
// the first page), most recent first, and whether more follow.
func (s *Service) Blocks(ctx context.Context, uid id.UserID, after *BlockCursor, limit int) ([]Block, bool, error) {
	if _, err := id.ParseUserID(string(uid)); err != nil {
		return nil, false, invalid("id", "is not a user id")
	}
	if limit < 1 {
		return nil, false, invalid("limit", "must be positive")
	}
	var (
		at  *time.Time
		who *string
	)
	if after != nil {
		at, who = &after.BlockedAt, &after.UserID
	}
	rows, err := s.pool.Query(ctx, `SELECT u.id::text, u.username, u.display_name, u.avatar_url, u.created_at, b.created_at
		FROM blocks b JOIN users u ON u.id = b.blocked_id
		WHERE b.blocker_id = $1
		  AND ($2::timestamptz IS NULL OR (b.created_at, b.blocked_id) < ($2::timestamptz, $3::uuid))
		ORDER BY b.created_at DESC, b.blocked_id DESC
		LIMIT $4`, string(uid), at, who, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("identity: blocks of %s: %w", uid, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Block, error) {
		var b Block
		var uidText string
		if err := r.Scan(&uidText, &b.User.Username, &b.User.DisplayName, &b.User.AvatarURL, &b.User.CreatedAt, &b.BlockedAt); err != nil {
			return b, err
		}
		b.User.CreatedAt, b.BlockedAt = b.User.CreatedAt.UTC(), b.BlockedAt.UTC()
		var err error
		b.User.ID, err = id.ParseUserID(uidText)
		return b, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("identity: blocks of %s: %w", uid, err)
	}
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	if list == nil {
		list = []Block{}
	}
	return list, more, nil
}
