package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/telemetry"
)

// TestTracedNamesSpansByRouteAndDistrustsClients serves a route through the
// same wrapping nova-api uses and reads the span it exported.
func TestTracedNamesSpansByRouteAndDistrustsClients(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	mux := httpapi.NewRoutes()
	mux.HandleFunc("POST /v1/posts/{id}/likes", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next.ServeHTTP(w, r.WithContext(r.Context())) })
	}
	h := traced(telemetry.FromProviders(tp, nil), httpapi.Chain(nameSpans(mux), mw))

	const client = "0af7651916cd43dd8448eb211c80319c"
	req := httptest.NewRequest(http.MethodPost, "/v1/posts/p1/likes", nil)
	// As func-go's mux hands it over.
	req.Pattern = "/"
	req.Header.Set("traceparent", "00-"+client+"-b7ad6b7169203331-01")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans exported, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != "POST /v1/posts/{id}/likes" {
		t.Errorf("span name %q, want the route", s.Name)
	}
	if s.Parent.IsValid() || s.SpanContext.TraceID().String() == client {
		t.Errorf("the client's traceparent became the parent (%v)", s.Parent)
	}
	if len(s.Links) != 1 || s.Links[0].SpanContext.TraceID().String() != client {
		t.Errorf("links %v, want the client's context", s.Links)
	}
	if got := rec.Header().Get("Traceresponse"); !strings.Contains(got, s.SpanContext.TraceID().String()) {
		t.Errorf("traceresponse %q does not name trace %s", got, s.SpanContext.TraceID())
	}
}

func TestUntracedIsTheHandlerItself(t *testing.T) {
	h := http.NotFoundHandler()
	if got := traced(telemetry.Off(), h); got == nil {
		t.Fatal("nil handler")
	}
	rec := httptest.NewRecorder()
	traced(telemetry.Off(), h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Header().Get("Traceresponse") != "" {
		t.Error("a traceresponse header with tracing off")
	}
}
