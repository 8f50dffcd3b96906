package redisdb_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

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
	if err := rdb.Set(ctx, "feed:redisdb-test-"+testrig.ID(), "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := redisdb.Open(ctx, redisdb.Config{URL: "redis://127.0.0.1:1/0"}); err == nil || !strings.HasPrefix(err.Error(), "redis:") {
		t.Fatalf("unreachable Redis: %v", err)
	}
}

// An ACL user made with ACLRules logs in with the credentials REDIS_USERNAME
// and REDIS_PASSWORD give (over a URL that carries none), reaches Nova's
// keys and channels, and nothing else: other keys, other channels and
// administrative commands answer NOPERM, and a wrong password is refused.
func TestACLUserTouchesOnlyNovasKeys(t *testing.T) {
	ctx := context.Background()
	admin := testrig.Redis(t)
	name, password := "redisdb-test-"+testrig.ID(), testrig.ID()+testrig.ID()
	if err := redisdb.CreateUser(ctx, admin, name, password); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = redisdb.DeleteUser(context.Background(), admin, name) })
	url := admin.Options().Addr
	env := map[string]string{"REDIS_URL": "redis://" + url + "/0", "REDIS_USERNAME": name, "REDIS_PASSWORD": password}
	rdb, err := redisdb.Open(ctx, redisdb.FromEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if who, err := rdb.Do(ctx, "ACL", "WHOAMI").Text(); err == nil || who == name {
		// ACL WHOAMI is an administrative command the user may not run.
		t.Errorf("ACL WHOAMI answered %q, %v", who, err)
	}

	id := testrig.ID()
	for _, key := range []string{"feed:" + id, "post:" + id, "presence:" + id, "ranking:post:" + id, "celebrities"} {
		if err := rdb.Exists(ctx, key).Err(); err != nil {
			t.Errorf("Nova's key %s: %v", key, err)
		}
	}
	if err := rdb.Publish(ctx, "gateway:"+id, "x").Err(); err != nil {
		t.Errorf("Nova's channel: %v", err)
	}
	denied := map[string]error{
		"another key":     rdb.Set(ctx, "billing:"+id, "x", time.Minute).Err(),
		"another channel": rdb.Publish(ctx, "other:"+id, "x").Err(),
		"FLUSHALL":        rdb.FlushAll(ctx).Err(),
		"CONFIG GET":      rdb.ConfigGet(ctx, "requirepass").Err(),
		"KEYS":            rdb.Keys(ctx, "*").Err(),
	}
	for what, err := range denied {
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("%s: %v, want NOPERM", what, err)
		}
	}

	env["REDIS_PASSWORD"] = "wrong"
	if _, err := redisdb.Open(ctx, redisdb.FromEnv(env)); err == nil {
		t.Error("a wrong password logged in")
	}
	delete(env, "REDIS_PASSWORD")
	if err := redisdb.FromEnv(env).Validate(); err == nil {
		t.Error("REDIS_USERNAME without REDIS_PASSWORD was accepted")
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

// The README's ACL SETUSER line is the rules the code makes users with.
func TestReadmeACLLine(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		_, rest, ok := strings.Cut(line, "ACL SETUSER nova reset on '><password>' ")
		if !ok {
			continue
		}
		got := strings.ReplaceAll(rest, "'", "")
		if want := strings.Join(redisdb.ACLRules(), " "); got != want {
			t.Fatalf("README.md's ACL SETUSER rules\n  %s\nwant redisdb.ACLRules\n  %s", got, want)
		}
		return
	}
	t.Fatal("README.md has no `ACL SETUSER nova reset on '><password>' ...` line")
}
