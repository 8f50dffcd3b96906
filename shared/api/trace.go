package api

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/telemetry"
)

// traced wraps nova-api's handler in a server span per request (OpenTelemetry's
// HTTP conventions), when tracing is on; off, the handler is returned as is.
//
// nova-api is a public endpoint: a client's traceparent is never the parent
// of Nova's trace, because anyone could then choose trace ids, force
// sampling or join their spans to ours. Each request starts a new trace
// that links to the caller's context instead, which keeps a client's own
// trace one click away without trusting it.
func traced(t *telemetry.Providers, h http.Handler) http.Handler {
	if !t.Tracing() {
		return h
	}
	otel := otelhttp.NewHandler(traceResponse(h), "nova-api",
		otelhttp.WithTracerProvider(t.TracerProvider()),
		otelhttp.WithPropagators(telemetry.Propagator()),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return spanName(r) }),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// func-go's own mux routed the request here under "/": a pattern
		// otelhttp would name the span after once nova-api's mux named it.
		r = r.WithContext(r.Context())
		r.Pattern = ""
		otel.ServeHTTP(w, r)
	})
}

// nameSpans names the request's span after the route the mux matched
// ("POST /v1/posts"), which only the mux knows: it sets the pattern on the
// request it was given, after the middlewares in front of it copied theirs.
func nameSpans(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		span := trace.SpanFromContext(r.Context())
		if r.Pattern == "" || !span.IsRecording() {
			return
		}
		span.SetName(spanName(r))
		span.SetAttributes(semconv.HTTPRoute(route(r)))
	})
}

// spanName is "METHOD /route/{param}" once the route is known, else the
// method alone: never the path, whose ids would make every name unique.
func spanName(r *http.Request) string {
	if rt := route(r); rt != "" {
		return r.Method + " " + rt
	}
	return r.Method
}

// route is the path part of the pattern the mux matched.
func route(r *http.Request) string {
	if _, path, ok := strings.Cut(r.Pattern, " "); ok {
		return path
	}
	return r.Pattern
}

// traceResponse answers with the request's trace in a traceresponse header
// (W3C Trace Context Level 2), so a client, or a developer with curl, can
// open the trace of the request it made: <Jaeger UI>/trace/<trace id>.
func traceResponse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tp := telemetry.FormatTraceParent(trace.SpanContextFromContext(r.Context())); tp != "" {
			w.Header().Set("Traceresponse", tp)
		}
		next.ServeHTTP(w, r)
	})
}
