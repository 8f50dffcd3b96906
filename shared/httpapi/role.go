package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/nova-social/nova/shared/auth"
)

// RequireRole lets through only callers holding role (admins hold every
// role). It runs inside Authenticate; without a principal it answers 401.
func RequireRole(role auth.Role, log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := auth.FromContext(r.Context())
			switch {
			case !ok:
				WriteError(w, r, log, Unauthorized("a bearer token is required").
					WithHeader("WWW-Authenticate", `Bearer realm="`+Realm+`"`))
			case p.Role != role && !p.IsAdmin():
				WriteError(w, r, log, Forbidden("this needs the "+string(role)+" role"))
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}
