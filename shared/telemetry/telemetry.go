// Package telemetry is Nova's tracing: OpenTelemetry spans, exported over
// OTLP/HTTP when the standard OTEL_* variables name an endpoint, and nothing
// at all when they do not (a no-op provider: no span is allocated, no
// context is carried beyond what arrived).
//
// Every process reads its own settings from the environment func-go hands
// its function (a map, not os.Environ), so `nova run`, which hosts every
// function in one process, still gives each its own service name and
// exporter. There is no global provider: the roots of a trace (nova-api's
// HTTP server, an event function's handler, the outbox relay, the
// dispatcher) are given one, and everything below them starts its spans
// from the provider of the span in its context (Child), so a library call
// made outside any trace costs nothing.
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
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The standard OpenTelemetry variables a process's tracing is read from
// (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
const (
	EnvSDKDisabled        = "OTEL_SDK_DISABLED"
	EnvTracesExporter     = "OTEL_TRACES_EXPORTER"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint     = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol     = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvHeaders            = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvTracesHeaders      = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	EnvSampler            = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg         = "OTEL_TRACES_SAMPLER_ARG"
)

// Config is how a process exports its spans.
type Config struct {
	// Service is the service.name of every span (OTEL_SERVICE_NAME wins
	// over the function's name).
	Service string
	// Endpoint is the full URL spans are POSTed to (…/v1/traces). Empty
	// turns tracing off.
	Endpoint string
	// Headers are sent with every export (an API key, say).
	Headers map[string]string
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

// Validate reports a configuration no exporter can come of.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("telemetry: the OTLP traces endpoint %q is not an http(s) URL", c.Endpoint)
	}
	if c.Service == "" {
		return errors.New("telemetry: no service name")
	}
	return nil
}

// ConfigFromEnv reads the standard variables from a process's environment.
// service is the name spans carry unless OTEL_SERVICE_NAME says otherwise.
// Tracing is off unless an OTLP endpoint is named, and off whatever else is
// set when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
func ConfigFromEnv(env map[string]string, service string) (Config, error) {
	c := Config{Service: service}
	if s := strings.TrimSpace(env[EnvServiceName]); s != "" {
		c.Service = s
	}
	if strings.EqualFold(strings.TrimSpace(env[EnvSDKDisabled]), "true") {
		return c, nil
	}
	switch exp := strings.TrimSpace(env[EnvTracesExporter]); exp {
	case "", "otlp":
	case "none":
		return c, nil
	default:
		return c, fmt.Errorf("telemetry: %s=%s: only otlp and none are supported", EnvTracesExporter, exp)
	}
	switch {
	case env[EnvTracesEndpoint] != "":
		// The signal-specific variable is used as given.
		c.Endpoint = strings.TrimSpace(env[EnvTracesEndpoint])
	case env[EnvEndpoint] != "":
		c.Endpoint = strings.TrimRight(strings.TrimSpace(env[EnvEndpoint]), "/") + "/v1/traces"
	default:
		return c, nil
	}
	proto := firstSet(env, EnvTracesProtocol, EnvProtocol)
	if proto != "" && proto != "http/protobuf" {
		return c, fmt.Errorf("telemetry: OTLP protocol %q: only http/protobuf is supported (the collector's port 4318)", proto)
	}
	var errs []error
	headers, err := parsePairs(firstSet(env, EnvTracesHeaders, EnvHeaders))
	if err != nil {
		errs = append(errs, fmt.Errorf("telemetry: %s: %w", EnvHeaders, err))
	}
	c.Headers = headers
	attrs, err := parsePairs(env[EnvResourceAttributes])
	if err != nil {
		errs = append(errs, fmt.Errorf("telemetry: %s: %w", EnvResourceAttributes, err))
	}
	for k, v := range attrs {
		c.Attributes = append(c.Attributes, attribute.String(k, v))
	}
	if c.Sampler, err = samplerFrom(env[EnvSampler], env[EnvSamplerArg]); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(append(errs, c.Validate())...); err != nil {
		return c, err
	}
	return c, nil
}

func firstSet(env map[string]string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(env[n]); v != "" {
			return v
		}
	}
	return ""
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

// Tracing is a process's tracer provider and what flushes it.
type Tracing struct {
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider // nil when off
}

// Off is tracing turned off: a provider whose spans do nothing.
func Off() *Tracing { return &Tracing{provider: noop.NewTracerProvider()} }

// Open starts exporting as c says; with tracing off it returns Off().
// Nothing is dialled here: the exporter connects on its first batch, so an
// unreachable collector costs dropped spans, never a function.
func Open(c Config) (*Tracing, error) {
	if !c.Enabled() {
		return Off(), nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	// Headers always given, even none: the exporter would otherwise read
	// the process's OTEL_EXPORTER_OTLP_HEADERS, which under nova run is
	// every function's at once.
	headers := c.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(c.Endpoint), otlptracehttp.WithHeaders(headers)}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: exporter: %w", err)
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
	batch := c.BatchTimeout
	if batch <= 0 {
		batch = time.Second
	}
	sampler := c.Sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(batch)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
	)
	return &Tracing{provider: tp, sdk: tp}, nil
}

// FromEnv is ConfigFromEnv then Open.
func FromEnv(env map[string]string, service string) (*Tracing, error) {
	c, err := ConfigFromEnv(env, service)
	if err != nil {
		return nil, err
	}
	return Open(c)
}

// Provider is the provider the process's root spans start from.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Shutdown exports what is buffered, waiting until ctx ends.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// FromProvider wraps an SDK provider made elsewhere (a test's, exporting to
// memory) as a process's tracing.
func FromProvider(tp *sdktrace.TracerProvider) *Tracing { return &Tracing{provider: tp, sdk: tp} }
