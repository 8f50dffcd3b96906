package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/httpapi"
)

func TestRecovererAnswers500(t *testing.T) {
	log, logs := newLogger()
	h := httpapi.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]int
		m["boom"] = 1 //nolint:staticcheck // a nil map write: a real runtime panic, on purpose
	}), httpapi.RequestID, httpapi.AccessLog(log), httpapi.Recoverer(log))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/posts", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	if e := decodeError(t, rec); e.Error.Code != "internal" || strings.Contains(rec.Body.String(), "nil map") {
		t.Fatalf("body %s", rec.Body)
	}
	var panicLine, accessLine map[string]any
	for _, l := range logs.lines(t) {
		switch l["msg"] {
		case "panic serving request":
			panicLine = l
		case "request":
			accessLine = l
		}
	}
	if panicLine == nil || !strings.Contains(panicLine["panic"].(string), "nil map") ||
		!strings.Contains(panicLine["stack"].(string), "recoverer_test.go") || panicLine["request_id"] == nil {
		t.Fatalf("panic log %v", panicLine)
	}
	if accessLine == nil || accessLine["status"] != float64(500) {
		t.Fatalf("access log %v does not show the 500", accessLine)
	}
}

// Over a real connection: a panic after the answer started aborts the
// connection (the client sees a broken response, never a complete-looking
// one), and the server lives on.
func TestRecovererAfterWriteAborts(t *testing.T) {
	log, _ := newLogger()
	h := httpapi.Recoverer(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/half" {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			_, _ = w.Write([]byte("partial"))
			panic("after write")
		}
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/half")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	// Depending on buffering the client fails on the headers (EOF) or on
	// the body (unexpected EOF); it never gets a clean answer.
	if err == nil {
		t.Fatal("half-written answer read cleanly")
	}
	if _, err := http.Get(srv.URL + "/abort"); err == nil {
		t.Fatal("ErrAbortHandler did not abort")
	}
	resp, err = http.Get(srv.URL + "/fine")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("server after panics: %v", err)
	}
	resp.Body.Close()
}
