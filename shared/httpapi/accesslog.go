package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/nova-social/nova/shared/auth"
)

// AccessLog logs one line per request once it is answered: method, path,
// status, bytes, duration, request id and, when authenticated, the user.
// 5xx answers log at error level, the rest at info. The query string is
// left out: it may carry cursors and search terms.
func AccessLog(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := record(w)
			// Inner middleware (Authenticate) reports the principal here,
			// since it cannot change this request's context.
			seen := &seenPrincipal{}
			next.ServeHTTP(rec, r.WithContext(withSeen(r.Context(), seen)))

			status := rec.status
			if status == 0 {
				status = http.StatusOK // nothing written: net/http sends 200
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			if !log.Enabled(r.Context(), level) {
				return
			}
			attrs := append(requestAttrs(r),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote", r.RemoteAddr),
			)
			if p, ok := seen.get(); ok {
				attrs = append(attrs, slog.String("user_id", p.UserID.String()))
			}
			log.LogAttrs(r.Context(), level, "request", attrs...)
		})
	}
}

// seenPrincipal carries the authenticated principal back out to the
// access log.
type seenPrincipal struct {
	p  auth.Principal
	ok bool
}

func (s *seenPrincipal) get() (auth.Principal, bool) { return s.p, s.ok }
