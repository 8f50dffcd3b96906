// Package pendingmedia keeps the media a user uploaded without naming a
// post, for their next post to take: the design document's
// pending_media:{user_id} with a one-hour TTL.
//
// Each user has a sorted set of media ids scored by upload time (Unix
// milliseconds). An entry is pending while its upload is younger than the
// TTL; older ones are ignored by Pending and pruned on the next Add, and the
// whole key expires one TTL after its last Add, so an idle user's set goes
// away by itself. Adding the same media twice (a redelivered event) changes
// nothing.
//
// Taking pending media is not destructive: the content domain attaches them
// in a PostgreSQL transaction whose unique attachment row decides which post
// gets a media, even when two posts race for it, and calls Remove after the
// commit. A failed Remove only leaves entries a later post will find
// attached already and skip.
package pendingmedia

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultTTL is how long an upload waits for its post: one hour, as the
// design document says.
const DefaultTTL = time.Hour

// Key is the Redis key of a user's pending media.
func Key(userID string) string { return "pending_media:" + userID }

// Store is the pending media in Redis. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

// New returns a store; ttl 0 means DefaultTTL.
func New(rdb redis.UniversalClient, ttl time.Duration) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("pendingmedia: redis client is nil")
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("pendingmedia: TTL %s is below a second", ttl)
	}
	return &Store{rdb: rdb, ttl: ttl}, nil
}

// TTL is how long an upload stays pending.
func (s *Store) TTL() time.Duration { return s.ttl }

// Add records mediaID as pending for user since uploadedAt; now prunes
// entries that are no longer pending.
func (s *Store) Add(ctx context.Context, user, mediaID string, uploadedAt, now time.Time) error {
	key := Key(user)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(uploadedAt.UnixMilli()), Member: mediaID})
		p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now.Add(-s.ttl).UnixMilli(), 10))
		p.Expire(ctx, key, s.ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("pendingmedia: add %s for %s: %w", mediaID, user, err)
	}
	return nil
}

// Pending returns user's media uploaded less than the TTL before now,
// oldest first.
func (s *Store) Pending(ctx context.Context, user string, now time.Time) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, Key(user), &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(now.Add(-s.ttl).UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("pendingmedia: read %s: %w", user, err)
	}
	return ids, nil
}

// Remove drops media ids from user's pending set (they were attached).
func (s *Store) Remove(ctx context.Context, user string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	if err := s.rdb.ZRem(ctx, Key(user), members...).Err(); err != nil {
		return fmt.Errorf("pendingmedia: remove from %s: %w", user, err)
	}
	return nil
}
