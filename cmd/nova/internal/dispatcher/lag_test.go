package dispatcher

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-social/nova/shared/testrig"
)

func TestLagGaugeFollowsTheCommittedOffset(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	topic := newTopic(t, c, 2)
	const n, delivered = 10, 3
	// Partition 0 gets ten records; partition 1 none.
	produce(t, producer(t, brokers), plainRecords(topic, 1, n, 0)...)
	hold := make(chan struct{})
	s := newSink(t, func(h hit, _ int) (int, string) {
		if _, o := h.coordinates(); o >= delivered {
			<-hold
		}
		return 202, ""
	})
	t.Cleanup(func() { close(hold) }) // runs before the sink's Close
	src := testSource(topic, s.URL(), nil)
	run := start(t, testConfig(brokers), src)

	gauge := run.d.metrics.lag.WithLabelValues(src.ConsumerGroup, topic, "0")
	waitFor(t, "kafka_consumer_lag at 7", func() bool { return testutil.ToFloat64(gauge) == n-delivered })

	lags, err := run.d.Lag(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]Lag{}
	for _, l := range lags {
		got[l.Partition] = l
	}
	if l := got[0]; l.Committed != delivered || l.End != n || l.Lag != n-delivered || l.Group != src.ConsumerGroup || l.Source != src.Ref() {
		t.Errorf("partition 0 lag = %+v", l)
	}
	if l := got[1]; l.End != 0 || l.Lag != 0 {
		t.Errorf("partition 1 lag = %+v", l)
	}

	srv := httptest.NewServer(run.d.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`kafka_consumer_lag{group="` + src.ConsumerGroup + `",partition="0",topic="` + topic + `"} 7`,
		`nova_dispatcher_events_delivered_total{source="` + src.Ref() + `"} 3`,
		`nova_dispatcher_events_in_flight{source="` + src.Ref() + `"} 1`,
		`nova_dispatcher_delivery_latency_seconds_count{outcome="delivered",source="` + src.Ref() + `"} 3`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s\n%s", want, body)
		}
	}
}

// Consumer lag is read right after the partitions' leaders move (a
// rolling restart of the cluster): the dispatcher's metadata is stale, the
// old leaders answer NOT_LEADER_OR_FOLLOWER, and Lag asks the new ones
// rather than failing until the next metadata refresh.
func TestLagAfterLeadersMove(t *testing.T) {
	c := testrig.Kafka(t, testrig.KafkaNodes(3))
	brokers := c.ListenAddrs()
	topic := newTopic(t, c, 6)
	const n = 30
	produce(t, producer(t, brokers), plainRecords(topic, 6, n, 0)...)
	s := newSink(t, func(hit, int) (int, string) { return 202, "" })
	src := testSource(topic, s.URL(), nil)
	run := start(t, testConfig(brokers), src)
	waitFor(t, "every record delivered", func() bool { return s.distinct() == n })

	for i := range 5 {
		c.MoveLeaders(t)
		lags, err := run.d.Lag(t.Context())
		if err != nil {
			t.Fatalf("lag after move %d: %v", i+1, err)
		}
		var end int64
		for _, l := range lags {
			end += l.End
		}
		if end != n {
			t.Fatalf("after move %d the partitions end at %d records in all, want %d: %+v", i+1, end, n, lags)
		}
	}
}
