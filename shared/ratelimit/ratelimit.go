// Package ratelimit bounds how fast one caller may do one kind of thing,
// shared by every replica: the counts live in Redis, kept by GCRA (the
// generic cell rate algorithm, go-redis/redis_rate), so a limit holds
// however many nova-api or gateway replicas a caller's requests reach.
//
// A Policy names a class of requests and its Limit; the key says whose
// budget it is (an account, an address). Answers carry the IETF
// RateLimit-Policy and RateLimit headers, and a refusal is a 429 with
// Retry-After (see Middleware).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is a sustained rate and a burst: Burst requests at once, then one
// every Per/Rate.
type Limit struct {
	Rate  int
	Per   time.Duration
	Burst int
}

// Validate reports a limit that cannot be kept.
func (l Limit) Validate() error {
	if l.Rate < 1 || l.Per < time.Second || l.Burst < 1 {
		return fmt.Errorf("limit %s: rate and burst must be at least 1 and the period at least 1s", l)
	}
	return nil
}

// String is the form ParseLimit reads: "120/1m burst 30".
func (l Limit) String() string {
	return fmt.Sprintf("%d/%s burst %d", l.Rate, l.Per, l.Burst)
}

// Window is how long an exhausted budget takes to refill entirely: the w
// of RateLimit-Policy.
func (l Limit) Window() time.Duration {
	return time.Duration(float64(l.Per) / float64(l.Rate) * float64(l.Burst))
}

// ParseLimit reads "<rate>/<period>[ burst <n>]", e.g. "120/1m burst 30";
// without a burst it is the rate.
func ParseLimit(s string) (Limit, error) {
	fields := strings.Fields(s)
	if len(fields) != 1 && (len(fields) != 3 || fields[1] != "burst") {
		return Limit{}, fmt.Errorf("%q is not <rate>/<period>[ burst <n>]", s)
	}
	rate, per, ok := strings.Cut(fields[0], "/")
	if !ok {
		return Limit{}, fmt.Errorf("%q is not <rate>/<period>[ burst <n>]", s)
	}
	var (
		l   Limit
		err error
	)
	if l.Rate, err = strconv.Atoi(rate); err != nil {
		return Limit{}, fmt.Errorf("%q: rate: %w", s, err)
	}
	if l.Per, err = time.ParseDuration(per); err != nil {
		return Limit{}, fmt.Errorf("%q: period: %w", s, err)
	}
	l.Burst = l.Rate
	if len(fields) == 3 {
		if l.Burst, err = strconv.Atoi(fields[2]); err != nil {
			return Limit{}, fmt.Errorf("%q: burst: %w", s, err)
		}
	}
	return l, l.Validate()
}

// Policy is a named limit: one class of requests (login, write, search…).
type Policy struct {
	Name  string
	Limit Limit
}

// Result is one decision.
type Result struct {
	Policy  Policy
	Allowed bool
	// Remaining is how many more requests the budget takes now.
	Remaining int
	// RetryAfter is, when refused, how long until one request is allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the budget is full again.
	ResetAfter time.Duration
}

// KeyPrefix starts every Redis key of the limiter (redisdb.KeyPatterns
// lists it); redis_rate fixes it.
const KeyPrefix = "rate:"

// Limiter decides against Redis. It is safe for concurrent use.
type Limiter struct {
	rl *redis_rate.Limiter
	ns string
}

// New returns a Limiter on rdb; ns separates the budgets of different
// deployments (or tests) sharing one Redis ("" for none).
func New(rdb redis.UniversalClient, ns string) *Limiter {
	if ns != "" {
		ns += ":"
	}
	return &Limiter{rl: redis_rate.NewLimiter(rdb), ns: ns}
}

// Allow spends one request of key's budget under p.
func (l *Limiter) Allow(ctx context.Context, p Policy, key string) (Result, error) {
	return l.allowN(ctx, p, key, 1)
}

// Check reads key's budget under p without spending any.
func (l *Limiter) Check(ctx context.Context, p Policy, key string) (Result, error) {
	return l.allowN(ctx, p, key, 0)
}

// Reset gives key a full budget under p again (a successful login clears
// its failures).
func (l *Limiter) Reset(ctx context.Context, p Policy, key string) error {
	if err := l.rl.Reset(ctx, l.key(p, key)); err != nil {
		return fmt.Errorf("ratelimit: reset %s: %w", p.Name, err)
	}
	return nil
}

func (l *Limiter) key(p Policy, key string) string { return l.ns + p.Name + ":" + key }

func (l *Limiter) allowN(ctx context.Context, p Policy, key string, n int) (Result, error) {
	if key == "" {
		return Result{}, errors.New("ratelimit: empty key")
	}
	r, err := l.rl.AllowN(ctx, l.key(p, key), redis_rate.Limit{Rate: p.Limit.Rate, Period: p.Limit.Per, Burst: p.Limit.Burst}, n)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: %s: %w", p.Name, err)
	}
	res := Result{Policy: p, Remaining: r.Remaining, ResetAfter: max(r.ResetAfter, 0)}
	if n == 0 {
		// A check spends nothing: the budget has room when a request
		// would be allowed now.
		res.Allowed = r.RetryAfter <= 0 && r.Remaining >= 1
		if !res.Allowed {
			res.RetryAfter = max(r.RetryAfter, time.Duration(float64(p.Limit.Per)/float64(p.Limit.Rate)))
		}
		return res, nil
	}
	res.Allowed = r.Allowed > 0
	if !res.Allowed {
		res.RetryAfter = max(r.RetryAfter, 0)
	}
	return res, nil
}

// seconds rounds d up to whole seconds, at least 1 when positive, as the
// headers count.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}
