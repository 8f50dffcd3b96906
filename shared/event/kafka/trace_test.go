package kafka_test

import (
	"context"
	"testing"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/telemetry/telemetrytest"
)

// traceParent is sc in the W3C traceparent format.
func traceParent(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// fixedTrace is a span context made elsewhere (the relay's publish span).
func fixedTrace(t *testing.T) trace.SpanContext {
	t.Helper()
	ts, err := trace.ParseTraceState("nova=t61rcWkgMzE,other=x")
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts})
}

// headerValues lists every value of each header of a record.
func headerValues(hs []*sarama.RecordHeader) map[string][]string {
	m := map[string][]string{}
	for _, h := range hs {
		m[string(h.Key)] = append(m[string(h.Key)], string(h.Value))
	}
	return m
}

// TestRecordTraceHeadersInBothModes: a record whose Trace is set carries
// it as W3C traceparent and tracestate headers, binary or structured, and
// stays the CloudEvent it was.
func TestRecordTraceHeadersInBothModes(t *testing.T) {
	sc := fixedTrace(t)
	for _, enc := range []kafka.Encoding{kafka.Binary, kafka.Structured} {
		t.Run(enc.String(), func(t *testing.T) {
			brokers := broker(t)
			cfg := kafka.DefaultProducerConfig(brokers...)
			cfg.Encoding = enc
			p := newProducer(t, cfg)
			codec := envelope.NewCodec(catalog.Default())
			e, err := codec.New(postDeleted(id.NewUserID()))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Send(context.Background(), kafka.Record{Topic: catalog.ContentEvents, Event: e, Trace: sc}); err != nil {
				t.Fatal(err)
			}
			m := consume(t, brokers, 1)[0]
			h := headerValues(m.Headers)
			if got := h["traceparent"]; len(got) != 1 || got[0] != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
				t.Errorf("traceparent headers %q, want one naming the record's Trace", got)
			}
			if got := h["tracestate"]; len(got) != 1 || got[0] != "nova=t61rcWkgMzE,other=x" {
				t.Errorf("tracestate headers %q, want the record's trace state", got)
			}
			if enc == kafka.Structured {
				if got := h["content-type"]; len(got) != 1 || got[0] != "application/cloudevents+json" {
					t.Errorf("structured record's content-type headers %q, want application/cloudevents+json (all headers: %v)", got, h)
				}
			}
			back, err := kafka.EventFromRecord(m, kafka.SourceRef{Namespace: "nova", Name: "trace"})
			if err != nil {
				t.Fatal(err)
			}
			if back.ID() != e.ID() || back.Type() != e.Type() || back.Source() != e.Source() {
				t.Errorf("%s record read back as %s %s from %s, want event %s %s from %s",
					enc, back.ID(), back.Type(), back.Source(), e.ID(), e.Type(), e.Source())
			}
			if _, ok := back.Extensions()["traceparent"]; ok {
				t.Errorf("the record's trace header became the event's extension: %v", back.Extensions())
			}
			got := trace.SpanContextFromContext(kafka.RecordTrace(context.Background(), m))
			if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsRemote() ||
				got.TraceState().String() != sc.TraceState().String() {
				t.Errorf("RecordTrace = %v, want the remote form of %v", got, sc)
			}
		})
	}
}

func TestRecordTrace(t *testing.T) {
	const (
		plain  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		origin = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	)
	hdr := func(kv ...string) []*sarama.RecordHeader {
		var hs []*sarama.RecordHeader
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, &sarama.RecordHeader{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
		}
		return hs
	}
	for _, c := range []struct {
		name         string
		headers      []*sarama.RecordHeader
		trace, span  string // "" for no trace
		wantState    string
		wantNoParent bool
	}{
		{name: "traceparent", headers: hdr("ce_id", "1", "traceparent", plain), trace: "0af7651916cd43dd8448eb211c80319c", span: "b7ad6b7169203331"},
		{name: "traceparent and tracestate", headers: hdr("traceparent", plain, "tracestate", "nova=a1"),
			trace: "0af7651916cd43dd8448eb211c80319c", span: "b7ad6b7169203331", wantState: "nova=a1"},
		{name: "ce_traceparent alone", headers: hdr("ce_id", "1", "ce_traceparent", origin, "ce_tracestate", "nova=b2"),
			trace: "4bf92f3577b34da6a3ce929d0e0e4736", span: "00f067aa0ba902b7", wantState: "nova=b2"},
		{name: "traceparent wins over ce_traceparent", headers: hdr("ce_traceparent", origin, "traceparent", plain),
			trace: "0af7651916cd43dd8448eb211c80319c", span: "b7ad6b7169203331"},
		{name: "a malformed traceparent falls back to ce_traceparent", headers: hdr("traceparent", "00-garbage", "ce_traceparent", origin),
			trace: "4bf92f3577b34da6a3ce929d0e0e4736", span: "00f067aa0ba902b7"},
		{name: "no trace headers", headers: hdr("ce_id", "1", "ce_type", "t"), wantNoParent: true},
		{name: "malformed both", headers: hdr("traceparent", "x", "ce_traceparent", "y"), wantNoParent: true},
		{name: "nil headers", headers: []*sarama.RecordHeader{nil, {Key: []byte("traceparent"), Value: []byte(plain)}, nil},
			trace: "0af7651916cd43dd8448eb211c80319c", span: "b7ad6b7169203331"},
		{name: "no headers at all", wantNoParent: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := &sarama.ConsumerMessage{Topic: catalog.ContentEvents, Headers: c.headers}
			sc := trace.SpanContextFromContext(kafka.RecordTrace(context.Background(), msg))
			if c.wantNoParent {
				if sc.IsValid() {
					t.Fatalf("RecordTrace = %v, want none", sc)
				}
				return
			}
			if !sc.IsValid() || !sc.IsRemote() || sc.TraceID().String() != c.trace || sc.SpanID().String() != c.span {
				t.Fatalf("RecordTrace = %v, want remote %s/%s", sc, c.trace, c.span)
			}
			if sc.TraceState().String() != c.wantState {
				t.Errorf("trace state %q, want %q", sc.TraceState().String(), c.wantState)
			}
		})
	}
}

// TestSendUnderARecordingSpan: Send inside a traced request publishes under
// one producer span, and every record it wrote names that span; a record
// that brings its own Trace keeps it.
func TestSendUnderARecordingSpan(t *testing.T) {
	brokers := broker(t)
	p := newProducer(t, kafka.DefaultProducerConfig(brokers...))
	codec := envelope.NewCodec(catalog.Default())
	tp, exp := telemetrytest.Recorder(t)
	user := id.NewUserID()
	var recs []kafka.Record
	for range 2 {
		e, err := codec.New(postDeleted(user))
		if err != nil {
			t.Fatal(err)
		}
		// Keyed as the emitter and the outbox relay key their records.
		recs = append(recs, kafka.Record{Topic: catalog.ContentEvents, Key: user.String(), Event: e})
	}
	ctx, req := tp.Tracer("test").Start(context.Background(), "DELETE /v1/posts/{id}")
	if err := p.Send(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Trace.IsValid() {
			t.Fatal("Send wrote its span into the caller's records")
		}
	}
	// A record with a Trace of its own, under the same recording span.
	own, err := codec.New(postDeleted(user))
	if err != nil {
		t.Fatal(err)
	}
	mine := fixedTrace(t)
	if err := p.Send(ctx, kafka.Record{Topic: catalog.ContentEvents, Event: own, Trace: mine}); err != nil {
		t.Fatal(err)
	}
	req.End()

	var sends []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name != "DELETE /v1/posts/{id}" {
			sends = append(sends, s)
		}
	}
	if len(sends) != 1 {
		t.Fatalf("%d spans besides the request's, want one producer span: %v", len(sends), sends)
	}
	s := sends[0]
	if s.Name != "send "+catalog.ContentEvents || s.SpanKind != trace.SpanKindProducer {
		t.Errorf("span %q of kind %v, want %q, producer", s.Name, s.SpanKind, "send "+catalog.ContentEvents)
	}
	if s.Parent.SpanID() != req.SpanContext().SpanID() || s.SpanContext.TraceID() != req.SpanContext().TraceID() {
		t.Errorf("producer span's parent %v, want the request %v", s.Parent, req.SpanContext())
	}
	if s.Status.Code != codes.Unset {
		t.Errorf("status %v of a publish that succeeded", s.Status)
	}
	a := telemetrytest.Attrs(s)
	for k, v := range map[string]string{
		string(semconv.MessagingSystemKey):          "kafka",
		string(semconv.MessagingOperationTypeKey):   "send",
		string(semconv.MessagingOperationNameKey):   "send",
		string(semconv.MessagingDestinationNameKey): catalog.ContentEvents,
		string(semconv.MessagingMessageIDKey):       recs[0].Event.ID(),
		string(semconv.CloudEventsEventIDKey):       recs[0].Event.ID(),
		string(semconv.CloudEventsEventTypeKey):     recs[0].Event.Type(),
		string(semconv.MessagingKafkaMessageKeyKey): user.String(),
	} {
		if a[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, a[k], v)
		}
	}

	byID := map[string]string{}
	for _, m := range consume(t, brokers, 3) {
		h := headerValues(m.Headers)
		if len(h["traceparent"]) != 1 {
			t.Fatalf("record %v has traceparent headers %q, want one", h["ce_id"], h["traceparent"])
		}
		byID[h["ce_id"][0]] = h["traceparent"][0]
	}
	for _, r := range recs {
		if got, want := byID[r.Event.ID()], traceParent(s.SpanContext); got != want {
			t.Errorf("record %s: traceparent %q, want the producer span's %q", r.Event.ID(), got, want)
		}
	}
	if got, want := byID[own.ID()], traceParent(mine); got != want {
		t.Errorf("record with its own Trace: traceparent %q, want %q", got, want)
	}
}

// TestSendWithoutARecordingSpan: no span, no header, unless the record
// brings its Trace.
func TestSendWithoutARecordingSpan(t *testing.T) {
	brokers := broker(t)
	p := newProducer(t, kafka.DefaultProducerConfig(brokers...))
	codec := envelope.NewCodec(catalog.Default())
	unsampled, exp := telemetrytest.Recorder(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	uctx, uspan := unsampled.Tracer("test").Start(context.Background(), "not sampled")
	defer uspan.End()
	remote := trace.ContextWithRemoteSpanContext(context.Background(), fixedTrace(t))

	newRec := func() kafka.Record {
		e, err := codec.New(postDeleted(id.NewUserID()))
		if err != nil {
			t.Fatal(err)
		}
		return kafka.Record{Topic: catalog.ContentEvents, Event: e}
	}
	bare := map[string]bool{}
	for _, ctx := range []context.Context{context.Background(), uctx, remote} {
		r := newRec()
		if err := p.Send(ctx, r); err != nil {
			t.Fatal(err)
		}
		bare[r.Event.ID()] = true
	}
	traced := newRec()
	traced.Trace = fixedTrace(t)
	if err := p.Send(context.Background(), traced); err != nil {
		t.Fatal(err)
	}
	for _, m := range consume(t, brokers, 4) {
		h := headerValues(m.Headers)
		ceID := h["ce_id"][0]
		switch {
		case bare[ceID]:
			if len(h["traceparent"]) != 0 || len(h["tracestate"]) != 0 {
				t.Errorf("record %s sent without a recording span has trace headers %v", ceID, h)
			}
		case ceID == traced.Event.ID():
			if got := h["traceparent"]; len(got) != 1 || got[0] != traceParent(traced.Trace) {
				t.Errorf("record with a Trace: traceparent %q, want %q", got, traceParent(traced.Trace))
			}
		default:
			t.Errorf("record %s was not sent by this test", ceID)
		}
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans exported, want none", n)
	}
}

// TestSendSpanNamesTheKeyOfAPartitionKeyedRecord: a record keyed by its
// event's partitionkey (Record.Key empty, as `nova send` and the broker
// ingress send them) is written under that key, and its span says so.
func TestSendSpanNamesTheKeyOfAPartitionKeyedRecord(t *testing.T) {
	brokers := broker(t)
	p := newProducer(t, kafka.DefaultProducerConfig(brokers...))
	codec := envelope.NewCodec(catalog.Default())
	tp, exp := telemetrytest.Recorder(t)
	user := id.NewUserID()
	e, err := codec.New(postDeleted(user))
	if err != nil {
		t.Fatal(err)
	}
	ctx, req := tp.Tracer("test").Start(context.Background(), "nova send")
	if err := p.Send(ctx, kafka.Record{Topic: catalog.ContentEvents, Event: e}); err != nil {
		t.Fatal(err)
	}
	req.End()
	if m := consume(t, brokers, 1)[0]; string(m.Key) != user.String() {
		t.Fatalf("record key %q, want the partitionkey %s", m.Key, user)
	}
	for _, s := range exp.GetSpans() {
		if s.Name != "send "+catalog.ContentEvents {
			continue
		}
		if got := telemetrytest.Attrs(s)[string(semconv.MessagingKafkaMessageKeyKey)]; got != user.String() {
			t.Errorf("span attribute %s = %q, want the record's key %s", semconv.MessagingKafkaMessageKeyKey, got, user)
		}
		return
	}
	t.Fatal("no producer span")
}
