package presence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/id"
)

// Conn is one live connection of a user.
type Conn struct {
	ID        string
	GatewayID string
	ExpiresAt time.Time
}

// ErrInvalid is matched (errors.Is) when a call lacks a user, connection or
// gateway id.
var ErrInvalid = errors.New("presence: invalid argument")

// Store is presence over Redis. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	ttl time.Duration
	now func() time.Time
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if rdb == nil {
		return nil, fmt.Errorf("presence: nil Redis client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Store{rdb: rdb, ttl: cfg.TTL, now: now}, nil
}

// Key is the sorted set of user's connections, for tools and tests.
func Key(user id.UserID) string { return "presence:" + string(user) }

// GatewaysKey is the hash of user's connection id -> gateway id.
func GatewaysKey(user id.UserID) string { return "presence:gw:" + string(user) }

// TTL is how long a connection stays live without a heartbeat.
func (s *Store) TTL() time.Duration { return s.ttl }

// touchScript prunes expired connections, (re)records one and extends the
// keys' lifetime to the latest expiry, atomically so a concurrent Disconnect
// cannot leave a connection without its gateway.
var touchScript = redis.NewScript(`
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for i = 1, #dead do
  redis.call('ZREM', KEYS[1], dead[i])
  redis.call('HDEL', KEYS[2], dead[i])
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
redis.call('PEXPIREAT', KEYS[2], last[2])
return 1
`)

// dropScript removes one connection and prunes expired ones.
var dropScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for i = 1, #dead do
  redis.call('ZREM', KEYS[1], dead[i])
  redis.call('HDEL', KEYS[2], dead[i])
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 1
`)

func check(user id.UserID, connID, gatewayID string) error {
	if user.IsZero() || connID == "" || gatewayID == "" {
		return fmt.Errorf("%w: user %q, connection %q, gateway %q", ErrInvalid, user, connID, gatewayID)
	}
	return nil
}

// Connect records a new connection of user held by gatewayID.
func (s *Store) Connect(ctx context.Context, user id.UserID, connID, gatewayID string) error {
	return s.touch(ctx, "connect", user, connID, gatewayID)
}

// Heartbeat keeps a connection live for another TTL. A connection that had
// already expired (a heartbeat delayed past the TTL) is recorded again: the
// gateway knows best that it is still open.
func (s *Store) Heartbeat(ctx context.Context, user id.UserID, connID, gatewayID string) error {
	return s.touch(ctx, "heartbeat", user, connID, gatewayID)
}

func (s *Store) touch(ctx context.Context, op string, user id.UserID, connID, gatewayID string) error {
	if err := check(user, connID, gatewayID); err != nil {
		return err
	}
	now := s.now()
	exp := now.Add(s.ttl)
	err := touchScript.Run(ctx, s.rdb, []string{Key(user), GatewaysKey(user)},
		now.UnixMilli(), exp.UnixMilli(), connID, gatewayID).Err()
	if err != nil {
		return fmt.Errorf("presence: %s %s/%s: %w", op, user, connID, err)
	}
	return nil
}

// Disconnect removes a connection. Removing one that is already gone is not
// an error.
func (s *Store) Disconnect(ctx context.Context, user id.UserID, connID, gatewayID string) error {
	if err := check(user, connID, gatewayID); err != nil {
		return err
	}
	err := dropScript.Run(ctx, s.rdb, []string{Key(user), GatewaysKey(user)},
		s.now().UnixMilli(), connID).Err()
	if err != nil {
		return fmt.Errorf("presence: disconnect %s/%s: %w", user, connID, err)
	}
	return nil
}

// Online reports whether user has at least one live connection.
func (s *Store) Online(ctx context.Context, user id.UserID) (bool, error) {
	n, err := s.rdb.ZCount(ctx, Key(user), "("+strconv.FormatInt(s.now().UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return false, fmt.Errorf("presence: online %s: %w", user, err)
	}
	return n > 0, nil
}

// Connections returns user's live connections, soonest to expire first.
func (s *Store) Connections(ctx context.Context, user id.UserID) ([]Conn, error) {
	m, err := s.ConnectionsOf(ctx, []id.UserID{user})
	if err != nil {
		return nil, err
	}
	return m[user], nil
}

// ConnectionsOf returns the live connections of several users in one round
// trip; users with none are absent from the map. Pushing a message to a
// group's recipients asks once for all of them.
func (s *Store) ConnectionsOf(ctx context.Context, users []id.UserID) (map[id.UserID][]Conn, error) {
	if len(users) == 0 {
		return map[id.UserID][]Conn{}, nil
	}
	floor := "(" + strconv.FormatInt(s.now().UnixMilli(), 10)
	pipe := s.rdb.Pipeline()
	zs := make([]*redis.ZSliceCmd, len(users))
	hs := make([]*redis.MapStringStringCmd, len(users))
	for i, u := range users {
		zs[i] = pipe.ZRangeByScoreWithScores(ctx, Key(u), &redis.ZRangeBy{Min: floor, Max: "+inf"})
		hs[i] = pipe.HGetAll(ctx, GatewaysKey(u))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("presence: connections: %w", err)
	}
	out := make(map[id.UserID][]Conn, len(users))
	for i, u := range users {
		members, gws := zs[i].Val(), hs[i].Val()
		for _, z := range members {
			cid, _ := z.Member.(string)
			gw, ok := gws[cid]
			if !ok {
				// Written together by the scripts; a miss means a
				// Disconnect raced this read, so the connection is gone.
				continue
			}
			out[u] = append(out[u], Conn{ID: cid, GatewayID: gw, ExpiresAt: time.UnixMilli(int64(z.Score))})
		}
	}
	return out, nil
}
