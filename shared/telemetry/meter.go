package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

type meterKey struct{}

// WithMeterProvider returns ctx carrying mp, for what a function opens at
// start-up (the outbox relay, the dead-letter store) to make its
// instruments with.
func WithMeterProvider(ctx context.Context, mp metric.MeterProvider) context.Context {
	return context.WithValue(ctx, meterKey{}, mp)
}

// MeterProviderFrom returns the provider WithMeterProvider put in ctx, else
// one whose instruments do nothing.
func MeterProviderFrom(ctx context.Context) metric.MeterProvider {
	if mp, ok := ctx.Value(meterKey{}).(metric.MeterProvider); ok && mp != nil {
		return mp
	}
	return metricnoop.NewMeterProvider()
}

// Meter is the Nova meter of mp; a nil mp is the no-op one.
func Meter(mp metric.MeterProvider) metric.Meter {
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	return mp.Meter(Scope)
}
