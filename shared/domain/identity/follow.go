package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// checkPair validates the two ids of a follow. The id types are made by
// parsing in normal code, but a zero or hand-converted value would
// otherwise reach PostgreSQL as a uuid syntax error.
func checkPair(follower, followee id.UserID) error {
	if _, err := id.ParseUserID(string(follower)); err != nil {
		return invalid("follower_id", "is not a user id")
	}
	if _, err := id.ParseUserID(string(followee)); err != nil {
		return invalid("followee_id", "is not a user id")
	}
	if follower == followee {
		return ErrSelfFollow
	}
	return nil
}

// Follow makes follower follow followee and emits UserFollowed. It reports
// whether the follow is new: following again changes and emits nothing.
// A followee (or follower) that does not exist, or a followee who blocked
// the follower, gives ErrNotFound; a followee the follower blocked gives
// ErrBlocked.
func (s *Service) Follow(ctx context.Context, follower, followee id.UserID) (bool, error) {
	if err := checkPair(follower, followee); err != nil {
		return false, err
	}
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockPair(ctx, tx, follower, followee); err != nil {
			return err
		}
		// Someone who blocked the follower is, to the follower, no one
		// (ErrNotFound, as for a profile read); the follower's own block
		// is theirs to lift first (ErrBlocked).
		switch who, err := blockBetween(ctx, tx, follower, followee); {
		case err != nil:
			return err
		case who == follower:
			return ErrBlocked
		case who == followee:
			return ErrNotFound
		}
		now := s.now()
		tag, err := tx.Exec(ctx, `INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (follower_id, followee_id) DO NOTHING`, string(follower), string(followee), now)
		if err != nil {
			return missingUser(err)
		}
		if tag.RowsAffected() == 0 {
			return nil // already following
		}
		created = true
		_, err = s.box.Enqueue(ctx, tx, &eventsv1.UserFollowed{
			FollowerId: string(follower),
			FolloweeId: string(followee),
			FollowedAt: timestamppb.New(now),
		}, envelope.WithTime(now))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("identity: %s follow %s: %w", follower, followee, err)
	}
	return created, nil
}

// Unfollow ends follower's follow of followee and emits UserUnfollowed. It
// reports whether there was a follow to end: unfollowing someone not
// followed changes and emits nothing, unless followee does not exist at
// all, which gives ErrNotFound.
func (s *Service) Unfollow(ctx context.Context, follower, followee id.UserID) (bool, error) {
	if err := checkPair(follower, followee); err != nil {
		return false, err
	}
	removed := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`, string(follower), string(followee))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, string(followee)).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return ErrNotFound
			}
			return nil // not following
		}
		removed = true
		now := s.now()
		_, err = s.box.Enqueue(ctx, tx, &eventsv1.UserUnfollowed{
			FollowerId:   string(follower),
			FolloweeId:   string(followee),
			UnfollowedAt: timestamppb.New(now),
		}, envelope.WithTime(now))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("identity: %s unfollow %s: %w", follower, followee, err)
	}
	return removed, nil
}

// Follows reports whether follower follows followee. A user does not follow
// themselves; whoever asks (the content domain's FOLLOWERS_ONLY check)
// treats the author apart.
func (s *Service) Follows(ctx context.Context, follower, followee id.UserID) (bool, error) {
	if err := checkPair(follower, followee); err != nil {
		if errors.Is(err, ErrSelfFollow) {
			return false, nil
		}
		return false, err
	}
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM follows WHERE follower_id = $1 AND followee_id = $2)`,
		string(follower), string(followee)).Scan(&ok); err != nil {
		return false, fmt.Errorf("identity: does %s follow %s: %w", follower, followee, err)
	}
	return ok, nil
}

// FollowerCount returns how many users follow uid.
func (s *Service) FollowerCount(ctx context.Context, uid id.UserID) (int64, error) {
	return s.count(ctx, `SELECT count(*) FROM follows WHERE followee_id = $1`, uid)
}

// FollowingCount returns how many users uid follows.
func (s *Service) FollowingCount(ctx context.Context, uid id.UserID) (int64, error) {
	return s.count(ctx, `SELECT count(*) FROM follows WHERE follower_id = $1`, uid)
}

func (s *Service) count(ctx context.Context, query string, uid id.UserID) (int64, error) {
	if _, err := id.ParseUserID(string(uid)); err != nil {
		return 0, invalid("id", "is not a user id")
	}
	var n int64
	if err := s.pool.QueryRow(ctx, query, string(uid)).Scan(&n); err != nil {
		return 0, fmt.Errorf("identity: count follows of %s: %w", uid, err)
	}
	return n, nil
}

// missingUser turns a foreign-key violation on a user id (a follow or a
// block naming someone who does not exist) into ErrNotFound, naming the
// constraint; other errors pass as they are.
func missingUser(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23503" { // foreign_key_violation
		return fmt.Errorf("%w (%s)", ErrNotFound, pg.ConstraintName)
	}
	return err
}
