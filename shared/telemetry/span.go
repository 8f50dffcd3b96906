package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope every Nova span is started under.
const Scope = "github.com/nova-social/nova"

type providerKey struct{}

// WithProvider returns ctx carrying tp, for code that starts a trace of its
// own below a function's start-up (the outbox relay a function opens) and
// so has no span to take a provider from.
func WithProvider(ctx context.Context, tp trace.TracerProvider) context.Context {
	return context.WithValue(ctx, providerKey{}, tp)
}

// ProviderFrom returns the provider WithProvider put in ctx, else that of
// the span in ctx, else one whose spans do nothing.
func ProviderFrom(ctx context.Context) trace.TracerProvider {
	if tp, ok := ctx.Value(providerKey{}).(trace.TracerProvider); ok && tp != nil {
		return tp
	}
	if s := trace.SpanFromContext(ctx); s.IsRecording() {
		return s.TracerProvider()
	}
	return noop.NewTracerProvider()
}

// Tracer is the Nova tracer of tp; a nil tp is the no-op one.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(Scope)
}

// Child starts a span under the recording span in ctx, on that span's own
// provider. Without one (tracing off, the trace not sampled, no trace at
// all: a relay's poll, a migration) it starts nothing and returns ctx and
// its span unchanged, so a library's calls outside a trace cost a context
// lookup and no root spans appear for background work.
func Child(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name, opts...)
}
