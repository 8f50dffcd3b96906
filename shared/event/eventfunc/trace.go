package eventfunc

import (
	"context"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/telemetry"
)

// startSpan starts the span of applying one delivered event. Its parent is
// the request's traceparent header: the dispatcher's delivery span
// (Knative's in a cluster, `nova run`'s locally). A request without one,
// posted by hand or by a dispatcher that does not trace, continues the
// trace the event's own Distributed Tracing extension names, so the
// function's work still joins the trace of whoever made the event.
func (h *Handler) startSpan(ctx context.Context, header http.Header, e *event.Event) (context.Context, trace.Span) {
	parent := telemetry.ExtractHTTP(ctx, header)
	if !trace.SpanContextFromContext(parent).IsValid() {
		parent = telemetry.EventTrace(ctx, e)
	}
	attrs := []attribute.KeyValue{
		semconv.FaaSTriggerPubSub, attribute.String("faas.name", h.cfg.Name),
		semconv.CloudEventsEventID(e.ID()), semconv.CloudEventsEventSource(e.Source()), semconv.CloudEventsEventType(e.Type()),
	}
	if s := e.Subject(); s != "" {
		attrs = append(attrs, semconv.CloudEventsEventSubject(s))
	}
	return telemetry.Tracer(h.cfg.Tracer).Start(parent, h.cfg.Name+" receive "+e.Type(),
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
}

// endSpan ends the span with the answer: a 4xx (the event is
// dead-lettered) and a 5xx (it is retried) are errors of the span.
func endSpan(span trace.Span, status int) {
	if status == 0 {
		// The handler panicked; the recoverer answers 500.
		status = http.StatusInternalServerError
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	if status >= 400 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
