package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/ratelimit"
	"github.com/nova-social/nova/shared/testrig"
)

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]ratelimit.Limit{
		"120/1m burst 30": {Rate: 120, Per: time.Minute, Burst: 30},
		"10/1s":           {Rate: 10, Per: time.Second, Burst: 10},
		"5/15m  burst 5":  {Rate: 5, Per: 15 * time.Minute, Burst: 5},
	} {
		got, err := ratelimit.ParseLimit(in)
		if err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "10/", "/1m", "0/1m", "10/0s", "10/1m burst 0", "10/1m burst", "10/1m bursts 3", "x/1m", "10/1ms", "-1/1m"} {
		if l, err := ratelimit.ParseLimit(in); err == nil {
			t.Errorf("ParseLimit(%q) = %v, want an error", in, l)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	c, err := ratelimit.ConfigFromEnv(map[string]string{"RATE_LIMIT_WRITE": "3/1m burst 2", "RATE_LIMIT_WS_SOCKETS": "4"})
	if err != nil || c.Write != (ratelimit.Limit{Rate: 3, Per: time.Minute, Burst: 2}) || c.MaxSockets != 4 || !c.Enabled ||
		c.Read != ratelimit.DefaultConfig().Read {
		t.Errorf("ConfigFromEnv: %+v, %v", c, err)
	}
	if c, err := ratelimit.ConfigFromEnv(map[string]string{"NOVA_RATE_LIMITS": "off"}); err != nil || c.Enabled {
		t.Errorf("NOVA_RATE_LIMITS=off: %+v, %v", c, err)
	}
	for env, name := range map[string]string{
		"RATE_LIMIT_SEARCH":     "lots",
		"RATE_LIMIT_WS_SOCKETS": "0",
		"NOVA_RATE_LIMITS":      "maybe",
	} {
		if _, err := ratelimit.ConfigFromEnv(map[string]string{env: name}); err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%s: %v, want an error naming it", env, name, err)
		}
	}
}

func TestBurstThenRefusedThenRefilled(t *testing.T) {
	l := ratelimit.New(testrig.CodeRedis(t), testrig.ID())
	ctx := context.Background()
	p := ratelimit.Policy{Name: "write", Limit: ratelimit.Limit{Rate: 10, Per: time.Second, Burst: 3}}
	for i := range 3 {
		res, err := l.Allow(ctx, p, "user:a")
		// GCRA's float arithmetic may floor the remaining count one low.
		if err != nil || !res.Allowed || res.Remaining > 2-i || res.Remaining < 1-i {
			t.Fatalf("request %d: %+v, %v", i+1, res, err)
		}
	}
	res, err := l.Allow(ctx, p, "user:a")
	if err != nil || res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 100*time.Millisecond {
		t.Fatalf("fourth request: %+v, %v; want refused, retry within 100ms", res, err)
	}
	if res, err := l.Check(ctx, p, "user:a"); err != nil || res.Allowed {
		t.Errorf("check while spent: %+v, %v", res, err)
	}
	// Another key has a budget of its own.
	if res, err := l.Allow(ctx, p, "user:b"); err != nil || !res.Allowed {
		t.Errorf("another key: %+v, %v", res, err)
	}
	time.Sleep(110 * time.Millisecond)
	if res, err := l.Check(ctx, p, "user:a"); err != nil || !res.Allowed {
		t.Errorf("check after the emission interval: %+v, %v", res, err)
	}
	if res, err := l.Allow(ctx, p, "user:a"); err != nil || !res.Allowed {
		t.Errorf("one request after the emission interval: %+v, %v", res, err)
	}
}

func TestMiddlewareAnswers429WithHeaders(t *testing.T) {
	l := ratelimit.New(testrig.CodeRedis(t), testrig.ID())
	p := ratelimit.Policy{Name: "write", Limit: ratelimit.Limit{Rate: 2, Per: time.Minute, Burst: 2}}
	served := 0
	h := ratelimit.Middleware(l, slog.New(slog.DiscardHandler), func(*http.Request) (ratelimit.Policy, string, bool) {
		return p, "user:x", true
	})(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { served++ }))
	do := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/posts", nil))
		return w
	}
	first := do()
	if first.Code != http.StatusOK || first.Header().Get("RateLimit-Policy") != `"write";q=2;w=60` ||
		!regexp.MustCompile(`^"write";r=[01];t=3[01]$`).MatchString(first.Header().Get("RateLimit")) {
		t.Errorf("first: %d %q %q", first.Code, first.Header().Get("RateLimit-Policy"), first.Header().Get("RateLimit"))
	}
	do()
	w := do()
	if w.Code != http.StatusTooManyRequests || served != 2 {
		t.Fatalf("third: %d, served %d; want 429 and two served", w.Code, served)
	}
	retry, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if err != nil || retry < 1 || retry > 30 {
		t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error.Code != ratelimit.CodeRateLimited {
		t.Errorf("429 body %s", w.Body)
	}
	if !strings.HasPrefix(w.Header().Get("RateLimit"), `"write";r=0;`) {
		t.Errorf("429 RateLimit %q", w.Header().Get("RateLimit"))
	}
}

// Redis away: requests go through (logged), the API does not go down
// with the limiter.
func TestMiddlewareLetsThroughWhenRedisIsAway(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	l := ratelimit.New(rdb, "")
	h := ratelimit.Middleware(l, slog.New(slog.DiscardHandler), ratelimit.AccountRule(ratelimit.DefaultConfig()),
		func(*http.Request) (ratelimit.Policy, string, bool) {
			return ratelimit.DefaultConfig().WritePolicy(), "user:x", true
		},
	)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/posts", nil))
	if w.Code != http.StatusNoContent {
		t.Errorf("with Redis away: %d, want the request served", w.Code)
	}
}

// One address guessing one account is stopped; many addresses guessing it
// spend the account's budget, after which only addresses that logged in
// before may try: the owner is never locked out from where they log in.
func TestLoginGuard(t *testing.T) {
	rdb := testrig.CodeRedis(t)
	cfg := ratelimit.DefaultConfig()
	cfg.LoginFailures = ratelimit.Limit{Rate: 3, Per: time.Hour, Burst: 3}
	cfg.AccountFailures = ratelimit.Limit{Rate: 5, Per: time.Hour, Burst: 5}
	g := ratelimit.NewLoginGuard(ratelimit.New(rdb, testrig.ID()), rdb, cfg)
	ctx := context.Background()
	home, attacker := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.1")
	if err := g.Succeeded(ctx, "Alice", home); err != nil { // the owner's usual address
		t.Fatal(err)
	}
	for i := range 3 {
		if err := g.Check(ctx, "alice", attacker); err != nil {
			t.Fatalf("guess %d refused early: %v", i+1, err)
		}
		if err := g.Failed(ctx, "alice", attacker); err != nil {
			t.Fatal(err)
		}
	}
	err := g.Check(ctx, "ALICE", attacker)
	var he *httpapi.Error
	if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests {
		t.Fatalf("fourth guess from one address: %v, want a 429", err)
	}
	// Two more addresses spend the account's budget.
	for i := range 2 {
		ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)})
		if err := g.Check(ctx, "alice", ip); err != nil {
			t.Fatalf("a fresh address refused before the account's budget is spent: %v", err)
		}
		if err := g.Failed(ctx, "alice", ip); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Check(ctx, "alice", netip.MustParseAddr("203.0.113.99")); err == nil {
		t.Error("a new address may still guess once the account's budget is spent")
	}
	if err := g.Check(ctx, "alice", home); err != nil {
		t.Errorf("the owner's known address is locked out: %v", err)
	}
	// Another account is untouched.
	if err := g.Check(ctx, "bob", attacker); err != nil {
		t.Errorf("another account from the attacker's address: %v", err)
	}
}
