package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
)

// methods a route may be registered for.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Fallback is the catch-all route of a mux ("/"): a path that some route
// serves with another method answers 405 with the Allow header the mux's
// routes imply, anything else 404 — both as JSON errors rather than
// ServeMux's plain text. Domains register only their method patterns; the
// 405s follow from them.
func Fallback(mux *http.ServeMux, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			WriteError(w, r, log, MethodNotAllowed(strings.Join(allow, ", ")))
			return
		}
		WriteError(w, r, log, NotFound("no such endpoint"))
	})
}
