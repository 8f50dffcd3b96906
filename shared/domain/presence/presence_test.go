package presence_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// clock is a settable clock so tests expire connections without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newStore(t *testing.T) (*presence.Store, *clock) {
	t.Helper()
	c := &clock{t: time.Now()}
	s, err := presence.New(testrig.Redis(t), presence.Config{TTL: time.Minute, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func mustOnline(t *testing.T, s *presence.Store, u id.UserID, want bool) {
	t.Helper()
	got, err := s.Online(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Online(%s) = %v, want %v", u, got, want)
	}
}

func TestOnlineWhileAnyConnectionLives(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u := id.NewUserID()
	mustOnline(t, s, u, false)

	if err := s.Connect(ctx, u, "phone", "gw-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx, u, "laptop", "gw-2"); err != nil {
		t.Fatal(err)
	}
	mustOnline(t, s, u, true)
	conns, err := s.Connections(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range conns {
		got[c.ID] = c.GatewayID
	}
	if len(got) != 2 || got["phone"] != "gw-1" || got["laptop"] != "gw-2" {
		t.Fatalf("connections = %v", conns)
	}

	if err := s.Disconnect(ctx, u, "phone", "gw-1"); err != nil {
		t.Fatal(err)
	}
	mustOnline(t, s, u, true)
	if err := s.Disconnect(ctx, u, "laptop", "gw-2"); err != nil {
		t.Fatal(err)
	}
	mustOnline(t, s, u, false)
	// Disconnecting twice is harmless and the keys are gone.
	if err := s.Disconnect(ctx, u, "laptop", "gw-2"); err != nil {
		t.Fatal(err)
	}
	n, err := testrig.Redis(t).Exists(ctx, presence.Key(u), presence.GatewaysKey(u)).Result()
	if err != nil || n != 0 {
		t.Fatalf("keys left behind: %d (%v)", n, err)
	}
}

func TestHeartbeatKeepsConnectionAlive(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	u := id.NewUserID()
	if err := s.Connect(ctx, u, "c1", "gw"); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx, u, "c2", "gw"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(40 * time.Second)
	if err := s.Heartbeat(ctx, u, "c1", "gw"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(40 * time.Second) // c2 missed its heartbeat, c1 did not
	mustOnline(t, s, u, true)
	conns, err := s.Connections(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 1 || conns[0].ID != "c1" {
		t.Fatalf("connections = %+v, want only c1", conns)
	}
	if want := clk.Now().Add(20 * time.Second).UnixMilli(); conns[0].ExpiresAt.UnixMilli() != want {
		t.Fatalf("c1 expires at %d, want %d", conns[0].ExpiresAt.UnixMilli(), want)
	}
	clk.Advance(21 * time.Second)
	mustOnline(t, s, u, false)
}

func TestExpiredConnectionsArePrunedOnWrite(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	rdb := testrig.Redis(t)
	u := id.NewUserID()
	if err := s.Connect(ctx, u, "dead", "gw-gone"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if err := s.Connect(ctx, u, "live", "gw"); err != nil {
		t.Fatal(err)
	}
	members, err := rdb.ZRange(ctx, presence.Key(u), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1 || members[0] != "live" {
		t.Fatalf("members = %v, want [live]", members)
	}
	if ok, _ := rdb.HExists(ctx, presence.GatewaysKey(u), "dead").Result(); ok {
		t.Fatal("gateway of the expired connection is still recorded")
	}
	// The keys themselves expire with the latest connection.
	ttl, err := rdb.PTTL(ctx, presence.Key(u)).Result()
	if err != nil || ttl <= 0 {
		t.Fatalf("presence key has no expiry: %v (%v)", ttl, err)
	}
}

func TestHeartbeatRevivesExpiredConnection(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	u := id.NewUserID()
	if err := s.Connect(ctx, u, "c", "gw"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(61 * time.Second)
	mustOnline(t, s, u, false)
	if err := s.Heartbeat(ctx, u, "c", "gw"); err != nil {
		t.Fatal(err)
	}
	mustOnline(t, s, u, true)
}

func TestConnectionsOfSeveralUsers(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a, b, c := id.NewUserID(), id.NewUserID(), id.NewUserID()
	if err := s.Connect(ctx, a, "a1", "gw-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx, b, "b1", "gw-2"); err != nil {
		t.Fatal(err)
	}
	m, err := s.ConnectionsOf(ctx, []id.UserID{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[a][0].GatewayID != "gw-1" || m[b][0].GatewayID != "gw-2" {
		t.Fatalf("ConnectionsOf = %+v", m)
	}
	if _, ok := m[c]; ok {
		t.Fatal("offline user listed")
	}
}

func TestInvalidArguments(t *testing.T) {
	s, _ := newStore(t)
	err := s.Connect(context.Background(), id.NewUserID(), "", "gw")
	if !errors.Is(err, presence.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if _, err := presence.New(testrig.Redis(t), presence.Config{}); err == nil {
		t.Fatal("zero TTL accepted")
	}
}
