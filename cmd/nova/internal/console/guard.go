package console

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// contentSecurityPolicy lets the page load only its own script, style and
// stream (no inline script or style, nothing from elsewhere), post forms
// only to itself, and be framed by no one.
const contentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// guard answers only requests that name the console by its own address:
// a page of another site whose host name was made to resolve to 127.0.0.1
// (DNS rebinding) sends its own name as Host and is refused. Writes must
// also come from the console's own page (same-origin, by the browser's
// Sec-Fetch-Site and Origin headers); replay checks the page's token on
// top. Every answer carries the headers that keep it from being framed,
// sniffed or cached.
func (c *Console) guard(next http.Handler) http.Handler {
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "cross-origin request refused: use the console's own page", http.StatusForbidden)
	}))
	inner := sameOrigin.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if !c.hosts[strings.ToLower(r.Host)] {
			http.Error(w, "wrong host: the console answers only at "+c.url, http.StatusMisdirectedRequest)
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// validToken reports whether a form carried this run's token.
func (c *Console) validToken(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(c.token)) == 1
}
