package fault_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/cmd/nova/internal/fault"
	"github.com/nova-social/nova/shared/testrig"
)

// echo serves lines back, so the proxy is checked byte for byte.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr, line string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return got, err
}

func TestProxyForwardsDropsAndRecovers(t *testing.T) {
	p, err := fault.Listen(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	if got, err := roundTrip(p.Addr(), "hello"); err != nil || got != "hello\n" {
		t.Fatalf("through the proxy: %q %v", got, err)
	}

	// The first connection's closing reaches the proxy a moment after the
	// round trip; Down must cut only the one opened next.
	for deadline := time.Now().Add(5 * time.Second); p.Open() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still forwarded after the round trip ended", p.Open())
		}
	}
	// An open connection is cut by Down.
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "first\n")
	r := bufio.NewReader(c)
	if got, _ := r.ReadString('\n'); got != "first\n" {
		t.Fatalf("open connection: %q", got)
	}
	p.Down()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("open connection survived Down")
	} else if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("open connection hangs after Down: %v", err)
	}
	// New ones are refused while down.
	if got, err := roundTrip(p.Addr(), "while down"); err == nil {
		t.Fatalf("forwarded while down: %q", got)
	}
	p.Up()
	if got, err := roundTrip(p.Addr(), "back"); err != nil || got != "back\n" {
		t.Fatalf("after Up: %q %v", got, err)
	}
	if s := p.Stats(); s.Dropped != 1 || s.Refused != 1 || s.Accepted != 3 {
		t.Fatalf("stats %+v, want 3 accepted, 1 dropped, 1 refused", s)
	}
}

// Real clients of the real servers see an outage and get over it.
func TestProxyOutageOfRealServers(t *testing.T) {
	ctx := context.Background()

	t.Run("redis", func(t *testing.T) {
		u, err := url.Parse(testrig.RedisAdminURL(t))
		if err != nil {
			t.Fatal(err)
		}
		p, err := fault.Listen(u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		u.Host = p.Addr()
		opt, _ := redis.ParseURL(u.String())
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		key := "fault:" + testrig.ID()
		defer testrig.Redis(t).Del(ctx, key)
		if err := rdb.Set(ctx, key, "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		p.Down()
		if err := rdb.Get(ctx, key).Err(); err == nil {
			t.Fatal("GET worked while Redis was down")
		}
		p.Up()
		if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "1" {
			t.Fatalf("after the outage: %q %v", v, err)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		u, err := url.Parse(testrig.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		p, err := fault.Listen(u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		u.Host = p.Addr()
		pool, err := pgxpool.New(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var one int
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatal(err)
		}
		p.Down()
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err == nil {
			t.Fatal("query worked while PostgreSQL was down")
		}
		p.Up()
		// The pool drops the broken connection on the failed query; the
		// next one dials anew.
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatalf("after the outage: %v", err)
		}
	})
}
