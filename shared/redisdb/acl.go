package redisdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// KeyPatterns are the keys Nova's processes read and write, as Redis ACL
// key patterns. An ACL user limited to them (ACLRules) is all a function
// needs; the tests run every function and nova-api as such a user, so a key
// outside these fails them.
var KeyPatterns = []string{
	"feed:*", "author:posts:*", "followers:*", "following:*", // home feeds and the follower index
	"post:*", "processed:*", "profile:*", // the post cache, applied-event marks, author profiles
	"celebrities",             // the authors whose posts are read, not fanned out
	"presence:*", "gateway:*", // who is online where; live gateways
	"pending_media:*",             // uploads waiting for their post
	"ranking:*", "trust-safety:*", // the ranker's and the screener's state (their default prefixes)
	"session:*", // live access-token sessions, for the realtime gateway
	"rate:*",    // rate-limit counters (the limiter's fixed prefix)
}

// ChannelPatterns are the Pub/Sub channels Nova publishes and subscribes to.
var ChannelPatterns = []string{"gateway:*"}

// ACLRules are the ACL SETUSER rules of a user that may do what Nova's
// processes do and nothing else: its keys and channels, reading, writing,
// Pub/Sub and transactions, without administrative or dangerous commands
// (FLUSHALL, CONFIG, KEYS, DEBUG, ...). TIME is the rate limiter's clock:
// its script reads the server's, so every replica agrees.
func ACLRules() []string {
	rules := []string{"resetkeys"}
	for _, p := range KeyPatterns {
		rules = append(rules, "~"+p)
	}
	rules = append(rules, "resetchannels")
	for _, p := range ChannelPatterns {
		rules = append(rules, "&"+p)
	}
	return append(rules, "-@all", "+@read", "+@write", "+@pubsub", "+@transaction", "+@connection", "+@scripting", "-@dangerous", "+time")
}

// CreateUser makes (or resets) the ACL user name with password and
// ACLRules, through admin, a connection allowed to change ACLs. It is how
// the local runtime and the tests run Nova as the user a cluster's Redis
// would give it.
func CreateUser(ctx context.Context, admin *redis.Client, name, password string) error {
	if name == "" || name == "default" || password == "" {
		return errors.New("redisdb: an ACL user needs a name (not default) and a password")
	}
	args := []any{"ACL", "SETUSER", name, "reset", "on", ">" + password}
	for _, r := range ACLRules() {
		args = append(args, r)
	}
	if err := admin.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("redisdb: ACL SETUSER %s: %w", name, err)
	}
	return nil
}

// DeleteUser removes the ACL user name.
func DeleteUser(ctx context.Context, admin *redis.Client, name string) error {
	if err := admin.Do(ctx, "ACL", "DELUSER", name).Err(); err != nil {
		return fmt.Errorf("redisdb: ACL DELUSER %s: %w", name, err)
	}
	return nil
}
