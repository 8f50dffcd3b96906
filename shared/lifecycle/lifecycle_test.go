package lifecycle_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/lifecycle"
)

// conn is a unit over a real TCP connection: it opens when something
// listens at the address, and its ping fails when that goes away.
type conn struct {
	addr   string
	c      net.Conn
	closed atomic.Bool
}

func (c *conn) Ping(ctx context.Context) error {
	var d net.Dialer
	p, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	return p.Close()
}

func (c *conn) Close(context.Context) error {
	c.closed.Store(true)
	return c.c.Close()
}

func dial(addr string) lifecycle.Open[*conn] {
	return func(ctx context.Context) (*conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &conn{addr: addr, c: c}, nil
	}
}

// freeAddr returns an address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	return ln
}

func fast(name string) lifecycle.Config {
	return lifecycle.Config{Name: name, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
}

func waitReady(t *testing.T, l *lifecycle.Lifecycle[*conn]) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := l.Ready(context.Background())
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 10s: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A dependency that is not there at start makes the function not ready,
// with the reason, and it becomes ready once the dependency answers.
func TestWaitsForADependencyThatComesLater(t *testing.T) {
	addr := freeAddr(t)
	l := lifecycle.New[*conn](fast("sample"))
	if err := l.Start(dial(addr)); err != nil {
		t.Fatal(err)
	}
	defer l.Stop(context.Background())

	// Let a few attempts fail.
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for {
		_, err = l.Unit()
		if err != nil && strings.Contains(err.Error(), "attempt 3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no third failed attempt: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !errors.Is(err, lifecycle.ErrNotReady) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "sample") {
		t.Fatalf("Unit() = %v, want ErrNotReady naming the function and the refused connection", err)
	}
	ok, rerr := l.Ready(context.Background())
	if ok || !strings.Contains(rerr.Error(), "connection refused") {
		t.Fatalf("Ready = %v, %v; want false with the reason", ok, rerr)
	}

	ln := listen(t, addr)
	defer ln.Close()
	waitReady(t, l)
	if _, err := l.Unit(); err != nil {
		t.Fatalf("Unit after ready: %v", err)
	}

	// Once open, readiness follows the dependency.
	ln.Close()
	if ok, err := l.Ready(context.Background()); ok || err == nil {
		t.Fatalf("Ready with the dependency gone = %v, %v", ok, err)
	}
}

// Stop closes the open unit once, and refuses a second start.
func TestStopClosesTheUnit(t *testing.T) {
	addr := freeAddr(t)
	ln := listen(t, addr)
	defer ln.Close()
	l := lifecycle.New[*conn](fast("sample"))
	if err := l.Start(dial(addr)); err != nil {
		t.Fatal(err)
	}
	waitReady(t, l)
	u, _ := l.Unit()
	if err := l.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !u.closed.Load() {
		t.Fatal("unit not closed by Stop")
	}
	if err := l.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := l.Unit(); !errors.Is(err, lifecycle.ErrStopped) {
		t.Fatalf("Unit after stop = %v, want ErrStopped", err)
	}
	if err := l.Start(dial(addr)); !errors.Is(err, lifecycle.ErrStopped) {
		t.Fatalf("Start after stop = %v, want ErrStopped", err)
	}
}

// Stop while the dependency never answers returns promptly and leaves
// nothing behind.
func TestStopWhileWaiting(t *testing.T) {
	l := lifecycle.New[*conn](fast("sample"))
	if err := l.Start(dial(freeAddr(t))); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(dial(freeAddr(t))); !errors.Is(err, lifecycle.ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	time.Sleep(30 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Stop(ctx); err != nil {
		t.Fatalf("Stop while waiting: %v", err)
	}
}

// A unit that opens while Stop runs is closed, not leaked.
func TestUnitOpenedDuringStopIsClosed(t *testing.T) {
	addr := freeAddr(t)
	ln := listen(t, addr)
	defer ln.Close()
	entered := make(chan struct{})
	release := make(chan struct{})
	var opened atomic.Pointer[conn]
	l := lifecycle.New[*conn](fast("sample"))
	err := l.Start(func(ctx context.Context) (*conn, error) {
		close(entered)
		<-release
		c, err := dial(addr)(context.Background())
		if err == nil {
			opened.Store(c)
		}
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- l.Stop(context.Background()) }()
	time.Sleep(20 * time.Millisecond) // Stop is now waiting for the attempt
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if c := opened.Load(); c == nil || !c.closed.Load() {
		t.Fatal("the unit opened during Stop was not closed")
	}
}

// A panic in open is a failed attempt, not a crash.
func TestPanicInOpenIsAFailedAttempt(t *testing.T) {
	l := lifecycle.New[*conn](fast("sample"))
	if err := l.Start(func(context.Context) (*conn, error) { panic("boom") }); err != nil {
		t.Fatal(err)
	}
	defer l.Stop(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := l.Unit()
		if err != nil && strings.Contains(err.Error(), "boom") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the panic is not reported: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestConfigValidate(t *testing.T) {
	c := lifecycle.Config{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}
	if err := c.Defaults().Validate(); err == nil {
		t.Fatal("MaxBackoff below InitialBackoff accepted")
	}
	if err := (lifecycle.Config{}).Defaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
