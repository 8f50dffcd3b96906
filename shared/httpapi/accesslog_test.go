package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
)

func TestAccessLog(t *testing.T) {
	log, logs := newLogger()
	h := httpapi.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/created":
			w.WriteHeader(201)
			_, _ = w.Write([]byte("hello"))
		case "/boom":
			httpapi.WriteError(w, r, log, httpapi.Unavailable("down"))
		case "/silent":
		}
	}), httpapi.RequestID, httpapi.AccessLog(log))

	for _, path := range []string{"/created?cursor=secret", "/boom", "/silent"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	var access []map[string]any
	for _, l := range logs.lines(t) {
		if l["msg"] == "request" {
			access = append(access, l)
		}
	}
	if len(access) != 3 {
		t.Fatalf("access lines %v", access)
	}
	want := []struct {
		path   string
		status float64
		bytes  float64
		level  string
	}{{"/created", 201, 5, "INFO"}, {"/boom", 503, -1, "ERROR"}, {"/silent", 200, 0, "INFO"}}
	for i, w := range want {
		l := access[i]
		if l["path"] != w.path || l["status"] != w.status || l["level"] != w.level || l["request_id"] == nil || l["duration"] == nil {
			t.Errorf("line %d: %v, want %+v", i, l, w)
		}
		if w.bytes >= 0 && l["bytes"] != w.bytes {
			t.Errorf("line %d: bytes %v, want %v", i, l["bytes"], w.bytes)
		}
	}
}

func TestAccessLogNamesTheUser(t *testing.T) {
	log, logs := newLogger()
	_, signer, verifier := keys(t)
	tok, _, _ := signer.Issue(auth.Principal{UserID: alice, Role: auth.RoleUser})
	h := httpapi.Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		httpapi.AccessLog(log), httpapi.Authenticate(verifier, log))
	req := httptest.NewRequest("GET", "/v1/feed", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	h.ServeHTTP(httptest.NewRecorder(), req)
	lines := logs.lines(t)
	if last := lines[len(lines)-1]; last["user_id"] != string(alice) {
		t.Fatalf("access line %v lacks the user", last)
	}
}

// The recorder keeps optional interfaces reachable through the stack.
func TestAccessLogKeepsFlusher(t *testing.T) {
	log, _ := newLogger()
	var flushErr error
	h := httpapi.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		flushErr = http.NewResponseController(w).Flush()
		if _, ok := w.(http.Flusher); !ok {
			t.Error("the wrapped writer is no http.Flusher")
		}
	}), httpapi.AccessLog(log), httpapi.Recoverer(log))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if flushErr != nil || !rec.Flushed {
		t.Fatalf("flush through the middleware: %v, flushed %v", flushErr, rec.Flushed)
	}
}
