package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nova-social/nova/shared/httpapi"
)

func TestFallback(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("GET /v1/posts/{id}", ok)
	mux.Handle("DELETE /v1/posts/{id}", ok)
	mux.Handle("/", httpapi.Fallback(mux, log))
	for _, c := range []struct {
		method, path string
		code         int
		allow        string
		errCode      string
	}{
		{"PUT", "/v1/posts/p1", 405, "GET, HEAD, DELETE", "method_not_allowed"},
		{"GET", "/v1/nothing", 404, "", "not_found"},
		{"GET", "/v1/posts/p1", 200, "", ""},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.code || rec.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow=%q, want %d %q", c.method, c.path, rec.Code, rec.Header().Get("Allow"), c.code, c.allow)
			continue
		}
		if c.errCode != "" {
			var body struct{ Error struct{ Code string } }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != c.errCode {
				t.Errorf("%s %s: body %q", c.method, c.path, rec.Body.String())
			}
		}
	}
}
