package dispatcher

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the dispatcher's Prometheus series. kafka_consumer_lag keeps the
// name and labels of kafka-lag-exporter's series so the design document's
// alert (kafka_consumer_lag > 1000) reads it unchanged; the rest are labelled
// by source ("<namespace>/<name>", or "trigger:<namespace>/<name>").
type metrics struct {
	lag               *prometheus.GaugeVec
	delivered         *prometheus.CounterVec
	retried           *prometheus.CounterVec
	deadLettered      *prometheus.CounterVec
	deadLetterRetried *prometheus.CounterVec
	discarded         *prometheus.CounterVec
	inFlight          *prometheus.GaugeVec
	latency           *prometheus.HistogramVec
	// Triggers only: records not delivered by design, and replies stored.
	skipped *prometheus.CounterVec
	replies *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kafka_consumer_lag",
			Help: "Records between a consumer group's committed offset and the partition's end.",
		}, []string{"group", "topic", "partition"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nova_dispatcher_events_delivered_total",
			Help: "Events the sink accepted with a 2xx.",
		}, []string{"source"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nova_dispatcher_delivery_retries_total",
			Help: "Retries of a delivery to the sink after a retryable failure.",
		}, []string{"source"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nova_dispatcher_events_dead_lettered_total",
			Help: "Events the dead-letter sink accepted after the sink refused them for good.",
		}, []string{"source"}),
		deadLetterRetried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nova_dispatcher_dead_letter_retries_total",
			Help: "Retries of a delivery to the dead-letter sink.",
		}, []string{"source"}),
		discarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nova_dispatcher_events_discarded_total",
			Help: "Events that failed for good at a source without a dead-letter sink (Knative drops them).",
		}, []string{"source"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nova_dispatcher_events_in_flight",
			Help: "Events being delivered now.",
		}, []string{"source"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nova_dispatcher_delivery_latency_seconds",
			Help:    "Time from the first attempt at an event to its outcome (delivered or dead-lettered), retries included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"source", "outcome"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nova_dispatcher_events_skipped_total",
			Help: "Records of a Broker's topic a Trigger committed without delivering: filtered out, a failing filter, or not a CloudEvent.",
		}, []string{"source", "reason"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nova_dispatcher_replies_total",
			Help: "Reply events of a Trigger's subscriber stored into its Broker.",
		}, []string{"source"}),
	}
	var err error
	for _, c := range []any{&m.lag, &m.delivered, &m.retried, &m.deadLettered,
		&m.deadLetterRetried, &m.discarded, &m.inFlight, &m.latency, &m.skipped, &m.replies} {
		switch c := c.(type) {
		case **prometheus.GaugeVec:
			*c, err = register(reg, *c)
		case **prometheus.CounterVec:
			*c, err = register(reg, *c)
		case **prometheus.HistogramVec:
			*c, err = register(reg, *c)
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// register adds c to reg or, when a dispatcher made earlier in the process
// registered the same series there, reuses that one, so the runtime can
// replace its dispatcher without a fresh registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// Handler serves the dispatcher's registry in the Prometheus text format, for
// the runtime to mount at /metrics.
func (d *Dispatcher) Handler() http.Handler {
	return promhttp.HandlerFor(d.cfg.Registry, promhttp.HandlerOpts{Registry: d.cfg.Registry})
}
