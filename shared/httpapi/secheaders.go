package httpapi

import (
	"net/http"
	"strings"
)

// HSTS is the Strict-Transport-Security value sent over TLS: a year, every
// subdomain.
const HSTS = "max-age=31536000; includeSubDomains"

// SecurityHeaders sets what a browser needs to keep the API's answers from
// being framed, sniffed or leaked through the Referer: CSP frame-ancestors
// 'none' (and X-Frame-Options for browsers without CSP level 2), nosniff,
// Referrer-Policy no-referrer; and HSTS when the request came over TLS,
// here or at the proxy in front (X-Forwarded-Proto: https, as Knative's
// ingress sets it). A handler that sets its own Content-Security-Policy
// keeps frame-ancestors 'none' in it.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			h.Set("Strict-Transport-Security", HSTS)
		}
		next.ServeHTTP(w, r)
	})
}
