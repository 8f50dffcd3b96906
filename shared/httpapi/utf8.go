package httpapi

import (
	"log/slog"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// ValidUTF8 answers 400 to a request whose path or query is not valid
// UTF-8 once percent-decoded, or whose query is malformed, before any
// handler sees it: every string Nova stores, indexes or sends to
// PostgreSQL is text, and bytes that are not would fail deep inside (a
// search for "%ff" was a database error) or be stored mangled.
func ValidUTF8(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !utf8.ValidString(r.URL.Path) {
				WriteError(w, r, log, BadRequest("the request path is not valid UTF-8"))
				return
			}
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				WriteError(w, r, log, BadRequest("the query string is malformed: "+err.Error()))
				return
			}
			for k, vs := range q {
				if !utf8.ValidString(k) {
					WriteError(w, r, log, BadRequest("a query parameter's name is not valid UTF-8"))
					return
				}
				for _, v := range vs {
					if !utf8.ValidString(v) {
						WriteError(w, r, log, BadRequest("query parameter "+k+" is not valid UTF-8"))
						return
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
