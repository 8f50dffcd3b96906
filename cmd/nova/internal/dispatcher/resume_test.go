package dispatcher

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-social/nova/shared/testrig"
)

// TestResumesAfterRestartsOfDispatcherAndKafka stops the dispatcher mid-stream,
// starts another, stops it too, restarts the broker from its data directory
// on the same port, produces more and runs a third: every event is delivered
// at least once, none is skipped, and each run starts where the previous one
// committed.
func TestResumesAfterRestartsOfDispatcherAndKafka(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	opts := []testrig.KafkaOption{testrig.KafkaDataDir(dir), testrig.KafkaPort(port)}
	c := testrig.Kafka(t, opts...)
	brokers := c.ListenAddrs()
	const parts, perRun = 3, 60
	const total = 3 * perRun
	topic := newTopic(t, c, parts)
	produce(t, producer(t, brokers), plainRecords(topic, parts, 2*perRun, 0)...)

	s := newSink(t, func(hit, int) (int, string) {
		time.Sleep(2 * time.Millisecond) // slow enough to stop mid-stream
		return 202, ""
	})
	src := testSource(topic, s.URL(), nil)
	cfg := testConfig(brokers)
	cfg.CommitInterval = time.Hour // only the commit on leaving the group counts

	// phase runs a dispatcher until the sink has seen `until` distinct
	// events, stops it, and checks it started at the previous commit.
	prev := map[int32]int64{}
	phase := func(name string, until int) {
		t.Helper()
		before := len(s.snapshot())
		cfg.Registry = nil // a fresh registry per dispatcher
		run := start(t, cfg, src)
		waitFor(t, name+": events delivered", func() bool { return s.distinct() >= until })
		if until == total {
			// The last run finishes: everything left is delivered, not just sent.
			left := float64(total - (prev[0] + prev[1] + prev[2]))
			waitFor(t, name+": the rest done", func() bool {
				return testutil.ToFloat64(run.d.metrics.delivered.WithLabelValues(src.Ref())) >= left
			})
		}
		run.stop()
		for _, h := range s.snapshot()[before:] {
			if p, o := h.coordinates(); o < prev[p] {
				t.Errorf("%s: redelivered partition %d offset %d, below the committed %d", name, p, o, prev[p])
			}
		}
		prev = committed(t, brokers, src.ConsumerGroup, topic)
		t.Logf("%s: committed %v after %d deliveries", name, prev, s.count())
	}
	phase("first dispatcher", 20)
	phase("second dispatcher", 60)
	if prev[0]+prev[1]+prev[2] < 20 {
		t.Fatalf("only %v committed after two runs", prev)
	}

	c.Close()
	c = testrig.Kafka(t, opts...)
	if got := c.ListenAddrs(); got[0] != brokers[0] {
		t.Fatalf("broker came back at %v, not %v", got, brokers)
	}
	if got := committed(t, brokers, src.ConsumerGroup, topic); got[0] != prev[0] || got[1] != prev[1] || got[2] != prev[2] {
		t.Fatalf("committed offsets after the broker restart %v, before %v", got, prev)
	}
	produce(t, producer(t, brokers), plainRecords(topic, parts, perRun, 2*perRun)...)
	phase("after the broker restart", total)

	seen := map[int32]map[int64]bool{}
	for _, h := range s.snapshot() {
		p, o := h.coordinates()
		if seen[p] == nil {
			seen[p] = map[int64]bool{}
		}
		seen[p][o] = true
	}
	for p := int32(0); p < parts; p++ {
		for o := int64(0); o < total/parts; o++ {
			if !seen[p][o] {
				t.Errorf("partition %d offset %d was never delivered", p, o)
			}
		}
	}
	if got := prev[0] + prev[1] + prev[2]; got != total {
		t.Errorf("committed %v at the end, want %d in all", prev, total)
	}
	t.Logf("%d deliveries of %d events", s.count(), total)
}
