package outbox

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/nova-social/nova/shared/telemetry"
)

// The relay's instruments. Prometheus (OTLP in, underscore escaping with
// suffixes) names them nova_outbox_pending, nova_outbox_published_total and
// nova_outbox_send_failures_total; eventing/monitoring's dashboard reads
// them.
const (
	MetricPending      = "nova.outbox.pending"
	MetricPublished    = "nova.outbox.published"
	MetricSendFailures = "nova.outbox.send_failures"
)

// instrument registers the relay's instruments with cfg.Meter; they are
// read from its counters at each collection, so publishing costs nothing
// more. The pending gauge is the whole table's count per topic, the same
// from every replica: a dashboard takes the max over instances, not the
// sum.
func (r *Relay) instrument() (metric.Registration, error) {
	m := telemetry.Meter(r.cfg.Meter) // no Meter: the no-op one
	pending, err1 := m.Int64ObservableGauge(MetricPending, metric.WithUnit("{row}"),
		metric.WithDescription("Rows waiting in the outbox table, by topic, at the relay's last count (at most one poll interval old)."))
	published, err2 := m.Int64ObservableCounter(MetricPublished, metric.WithUnit("{record}"),
		metric.WithDescription("Outbox rows this relay published: the broker acknowledged them and the relay deleted them."))
	failed, err3 := m.Int64ObservableCounter(MetricSendFailures, metric.WithUnit("{record}"),
		metric.WithDescription("Records this relay failed to send (each retry of a row counts again)."))
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("outbox: instruments: %w", err)
	}
	topics := make(map[string]metric.MeasurementOption, len(r.cfg.Topics))
	for _, t := range r.cfg.Topics {
		topics[t] = metric.WithAttributeSet(attribute.NewSet(semconv.MessagingDestinationName(t)))
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if counts := r.pendingByTopic.Load(); counts != nil {
			for t, n := range *counts {
				o.ObserveInt64(pending, n, topics[t])
			}
		}
		o.ObserveInt64(published, int64(r.published.Load())) //nolint:gosec // a count of rows, far below 2^63
		o.ObserveInt64(failed, int64(r.failed.Load()))       //nolint:gosec // as above
		return nil
	}, pending, published, failed)
}
