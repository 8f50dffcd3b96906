// Package testrig builds the fixtures Nova's tests stand on: a fresh
// PostgreSQL database, a Redis client and an in-process Kafka broker holding
// the catalogue's topics. Tests talk to the real services; when one cannot be
// reached the test fails and says which service and how to start it.
package testrig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nova-social/nova/shared/catalog"
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

// PostgresURL creates an empty database for this test, dropped when the test
// ends, and returns its connection URL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := envOr("NOVA_TEST_DATABASE_URL", DefaultPostgresURL)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (%v); start it with: %s", admin, err, startPostgres)
	}
	defer conn.Close(ctx)
	name := "nova_test_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres returns a pool on a fresh, empty database for this test.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// RedisURL returns the URL of the Redis server tests use.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := envOr("NOVA_TEST_REDIS_URL", DefaultRedisURL)
	Redis(t) // fail early with the how-to when it is down
	return u
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

// Kafka starts an in-process Kafka broker (kfake) holding the catalogue's
// topics at their partition counts, closed when the test ends. Extra options
// (a DataDir, faults) are passed through.
func Kafka(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	for _, tp := range catalog.Default().Topics() {
		if err := c.CreateTopic(tp.Name, tp.Partitions, nil); err != nil && !strings.Contains(err.Error(), "exists") {
			t.Fatalf("create topic %s: %v", tp.Name, err)
		}
	}
	return c
}

// RefuseWrites makes c answer every produce request to a topic refuse
// names with TOPIC_AUTHORIZATION_FAILED, until the test ends; other
// topics are written as usual.
func RefuseWrites(c *kfake.Cluster, refuse func(topic string) bool) {
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			if !refuse(rt.Topic) {
				continue
			}
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, len(resp.Topics) > 0
	})
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
