package dispatcher

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/testrig"
)

// Benchmarks of the dispatcher against a no-op function (an HTTP server
// answering 202), beside an in-process Sarama consumer group reading the same
// kind of topic in the same run: the ceiling, since the dispatcher is that
// consumer plus an HTTP round trip per event. Run from cmd/nova:
//
//	go test -run '^$' -bench Throughput -benchtime 20000x ./internal/dispatcher
//	go test -run '^$' -bench Latency -benchtime 1000x ./internal/dispatcher
//
// Throughput drains a backlog of binary-mode CloudEvent records from a
// six-partition topic; latency is produce-to-delivery of records produced one
// at a time.

const benchPartitions = 6

// benchRecord is a binary-mode CloudEvent record about the size of a Nova
// event, its value carrying the time it was produced.
func benchRecord(topic string, i int) *kgo.Record {
	value := make([]byte, 120)
	copy(value, strconv.FormatInt(time.Now().UnixNano(), 10)+" ")
	return &kgo.Record{Topic: topic, Partition: int32(i % benchPartitions), Key: []byte("user-" + strconv.Itoa(i%97)), Value: value,
		Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")},
			{Key: "ce_id", Value: []byte(fmt.Sprintf("0190a8a0-0000-7000-8000-%012d", i))},
			{Key: "ce_type", Value: []byte("com.nova.content.post.created")},
			{Key: "ce_source", Value: []byte("/nova/content-service")},
			{Key: "ce_subject", Value: []byte("post-" + strconv.Itoa(i))},
			{Key: "ce_partitionkey", Value: []byte("user-" + strconv.Itoa(i%97))},
			{Key: "content-type", Value: []byte("application/protobuf")},
		}}
}

func producedAt(value []byte) time.Time {
	end := slices.Index(value, ' ')
	if end < 0 {
		return time.Time{}
	}
	ns, _ := strconv.ParseInt(string(value[:end]), 10, 64)
	return time.Unix(0, ns)
}

// noop is the no-op function: it counts events and, when asked, their
// produce-to-delivery latency.
type noop struct {
	srv   *httptest.Server
	count atomic.Int64
	mu    sync.Mutex
	lat   []time.Duration
	keep  bool
}

func newNoop(b *testing.B, keepLatency bool) *noop {
	n := &noop{keep: keepLatency}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.keep {
			buf := make([]byte, 32)
			k, _ := r.Body.Read(buf)
			lat := time.Since(producedAt(buf[:k]))
			n.mu.Lock()
			n.lat = append(n.lat, lat)
			n.mu.Unlock()
		}
		n.count.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(n.srv.Close)
	return n
}

func benchSource(topic string, sink *noop, ordering source.Ordering) source.KafkaSource {
	s := testSource(topic, sink.URL(), func(s *source.KafkaSource) { s.Ordering = ordering })
	return s
}

func (n *noop) URL() *url.URL {
	u, _ := url.Parse(n.srv.URL)
	return u
}

func benchConfig(brokers []string) Config {
	c := testConfig(brokers)
	c.CommitInterval = time.Second
	c.LagInterval = time.Minute
	return c
}

func waitCount(b *testing.B, what string, cur func() int64, want int64) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for cur() < want {
		if time.Now().After(deadline) {
			b.Fatalf("gave up waiting for %s: %d of %d", what, cur(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// ceilingHandler consumes and marks, doing nothing else.
type ceilingHandler struct {
	count atomic.Int64
	mu    sync.Mutex
	lat   []time.Duration
	keep  bool
}

func (h *ceilingHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *ceilingHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *ceilingHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		if h.keep {
			lat := time.Since(producedAt(msg.Value))
			h.mu.Lock()
			h.lat = append(h.lat, lat)
			h.mu.Unlock()
		}
		sess.MarkMessage(msg, "")
		h.count.Add(1)
	}
	return nil
}

// runCeiling runs a Sarama consumer group (the dispatcher's settings) over
// topic until stop is closed.
func runCeiling(b *testing.B, brokers []string, topic string, h *ceilingHandler) (stop func()) {
	b.Helper()
	r := &runner{d: &Dispatcher{cfg: benchConfig(brokers).Defaults()}, src: source.KafkaSource{InitialOffset: source.OffsetEarliest}}
	sc, err := r.saramaConfig()
	if err != nil {
		b.Fatal(err)
	}
	g, err := sarama.NewConsumerGroup(brokers, "ceiling-"+testrig.ID(), sc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				b.Errorf("ceiling consumer: %v", err)
				return
			}
		}
	}()
	return func() { cancel(); <-done; _ = g.Close() }
}

func BenchmarkThroughput(b *testing.B) {
	c := testrig.Kafka(b)
	brokers := c.ListenAddrs()
	cl := producer(b, brokers)
	backlog := func(b *testing.B) string {
		b.StopTimer()
		topic := newTopic(b, c, benchPartitions)
		recs := make([]*kgo.Record, b.N)
		for i := range recs {
			recs[i] = benchRecord(topic, i)
		}
		produce(b, cl, recs...)
		b.StartTimer()
		return topic
	}
	report := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	}
	b.Run("sarama-ceiling", func(b *testing.B) {
		topic := backlog(b)
		start := time.Now()
		h := &ceilingHandler{}
		stop := runCeiling(b, brokers, topic, h)
		waitCount(b, "ceiling", h.count.Load, int64(b.N))
		report(b, start)
		b.StopTimer()
		stop()
	})
	for _, ord := range []source.Ordering{source.Ordered, source.Unordered} {
		b.Run("dispatcher-"+string(ord), func(b *testing.B) {
			topic := backlog(b)
			sink := newNoop(b, false)
			start := time.Now()
			run := startBench(b, benchConfig(brokers), benchSource(topic, sink, ord))
			waitCount(b, "delivered", sink.count.Load, int64(b.N))
			report(b, start)
			b.StopTimer()
			run()
		})
	}
}

func BenchmarkLatency(b *testing.B) {
	c := testrig.Kafka(b)
	brokers := c.ListenAddrs()
	cl := producer(b, brokers)
	// paced produces one record at a time, waiting for each to be consumed,
	// so the latency is the path's, not a queue's.
	paced := func(b *testing.B, topic string, consumed func() int64) {
		for i := range b.N {
			produce(b, cl, benchRecord(topic, i))
			waitCount(b, "consumed", consumed, int64(i+1))
		}
	}
	quantiles := func(b *testing.B, lat []time.Duration) {
		slices.Sort(lat)
		if len(lat) == 0 {
			return
		}
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
		b.ReportMetric(q(0.50), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
	}
	// ready waits until a warm-up record went through, so joining the group
	// is not measured.
	warm := func(b *testing.B, topic string, consumed func() int64) {
		produce(b, cl, benchRecord(topic, 0))
		waitCount(b, "warm-up", consumed, 1)
	}
	b.Run("sarama-ceiling", func(b *testing.B) {
		b.StopTimer()
		topic := newTopic(b, c, benchPartitions)
		h := &ceilingHandler{}
		stop := runCeiling(b, brokers, topic, h)
		warm(b, topic, h.count.Load)
		h.mu.Lock()
		h.keep, h.lat = true, nil
		h.mu.Unlock()
		b.StartTimer()
		paced(b, topic, func() int64 { return h.count.Load() - 1 })
		b.StopTimer()
		stop()
		quantiles(b, h.lat)
	})
	for _, ord := range []source.Ordering{source.Ordered, source.Unordered} {
		b.Run("dispatcher-"+string(ord), func(b *testing.B) {
			b.StopTimer()
			topic := newTopic(b, c, benchPartitions)
			sink := newNoop(b, false)
			run := startBench(b, benchConfig(brokers), benchSource(topic, sink, ord))
			warm(b, topic, sink.count.Load)
			sink.mu.Lock()
			sink.keep, sink.lat = true, nil
			sink.mu.Unlock()
			b.StartTimer()
			paced(b, topic, func() int64 { return sink.count.Load() - 1 })
			b.StopTimer()
			run()
			quantiles(b, sink.lat)
		})
	}
}

// startBench runs a dispatcher for a benchmark and returns its stop.
func startBench(b *testing.B, cfg Config, src source.KafkaSource) (stop func()) {
	b.Helper()
	d, err := New(context.Background(), cfg, []source.KafkaSource{src}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	}
}
