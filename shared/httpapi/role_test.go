package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
)

func TestRequireRole(t *testing.T) {
	log, _ := newLogger()
	h := httpapi.RequireRole(auth.RoleAdmin, log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(204)
	}))
	for name, c := range map[string]struct {
		p      *auth.Principal
		status int
	}{
		"admin":        {&auth.Principal{UserID: alice, Role: auth.RoleAdmin}, 204},
		"user":         {&auth.Principal{UserID: alice, Role: auth.RoleUser}, 403},
		"no principal": {nil, 401},
	} {
		req := httptest.NewRequest("DELETE", "/v1/posts/x", nil)
		if c.p != nil {
			req = req.WithContext(auth.NewContext(req.Context(), *c.p))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s: %d, want %d", name, rec.Code, c.status)
		}
		if c.status >= 400 {
			decodeError(t, rec)
		}
	}
}
