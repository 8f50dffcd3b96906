package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/nova-social/nova/shared/httpapi"
)

// methods a route may be registered for.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// fallback is the catch-all route: a path that some route serves with
// another method answers 405 with Allow, anything else 404 — both as the
// API's JSON errors rather than ServeMux's plain text.
func fallback(mux *http.ServeMux, log *slog.Logger) http.Handler {
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
			httpapi.WriteError(w, r, log, httpapi.MethodNotAllowed(strings.Join(allow, ", ")))
			return
		}
		httpapi.WriteError(w, r, log, httpapi.NotFound("no such endpoint"))
	})
}
