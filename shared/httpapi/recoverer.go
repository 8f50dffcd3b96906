package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recoverer turns a panic in a handler into a logged 500 JSON answer, so
// no panic reaches a caller as a dropped connection (and none takes the
// process down). If the handler had already started its answer, the
// connection is aborted instead: a half-written body must not look
// complete. http.ErrAbortHandler passes through; it is a deliberate abort.
func Recoverer(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := record(w)
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					append(requestAttrs(r), slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))...)
				if rec.wrote() {
					panic(http.ErrAbortHandler)
				}
				// WriteError logs unknown errors too; this one is already
				// logged with its stack, so answer directly.
				WriteJSON(rec, r, log, http.StatusInternalServerError,
					errorBody{Error: errorDetail{Code: CodeInternal, Message: internalMessage}})
			}()
			next.ServeHTTP(rec, r)
		})
	}
}
