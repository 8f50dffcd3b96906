package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/telemetry"
	"github.com/nova-social/nova/shared/telemetry/telemetrytest"
)

func traceParent(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// enqueueIn commits one transaction holding msg's event, in ctx.
func (f *fixture) enqueueIn(ctx context.Context, t *testing.T, user string, n int) string {
	t.Helper()
	var id string
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		ev, err := f.box.Enqueue(ctx, tx, post(user, n))
		id = ev.ID()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// storedExtensions reads the extensions of the pending rows, by event id.
func (f *fixture) storedExtensions(t *testing.T) map[string]map[string]string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT event_id, extensions FROM `+outbox.Table)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for rows.Next() {
		var id string
		var exts map[string]string
		if err := rows.Scan(&id, &exts); err != nil {
			t.Fatal(err)
		}
		out[id] = exts
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sendSpans are the exported spans the relay started.
func sendSpans(exp *tracetest.InMemoryExporter) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "send "+catalog.ContentEvents {
			out = append(out, s)
		}
	}
	return out
}

func recordHeaders(g got) map[string][]string {
	m := map[string][]string{}
	for _, h := range g.Record.Headers {
		m[string(h.Key)] = append(m[string(h.Key)], string(h.Value))
	}
	return m
}

// TestRelayContinuesTheEnqueuersTrace: the request that enqueued an event
// is stored with it, and the relay's publish is a producer span under that
// request, named by the record's traceparent header, while the event's own
// ce_traceparent still names the request.
func TestRelayContinuesTheEnqueuersTrace(t *testing.T) {
	f := setup(t)
	tp, exp := telemetrytest.Recorder(t)
	ctx, req := tp.Tracer("test").Start(context.Background(), "POST /v1/posts")
	traced := f.enqueueIn(ctx, t, user("ann"), 1)
	req.End()
	untraced := f.enqueue(t, post(user("ben"), 2))
	origin := traceParent(req.SpanContext())

	stored := f.storedExtensions(t)
	if got := stored[traced]["traceparent"]; got != origin {
		t.Errorf("stored traceparent %q, want the request's %q (extensions %v)", got, origin, stored[traced])
	}
	if _, ok := stored[untraced]["traceparent"]; ok {
		t.Errorf("an event enqueued outside a trace stored a traceparent: %v", stored[untraced])
	}

	c := f.consume(t, catalog.ContentEvents)
	f.relay(t, f.pool, f.producer(t), outbox.Config{Tracer: tp})
	recs := c.until(t, 2)
	eventually(t, "the relay's span", func() bool { return len(sendSpans(exp)) > 0 })

	spans := sendSpans(exp)
	if len(spans) != 1 || len(exp.GetSpans()) != 2 {
		t.Fatalf("spans %v, want the request's and one publish for the traced row", exp.GetSpans())
	}
	s := spans[0]
	if s.SpanKind != trace.SpanKindProducer {
		t.Errorf("publish span of kind %v, want producer", s.SpanKind)
	}
	if s.Parent.SpanID() != req.SpanContext().SpanID() || s.SpanContext.TraceID() != req.SpanContext().TraceID() || !s.Parent.IsRemote() {
		t.Errorf("publish span's parent %v, want the request %v (as a remote parent: it came from the row)", s.Parent, req.SpanContext())
	}
	if s.Status.Code != codes.Unset {
		t.Errorf("status %v of an acknowledged publish", s.Status)
	}
	attrs := map[string]string{}
	for _, kv := range s.Attributes {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	for k, v := range map[string]string{
		string(semconv.MessagingSystemKey):          "kafka",
		string(semconv.MessagingDestinationNameKey): catalog.ContentEvents,
		string(semconv.MessagingMessageIDKey):       traced,
		string(semconv.MessagingKafkaMessageKeyKey): user("ann"),
	} {
		if attrs[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}

	for _, r := range recs {
		h := recordHeaders(r)
		switch r.ID {
		case traced:
			if got := h["traceparent"]; len(got) != 1 || got[0] != traceParent(s.SpanContext) {
				t.Errorf("traced record's traceparent %q, want the publish span's %s", got, traceParent(s.SpanContext))
			}
			if got := h["ce_traceparent"]; len(got) != 1 || got[0] != origin {
				t.Errorf("traced record's ce_traceparent %q, want the request's %s", got, origin)
			}
		case untraced:
			if len(h["traceparent"]) != 0 || len(h["ce_traceparent"]) != 0 {
				t.Errorf("untraced record carries a trace: %v", h)
			}
		default:
			t.Errorf("record %s was not enqueued by this test", r.ID)
		}
	}
}

// TestRelayWithoutATracerPassesTheEventsTraceOn: no span, no traceparent
// header; the stored extension still travels as ce_traceparent.
func TestRelayWithoutATracerPassesTheEventsTraceOn(t *testing.T) {
	f := setup(t)
	tp, exp := telemetrytest.Recorder(t)
	ctx, req := tp.Tracer("test").Start(context.Background(), "POST /v1/posts")
	traced := f.enqueueIn(ctx, t, user("cat"), 1)
	req.End()

	c := f.consume(t, catalog.ContentEvents)
	f.relay(t, f.pool, f.producer(t), outbox.Config{})
	r := c.until(t, 1)[0]
	if r.ID != traced {
		t.Fatalf("record %s, want %s", r.ID, traced)
	}
	h := recordHeaders(r)
	if len(h["traceparent"]) != 0 {
		t.Errorf("a relay without a tracer wrote traceparent %q", h["traceparent"])
	}
	if got := h["ce_traceparent"]; len(got) != 1 || got[0] != traceParent(req.SpanContext()) {
		t.Errorf("ce_traceparent %q, want the request's %s", got, traceParent(req.SpanContext()))
	}
	if n := len(exp.GetSpans()); n != 1 {
		t.Errorf("%d spans, want the request's alone", n)
	}
}

// TestRelaySpanOfARefusedPublishIsAnError: a publish the broker refuses is
// an error span; the row stays and its next publish is a new span under the
// same request.
func TestRelaySpanOfARefusedPublishIsAnError(t *testing.T) {
	f := setup(t)
	f.kafka.RefuseWrites(t, catalog.ContentEvents)
	tp, exp := telemetrytest.Recorder(t)
	ctx, req := tp.Tracer("test").Start(context.Background(), "POST /v1/posts")
	traced := f.enqueueIn(ctx, t, user("dan"), 1)
	req.End()

	c := f.consume(t, catalog.ContentEvents)
	f.relay(t, f.pool, f.producer(t), outbox.Config{Tracer: tp, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	eventually(t, "a failed publish span", func() bool { return len(sendSpans(exp)) > 0 })
	if n := f.pending(t); n != 1 {
		t.Fatalf("%d rows pending after a refused publish, want 1", n)
	}
	f.kafka.RefuseWrites(t)
	r := c.until(t, 1)[0]
	if r.ID != traced {
		t.Fatalf("record %s, want %s", r.ID, traced)
	}
	eventually(t, "the outbox to be empty", func() bool { return f.pending(t) == 0 })

	spans := sendSpans(exp)
	if len(spans) < 2 {
		t.Fatalf("%d publish spans, want a failed one and the one that went through", len(spans))
	}
	for i, s := range spans {
		if s.Parent.SpanID() != req.SpanContext().SpanID() || s.SpanContext.TraceID() != req.SpanContext().TraceID() {
			t.Errorf("publish %d: parent %v, want the request %v", i, s.Parent, req.SpanContext())
		}
		last := i == len(spans)-1
		switch {
		case last && s.Status.Code != codes.Unset:
			t.Errorf("the publish that went through has status %v", s.Status)
		case !last && s.Status.Code != codes.Error:
			t.Errorf("refused publish %d has status %v, want Error", i, s.Status)
		case !last:
			recorded := false
			for _, e := range s.Events {
				if e.Name == "exception" {
					recorded = true
				}
			}
			if !recorded {
				t.Errorf("refused publish %d records no exception: %v", i, s.Events)
			}
		}
	}
	if got := recordHeaders(r)["traceparent"]; len(got) != 1 || got[0] != traceParent(spans[len(spans)-1].SpanContext) {
		t.Errorf("record's traceparent %q, want the last publish span's %s", got, traceParent(spans[len(spans)-1].SpanContext))
	}
}

// TestBackendRelayTracesWithTheProviderOfItsContext: a function's backend
// opened under telemetry.WithProvider (as eventfunc opens its units)
// publishes its traced rows under spans of that provider.
func TestBackendRelayTracesWithTheProviderOfItsContext(t *testing.T) {
	f := setup(t)
	tp, exp := telemetrytest.Recorder(t)
	b, err := outbox.OpenBackend(telemetry.WithProvider(context.Background(), tp), outbox.BackendConfig{
		Name: "fn", Database: postgres.Config{URL: f.dsn}, Brokers: f.kafka.ListenAddrs(), Logger: f.quiet,
		Topics: []string{catalog.ContentEvents},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	c := f.consume(t, catalog.ContentEvents)
	ctx, req := tp.Tracer("test").Start(context.Background(), "reaction")
	traced := f.enqueueIn(ctx, t, user("eve"), 1)
	req.End()
	r := c.until(t, 1)[0]
	eventually(t, "the relay's span", func() bool { return len(sendSpans(exp)) > 0 })
	s := sendSpans(exp)[0]
	if r.ID != traced || s.Parent.SpanID() != req.SpanContext().SpanID() {
		t.Errorf("record %s under span %v, want %s under the reaction %v", r.ID, s.Parent, traced, req.SpanContext())
	}
	if got := recordHeaders(r)["traceparent"]; len(got) != 1 || got[0] != traceParent(s.SpanContext) {
		t.Errorf("traceparent %q, want the relay span's %s", got, traceParent(s.SpanContext))
	}
}
