// Package session keeps the live access-token sessions in Redis for the
// components that cannot ask PostgreSQL: nova-api's identity domain owns
// the sessions (its sessions table is the truth and its API checks every
// request against it); the realtime gateway, which has no database, admits
// a websocket only while its token's session is marked here, and closes it
// once the mark is gone.
//
// A mark lives until its token expires and is removed when the session is
// revoked (logout, password change, revocation by its owner, account
// deletion). A Redis that lost its data also lost the Synced sentinel:
// nova-api then writes every live session again, and until it has, the
// gateway answers 503 (retried) rather than refusing users whose sessions
// are valid or admitting ones that are not.
package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/id"
)

// KeyPrefix starts every key of this package (redisdb.KeyPatterns lists it).
const KeyPrefix = "session:"

// ErrUnsynced means Redis holds no complete set of marks (it lost its data
// and nova-api has not written them again yet): a missing mark proves
// nothing.
var ErrUnsynced = errors.New("session: the live sessions are not in Redis yet")

// Marks reads and writes the marks. It is safe for concurrent use.
type Marks struct {
	rdb    redis.UniversalClient
	prefix string
}

// Option adjusts Marks.
type Option func(*Marks)

// InNamespace keeps the marks under KeyPrefix+ns+":", apart from other
// users of the same Redis (tests sharing a server).
func InNamespace(ns string) Option {
	return func(m *Marks) { m.prefix = KeyPrefix + ns + ":" }
}

// NewMarks returns Marks on rdb.
func NewMarks(rdb redis.UniversalClient, opts ...Option) *Marks {
	m := &Marks{rdb: rdb, prefix: KeyPrefix}
	for _, o := range opts {
		o(m)
	}
	return m
}

func (m *Marks) key(sessionID string) string { return m.prefix + "live:" + sessionID }

// syncedKey is the sentinel: present once every live session is marked.
func (m *Marks) syncedKey() string { return m.prefix + "synced" }

// Mark records a live session of uid until it expires. A session already
// past its expiry is not marked.
func (m *Marks) Mark(ctx context.Context, sessionID string, uid id.UserID, expires time.Time) error {
	ttl := time.Until(expires)
	if ttl <= 0 {
		return nil
	}
	if err := m.rdb.Set(ctx, m.key(sessionID), string(uid), ttl).Err(); err != nil {
		return fmt.Errorf("session: mark %s: %w", sessionID, err)
	}
	return nil
}

// Live is one session to mark in MarkAll.
type Live struct {
	ID      string
	User    id.UserID
	Expires time.Time
}

// MarkAll marks sessions in one round trip.
func (m *Marks) MarkAll(ctx context.Context, sessions []Live) error {
	if len(sessions) == 0 {
		return nil
	}
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, s := range sessions {
			if ttl := time.Until(s.Expires); ttl > 0 {
				p.Set(ctx, m.key(s.ID), string(s.User), ttl)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: mark %d sessions: %w", len(sessions), err)
	}
	return nil
}

// Unmark removes the marks of ended sessions.
func (m *Marks) Unmark(ctx context.Context, sessionIDs ...string) error {
	if len(sessionIDs) == 0 {
		return nil
	}
	keys := make([]string, len(sessionIDs))
	for i, s := range sessionIDs {
		keys[i] = m.key(s)
	}
	if err := m.rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("session: unmark %d sessions: %w", len(keys), err)
	}
	return nil
}

// Alive reports, for each session id, whether it is marked as a session of
// uid. When a session is not marked and the marks are incomplete, the
// answer is ErrUnsynced.
func (m *Marks) Alive(ctx context.Context, uid id.UserID, sessionIDs ...string) ([]bool, error) {
	owners, err := m.Owners(ctx, sessionIDs...)
	alive := make([]bool, len(owners))
	for i, o := range owners {
		alive[i] = o == uid
	}
	return alive, err
}

// Owners returns, for each session id, the user whose live session it is,
// or "" when it is not marked. When a session is not marked and the marks
// are incomplete, the answer is ErrUnsynced.
func (m *Marks) Owners(ctx context.Context, sessionIDs ...string) ([]id.UserID, error) {
	if len(sessionIDs) == 0 {
		return nil, nil
	}
	keys := make([]string, len(sessionIDs)+1)
	for i, s := range sessionIDs {
		keys[i] = m.key(s)
	}
	keys[len(sessionIDs)] = m.syncedKey()
	vals, err := m.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("session: read %d marks: %w", len(sessionIDs), err)
	}
	owners := make([]id.UserID, len(sessionIDs))
	missing := false
	for i := range sessionIDs {
		v, _ := vals[i].(string)
		// A mark that names no user is no mark: it was not written here.
		owners[i], _ = id.ParseUserID(v)
		missing = missing || owners[i].IsZero()
	}
	if missing && vals[len(sessionIDs)] == nil {
		return owners, ErrUnsynced
	}
	return owners, nil
}

// Synced reports whether the sentinel is present.
func (m *Marks) Synced(ctx context.Context) (bool, error) {
	n, err := m.rdb.Exists(ctx, m.syncedKey()).Result()
	if err != nil {
		return false, fmt.Errorf("session: read the sentinel: %w", err)
	}
	return n == 1, nil
}

// SetSynced writes the sentinel, after every live session was marked.
func (m *Marks) SetSynced(ctx context.Context) error {
	if err := m.rdb.Set(ctx, m.syncedKey(), time.Now().UTC().Format(time.RFC3339), 0).Err(); err != nil {
		return fmt.Errorf("session: write the sentinel: %w", err)
	}
	return nil
}

// Forget removes the sentinel, as a Redis that lost its data has none:
// the marks are taken as incomplete until SetSynced.
func (m *Marks) Forget(ctx context.Context) error {
	if err := m.rdb.Del(ctx, m.syncedKey()).Err(); err != nil {
		return fmt.Errorf("session: remove the sentinel: %w", err)
	}
	return nil
}
