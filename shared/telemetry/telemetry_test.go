package telemetry_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/nova-social/nova/shared/telemetry"
	"github.com/nova-social/nova/shared/telemetry/telemetrytest"
)

// configCase is one vector of testdata/config_from_env.json.
type configCase struct {
	Name    string            `json:"name"`
	Service string            `json:"service"`
	Env     map[string]string `json:"env"`
	Errors  []string          `json:"errors"`
	Want    *struct {
		Service    *string           `json:"service"`
		Endpoint   string            `json:"endpoint"`
		Headers    map[string]string `json:"headers"`
		Attributes map[string]string `json:"attributes"`
		Sampler    string            `json:"sampler"`
		// Metrics: checked when given.
		MetricsEndpoint *string           `json:"metrics_endpoint"`
		MetricsHeaders  map[string]string `json:"metrics_headers"`
		MetricInterval  string            `json:"metric_interval"`
	} `json:"want"`
}

func TestConfigFromEnv(t *testing.T) {
	raw, err := os.ReadFile("testdata/config_from_env.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []configCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("testdata/config_from_env.json: %v", err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no vectors in testdata/config_from_env.json")
	}
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			if (c.Want == nil) == (len(c.Errors) == 0) {
				t.Fatalf("vector %q needs either want or errors", c.Name)
			}
			cfg, err := telemetry.ConfigFromEnv(c.Env, c.Service)
			if len(c.Errors) > 0 {
				if err == nil {
					t.Fatalf("accepted %v as %+v, want an error naming %q", c.Env, cfg, c.Errors)
				}
				for _, want := range c.Errors {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				seen := map[string]bool{}
				for _, line := range strings.Split(err.Error(), "\n") {
					if seen[line] {
						t.Errorf("error %q says %q twice", err, line)
					}
					seen[line] = true
				}
				return
			}
			if err != nil {
				t.Fatalf("refused %v: %v", c.Env, err)
			}
			w := c.Want
			if cfg.Endpoint != w.Endpoint {
				t.Errorf("endpoint %q, want %q", cfg.Endpoint, w.Endpoint)
			}
			if cfg.Enabled() != (w.Endpoint != "") {
				t.Errorf("Enabled() = %v with endpoint %q", cfg.Enabled(), cfg.Endpoint)
			}
			if w.MetricsEndpoint != nil {
				if cfg.MetricsEndpoint != *w.MetricsEndpoint {
					t.Errorf("metrics endpoint %q, want %q", cfg.MetricsEndpoint, *w.MetricsEndpoint)
				}
				if cfg.MetricsEnabled() != (*w.MetricsEndpoint != "") {
					t.Errorf("MetricsEnabled() = %v with endpoint %q", cfg.MetricsEnabled(), cfg.MetricsEndpoint)
				}
			}
			if w.MetricsHeaders != nil && !sameMap(cfg.MetricsHeaders, w.MetricsHeaders) {
				t.Errorf("metrics headers %v, want %v", cfg.MetricsHeaders, w.MetricsHeaders)
			}
			if w.MetricInterval != "" && cfg.MetricInterval.String() != w.MetricInterval {
				t.Errorf("metric interval %v, want %s", cfg.MetricInterval, w.MetricInterval)
			}
			if w.Service != nil && cfg.Service != *w.Service {
				t.Errorf("service %q, want %q", cfg.Service, *w.Service)
			}
			if w.Headers != nil && !sameMap(cfg.Headers, w.Headers) {
				t.Errorf("headers %v, want %v", cfg.Headers, w.Headers)
			}
			if w.Attributes != nil {
				got := map[string]string{}
				for _, kv := range cfg.Attributes {
					got[string(kv.Key)] = kv.Value.String()
				}
				if !sameMap(got, w.Attributes) {
					t.Errorf("resource attributes %v, want %v", got, w.Attributes)
				}
			}
			if w.Sampler != "" {
				if cfg.Sampler == nil {
					t.Fatalf("no sampler, want %s", w.Sampler)
				}
				if got := cfg.Sampler.Description(); got != w.Sampler {
					t.Errorf("sampler %s, want %s", got, w.Sampler)
				}
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("ConfigFromEnv returned a configuration Validate refuses: %v", err)
			}
		})
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if got, ok := a[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func TestChildStartsNothingWithoutARecordingParent(t *testing.T) {
	tp, exp := telemetrytest.Recorder(t)
	unsampled, _ := telemetrytest.Recorder(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	uctx, uspan := unsampled.Tracer("test").Start(context.Background(), "not sampled")
	defer uspan.End()
	remote := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
	for name, ctx := range map[string]context.Context{
		"no span":                    context.Background(),
		"a span that is not sampled": uctx,
		"a remote span context":      remote,
		"a provider but no span":     telemetry.WithProvider(context.Background(), tp),
	} {
		t.Run(name, func(t *testing.T) {
			got, span := telemetry.Child(ctx, "db query")
			if got != ctx {
				t.Error("Child returned a new context without a recording parent")
			}
			if span.IsRecording() {
				t.Error("Child started a recording span without a recording parent")
			}
			if !span.SpanContext().Equal(trace.SpanContextFromContext(ctx)) {
				t.Errorf("Child's span is %v, want ctx's own %v", span.SpanContext(), trace.SpanContextFromContext(ctx))
			}
			span.End()
		})
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans exported, want none", n)
	}
}

func TestChildStartsOnTheParentsProvider(t *testing.T) {
	tp, exp := telemetrytest.Recorder(t)
	other, otherExp := telemetrytest.Recorder(t)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	// A provider in ctx is for roots; a child follows its parent's.
	ctx = telemetry.WithProvider(ctx, other)
	cctx, child := telemetry.Child(ctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient))
	if !child.IsRecording() {
		t.Fatal("no recording child under a recording parent")
	}
	if trace.SpanFromContext(cctx) != child {
		t.Error("the returned context does not hold the child")
	}
	child.End()
	parent.End()
	if n := len(otherExp.GetSpans()); n != 0 {
		t.Errorf("%d spans went to the provider in ctx, want none", n)
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans exported, want the parent and its child", len(spans))
	}
	c := spans[0]
	if c.Name != "SELECT" || c.SpanKind != trace.SpanKindClient {
		t.Errorf("child %q of kind %v, want SELECT, client", c.Name, c.SpanKind)
	}
	if c.Parent.SpanID() != parent.SpanContext().SpanID() || c.SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("child's parent %v, want %v", c.Parent, parent.SpanContext())
	}
	if c.InstrumentationScope.Name != telemetry.Scope {
		t.Errorf("child's scope %q, want %q", c.InstrumentationScope.Name, telemetry.Scope)
	}
}

func TestProviderFrom(t *testing.T) {
	tp, _ := telemetrytest.Recorder(t)
	other, _ := telemetrytest.Recorder(t)
	if got := telemetry.ProviderFrom(telemetry.WithProvider(context.Background(), tp)); got != tp {
		t.Errorf("ProviderFrom(WithProvider(tp)) = %v, want tp", got)
	}
	ctx, span := other.Tracer("test").Start(context.Background(), "root")
	defer span.End()
	if got := telemetry.ProviderFrom(ctx); got != other {
		t.Errorf("ProviderFrom(a span's ctx) = %v, want the span's provider", got)
	}
	if got := telemetry.ProviderFrom(telemetry.WithProvider(ctx, tp)); got != tp {
		t.Errorf("ProviderFrom prefers the span's provider over WithProvider's")
	}
	_, s := telemetry.Tracer(telemetry.ProviderFrom(context.Background())).Start(context.Background(), "x")
	if s.IsRecording() {
		t.Error("ProviderFrom(an empty ctx) records spans")
	}
}

func newEvent() cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID("0196f9f6-0000-7000-8000-000000000001")
	e.SetSource("/nova/content-service")
	e.SetType("com.nova.content.post.created")
	return e
}

func TestEventTraceRoundTrip(t *testing.T) {
	tp, _ := telemetrytest.Recorder(t)
	ctx, span := tp.Tracer("test").Start(context.Background(), "POST /v1/posts")
	defer span.End()
	ts, err := trace.ParseTraceState("nova=t61rcWkgMzE")
	if err != nil {
		t.Fatal(err)
	}
	ctx = trace.ContextWithSpanContext(ctx, span.SpanContext().WithTraceState(ts))
	sc := trace.SpanContextFromContext(ctx)

	e := newEvent()
	telemetry.SetEventTrace(ctx, &e)
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if got := e.Extensions()[telemetry.TraceParent]; got != want {
		t.Errorf("traceparent extension %v, want %s", got, want)
	}
	if got := e.Extensions()[telemetry.TraceState]; got != "nova=t61rcWkgMzE" {
		t.Errorf("tracestate extension %v, want nova=t61rcWkgMzE", got)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("the event is no longer valid: %v", err)
	}
	// As the event travels: JSON and back.
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back cloudevents.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got := trace.SpanContextFromContext(telemetry.EventTrace(context.Background(), &back))
	if !got.IsValid() || !got.IsRemote() || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() ||
		!got.IsSampled() || got.TraceState().String() != "nova=t61rcWkgMzE" {
		t.Errorf("EventTrace = %+v, want the remote form of %+v", got, sc)
	}
	if id := telemetry.TraceID(&back); id != sc.TraceID().String() {
		t.Errorf("TraceID = %q, want %s", id, sc.TraceID())
	}
}

func TestSetEventTraceKeepsTheEventsOrigin(t *testing.T) {
	tp, _ := telemetrytest.Recorder(t)
	const origin = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	e := newEvent()
	e.SetExtension(telemetry.TraceParent, origin)
	ctx, span := tp.Tracer("test").Start(context.Background(), "relay")
	defer span.End()
	telemetry.SetEventTrace(ctx, &e)
	if got := e.Extensions()[telemetry.TraceParent]; got != origin {
		t.Errorf("traceparent %v replaced, want the origin's %s", got, origin)
	}
	if _, ok := e.Extensions()[telemetry.TraceState]; ok {
		t.Error("a tracestate was added to an event that carried a traceparent")
	}
	if id := telemetry.TraceID(&e); id != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("TraceID = %q, want the origin's", id)
	}
}

func TestSetEventTraceWithoutATraceSetsNothing(t *testing.T) {
	e := newEvent()
	telemetry.SetEventTrace(context.Background(), &e)
	if len(e.Extensions()) != 0 {
		t.Errorf("extensions %v set from a ctx without a trace", e.Extensions())
	}
	if id := telemetry.TraceID(&e); id != "" {
		t.Errorf("TraceID = %q, want none", id)
	}
}

func TestMalformedTraceParentGivesNoTrace(t *testing.T) {
	for name, v := range map[string]any{
		"garbage":           "not a traceparent",
		"empty":             "",
		"zero trace id":     "00-00000000000000000000000000000000-b7ad6b7169203331-01",
		"zero span id":      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
		"no flags":          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
		"version ff":        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"short trace id":    "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
		"not hex":           "00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01",
		"an integer":        int32(7),
		"extra field in v0": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEvent()
			e.SetExtension(telemetry.TraceParent, v)
			if id := telemetry.TraceID(&e); id != "" {
				t.Errorf("TraceID of traceparent %v = %q, want none", v, id)
			}
			if sc := trace.SpanContextFromContext(telemetry.EventTrace(context.Background(), &e)); sc.IsValid() {
				t.Errorf("EventTrace of traceparent %v = %v, want none", v, sc)
			}
		})
	}
}

func TestHTTPPropagation(t *testing.T) {
	tp, _ := telemetrytest.Recorder(t)
	ctx, span := tp.Tracer("test").Start(context.Background(), "deliver")
	defer span.End()
	h := http.Header{}
	telemetry.InjectHTTP(ctx, h)
	sc := span.SpanContext()
	if got, want := h.Get("Traceparent"), "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01"; got != want {
		t.Errorf("traceparent header %q, want %q", got, want)
	}
	if h.Get("Baggage") != "" {
		t.Error("baggage was propagated")
	}
	got := trace.SpanContextFromContext(telemetry.ExtractHTTP(context.Background(), h))
	if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsRemote() {
		t.Errorf("ExtractHTTP = %v, want the remote form of %v", got, sc)
	}
	empty := http.Header{}
	telemetry.InjectHTTP(context.Background(), empty)
	if len(empty) != 0 {
		t.Errorf("headers %v injected without a span", empty)
	}
}

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestOpenOff(t *testing.T) {
	tr, err := telemetry.Open(telemetry.Config{Service: "feed-fanout"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Tracing() || tr.Metrics() {
		t.Errorf("without an endpoint, tracing %v and metrics %v", tr.Tracing(), tr.Metrics())
	}
	if _, ok := tr.MeterProvider().(metricnoop.MeterProvider); !ok {
		t.Errorf("metrics off give a %T, want the no-op provider", tr.MeterProvider())
	}
	_, span := telemetry.Tracer(tr.TracerProvider()).Start(context.Background(), "x")
	if span.IsRecording() {
		t.Error("a span of tracing off records")
	}
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of tracing off: %v", err)
	}
	if _, err := telemetry.Open(telemetry.Config{Service: "feed-fanout", Endpoint: "collector:4318"}); err == nil {
		t.Error("Open took an endpoint that is no URL")
	}
}

func TestOpenWithAnUnreachableCollector(t *testing.T) {
	tr, err := telemetry.Open(telemetry.Config{
		Service:      "feed-fanout",
		Endpoint:     "http://" + closedAddr(t) + "/v1/traces",
		BatchTimeout: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Open failed for a collector that is down: %v", err)
	}
	if !tr.Tracing() {
		t.Fatal("tracing with an endpoint is not enabled")
	}
	_, span := telemetry.Tracer(tr.TracerProvider()).Start(context.Background(), "reaction")
	if !span.IsRecording() {
		t.Error("spans do not record while the collector is down")
	}
	span.End()
	const bound = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	err = tr.Shutdown(ctx)
	if took := time.Since(start); took > bound+time.Second {
		t.Errorf("Shutdown took %v with a %v context", took, bound)
	}
	t.Logf("Shutdown with the collector down: %v", err)
}

// collector is an OTLP/HTTP receiver of traces and metrics.
type collector struct {
	mu       sync.Mutex
	paths    []string // of trace exports
	headers  []http.Header
	requests []*collectortrace.ExportTraceServiceRequest
	metrics  []*collectormetrics.ExportMetricsServiceRequest
	mheaders []http.Header
}

func newCollector(t *testing.T) (*collector, string) {
	t.Helper()
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var (
			req  proto.Message = &collectortrace.ExportTraceServiceRequest{}
			resp proto.Message = &collectortrace.ExportTraceServiceResponse{}
		)
		if r.URL.Path == "/v1/metrics" {
			req, resp = &collectormetrics.ExportMetricsServiceRequest{}, &collectormetrics.ExportMetricsServiceResponse{}
		}
		if err == nil {
			err = proto.Unmarshal(body, req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		if m, ok := req.(*collectormetrics.ExportMetricsServiceRequest); ok {
			c.metrics = append(c.metrics, m)
			c.mheaders = append(c.mheaders, r.Header.Clone())
		} else {
			c.paths = append(c.paths, r.URL.Path)
			c.headers = append(c.headers, r.Header.Clone())
			c.requests = append(c.requests, req.(*collectortrace.ExportTraceServiceRequest))
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func attrs(kvs []*commonv1.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	return m
}

func TestFromEnvExportsToTheCollector(t *testing.T) {
	for _, c := range []struct {
		name        string
		env         map[string]string
		wantService string
	}{
		{"the function's name", map[string]string{}, "feed-fanout"},
		{"OTEL_SERVICE_NAME", map[string]string{"OTEL_SERVICE_NAME": "fanout-eu"}, "fanout-eu"},
		// OTEL_SERVICE_NAME takes precedence over a service.name in
		// OTEL_RESOURCE_ATTRIBUTES (the SDK environment variables
		// specification), and Config.Service is "the service.name of
		// every span".
		{"OTEL_SERVICE_NAME over the resource attributes' service.name",
			map[string]string{"OTEL_SERVICE_NAME": "fanout-eu", "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes"}, "fanout-eu"},
	} {
		t.Run(c.name, func(t *testing.T) {
			col, url := newCollector(t)
			env := map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": url + "/",
				"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=k%2F1",
				"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=test",
			}
			for k, v := range c.env {
				if k == "OTEL_RESOURCE_ATTRIBUTES" {
					v = env[k] + "," + v
				}
				env[k] = v
			}
			tr, err := telemetry.FromEnv(env, "feed-fanout")
			if err != nil {
				t.Fatal(err)
			}
			if !tr.Tracing() || !tr.Metrics() {
				t.Fatalf("tracing %v, metrics %v with an OTLP endpoint", tr.Tracing(), tr.Metrics())
			}
			pending, err := telemetry.Meter(tr.MeterProvider()).Int64Gauge("nova.outbox.pending")
			if err != nil {
				t.Fatal(err)
			}
			pending.Record(context.Background(), 7)
			ctx, root := telemetry.Tracer(tr.TracerProvider()).Start(context.Background(), "feed-fanout receive")
			_, child := telemetry.Child(ctx, "ZADD", trace.WithSpanKind(trace.SpanKindClient))
			child.End()
			root.End()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tr.Shutdown(sctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}

			col.mu.Lock()
			defer col.mu.Unlock()
			if len(col.requests) == 0 {
				t.Fatal("the collector received nothing")
			}
			names := map[string]bool{}
			for i, req := range col.requests {
				if col.paths[i] != "/v1/traces" {
					t.Errorf("exported to %s, want /v1/traces", col.paths[i])
				}
				if got := col.headers[i].Get("X-Api-Key"); got != "k/1" {
					t.Errorf("x-api-key header %q, want k/1", got)
				}
				for _, rs := range req.GetResourceSpans() {
					res := attrs(rs.GetResource().GetAttributes())
					if res["service.name"] != c.wantService {
						t.Errorf("resource service.name %q, want %q", res["service.name"], c.wantService)
					}
					if res["deployment.environment.name"] != "test" {
						t.Errorf("resource attributes %v lack deployment.environment.name=test", res)
					}
					for _, ss := range rs.GetScopeSpans() {
						for _, s := range ss.GetSpans() {
							names[s.GetName()] = true
						}
					}
				}
			}
			if !names["feed-fanout receive"] || !names["ZADD"] || len(names) != 2 {
				t.Errorf("spans exported %v, want the root and its child", names)
			}
			// Shutdown exported the metrics' last collection, to the same
			// collector with the same headers and resource.
			var gauge int64 = -1
			for i, req := range col.metrics {
				if got := col.mheaders[i].Get("X-Api-Key"); got != "k/1" {
					t.Errorf("metrics: x-api-key header %q, want k/1", got)
				}
				for _, rm := range req.GetResourceMetrics() {
					if res := attrs(rm.GetResource().GetAttributes()); res["service.name"] != c.wantService {
						t.Errorf("metrics: resource service.name %q, want %q", res["service.name"], c.wantService)
					}
					for _, sm := range rm.GetScopeMetrics() {
						for _, m := range sm.GetMetrics() {
							if m.GetName() == "nova.outbox.pending" && len(m.GetGauge().GetDataPoints()) == 1 {
								gauge = m.GetGauge().GetDataPoints()[0].GetAsInt()
							}
						}
					}
				}
			}
			if gauge != 7 {
				t.Errorf("the gauge exported %d over %d metric exports, want 7", gauge, len(col.metrics))
			}
		})
	}
}
