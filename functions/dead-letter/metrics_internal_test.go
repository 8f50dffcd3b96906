package function

import (
	"context"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/telemetry/telemetrytest"
	"github.com/nova-social/nova/shared/testrig"
)

func deadLetter(id, typ, dest string) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource("/nova/test")
	e.SetType(typ)
	e.SetExtension(delivery.ExtErrorDest, dest)
	e.SetExtension(delivery.ExtErrorCode, "500")
	return e
}

// TestMetrics: the pending gauge is the store's count per destination,
// falling as entries are replayed; the stored counter labels a
// dispatcher's entries by destination and type, and a stranger's as
// unverified.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	pool, err := migrate.Open(ctx, postgres.Config{URL: testrig.PostgresURL(t)}, store.Migrate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	meters := telemetrytest.NewMeters(t)
	m, err := newMetrics(meters, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.close() })

	const fanout, notifier = "http://feed-fanout.nova.svc", "http://notifier.nova.svc"
	const posted = "com.nova.content.post.created"
	for _, e := range []cloudevents.Event{
		deadLetter("a", posted, fanout), deadLetter("b", posted, fanout), deadLetter("c", "com.example.thing", notifier),
	} {
		if _, err := st.Save(ctx, e); err != nil {
			t.Fatal(err)
		}
		m.storedOne(ctx, store.EntryFromEvent(e), true)
	}
	stranger := deadLetter("d", posted, "http://anything.example")
	if _, err := st.SaveUntrusted(ctx, stranger); err != nil {
		t.Fatal(err)
	}
	m.storedOne(ctx, store.UntrustedEntry(stranger), false)

	pending := func(dest string) int64 {
		t.Helper()
		n, ok := meters.Int64(t, MetricPending, AttrDestination.String(dest))
		if !ok {
			return -1
		}
		return n
	}
	if a, b := pending(fanout), pending(notifier); a != 2 || b != 1 {
		t.Errorf("pending gauge: feed-fanout %d, notifier %d; want 2 and 1", a, b)
	}
	if err := st.MarkReplayed(ctx, "/nova/test", "a"); err != nil {
		t.Fatal(err)
	}
	if n := pending(fanout); n != 1 {
		t.Errorf("pending gauge for feed-fanout %d after a replay, want 1", n)
	}

	for _, c := range []struct {
		dest, typ string
		want      int64
	}{{fanout, posted, 2}, {notifier, "other", 1}, {unverified, unverified, 1}} {
		if n, _ := meters.Int64(t, MetricStored, AttrDestination.String(c.dest), semconv.CloudEventsEventType(c.typ)); n != c.want {
			t.Errorf("stored counter for %s, %s: %d, want %d", c.dest, c.typ, n, c.want)
		}
	}
}
