package function

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/telemetry"
)

// The function's instruments. Prometheus (OTLP in, underscore escaping with
// suffixes) names them nova_dead_letters_stored_total and
// nova_dead_letters_pending; eventing/monitoring's dashboard reads them.
const (
	MetricStored  = "nova.dead_letters.stored"
	MetricPending = "nova.dead_letters.pending"
	// AttrDestination is the consumer that failed the event (the
	// knativeerrordest extension).
	AttrDestination = attribute.Key("nova.dead_letter.destination")
	// maxDestinations bounds the pending gauge's series.
	maxDestinations = 50
	// unverified stands for the destination and type of an event no
	// dispatcher vouched for: a stranger's values would be labels.
	unverified = "unverified"
)

type metrics struct {
	cat    *catalog.Catalog
	stored metric.Int64Counter
	reg    metric.Registration
}

// newMetrics makes the instruments on mp: a counter of entries stored, by
// destination and event type, and a gauge of the entries not yet replayed
// per destination, read from the store at each collection, so every replica
// reports the same whole-store figure (a dashboard takes the max).
func newMetrics(mp metric.MeterProvider, s *store.Store) (*metrics, error) {
	m := telemetry.Meter(mp)
	stored, err1 := m.Int64Counter(MetricStored, metric.WithUnit("{entry}"),
		metric.WithDescription("Dead letters this replica stored, by the destination that failed them and their event type."))
	pending, err2 := m.Int64ObservableGauge(MetricPending, metric.WithUnit("{entry}"),
		metric.WithDescription("Dead letters not yet replayed, by the destination that failed them (the 50 most failing)."))
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("dead-letter: instruments: %w", err)
	}
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		counts, err := s.PendingByDestination(ctx, maxDestinations)
		if err != nil {
			return err
		}
		for dest, n := range counts {
			o.ObserveInt64(pending, n, metric.WithAttributes(AttrDestination.String(dest)))
		}
		return nil
	}, pending)
	if err != nil {
		return nil, fmt.Errorf("dead-letter: instruments: %w", err)
	}
	return &metrics{cat: catalog.Default(), stored: stored, reg: reg}, nil
}

// storedOne counts an entry stored; verified says a dispatcher sent it.
func (m *metrics) storedOne(ctx context.Context, ent store.Entry, verified bool) {
	dest, typ := unverified, unverified
	if verified {
		dest, typ = ent.ErrorDest, ent.Type
		if _, known := m.cat.ByType(typ); !known {
			typ = "other" // a plain record's or an outside producer's type
		}
	}
	m.stored.Add(ctx, 1, metric.WithAttributes(AttrDestination.String(dest), semconv.CloudEventsEventType(typ)))
}

func (m *metrics) close() error { return m.reg.Unregister() }
