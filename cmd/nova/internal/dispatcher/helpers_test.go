package dispatcher

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/testrig"
)

// waitLimit bounds every wait for an outcome; it is a deadlock guard, not a
// performance assertion.
const waitLimit = 30 * time.Second

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newTopic makes a topic of its own for a test.
func newTopic(t testing.TB, c *testrig.KafkaBroker, partitions int32) string {
	t.Helper()
	name := "dispatch-" + testrig.ID()
	c.CreateTopic(t, name, partitions)
	return name
}

func producer(t testing.TB, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes plain records "v-<i>" round-robin over partitions (or
// into the partition each record names) and waits for the acks.
func produce(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func plainRecords(topic string, partitions int32, n, from int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: []byte("v-" + strconv.Itoa(from+i))}
	}
	return recs
}

// committed reads a group's committed offsets of topic (partition → offset).
func committed(t testing.TB, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := admin(t, brokers).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		if o.Err == nil {
			out[p] = o.At
		}
	}
	return out
}

// admin is an admin client of brokers, closed when the test ends.
func admin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// hit is one request a test sink received.
type hit struct {
	at     time.Time
	header http.Header
	body   []byte
}

func (h hit) id() string { return h.header.Get("Ce-Id") }

// coordinates reads partition and offset from a wrapped plain record's id.
func (h hit) coordinates() (int32, int64) {
	var p, o int64
	id := h.id()
	if ps, os, ok := strings.Cut(strings.TrimPrefix(id, "partition:"), "/offset:"); ok {
		p, _ = strconv.ParseInt(ps, 10, 32)
		o, _ = strconv.ParseInt(os, 10, 64)
	}
	return int32(p), o
}

// sink is a test function: a real HTTP server whose answers the test decides.
type sink struct {
	srv      *httptest.Server
	mu       sync.Mutex
	hits     []hit
	attempts map[string]int
	// respond picks the status and body for an event on its n-th attempt
	// (1-based); nil answers 202.
	respond func(h hit, n int) (int, string)
}

func newSink(t testing.TB, respond func(h hit, n int) (int, string)) *sink {
	s := &sink{attempts: map[string]int{}, respond: respond}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := hit{at: time.Now(), header: r.Header.Clone(), body: body}
		s.mu.Lock()
		s.attempts[h.id()]++
		n := s.attempts[h.id()]
		s.hits = append(s.hits, h)
		s.mu.Unlock()
		status, resp := http.StatusAccepted, ""
		if s.respond != nil {
			status, resp = s.respond(h, n)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) URL() *url.URL {
	u, _ := url.Parse(s.srv.URL)
	return u
}

func (s *sink) snapshot() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hits)
}

func (s *sink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.attempts)
}

// testSource is a KafkaSource on topic posting to sink, ordered, from the
// earliest offset, without retries; mod adjusts it.
func testSource(topic string, to *url.URL, mod func(*source.KafkaSource)) source.KafkaSource {
	s := source.KafkaSource{
		File:          "test.yaml",
		Name:          "src-" + testrig.ID(),
		Namespace:     "nova",
		Topics:        []string{topic},
		InitialOffset: source.OffsetEarliest,
		Ordering:      source.Ordered,
		Delivery: source.Delivery{
			BackoffPolicy: source.BackoffLinear,
			BackoffDelay:  10 * time.Millisecond,
			Timeout:       10 * time.Second,
		},
		Sink: source.Destination{URI: to},
	}
	s.ConsumerGroup = "group-" + s.Name
	if mod != nil {
		mod(&s)
	}
	return s
}

func testConfig(brokers []string) Config {
	return Config{
		Brokers:        brokers,
		CommitInterval: 20 * time.Millisecond,
		LagInterval:    20 * time.Millisecond,
		Registry:       prometheus.NewRegistry(),
		Logger:         slog.New(slog.NewTextHandler(testLogOut, nil)),
	}
}

// running is a dispatcher started by a test.
type running struct {
	d    *Dispatcher
	stop func()
}

// start runs a dispatcher until stop is called or the test ends.
func start(t testing.TB, cfg Config, srcs ...source.KafkaSource) running {
	t.Helper()
	d, err := New(context.Background(), cfg, srcs, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return run(t, d)
}

// run runs d until stop is called or the test ends; Run must then return
// nil, as it does when its context ends.
func run(t testing.TB, d *Dispatcher) running {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return running{d: d, stop: stop}
}

// inFlight is a sink's answer that holds every request until bound are in
// flight at once (the most a bound dispatcher allows; an unbounded one would
// pile up more, an ordered one would never get there), then answers 202
// after hold. Most is the largest number it saw at once.
type inFlight struct {
	bound   int
	hold    time.Duration
	mu      sync.Mutex
	cur     int
	highest int
	full    chan struct{}
	once    sync.Once
}

func newInFlight(bound int, hold time.Duration) *inFlight {
	return &inFlight{bound: bound, hold: hold, full: make(chan struct{})}
}

func (g *inFlight) respond(hit, int) (int, string) {
	g.mu.Lock()
	g.cur++
	g.highest = max(g.highest, g.cur)
	if g.cur == g.bound {
		g.once.Do(func() { close(g.full) })
	}
	g.mu.Unlock()
	<-g.full
	time.Sleep(g.hold)
	g.mu.Lock()
	g.cur--
	g.mu.Unlock()
	return 202, ""
}

func (g *inFlight) most() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.highest
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var testLogOut io.Writer = io.Discard

func contextWithCancel(t testing.TB) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}
