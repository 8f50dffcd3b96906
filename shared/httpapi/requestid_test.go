package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/nova-social/nova/shared/httpapi"
)

func TestRequestID(t *testing.T) {
	var seen string
	h := httpapi.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = httpapi.RequestIDFrom(r.Context())
	}))
	for _, c := range []struct {
		name, in string
		keep     bool
	}{
		{"none given", "", false},
		{"caller's kept", "trace-01:abc_DEF.9", true},
		{"uuid kept", "0193aaaa-0000-7000-8000-000000000001", true},
		{"log injection replaced", "abc\ninjected=1", false},
		{"quotes replaced", `a"b`, false},
		{"too long replaced", strings.Repeat("a", 129), false},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if c.in != "" {
			req.Header.Set("X-Request-Id", c.in)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Header().Get("X-Request-Id")
		if out != seen {
			t.Errorf("%s: header %q, context %q", c.name, out, seen)
		}
		if c.keep && out != c.in {
			t.Errorf("%s: %q replaced by %q", c.name, c.in, out)
		}
		if !c.keep {
			if u, err := uuid.Parse(out); err != nil || u.Version() != 7 {
				t.Errorf("%s: generated id %q is not a UUIDv7", c.name, out)
			}
		}
	}
	if httpapi.RequestIDFrom(httptest.NewRequest("GET", "/", nil).Context()) != "" {
		t.Error("RequestIDFrom without the middleware is not empty")
	}
}
