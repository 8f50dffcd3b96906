// Package testrig builds the fixtures Nova's tests stand on: an empty
// PostgreSQL database, a Redis client and a Kafka broker of its own holding
// the catalogue's topics (`nova kafka`, run as a child process). Tests talk to the real services; when one cannot be
// reached the test fails and says which service and how to start it.
package testrig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/redisdb"
)

// DefaultPostgresURL is where tests find PostgreSQL unless NOVA_TEST_DATABASE_URL says otherwise.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DefaultRedisURL is where tests find Redis unless NOVA_TEST_REDIS_URL says otherwise.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

const (
	startPostgres = "pg_ctlcluster --skip-systemctl-redirect 15 main start"
	startRedis    = `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// The ACL user RedisURL logs in as. The password is fixed because test
// processes share the server and create the user concurrently.
const (
	redisUser     = "nova-test"
	redisPassword = "nova-test-password"
)

// RedisAdminURL is the test Redis server as its administrator, for test
// fixtures that are not Nova's code and keep their own keys.
func RedisAdminURL(t testing.TB) string {
	t.Helper()
	Redis(t) // fails early with the how-to when it is down
	return envOr("NOVA_TEST_REDIS_URL", DefaultRedisURL)
}

// RedisURL returns a URL of the test Redis server for the code under test:
// it logs in as an ACL user with redisdb.ACLRules, the rights a cluster's
// Redis gives Nova, so a key or command Nova has no right to fails the test
// as it would fail in production. Redis(t) is the administrator's client,
// for the test's own checks.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := envOr("NOVA_TEST_REDIS_URL", DefaultRedisURL)
	admin := Redis(t) // fails early with the how-to when it is down
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := redisdb.CreateUser(ctx, admin, redisUser, redisPassword); err != nil {
		t.Fatalf("Redis at %s: %v", u, err)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	parsed.User = url.UserPassword(redisUser, redisPassword)
	return parsed.String()
}

// CodeRedis is a client of the test Redis logged in as RedisURL's ACL
// user, with Nova's rights only, closed when the test ends.
func CodeRedis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("parse the test Redis URL: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// Redis returns a client on the test Redis server. Tests share the server and
// keep apart by using fresh ids in their keys.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	u := envOr("NOVA_TEST_REDIS_URL", DefaultRedisURL)
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("Redis is not reachable at %s (%v); start it with: %s", u, err, startRedis)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ID returns a short random hex string for names that must not collide
// between tests.
func ID() string { return randomHex(8) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}
