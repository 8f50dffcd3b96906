package dispatcher

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/testrig"
)

func TestOrderedDeliversEachPartitionInOrderOneAtATime(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	topic := newTopic(t, c, 3)
	const n = 90
	produce(t, producer(t, brokers), plainRecords(topic, 3, n, 0)...)

	var (
		mu       sync.Mutex
		inFlight = map[int32]int{}
		overlap  bool
	)
	s := newSink(t, nil)
	s.respond = func(h hit, _ int) (int, string) {
		p, _ := h.coordinates()
		mu.Lock()
		inFlight[p]++
		if inFlight[p] > 1 {
			overlap = true
		}
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // shuffle the partitions' interleaving
		mu.Lock()
		inFlight[p]--
		mu.Unlock()
		return 202, ""
	}
	src := testSource(topic, s.URL(), nil)
	start(t, testConfig(brokers), src)
	waitFor(t, "every event delivered", func() bool { return s.count() >= n })

	mu.Lock()
	sawOverlap := overlap
	mu.Unlock()
	if sawOverlap {
		t.Error("two events of one partition were in flight at once in ordered mode")
	}
	next := map[int32]int64{}
	for _, h := range s.snapshot() {
		p, o := h.coordinates()
		if o != next[p] {
			t.Fatalf("partition %d: got offset %d, want %d (deliveries out of order or skipped)", p, o, next[p])
		}
		next[p]++
	}
	if next[0]+next[1]+next[2] != n || s.count() != n {
		t.Fatalf("delivered %v (%d requests), want %d events once each", next, s.count(), n)
	}
	waitFor(t, "offsets committed to the end", func() bool {
		got := committed(t, brokers, src.ConsumerGroup, topic)
		return got[0] == 30 && got[1] == 30 && got[2] == 30
	})
}

func TestUnorderedBoundsEventsInFlight(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	topic := newTopic(t, c, 2)
	const n, bound = 60, 5
	produce(t, producer(t, brokers), plainRecords(topic, 2, n, 0)...)

	// Without a bound, all sixty would pile up in the sink.
	gauge := newInFlight(bound, time.Millisecond)
	s := newSink(t, gauge.respond)
	cfg := testConfig(brokers)
	cfg.MaxInFlight = bound
	src := testSource(topic, s.URL(), func(s *source.KafkaSource) { s.Ordering = source.Unordered })
	start(t, cfg, src)
	waitFor(t, "every event delivered", func() bool { return s.distinct() >= n })

	if most := gauge.most(); most != bound {
		t.Fatalf("at most %d events were in flight at once, want exactly the bound %d", most, bound)
	}
	waitFor(t, "offsets committed to the end", func() bool {
		got := committed(t, brokers, src.ConsumerGroup, topic)
		return got[0] == n/2 && got[1] == n/2
	})
}
