package telemetrytest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Meters is a meter provider a test collects from when it asks.
type Meters struct {
	*sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

// NewMeters returns a provider read by hand, shut down with the test.
func NewMeters(t testing.TB) *Meters {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &Meters{MeterProvider: mp, reader: r}
}

// Int64 collects now and returns the int64 gauge's or sum's point of name
// whose attributes include attrs; ok is false when there is none.
func (m *Meters) Int64(t testing.TB, name string, attrs ...attribute.KeyValue) (v int64, ok bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != name {
				continue
			}
			var points []metricdata.DataPoint[int64]
			switch d := mt.Data.(type) {
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			case metricdata.Sum[int64]:
				points = d.DataPoints
			default:
				t.Fatalf("metric %s is a %T, not an int64 gauge or sum", name, mt.Data)
			}
			for _, p := range points {
				if hasAll(p.Attributes, attrs) {
					return p.Value, true
				}
			}
		}
	}
	return 0, false
}

func hasAll(set attribute.Set, attrs []attribute.KeyValue) bool {
	for _, kv := range attrs {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}
