package ratelimit

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/nova-social/nova/shared/httpapi"
)

// Rule picks the budget a request spends: a policy and whose it is. ok
// false leaves the request to the other rules.
type Rule func(r *http.Request) (p Policy, key string, ok bool)

// CodeRateLimited is the error code of a 429.
const CodeRateLimited = "rate_limited"

// Middleware spends one request of every budget the rules pick. A request
// some budget refuses is answered 429 with Retry-After (the longest wait
// among the refusals) and reaches nothing; every answer carries the
// RateLimit-Policy and RateLimit headers (draft-ietf-httpapi-ratelimit-headers)
// of the tightest budget. When Redis cannot answer the request goes
// through, logged: a Redis outage must not take the API down with it, and
// everything a caller can do is still bounded by its own checks.
func Middleware(l *Limiter, log *slog.Logger, rules ...Rule) httpapi.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var tightest, refused *Result
			for _, rule := range rules {
				p, key, ok := rule(r)
				if !ok {
					continue
				}
				res, err := l.Allow(r.Context(), p, key)
				if err != nil {
					log.WarnContext(r.Context(), "rate limit not checked", "policy", p.Name, "error", err)
					continue
				}
				if tightest == nil || res.Remaining < tightest.Remaining {
					tightest = &res
				}
				if !res.Allowed && (refused == nil || res.RetryAfter > refused.RetryAfter) {
					refused = &res
				}
			}
			if refused != nil {
				tightest = refused
			}
			if tightest != nil {
				SetHeaders(w.Header(), *tightest)
			}
			if refused != nil {
				httpapi.WriteError(w, r, log, Refusal(*refused))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Refusal is the 429 for a refused result, with Retry-After and the
// refusing budget's RateLimit headers.
func Refusal(res Result) *httpapi.Error {
	policy, state := headers(res)
	return httpapi.NewError(http.StatusTooManyRequests, CodeRateLimited,
		fmt.Sprintf("too many requests (%s: %s); try again in %ds", res.Policy.Name, res.Policy.Limit, max(seconds(res.RetryAfter), 1))).
		WithHeader("Retry-After", strconv.Itoa(max(seconds(res.RetryAfter), 1))).
		WithHeader("RateLimit-Policy", policy).WithHeader("RateLimit", state)
}

// SetHeaders writes res as RateLimit-Policy ("name";q=burst;w=seconds to
// refill) and RateLimit ("name";r=remaining;t=seconds until full).
func SetHeaders(h http.Header, res Result) {
	policy, state := headers(res)
	h.Set("RateLimit-Policy", policy)
	h.Set("RateLimit", state)
}

func headers(res Result) (policy, state string) {
	name := strconv.Quote(res.Policy.Name)
	remaining := max(res.Remaining, 0)
	if !res.Allowed {
		remaining = 0
	}
	return fmt.Sprintf("%s;q=%d;w=%d", name, res.Policy.Limit.Burst, max(seconds(res.Policy.Limit.Window()), 1)),
		fmt.Sprintf("%s;r=%d;t=%d", name, remaining, seconds(res.ResetAfter))
}
