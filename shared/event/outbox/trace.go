package outbox

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/telemetry"
)

// startSpans starts a producer span for each record whose event carries a
// trace, as a child of that trace (the request or reaction that wrote the
// row, however long ago), and sets the record's Trace to it, so the record's
// traceparent header names the publish. Records without a trace, and every
// record when the relay has no tracer, get none: the stored extension
// still travels as ce_traceparent.
func (r *Relay) startSpans(ctx context.Context, recs []kafka.Record) []trace.Span {
	if r.cfg.Tracer == nil {
		return nil
	}
	tracer := telemetry.Tracer(r.cfg.Tracer)
	var spans []trace.Span
	for i := range recs {
		parent := telemetry.EventTrace(ctx, &recs[i].Event)
		sc := trace.SpanContextFromContext(parent)
		if !sc.IsValid() {
			continue
		}
		if !sc.IsSampled() {
			// The request's trace was not kept: a span of it would not be
			// either (the sampler follows the parent), so none is made and
			// the record carries the request's context on.
			recs[i].Trace = sc
			continue
		}
		if spans == nil {
			spans = make([]trace.Span, len(recs))
		}
		_, span := tracer.Start(parent, "send "+recs[i].Topic, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(kafka.SendAttributes(recs[i])...))
		spans[i] = span
		recs[i].Trace = span.SpanContext()
	}
	return spans
}

// endSpans ends the spans of a Send that returned err, marking the records
// that failed.
func endSpans(spans []trace.Span, err error) {
	if spans == nil {
		return
	}
	var bad map[int]bool
	if err != nil {
		var ok bool
		if bad, ok = failedIndexes(err, len(spans)); !ok {
			bad = nil
		}
	}
	for i, span := range spans {
		if span == nil {
			continue
		}
		if err != nil && (bad == nil || bad[i]) {
			span.RecordError(err)
			span.SetStatus(codes.Error, "not acknowledged; the row stays and is sent again")
		}
		span.End()
	}
}
