package httpapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nova-social/nova/shared/httpapi"
)

func TestValidUTF8(t *testing.T) {
	reached := false
	h := httpapi.ValidUTF8(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	for _, c := range []struct {
		target string
		status int
	}{
		{"/v1/search?q=caf%C3%A9", http.StatusOK},
		{"/v1/users/%E2%9C%93", http.StatusOK},
		{"/v1/search?q=%ff", http.StatusBadRequest},
		{"/v1/search?q=ok&%c0%af=x", http.StatusBadRequest},
		{"/v1/users/%ff", http.StatusBadRequest},
		{"/v1/search?q=%zz", http.StatusBadRequest},
	} {
		reached = false
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.target, nil))
		if rec.Code != c.status || reached != (c.status == http.StatusOK) {
			t.Errorf("%s: %d (handler reached: %v), want %d", c.target, rec.Code, reached, c.status)
		}
		if c.status != http.StatusOK && rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: refused without a JSON error body (%q)", c.target, rec.Header().Get("Content-Type"))
		}
	}
}
