package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/httpapi"
)

func TestHandleWritesTypedErrors(t *testing.T) {
	log, _ := newLogger()
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{httpapi.NotFound("post not found"), 404, "not_found"},
		{httpapi.Forbidden("not yours"), 403, "forbidden"},
		{httpapi.Conflict("username taken"), 409, "conflict"},
		{httpapi.Invalid("content is empty"), 400, "validation_failed"},
		{fmt.Errorf("loading post: %w", httpapi.NotFound("post not found")), 404, "not_found"},
		{httpapi.Errorf(http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "slow down, %s", "alice"), 429, "too_many_requests"},
	} {
		h := httpapi.Handle(log, func(w http.ResponseWriter, r *http.Request) error { return c.err })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/posts/x", nil))
		if rec.Code != c.status {
			t.Errorf("%v: status %d, want %d", c.err, rec.Code, c.status)
		}
		if e := decodeError(t, rec); e.Error.Code != c.code {
			t.Errorf("%v: code %q, want %q", c.err, e.Error.Code, c.code)
		}
	}
}

func TestUnknownErrorsDoNotLeak(t *testing.T) {
	log, logs := newLogger()
	secret := errors.New(`pq: relation "users" does not exist at 10.0.0.5:5432`)
	h := httpapi.Chain(httpapi.Handle(log, func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("create user: %w", secret)
	}), httpapi.RequestID)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/users", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	e := decodeError(t, rec)
	if e.Error.Code != "internal" || strings.Contains(rec.Body.String(), "pq:") || strings.Contains(rec.Body.String(), "10.0.0.5") {
		t.Fatalf("body leaks internals: %s", rec.Body)
	}
	// …but the log has the cause and the request id to find it by.
	lines := logs.lines(t)
	if len(lines) != 1 || lines[0]["level"] != "ERROR" || !strings.Contains(lines[0]["error"].(string), "relation") ||
		lines[0]["request_id"] != rec.Header().Get("X-Request-Id") {
		t.Fatalf("log %v", lines)
	}
	// A wrapped *Error keeps its cause out of the body too.
	rec = httptest.NewRecorder()
	httpapi.WriteError(rec, httptest.NewRequest("GET", "/", nil), log, httpapi.Unavailable("try later").Wrap(secret))
	if rec.Code != 503 || strings.Contains(rec.Body.String(), "pq:") {
		t.Fatalf("503 with cause: %d %s", rec.Code, rec.Body)
	}
}

func TestErrorHeadersAndBadStatus(t *testing.T) {
	log, _ := newLogger()
	rec := httptest.NewRecorder()
	httpapi.WriteError(rec, httptest.NewRequest("PUT", "/v1/feed", nil), log, httpapi.MethodNotAllowed("GET"))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("405: %d %v", rec.Code, rec.Header())
	}
	// A *Error with a non-error status is a programming error: 500.
	rec = httptest.NewRecorder()
	httpapi.WriteError(rec, httptest.NewRequest("GET", "/", nil), log, httpapi.NewError(200, "ok", "fine"))
	if rec.Code != 500 || decodeError(t, rec).Error.Code != "internal" {
		t.Fatalf("status-200 error: %d %s", rec.Code, rec.Body)
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	log, logs := newLogger()
	rec := httptest.NewRecorder()
	httpapi.WriteJSON(rec, httptest.NewRequest("GET", "/", nil), log, 200, map[string]any{"f": func() {}})
	if rec.Code != 500 || decodeError(t, rec).Error.Code != "internal" || !strings.Contains(logs.String(), "encode response") {
		t.Fatalf("unencodable value: %d %s", rec.Code, rec.Body)
	}
}

func TestClientCancelled(t *testing.T) {
	log, logs := newLogger()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	httpapi.WriteError(rec, req, log, fmt.Errorf("query: %w", context.Canceled))
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("a client hanging up was logged as an error: %s", logs)
	}
}
