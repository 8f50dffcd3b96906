package ratelimit

import (
	"context"
	"fmt"
	"strings"
)

// Forget removes what the limiter keeps of a deleted account: its
// per-account budgets (under user:<id>) and, under its login names (its
// username and e-mail address), the addresses known to it and its failure
// budgets, which name it and would otherwise outlive it by up to KnownFor.
func (g *LoginGuard) Forget(ctx context.Context, user string, logins ...string) error {
	if user != "" {
		if err := g.forgetMatching(ctx, KeyPrefix+g.l.ns+"*:user:"+globEscape(user)); err != nil {
			return fmt.Errorf("ratelimit: forget user %s: %w", user, err)
		}
	}
	for _, login := range logins {
		if login == "" {
			continue
		}
		acct := account(login)
		// Per address: known:acct:<login>:ip:<addr>,
		// login-failures:acct:<login>:ip:<addr>.
		match := KeyPrefix + g.l.ns + "*:" + globEscape(acct) + ":ip:*"
		if err := g.forgetMatching(ctx, match); err != nil {
			return fmt.Errorf("ratelimit: forget %s: %w", acct, err)
		}
		if err := g.l.Reset(ctx, g.cfg.AccountFailuresPolicy(), acct); err != nil {
			return err
		}
	}
	return nil
}

// forgetMatching deletes every key matching the SCAN pattern match.
func (g *LoginGuard) forgetMatching(ctx context.Context, match string) error {
	var cursor uint64
	for {
		keys, next, err := g.rdb.Scan(ctx, cursor, match, 500).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := g.rdb.Del(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// globEscape quotes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^-`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
