package testrig

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// LockedRedisAdmin is the administrator of a LockedRedis server.
const LockedRedisAdmin = "nova-admin"

// LockedRedis starts a Redis server of the test's own, set up as README.md
// asks of a production Redis: the default user (no password, every right)
// switched off, so every client must log in, and an administrator that may
// make users. It returns the administrator's URL and stops the server when
// the test ends. The machine's Redis, which the other tests share, keeps its
// open default user; this one is for tests of what a stranger can do.
func LockedRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (%v); install it with: apt-get install -y redis-server", err)
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	password := randomHex(16)
	dir := t.TempDir()
	conf := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`bind 127.0.0.1
port %s
dir %s
save ""
appendonly no
user default off
user %s on >%s ~* &* +@all
`, port, dir, LockedRedisAdmin, password)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf)
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	u := url.URL{Scheme: "redis", User: url.UserPassword(LockedRedisAdmin, password),
		Host: addr, Path: "/0"}
	opt, err := redis.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return u.String()
		}
		select {
		case <-exited:
			t.Fatalf("redis-server exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s does not answer (%v): %s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
