package outbox_test

import (
	"testing"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/telemetry/telemetrytest"
)

// TestRelayMetrics: while the broker refuses content-events, the pending
// gauge holds that topic's rows (and 0 for the relay's other topics) and
// failures count up; once it takes them, the gauge falls to 0 and the
// published counter holds the rows.
func TestRelayMetrics(t *testing.T) {
	f := setup(t)
	f.kafka.RefuseWrites(t, catalog.ContentEvents)
	f.enqueue(t, post(user("erin"), 1))
	f.enqueue(t, post(user("erin"), 2))
	meters := telemetrytest.NewMeters(t)
	f.relay(t, f.pool, f.producer(t), outbox.Config{Meter: meters, PollInterval: 50 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})

	content := semconv.MessagingDestinationName(catalog.ContentEvents)
	eventually(t, "content-events' pending gauge at 2", func() bool {
		n, ok := meters.Int64(t, outbox.MetricPending, content)
		return ok && n == 2
	})
	if n, ok := meters.Int64(t, outbox.MetricPending, semconv.MessagingDestinationName(catalog.UserEvents)); !ok || n != 0 {
		t.Errorf("user-events' pending gauge: %d (present %v), want 0", n, ok)
	}
	eventually(t, "send failures counted", func() bool {
		n, _ := meters.Int64(t, outbox.MetricSendFailures)
		return n > 0
	})

	f.kafka.RefuseWrites(t)
	eventually(t, "content-events' pending gauge back at 0", func() bool {
		n, ok := meters.Int64(t, outbox.MetricPending, content)
		return ok && n == 0
	})
	if n, _ := meters.Int64(t, outbox.MetricPublished); n != 2 {
		t.Errorf("published counter %d, want 2", n)
	}
}
