package console

import (
	"fmt"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The dispatcher's series the console reads (dispatcher/metrics.go).
const (
	seriesLag          = "kafka_consumer_lag"
	seriesDelivered    = "nova_dispatcher_events_delivered_total"
	seriesRetried      = "nova_dispatcher_delivery_retries_total"
	seriesDeadLettered = "nova_dispatcher_events_dead_lettered_total"
	seriesDiscarded    = "nova_dispatcher_events_discarded_total"
	seriesInFlight     = "nova_dispatcher_events_in_flight"
)

// Figures are one flow's counts at a moment.
type Figures struct {
	Delivered    float64 `json:"delivered"`
	Retried      float64 `json:"retried"`
	DeadLettered float64 `json:"dead_lettered"`
	Discarded    float64 `json:"discarded"`
	InFlight     float64 `json:"in_flight"`
	// Lag is the consumer group's lag summed over its partitions, as the
	// dispatcher last read it (every few seconds).
	Lag float64 `json:"lag"`
	// Rate is deliveries per second since the previous snapshot; nil for
	// the first.
	Rate *float64 `json:"rate"`
}

// Snapshot is every flow's figures, by Flow.ID.
type Snapshot struct {
	At    time.Time          `json:"at"`
	Flows map[string]Figures `json:"flows"`
}

// snapshot reads the figures of the flows from the registry now.
func (c *Console) snapshot() (Snapshot, error) {
	mfs, err := c.cfg.Metrics.Gather()
	if err != nil {
		return Snapshot{}, fmt.Errorf("console: read the dispatcher's metrics: %w", err)
	}
	bySource := map[string]map[string]float64{} // series → source label → value
	lagByGroup := map[string]float64{}
	for _, mf := range mfs {
		name := mf.GetName()
		switch name {
		case seriesLag:
			for _, m := range mf.GetMetric() {
				lagByGroup[label(m, "group")] += m.GetGauge().GetValue()
			}
		case seriesDelivered, seriesRetried, seriesDeadLettered, seriesDiscarded, seriesInFlight:
			vals := map[string]float64{}
			for _, m := range mf.GetMetric() {
				v := m.GetCounter().GetValue()
				if m.GetGauge() != nil {
					v = m.GetGauge().GetValue()
				}
				vals[label(m, "source")] += v
			}
			bySource[name] = vals
		}
	}
	s := Snapshot{At: time.Now(), Flows: make(map[string]Figures, len(c.topo.Flows))}
	for _, f := range c.topo.Flows {
		s.Flows[f.ID] = Figures{
			Delivered:    bySource[seriesDelivered][f.Ref],
			Retried:      bySource[seriesRetried][f.Ref],
			DeadLettered: bySource[seriesDeadLettered][f.Ref],
			Discarded:    bySource[seriesDiscarded][f.Ref],
			InFlight:     bySource[seriesInFlight][f.Ref],
			Lag:          lagByGroup[f.Group],
		}
	}
	return s, nil
}

// withRates fills each flow's delivery rate since prev.
func (s Snapshot) withRates(prev Snapshot) Snapshot {
	dt := s.At.Sub(prev.At).Seconds()
	if prev.Flows == nil || dt <= 0 {
		return s
	}
	for id, f := range s.Flows {
		p, ok := prev.Flows[id]
		if !ok {
			continue
		}
		// A counter that went down was made again (the dispatcher
		// restarted); the rate starts afresh.
		r := max(f.Delivered-p.Delivered, 0) / dt
		f.Rate = &r
		s.Flows[id] = f
	}
	return s
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
