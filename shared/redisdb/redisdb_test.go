package redisdb_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/redisdb"
	"github.com/nova-social/nova/shared/testrig"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	rdb, err := redisdb.Open(ctx, redisdb.FromEnv(map[string]string{"REDIS_URL": testrig.RedisURL(t)}))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Set(ctx, "redisdb-test:"+testrig.ID(), "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := redisdb.Open(ctx, redisdb.Config{URL: "redis://127.0.0.1:1/0"}); err == nil || !strings.HasPrefix(err.Error(), "redis:") {
		t.Fatalf("unreachable Redis: %v", err)
	}
}

func TestInvalidConfiguration(t *testing.T) {
	if err := (redisdb.Config{}).Validate(); !errors.Is(err, redisdb.ErrNoURL) {
		t.Fatalf("empty URL: %v", err)
	}
	if err := (redisdb.Config{URL: "http://not-redis"}).Validate(); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Fatalf("bad URL: %v", err)
	}
}
