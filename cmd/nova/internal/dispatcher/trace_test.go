package dispatcher

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/testrig"
)

// The producer's publish span, as the record's traceparent header.
const (
	producerTraceID = "0af7651916cd43dd8448eb211c80319c"
	producerSpanID  = "b7ad6b7169203331"
)

func tracedRecord(topic, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte("user-1"), Value: []byte(value), Headers: []kgo.RecordHeader{
		{Key: "traceparent", Value: []byte("00-" + producerTraceID + "-" + producerSpanID + "-01")},
		{Key: "tracestate", Value: []byte("nova=p1")},
	}}
}

// processSpans waits for the delivery span of topic to end and returns
// every one exported.
func processSpans(t *testing.T, exp *tracetest.InMemoryExporter, topic string) []tracetest.SpanStub {
	t.Helper()
	var out []tracetest.SpanStub
	waitFor(t, "the delivery span", func() bool {
		out = out[:0]
		for _, s := range exp.GetSpans() {
			if s.Name == "process "+topic {
				out = append(out, s)
			}
		}
		return len(out) > 0
	})
	return out
}

func eventsNamed(s tracetest.SpanStub, name string) []sdktrace.Event {
	var out []sdktrace.Event
	for _, e := range s.Events {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func eventAttrs(e sdktrace.Event) map[string]string {
	m := map[string]string{}
	for _, kv := range e.Attributes {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// TestDeliverySpans: with Config.Tracer each record's delivery is one
// consumer span continuing the record's traceparent, its retries and its
// dead-lettering events on it, and its context is what the sink's
// requests carry.
func TestDeliverySpans(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cfg := testConfig(brokers)
	cfg.Tracer = tp

	t.Run("delivered after two retries", func(t *testing.T) {
		topic := newTopic(t, c, 1)
		produce(t, producer(t, brokers), tracedRecord(topic, "v-0"))
		s := newSink(t, func(_ hit, n int) (int, string) {
			if n <= 2 {
				return http.StatusServiceUnavailable, "busy"
			}
			return http.StatusAccepted, ""
		})
		src := testSource(topic, s.URL(), func(s *source.KafkaSource) {
			s.Delivery.Retry = 3
			s.Delivery.BackoffDelay = time.Millisecond
		})
		start(t, cfg, src)
		spans := processSpans(t, exp, topic)
		if len(spans) != 1 {
			t.Fatalf("%d delivery spans, want 1", len(spans))
		}
		span := spans[0]
		if span.SpanKind != trace.SpanKindConsumer {
			t.Errorf("span kind %v, want consumer", span.SpanKind)
		}
		if !span.Parent.IsRemote() || span.Parent.TraceID().String() != producerTraceID || span.Parent.SpanID().String() != producerSpanID {
			t.Errorf("parent %v, want the record's traceparent", span.Parent)
		}
		if span.SpanContext.TraceState().String() != "nova=p1" {
			t.Errorf("trace state %q, want the record's nova=p1", span.SpanContext.TraceState().String())
		}
		if span.Status.Code != codes.Unset {
			t.Errorf("status %v of a delivered event", span.Status)
		}
		attrs := map[string]string{}
		for _, kv := range span.Attributes {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		for k, v := range map[string]string{
			string(semconv.MessagingSystemKey):                 "kafka",
			string(semconv.MessagingOperationTypeKey):          "process",
			string(semconv.MessagingDestinationNameKey):        topic,
			string(semconv.MessagingDestinationPartitionIDKey): "0",
			string(semconv.MessagingKafkaOffsetKey):            "0",
			string(semconv.MessagingConsumerGroupNameKey):      src.ConsumerGroup,
			string(semconv.MessagingKafkaMessageKeyKey):        "user-1",
			string(semconv.CloudEventsEventIDKey):              "partition:0/offset:0",
			"knative.source":                                   src.Ref(),
			string(semconv.URLFullKey):                         s.URL().String(),
			string(semconv.HTTPResponseStatusCodeKey):          "202",
		} {
			if attrs[k] != v {
				t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
			}
		}
		retries := eventsNamed(span, "retry")
		if len(retries) != 2 {
			t.Fatalf("%d retry events, want 2: %v", len(retries), span.Events)
		}
		for i, e := range retries {
			a := eventAttrs(e)
			if a[string(semconv.HTTPRequestResendCountKey)] != strconv.Itoa(i+1) ||
				a[string(semconv.HTTPResponseStatusCodeKey)] != "503" || a["response.body"] != "busy" {
				t.Errorf("retry event %d: %v, want resend count %d after a 503 busy", i, a, i+1)
			}
		}
		hits := s.snapshot()
		if len(hits) != 3 {
			t.Fatalf("sink got %d requests, want 3", len(hits))
		}
		want := "00-" + producerTraceID + "-" + span.SpanContext.SpanID().String() + "-01"
		for i, h := range hits {
			if got := h.header.Get("Traceparent"); got != want {
				t.Errorf("request %d: traceparent %q, want the delivery span's %q", i, got, want)
			}
			if got := h.header.Get("Tracestate"); got != "nova=p1" {
				t.Errorf("request %d: tracestate %q, want nova=p1", i, got)
			}
		}
	})

	t.Run("refused and dead-lettered", func(t *testing.T) {
		topic := newTopic(t, c, 1)
		produce(t, producer(t, brokers), tracedRecord(topic, "v-0"))
		s := newSink(t, func(hit, int) (int, string) { return http.StatusBadRequest, "post belongs to a deleted account" })
		dls := newSink(t, nil)
		src := testSource(topic, s.URL(), func(s *source.KafkaSource) {
			s.Delivery.Retry = 3
			s.Delivery.BackoffDelay = time.Millisecond
			s.Delivery.DeadLetterSink = &source.Destination{URI: dls.URL()}
		})
		start(t, cfg, src)
		spans := processSpans(t, exp, topic)
		if len(spans) != 1 {
			t.Fatalf("%d delivery spans, want 1", len(spans))
		}
		span := spans[0]
		if span.Parent.SpanID().String() != producerSpanID {
			t.Errorf("parent %v, want the record's traceparent", span.Parent)
		}
		if span.Status.Code != codes.Error {
			t.Errorf("status %v, want Error", span.Status)
		}
		if n := len(eventsNamed(span, "retry")); n != 0 {
			t.Errorf("%d retries of a 400", n)
		}
		dead := eventsNamed(span, "dead-lettered")
		if len(dead) != 1 {
			t.Fatalf("dead-lettered events %v, want one", span.Events)
		}
		a := eventAttrs(dead[0])
		if a["dead_letter_sink"] != dls.URL().String() || a[string(semconv.HTTPResponseStatusCodeKey)] != "400" ||
			a["response.body"] != "post belongs to a deleted account" {
			t.Errorf("dead-lettered event %v, want the dead-letter sink, 400 and the reason", a)
		}
		attrs := map[string]string{}
		for _, kv := range span.Attributes {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		if attrs[string(semconv.HTTPResponseStatusCodeKey)] != "400" {
			t.Errorf("http.response.status_code = %q, want 400", attrs[string(semconv.HTTPResponseStatusCodeKey)])
		}
		want := "00-" + producerTraceID + "-" + span.SpanContext.SpanID().String() + "-01"
		for name, hits := range map[string][]hit{"sink": s.snapshot(), "dead-letter sink": dls.snapshot()} {
			if len(hits) != 1 {
				t.Errorf("%s got %d requests, want 1", name, len(hits))
			}
			for _, h := range hits {
				if got := h.header.Get("Traceparent"); got != want {
					t.Errorf("%s: traceparent %q, want the delivery span's %q", name, got, want)
				}
			}
		}
	})

}
