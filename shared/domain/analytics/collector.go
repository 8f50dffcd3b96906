package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the analytics counters to Prometheus, read from the
// tables at each scrape, so every replica reports the same totals:
//
//	nova_analytics_events_total{topic, event, kind}   counter
//	nova_analytics_daily_active_users                 gauge (the current UTC day)
//
// Per-post totals are events_total{event="Engagement", kind=...}; net likes
// are kind="LIKE" minus kind="UNLIKE". A scrape reads the hourly table
// (topics × events × hours rows) and one day's active users, never the
// per-post table.
type Collector struct {
	pool    *pgxpool.Pool
	now     func() time.Time
	timeout time.Duration

	events, dau *prometheus.Desc
}

// NewCollector returns a Collector reading through pool. now is the clock
// (nil: time.Now).
func NewCollector(pool *pgxpool.Pool, now func() time.Time) *Collector {
	if now == nil {
		now = time.Now
	}
	return &Collector{
		pool: pool, now: now, timeout: 5 * time.Second,
		events: prometheus.NewDesc("nova_analytics_events_total",
			"Events counted by analytics, by topic, event and engagement kind (empty for other events).",
			[]string{"topic", "event", "kind"}, nil),
		dau: prometheus.NewDesc("nova_analytics_daily_active_users",
			"Users who caused at least one event in the current UTC day.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.dau
}

// Collect implements prometheus.Collector. A failed read reports an invalid
// metric, which the scrape shows as an error, rather than zeros.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.collectEvents(ctx, ch); err != nil {
		ch <- prometheus.NewInvalidMetric(c.events, err)
	}
	var dau int64
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM analytics_user_days WHERE day = $1::date`,
		c.now().UTC().Format(time.DateOnly)).Scan(&dau); err != nil {
		ch <- prometheus.NewInvalidMetric(c.dau, fmt.Errorf("analytics: daily active users: %w", err))
	} else {
		ch <- prometheus.MustNewConstMetric(c.dau, prometheus.GaugeValue, float64(dau))
	}
}

func (c *Collector) collectEvents(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := c.pool.Query(ctx, `SELECT topic, event, kind, sum(events)::bigint FROM analytics_event_hours GROUP BY topic, event, kind`)
	if err != nil {
		return fmt.Errorf("analytics: events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			topic, event, kind string
			n                  int64
		)
		if err := rows.Scan(&topic, &event, &kind, &n); err != nil {
			return fmt.Errorf("analytics: events: %w", err)
		}
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(n), topic, event, kind)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("analytics: events: %w", err)
	}
	return nil
}
