package eventfunc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/telemetry/telemetrytest"
)

const (
	// The dispatcher's delivery span, as its request's traceparent header.
	dispatcherTraceID = "0af7651916cd43dd8448eb211c80319c"
	dispatcherSpanID  = "b7ad6b7169203331"
	dispatcherParent  = "00-" + dispatcherTraceID + "-" + dispatcherSpanID + "-01"
	// Where the event was made, as its Distributed Tracing extension.
	originTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	originSpanID  = "00f067aa0ba902b7"
	originParent  = "00-" + originTraceID + "-" + originSpanID + "-01"
)

// seen keeps the span context each delivery ran in.
type seen struct {
	mu    sync.Mutex
	spans []trace.SpanContext
	rec   *recorder
}

func (s *seen) receive(ctx context.Context, e event.Event) error {
	s.mu.Lock()
	s.spans = append(s.spans, trace.SpanContextFromContext(ctx))
	s.mu.Unlock()
	return s.rec.receive(ctx, e)
}

func (s *seen) last(t *testing.T) trace.SpanContext {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.spans) == 0 {
		t.Fatal("the reaction was not called")
	}
	return s.spans[len(s.spans)-1]
}

func tracedHandler(t *testing.T, tp trace.TracerProvider) (*seen, string) {
	t.Helper()
	s := &seen{rec: &recorder{}}
	cfg := eventfunc.HandlerConfig{Name: "feed-fanout"}
	if tp != nil {
		cfg.Tracer = tp
	}
	srv := httptest.NewServer(eventfunc.NewHandler(s.receive, cfg))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func only(t *testing.T, exp *tracetest.InMemoryExporter) tracetest.SpanStub {
	t.Helper()
	// The span ends as the handler returns, before the server sends the
	// answer; the wait only guards against a server that sends it earlier.
	deadline := time.Now().Add(5 * time.Second)
	for len(exp.GetSpans()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans exported, want 1: %v", len(spans), spans)
	}
	exp.Reset()
	return spans[0]
}

func withTraceParent(v string) http.Header {
	h := http.Header{}
	h.Set("Traceparent", v)
	return h
}

func TestHandlerSpanContinuesTheDispatchersTrace(t *testing.T) {
	tp, exp := telemetrytest.Recorder(t)
	s, url := tracedHandler(t, tp)
	e := sample("ok")
	e.SetExtension("traceparent", originParent)
	if code, body := eventfunctest.SendWith(t, url, withTraceParent(dispatcherParent), e); code != http.StatusOK {
		t.Fatalf("answered %d %s", code, body)
	}
	span := only(t, exp)
	if span.Name != "feed-fanout receive com.nova.content.post.created" {
		t.Errorf("span name %q", span.Name)
	}
	if span.SpanKind != trace.SpanKindServer {
		t.Errorf("span kind %v, want server", span.SpanKind)
	}
	if !span.Parent.IsRemote() || span.Parent.TraceID().String() != dispatcherTraceID || span.Parent.SpanID().String() != dispatcherSpanID {
		t.Errorf("parent %v, want the request's traceparent %s", span.Parent, dispatcherParent)
	}
	if span.Status.Code != codes.Unset {
		t.Errorf("status %v of a delivery that succeeded", span.Status)
	}
	a := telemetrytest.Attrs(span)
	for k, v := range map[string]string{
		string(semconv.FaaSTriggerKey):             "pubsub",
		"faas.name":                                "feed-fanout",
		string(semconv.CloudEventsEventIDKey):      e.ID(),
		string(semconv.CloudEventsEventSourceKey):  e.Source(),
		string(semconv.CloudEventsEventTypeKey):    e.Type(),
		string(semconv.CloudEventsEventSubjectKey): "ok",
		string(semconv.HTTPResponseStatusCodeKey):  "200",
	} {
		if a[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, a[k], v)
		}
	}
	if got := s.last(t); got.SpanID() != span.SpanContext.SpanID() || got.TraceID() != span.SpanContext.TraceID() {
		t.Errorf("the reaction ran in span %v, want the handler's %v", got, span.SpanContext)
	}
	if got := s.rec.events(); len(got) != 1 || got[0].Extensions()["traceparent"] != originParent {
		t.Errorf("the reaction got %v, want the event with its own traceparent extension unchanged", got)
	}
}

func TestHandlerSpanFallsBackToTheEventsTrace(t *testing.T) {
	tp, exp := telemetrytest.Recorder(t)
	s, url := tracedHandler(t, tp)
	for name, header := range map[string]http.Header{
		"no traceparent header":      nil,
		"a malformed traceparent":    withTraceParent("00-nonsense"),
		"an all-zero trace id":       withTraceParent("00-00000000000000000000000000000000-" + dispatcherSpanID + "-01"),
		"structured mode, no header": nil,
	} {
		t.Run(name, func(t *testing.T) {
			e := sample("ok")
			e.SetExtension("traceparent", originParent)
			var code int
			var body string
			if name == "structured mode, no header" {
				code, body = eventfunctest.SendStructured(t, url, e)
			} else {
				code, body = eventfunctest.SendWith(t, url, header, e)
			}
			if code != http.StatusOK {
				t.Fatalf("answered %d %s", code, body)
			}
			span := only(t, exp)
			if span.Parent.TraceID().String() != originTraceID || span.Parent.SpanID().String() != originSpanID {
				t.Errorf("parent %v, want the event's ce-traceparent %s", span.Parent, originParent)
			}
			if got := s.last(t); got.TraceID().String() != originTraceID {
				t.Errorf("the reaction ran in trace %s, want %s", got.TraceID(), originTraceID)
			}
		})
	}
	t.Run("no trace at all", func(t *testing.T) {
		if code, body := eventfunctest.Send(t, url, sample("ok")); code != http.StatusOK {
			t.Fatalf("answered %d %s", code, body)
		}
		span := only(t, exp)
		if span.Parent.IsValid() {
			t.Errorf("parent %v of an event that carries no trace, want a root span", span.Parent)
		}
		if got := s.last(t); got.SpanID() != span.SpanContext.SpanID() {
			t.Errorf("the reaction ran in span %v, want the handler's %v", got, span.SpanContext)
		}
	})
}

func TestHandlerSpanOfAFailedDeliveryIsAnError(t *testing.T) {
	tp, exp := telemetrytest.Recorder(t)
	_, url := tracedHandler(t, tp)
	for _, c := range []struct {
		subject string
		status  int
	}{
		{"permanent", http.StatusBadRequest},
		{"transient", http.StatusInternalServerError},
		{"not-ready", http.StatusServiceUnavailable},
		{"panic", http.StatusInternalServerError},
	} {
		t.Run(c.subject, func(t *testing.T) {
			if code, body := eventfunctest.SendWith(t, url, withTraceParent(dispatcherParent), sample(c.subject)); code != c.status {
				t.Fatalf("answered %d %s, want %d", code, body, c.status)
			}
			span := only(t, exp)
			if span.Status.Code != codes.Error {
				t.Errorf("status %v, want Error", span.Status)
			}
			if got := telemetrytest.Attrs(span)[string(semconv.HTTPResponseStatusCodeKey)]; got != strconv.Itoa(c.status) {
				t.Errorf("http.response.status_code = %q, want %d", got, c.status)
			}
			if span.Parent.SpanID().String() != dispatcherSpanID {
				t.Errorf("parent %v, want the dispatcher's span", span.Parent)
			}
		})
	}
}

// TestHandlerSpanNotForWhatIsNoEvent: a request refused before it is an
// event starts no span.
func TestHandlerSpanNotForWhatIsNoEvent(t *testing.T) {
	tp, exp := telemetrytest.Recorder(t)
	_, url := tracedHandler(t, tp)
	h := withTraceParent(dispatcherParent)
	h.Set("Content-Type", "application/json")
	if code, _ := eventfunctest.Post(t, url, h, `{"not":"an event"}`); code != http.StatusBadRequest {
		t.Fatalf("answered %d, want 400", code)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans for a request that is no event", n)
	}
}

func TestHandlerWithoutATracerStartsNoSpan(t *testing.T) {
	s, url := tracedHandler(t, nil)
	e := sample("ok")
	e.SetExtension("traceparent", originParent)
	if code, body := eventfunctest.SendWith(t, url, withTraceParent(dispatcherParent), e); code != http.StatusOK {
		t.Fatalf("answered %d %s", code, body)
	}
	if got := s.last(t); got.IsValid() {
		t.Errorf("the reaction ran in span context %v with no tracer, want none", got)
	}
}
