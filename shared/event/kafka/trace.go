package kafka

import (
	"context"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/telemetry"
)

// Kafka records carry the W3C Trace Context as plain traceparent and
// tracestate headers, as OpenTelemetry's Kafka instrumentations (and so
// Knative's Kafka dispatchers) read and write them. They are the context of
// the span that published the record; the event's own ce_traceparent, the
// CloudEvents Distributed Tracing extension, keeps the context where the
// event was made.
var (
	hTraceParent = []byte(telemetry.TraceParent)
	hTraceState  = []byte(telemetry.TraceState)
)

// appendTrace adds sc's traceparent (and tracestate) headers.
func appendTrace(h []sarama.RecordHeader, a *arena, sc trace.SpanContext) []sarama.RecordHeader {
	if !sc.IsValid() {
		return h
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	v := a.alloc(55)
	n := copy(v, "00-")
	n += hexTo(v[n:], tid[:])
	v[n] = '-'
	n++
	n += hexTo(v[n:], sid[:])
	v[n] = '-'
	n++
	hexTo(v[n:], []byte{byte(sc.TraceFlags())})
	h = append(h, sarama.RecordHeader{Key: hTraceParent, Value: v})
	if ts := sc.TraceState().String(); ts != "" {
		h = append(h, sarama.RecordHeader{Key: hTraceState, Value: a.str(ts)})
	}
	return h
}

func hexTo(dst, src []byte) int {
	const digits = "0123456789abcdef"
	for i, b := range src {
		dst[2*i] = digits[b>>4]
		dst[2*i+1] = digits[b&0x0f]
	}
	return 2 * len(src)
}

// recordHeaders reads a consumed record's headers for propagation.
type recordHeaders []*sarama.RecordHeader

func (h recordHeaders) Get(key string) string {
	for _, rh := range h {
		if rh != nil && string(rh.Key) == key {
			return string(rh.Value)
		}
	}
	return ""
}

func (h recordHeaders) Set(string, string) {}

func (h recordHeaders) Keys() []string {
	keys := make([]string, 0, len(h))
	for _, rh := range h {
		if rh != nil {
			keys = append(keys, string(rh.Key))
		}
	}
	return keys
}

// RecordTrace returns ctx with the span context a consumed record's
// traceparent header names; a record without one falls back to its
// ce_traceparent (the event's origin), so a trace survives a producer that
// wrote only the CloudEvents extension.
func RecordTrace(ctx context.Context, msg *sarama.ConsumerMessage) context.Context {
	hs := recordHeaders(msg.Headers)
	if out := telemetry.Extract(ctx, hs); trace.SpanContextFromContext(out).IsValid() {
		return out
	}
	return telemetry.Extract(ctx, ceTraceHeaders{hs})
}

// ceTraceHeaders reads ce_traceparent/ce_tracestate under the W3C names.
type ceTraceHeaders struct{ h recordHeaders }

func (c ceTraceHeaders) Get(key string) string { return c.h.Get(headerPrefix + key) }
func (c ceTraceHeaders) Set(string, string)    {}
func (c ceTraceHeaders) Keys() []string        { return []string{telemetry.TraceParent, telemetry.TraceState} }

// SendAttributes are the attributes of a span publishing rec
// (OpenTelemetry's messaging conventions).
func SendAttributes(rec Record) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 8) // room for the key: one allocation per span
	attrs = append(attrs,
		semconv.MessagingSystemKafka,
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("send"),
		semconv.MessagingDestinationName(rec.Topic),
		semconv.MessagingMessageID(rec.Event.ID()),
		semconv.CloudEventsEventID(rec.Event.ID()),
		semconv.CloudEventsEventType(rec.Event.Type()),
	)
	key := rec.Key
	if key == "" {
		key, _ = rec.Event.Extensions()[partitionKeyExtension].(string)
	}
	if key != "" {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(key))
	}
	return attrs
}
