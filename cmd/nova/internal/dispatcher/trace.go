package dispatcher

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/telemetry"
)

// startSpan starts the span of one record's delivery: a consumer span
// continuing the trace of the record's traceparent header (the producer's
// publish), covering every attempt at the sink and at the dead-letter
// sink, with each retry and the dead-lettering as events on it. One span
// per delivery, not per attempt, is what an operator reads: "this event
// took 4 tries and was dead-lettered with this reason".
func (r *runner) startSpan(ctx context.Context, msg *sarama.ConsumerMessage, e *cloudevents.Event) (context.Context, trace.Span) {
	if r.d.cfg.Tracer == nil {
		// A span that records nothing.
		return ctx, trace.SpanFromContext(context.Background())
	}
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKafka,
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
		semconv.MessagingDestinationName(msg.Topic),
		semconv.MessagingDestinationPartitionID(strconv.FormatInt(int64(msg.Partition), 10)),
		semconv.MessagingKafkaOffset(int(msg.Offset)),
		semconv.MessagingConsumerGroupName(r.src.ConsumerGroup),
		semconv.CloudEventsEventID(e.ID()),
		semconv.CloudEventsEventType(e.Type()),
		attribute.String("knative.source", r.ref),
		semconv.URLFull(r.sink.String()),
	}
	if len(msg.Key) > 0 {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(msg.Key)))
	}
	parent := kafka.RecordTrace(ctx, msg)
	return telemetry.Tracer(r.d.cfg.Tracer).Start(parent, "process "+msg.Topic,
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// outcome is an attempt's answer as span attributes.
func outcome(res result) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if res.status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(res.status))
	}
	if res.err != nil {
		attrs = append(attrs, attribute.String("error.message", res.err.Error()))
	}
	if len(res.body) > 0 && !res.ok() {
		attrs = append(attrs, attribute.String("response.body", string(res.body)))
	}
	return attrs
}

// retrying records the failed attempt before retry number attempt.
func retrying(span trace.Span, attempt int, wait time.Duration, last result) {
	if !span.IsRecording() {
		return
	}
	span.AddEvent("retry", trace.WithAttributes(append(outcome(last),
		semconv.HTTPRequestResendCount(attempt), attribute.String("backoff", wait.String()))...))
}

func delivered(span trace.Span, res result) {
	if span.IsRecording() && res.status != 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(res.status))
	}
}

// failed marks the delivery failed for good: retries spent or refused.
func failed(span trace.Span, last result) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(outcome(last)...)
	span.SetStatus(codes.Error, "delivery failed")
}

// deadLettered records where the event went and why.
func deadLettered(span trace.Span, dls *url.URL, last result) {
	if !span.IsRecording() {
		return
	}
	span.AddEvent("dead-lettered", trace.WithAttributes(append(outcome(last),
		attribute.String("dead_letter_sink", dls.String()))...))
}
