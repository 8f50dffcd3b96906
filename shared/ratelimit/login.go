package ratelimit

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// KnownFor is how long an address stays known to an account after a
// successful login from it.
const KnownFor = 30 * 24 * time.Hour

// LoginGuard throttles password guessing without letting a guesser lock
// the owner out. Failures are counted per account and address (one
// address guessing one account is stopped after a few) and per account
// (a guess spread over many addresses); once the account's budget is
// spent, only addresses the account logged in from before may still try.
// The account is named by what was typed (lower-cased), so an account
// that does not exist is throttled alike and nothing tells them apart.
type LoginGuard struct {
	l   *Limiter
	rdb redis.UniversalClient
	cfg Config
}

// NewLoginGuard returns a guard spending l's budgets under cfg's limits.
func NewLoginGuard(l *Limiter, rdb redis.UniversalClient, cfg Config) *LoginGuard {
	return &LoginGuard{l: l, rdb: rdb, cfg: cfg}
}

func account(login string) string { return "acct:" + strings.ToLower(login) }

func (g *LoginGuard) pairKey(login string, ip netip.Addr) string {
	return account(login) + ":ip:" + ip.String()
}

func (g *LoginGuard) knownKey(login string, ip netip.Addr) string {
	return KeyPrefix + g.l.ns + "known:" + g.pairKey(login, ip)
}

// Check reports whether a login attempt may go ahead: nil, the 429 to
// answer (an *httpapi.Error), or the error that kept it from telling
// (Redis away), which the caller may log and let the attempt through on:
// password hashing still bounds its pace.
func (g *LoginGuard) Check(ctx context.Context, login string, ip netip.Addr) error {
	pair, err := g.l.Check(ctx, g.cfg.LoginFailuresPolicy(), g.pairKey(login, ip))
	if err != nil {
		return err
	}
	if !pair.Allowed {
		return Refusal(pair)
	}
	acct, err := g.l.Check(ctx, g.cfg.AccountFailuresPolicy(), account(login))
	if err != nil {
		return err
	}
	if acct.Allowed {
		return nil
	}
	known, err := g.rdb.Exists(ctx, g.knownKey(login, ip)).Result()
	if err != nil {
		return fmt.Errorf("ratelimit: known login addresses: %w", err)
	}
	if known == 1 {
		return nil
	}
	return Refusal(acct)
}

// Failed counts a failed attempt against both budgets.
func (g *LoginGuard) Failed(ctx context.Context, login string, ip netip.Addr) error {
	if _, err := g.l.Allow(ctx, g.cfg.LoginFailuresPolicy(), g.pairKey(login, ip)); err != nil {
		return err
	}
	_, err := g.l.Allow(ctx, g.cfg.AccountFailuresPolicy(), account(login))
	return err
}

// Succeeded clears the address's failures on the account and makes the
// address known to it. The account-wide failures stay: they are someone
// else's.
func (g *LoginGuard) Succeeded(ctx context.Context, login string, ip netip.Addr) error {
	if err := g.l.Reset(ctx, g.cfg.LoginFailuresPolicy(), g.pairKey(login, ip)); err != nil {
		return err
	}
	if err := g.rdb.Set(ctx, g.knownKey(login, ip), "1", KnownFor).Err(); err != nil {
		return fmt.Errorf("ratelimit: remember a login address: %w", err)
	}
	return nil
}
