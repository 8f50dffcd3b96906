// Package telemetry is Nova's tracing and metrics: OpenTelemetry spans and
// instruments, exported over OTLP/HTTP when the standard OTEL_* variables
// name an endpoint, and nothing at all when they do not (no-op providers: no
// span is allocated, no context is carried beyond what arrived, no
// instrument's callback runs).
//
// Every process reads its own settings from the environment func-go hands
// its function (a map, not os.Environ), so `nova run`, which hosts every
// function in one process, still gives each its own service name and
// exporter. There is no global provider: the roots of a trace (nova-api's
// HTTP server, an event function's handler, the outbox relay, the
// dispatcher) are given one, and everything below them starts its spans
// from the provider of the span in its context (Child), so a library call
// made outside any trace costs nothing. Meters are handed down the same way
// (WithMeterProvider).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The standard OpenTelemetry variables a process's telemetry is read from
// (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
const (
	EnvSDKDisabled        = "OTEL_SDK_DISABLED"
	EnvTracesExporter     = "OTEL_TRACES_EXPORTER"
	EnvMetricsExporter    = "OTEL_METRICS_EXPORTER"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint     = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvMetricsEndpoint    = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvProtocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol     = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvMetricsProtocol    = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	EnvHeaders            = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvTracesHeaders      = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	EnvMetricsHeaders     = "OTEL_EXPORTER_OTLP_METRICS_HEADERS"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	EnvSampler            = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg         = "OTEL_TRACES_SAMPLER_ARG"
	EnvMetricInterval     = "OTEL_METRIC_EXPORT_INTERVAL"
)

// DefaultMetricInterval is how often metrics are exported unless
// OTEL_METRIC_EXPORT_INTERVAL says otherwise: the specification's default.
const DefaultMetricInterval = time.Minute

// Config is how a process exports its spans and metrics.
type Config struct {
	// Service is the service.name of every span and metric
	// (OTEL_SERVICE_NAME wins over the function's name).
	Service string
	// Endpoint is the full URL spans are POSTed to (…/v1/traces). Empty
	// turns tracing off.
	Endpoint string
	// Headers are sent with every export of spans (an API key, say).
	Headers map[string]string
	// MetricsEndpoint is the full URL metrics are POSTed to
	// (…/v1/metrics). Empty turns metrics off.
	MetricsEndpoint string
	// MetricsHeaders are sent with every export of metrics.
	MetricsHeaders map[string]string
	// MetricInterval is how often metrics are exported. Default
	// DefaultMetricInterval.
	MetricInterval time.Duration
	// Sampler decides which new traces are recorded. Default: parent-based,
	// always on (the SDK's default).
	Sampler sdktrace.Sampler
	// Attributes are added to the resource (OTEL_RESOURCE_ATTRIBUTES).
	Attributes []attribute.KeyValue
	// BatchTimeout is the longest a span waits to be exported. Default 1s:
	// a developer looking for a trace should not wait the SDK's 5s.
	BatchTimeout time.Duration
}

// Enabled reports whether spans are exported at all.
func (c Config) Enabled() bool { return c.Endpoint != "" }

// MetricsEnabled reports whether metrics are exported at all.
func (c Config) MetricsEnabled() bool { return c.MetricsEndpoint != "" }

// Validate reports a configuration no exporter can come of.
func (c Config) Validate() error {
	if !c.Enabled() && !c.MetricsEnabled() {
		return nil
	}
	var errs []error
	for _, e := range []struct{ signal, url string }{{"traces", c.Endpoint}, {"metrics", c.MetricsEndpoint}} {
		if e.url == "" {
			continue
		}
		u, err := url.Parse(e.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("telemetry: the OTLP %s endpoint %q is not an http(s) URL", e.signal, e.url))
		}
	}
	if c.MetricInterval < 0 {
		errs = append(errs, fmt.Errorf("telemetry: metric export interval %v is negative", c.MetricInterval))
	}
	if c.Service == "" {
		errs = append(errs, errors.New("telemetry: no service name"))
	}
	return errors.Join(errs...)
}

// ConfigFromEnv reads the standard variables from a process's environment.
// service is the name spans and metrics carry unless OTEL_SERVICE_NAME says
// otherwise. Each signal is off unless an OTLP endpoint is named for it (or
// for both), and off whatever else is set when OTEL_SDK_DISABLED=true or
// its OTEL_<SIGNAL>_EXPORTER=none.
func ConfigFromEnv(env map[string]string, service string) (Config, error) {
	c := Config{Service: service}
	if s := strings.TrimSpace(env[EnvServiceName]); s != "" {
		c.Service = s
	}
	if strings.EqualFold(strings.TrimSpace(env[EnvSDKDisabled]), "true") {
		return c, nil
	}
	traces, terrs := signalFromEnv(env, "traces", EnvTracesExporter, EnvTracesEndpoint, EnvTracesProtocol, EnvTracesHeaders)
	c.Endpoint, c.Headers = traces.endpoint, traces.headers
	metrics, merrs := signalFromEnv(env, "metrics", EnvMetricsExporter, EnvMetricsEndpoint, EnvMetricsProtocol, EnvMetricsHeaders)
	c.MetricsEndpoint, c.MetricsHeaders = metrics.endpoint, metrics.headers
	errs := append(terrs, merrs...)
	if !c.Enabled() && !c.MetricsEnabled() {
		return c, distinct(errs)
	}
	attrs, err := parsePairs(env[EnvResourceAttributes])
	if err != nil {
		errs = append(errs, fmt.Errorf("telemetry: %s: %w", EnvResourceAttributes, err))
	}
	for k, v := range attrs {
		c.Attributes = append(c.Attributes, attribute.String(k, v))
	}
	if c.Enabled() {
		if c.Sampler, err = samplerFrom(env[EnvSampler], env[EnvSamplerArg]); err != nil {
			errs = append(errs, err)
		}
	}
	if v := strings.TrimSpace(env[EnvMetricInterval]); v != "" && c.MetricsEnabled() {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			errs = append(errs, fmt.Errorf("telemetry: %s=%q is not a positive number of milliseconds", EnvMetricInterval, v))
		} else {
			c.MetricInterval = time.Duration(ms) * time.Millisecond
		}
	}
	if err := distinct(append(errs, c.Validate())); err != nil {
		return c, err
	}
	return c, nil
}

// otlpSignal is where one signal (traces, metrics) is exported.
type otlpSignal struct {
	endpoint string
	headers  map[string]string
}

// signalFromEnv reads one signal's exporter, endpoint, protocol and headers:
// the signal's own variables first, then the shared OTLP ones (the shared
// endpoint gets the signal's path, /v1/<signal>, appended).
func signalFromEnv(env map[string]string, signal, exporterVar, endpointVar, protocolVar, headersVar string) (otlpSignal, []error) {
	var s otlpSignal
	switch exp := strings.TrimSpace(env[exporterVar]); exp {
	case "", "otlp":
	case "none":
		return s, nil
	default:
		return s, []error{fmt.Errorf("telemetry: %s=%s: only otlp and none are supported", exporterVar, exp)}
	}
	switch {
	case strings.TrimSpace(env[endpointVar]) != "":
		// The signal-specific variable is used as given.
		s.endpoint = strings.TrimSpace(env[endpointVar])
	case strings.TrimSpace(env[EnvEndpoint]) != "":
		s.endpoint = strings.TrimRight(strings.TrimSpace(env[EnvEndpoint]), "/") + "/v1/" + signal
	default:
		return s, nil
	}
	var errs []error
	if name, proto := firstSet(env, protocolVar, EnvProtocol); proto != "" && proto != "http/protobuf" {
		errs = append(errs, fmt.Errorf("telemetry: %s: OTLP protocol %q: only http/protobuf is supported (the collector's port 4318)", name, proto))
	}
	name, h := firstSet(env, headersVar, EnvHeaders)
	headers, err := parsePairs(h)
	if err != nil {
		errs = append(errs, fmt.Errorf("telemetry: %s: %w", name, err))
	}
	s.headers = headers
	return s, errs
}

// firstSet returns the first of names set in env, and its value.
func firstSet(env map[string]string, names ...string) (name, value string) {
	for _, n := range names {
		if v := strings.TrimSpace(env[n]); v != "" {
			return n, v
		}
	}
	return "", ""
}

// distinct drops nils and repeats: a shared variable both signals read is
// reported once.
func distinct(errs []error) error {
	seen := map[string]bool{}
	var out []error
	for _, err := range errs {
		if err == nil || seen[err.Error()] {
			continue
		}
		seen[err.Error()] = true
		out = append(out, err)
	}
	return errors.Join(out...)
}

// parsePairs reads the W3C-baggage-like key=value,key=value lists the
// OTEL_* variables use; values are URL-decoded.
func parsePairs(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", part)
		}
		// Percent-decoding as the SDK does it: a '+' stays a '+' (base64
		// API keys have them).
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("value of %s: %w", k, err)
		}
		out[k] = dv
	}
	return out, nil
}

// samplerFrom reads OTEL_TRACES_SAMPLER and its argument as the SDK does
// from os.Getenv, from the function's own environment instead.
func samplerFrom(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if a := strings.TrimSpace(arg); a != "" {
		r, err := strconv.ParseFloat(a, 64)
		if err != nil || !(r >= 0 && r <= 1) { // NaN fails both
			return nil, fmt.Errorf("telemetry: %s=%q is not a ratio between 0 and 1", EnvSamplerArg, arg)
		}
		ratio = r
	}
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	default:
		return nil, fmt.Errorf("telemetry: %s=%q is not a sampler this SDK has", EnvSampler, name)
	}
}

// Providers are a process's tracer and meter providers and what flushes
// them.
type Providers struct {
	tracer trace.TracerProvider
	tsdk   *sdktrace.TracerProvider // nil when tracing is off
	meter  metric.MeterProvider
	msdk   *sdkmetric.MeterProvider // nil when metrics are off
}

// Off is telemetry turned off: providers whose spans and instruments do
// nothing.
func Off() *Providers {
	return &Providers{tracer: noop.NewTracerProvider(), meter: metricnoop.NewMeterProvider()}
}

// Open starts exporting as c says; with both signals off it returns Off().
// Nothing is dialled here: an exporter connects on its first batch, so an
// unreachable collector costs dropped spans and points, never a function.
func Open(c Config) (*Providers, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := Off()
	if !c.Enabled() && !c.MetricsEnabled() {
		return p, nil
	}
	// Not resource.Default, which reads the process's environment: the
	// function's own settings only. The service name goes last, so it wins
	// over a service.name in OTEL_RESOURCE_ATTRIBUTES, as the
	// specification ranks OTEL_SERVICE_NAME.
	res, err := resource.New(context.Background(), resource.WithTelemetrySDK(), resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(append(slices.Clone(c.Attributes), semconv.ServiceName(c.Service))...))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	if c.Enabled() {
		if p.tsdk, err = openTraces(c, res); err != nil {
			return nil, err
		}
		p.tracer = p.tsdk
	}
	if c.MetricsEnabled() {
		if p.msdk, err = openMetrics(c, res); err != nil {
			return nil, errors.Join(err, p.Shutdown(context.Background()))
		}
		p.meter = p.msdk
	}
	return p, nil
}

// nonNil gives an exporter headers even when there are none: it would
// otherwise read the process's OTEL_EXPORTER_OTLP_HEADERS, which under nova
// run is every function's at once.
func nonNil(h map[string]string) map[string]string {
	if h == nil {
		return map[string]string{}
	}
	return h
}

func openTraces(c Config, res *resource.Resource) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(c.Endpoint), otlptracehttp.WithHeaders(nonNil(c.Headers)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: trace exporter: %w", err)
	}
	batch := c.BatchTimeout
	if batch <= 0 {
		batch = time.Second
	}
	sampler := c.Sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(batch)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
	), nil
}

func openMetrics(c Config, res *resource.Resource) (*sdkmetric.MeterProvider, error) {
	exp, err := otlpmetrichttp.New(context.Background(),
		otlpmetrichttp.WithEndpointURL(c.MetricsEndpoint), otlpmetrichttp.WithHeaders(nonNil(c.MetricsHeaders)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: metric exporter: %w", err)
	}
	interval := c.MetricInterval
	if interval <= 0 {
		interval = DefaultMetricInterval
	}
	return sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(interval))),
		sdkmetric.WithResource(res),
	), nil
}

// FromEnv is ConfigFromEnv then Open.
func FromEnv(env map[string]string, service string) (*Providers, error) {
	c, err := ConfigFromEnv(env, service)
	if err != nil {
		return nil, err
	}
	return Open(c)
}

// TracerProvider is the provider the process's root spans start from.
func (p *Providers) TracerProvider() trace.TracerProvider { return p.tracer }

// MeterProvider is the provider the process's instruments are made by.
func (p *Providers) MeterProvider() metric.MeterProvider { return p.meter }

// Tracing reports whether spans are exported.
func (p *Providers) Tracing() bool { return p.tsdk != nil }

// Metrics reports whether metrics are exported.
func (p *Providers) Metrics() bool { return p.msdk != nil }

// Shutdown exports what is buffered (spans, and the metrics' last
// collection), waiting until ctx ends.
func (p *Providers) Shutdown(ctx context.Context) error {
	var errs []error
	if p.tsdk != nil {
		errs = append(errs, p.tsdk.Shutdown(ctx))
	}
	if p.msdk != nil {
		errs = append(errs, p.msdk.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// FromProviders wraps SDK providers made elsewhere (a test's, reading into
// memory) as a process's telemetry; either may be nil (that signal off).
func FromProviders(tp *sdktrace.TracerProvider, mp *sdkmetric.MeterProvider) *Providers {
	p := Off()
	if tp != nil {
		p.tracer, p.tsdk = tp, tp
	}
	if mp != nil {
		p.meter, p.msdk = mp, mp
	}
	return p
}
