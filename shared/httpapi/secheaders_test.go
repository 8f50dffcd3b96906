package httpapi_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nova-social/nova/shared/httpapi"
)

func TestSecurityHeaders(t *testing.T) {
	h := httpapi.SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	plain := httptest.NewRequest("GET", "/v1/feed", nil)
	proxied := httptest.NewRequest("GET", "/v1/feed", nil)
	proxied.Header.Set("X-Forwarded-Proto", "https")
	direct := httptest.NewRequest("GET", "/v1/feed", nil)
	direct.TLS = &tls.ConnectionState{}
	for name, c := range map[string]struct {
		req  *http.Request
		hsts bool
	}{"plain HTTP": {plain, false}, "behind a TLS proxy": {proxied, true}, "TLS": {direct, true}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, c.req)
		got := rec.Header()
		for k, want := range map[string]string{"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY",
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got.Get(k) != want {
				t.Errorf("%s: %s is %q, want %q", name, k, got.Get(k), want)
			}
		}
		if hsts := got.Get("Strict-Transport-Security"); (hsts == httpapi.HSTS) != c.hsts || (hsts != "" && hsts != httpapi.HSTS) {
			t.Errorf("%s: Strict-Transport-Security %q, want it: %v", name, hsts, c.hsts)
		}
	}
}
