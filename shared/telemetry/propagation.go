package telemetry

import (
	"context"
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The W3C Trace Context fields: HTTP headers and Kafka record headers of
// these names, and the CloudEvents Distributed Tracing extension's
// attributes, which carry the same values.
const (
	TraceParent = "traceparent"
	TraceState  = "tracestate"
)

// w3c is the only propagation Nova speaks: W3C Trace Context, what
// Knative's dispatchers and the OpenTelemetry Kafka instrumentations read
// and write. Baggage is not propagated: nothing reads it, and a header a
// client can fill would cross every hop.
var w3c = propagation.TraceContext{}

// Inject writes ctx's span context into carrier (nothing when ctx has none).
func Inject(ctx context.Context, carrier propagation.TextMapCarrier) { w3c.Inject(ctx, carrier) }

// Extract returns ctx with the remote span context carrier holds, if valid.
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return w3c.Extract(ctx, carrier)
}

// InjectHTTP writes ctx's span context into h as traceparent/tracestate.
func InjectHTTP(ctx context.Context, h http.Header) { Inject(ctx, propagation.HeaderCarrier(h)) }

// ExtractHTTP reads the traceparent/tracestate headers of h.
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	return Extract(ctx, propagation.HeaderCarrier(h))
}

// eventCarrier reads and writes the CloudEvents Distributed Tracing
// extension.
type eventCarrier struct{ e *cloudevents.Event }

func (c eventCarrier) Get(key string) string {
	if key != TraceParent && key != TraceState {
		return ""
	}
	v, _ := c.e.Extensions()[key].(string)
	return v
}

func (c eventCarrier) Set(key, value string) {
	if key == TraceParent || key == TraceState {
		c.e.SetExtension(key, value)
	}
}

func (c eventCarrier) Keys() []string { return []string{TraceParent, TraceState} }

// SetEventTrace records ctx's span context on e as the Distributed Tracing
// extension: where the event was made. An event that already carries one
// keeps it (the extension names the event's origin, which hops do not
// change); a ctx without a valid span context sets nothing.
func SetEventTrace(ctx context.Context, e *cloudevents.Event) {
	if _, ok := e.Extensions()[TraceParent]; ok {
		return
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	Inject(ctx, eventCarrier{e})
}

// EventTrace returns ctx with the span context e's Distributed Tracing
// extension names, when it names a valid one.
func EventTrace(ctx context.Context, e *cloudevents.Event) context.Context {
	return Extract(ctx, eventCarrier{e})
}

// TraceID is the trace e's extension names, or "" when it names none.
func TraceID(e *cloudevents.Event) string {
	sc := trace.SpanContextFromContext(EventTrace(context.Background(), e))
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// Propagator is W3C Trace Context, for instrumentation that takes one.
func Propagator() propagation.TextMapPropagator { return w3c }

// FormatTraceParent is sc as a W3C traceparent value (version 00), or ""
// when sc is not valid: the traceresponse header, a push's context.
func FormatTraceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}
