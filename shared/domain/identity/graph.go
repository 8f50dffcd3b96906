package identity

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/id"
)

// Graph answers follow and block questions from the identity tables with a
// pool alone, for the functions that share nova-api's database and decide
// who receives what (chat-persist, the notifier) without building a
// Service.
type Graph struct {
	pool *pgxpool.Pool
}

// NewGraph returns the Graph of the identity tables in pool.
func NewGraph(pool *pgxpool.Pool) *Graph { return &Graph{pool: pool} }

// Follows reports whether follower follows followee.
func (g *Graph) Follows(ctx context.Context, follower, followee id.UserID) (bool, error) {
	var ok bool
	if err := g.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM follows WHERE follower_id = $1 AND followee_id = $2)`,
		string(follower), string(followee)).Scan(&ok); err != nil {
		return false, fmt.Errorf("identity: does %s follow %s: %w", follower, followee, err)
	}
	return ok, nil
}

// BlockedAmong returns those of others who blocked user or whom user
// blocked, in one query.
func (g *Graph) BlockedAmong(ctx context.Context, user id.UserID, others []id.UserID) ([]id.UserID, error) {
	if len(others) == 0 {
		return nil, nil
	}
	ids := make([]string, len(others))
	for i, o := range others {
		if _, err := id.ParseUserID(string(o)); err != nil {
			return nil, invalid("id", "%q is not a user id", o)
		}
		ids[i] = string(o)
	}
	if _, err := id.ParseUserID(string(user)); err != nil {
		return nil, invalid("id", "is not a user id")
	}
	rows, err := g.pool.Query(ctx, `SELECT blocked_id::text FROM blocks WHERE blocker_id = $1 AND blocked_id = ANY($2::uuid[])
		UNION SELECT blocker_id::text FROM blocks WHERE blocked_id = $1 AND blocker_id = ANY($2::uuid[])`, string(user), ids)
	if err != nil {
		return nil, fmt.Errorf("identity: blocks between %s and %d users: %w", user, len(others), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (id.UserID, error) {
		var s string
		if err := r.Scan(&s); err != nil {
			return "", err
		}
		return id.ParseUserID(s)
	})
	if err != nil {
		return nil, fmt.Errorf("identity: blocks between %s and %d users: %w", user, len(others), err)
	}
	return out, nil
}

// BlockedAmong returns those of others who blocked user or whom user
// blocked (the messaging domain's recipients check).
func (s *Service) BlockedAmong(ctx context.Context, user id.UserID, others []id.UserID) ([]id.UserID, error) {
	return NewGraph(s.pool).BlockedAmong(ctx, user, others)
}
