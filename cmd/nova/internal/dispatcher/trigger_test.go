package dispatcher

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// testBroker is a Kafka Broker on kfake: its topic and a store writing
// into it as the ingress does.
type testBroker struct {
	b     eventbroker.Broker
	store eventbroker.Store
	c     *testrig.KafkaBroker
	parts int32
}

func newTestBroker(t testing.TB, c *testrig.KafkaBroker, parts int32, delivery *eventbroker.DeliverySpec) *testBroker {
	t.Helper()
	b := eventbroker.Broker{Name: "b-" + testrig.ID(), Namespace: "nova", Delivery: delivery,
		Kafka: eventbroker.TopicConfig{BootstrapServers: c.ListenAddrs(), Partitions: parts, Replication: 1}}
	c.CreateTopic(t, b.Topic(), parts)
	p, err := kafka.NewProducer(kafka.DefaultProducerConfig(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &testBroker{b: b, store: eventbroker.NewStore(p), c: c, parts: parts}
}

// ce is an event of type typ keyed by key.
func ce(id, typ, key string) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource("/test")
	e.SetType(typ)
	if key != "" {
		e.SetExtension("partitionkey", key)
	}
	_ = e.SetData("text/plain", []byte(id))
	return e
}

func (tb *testBroker) append(t testing.TB, es ...cloudevents.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for _, e := range es {
		if err := tb.store.Append(ctx, tb.b.Topic(), e); err != nil {
			t.Fatalf("append %s: %v", e.ID(), err)
		}
	}
}

// trigger is a Trigger of tb whose filter is spec (nil: every event)
// posting to sub; mod adjusts it.
func (tb *testBroker) trigger(t testing.TB, to *url.URL, filters []eventbroker.FilterSpec, mod func(*eventbroker.Trigger)) Trigger {
	t.Helper()
	f, err := eventbroker.NewFilter(nil, filters)
	if err != nil {
		t.Fatal(err)
	}
	tr := eventbroker.Trigger{File: "test.yaml", Name: "t-" + testrig.ID(), Namespace: "nova", Broker: tb.b.Name,
		Filter: f, Ordering: eventbroker.DefaultOrdering, Subscriber: source.Destination{URI: to}}
	if mod != nil {
		mod(&tr)
	}
	return Trigger{Trigger: tr, Broker: tb.b, Reply: func(ctx context.Context, e cloudevents.Event) error {
		return tb.store.Append(ctx, tb.b.Topic(), e)
	}}
}

// startTriggers runs a dispatcher of trigs and waits until each has
// committed its starting offsets, as it does before consuming.
func startTriggers(t testing.TB, cfg Config, tb *testBroker, trigs ...Trigger) running {
	t.Helper()
	d, err := NewWithTriggers(context.Background(), cfg, nil, trigs, nil)
	if err != nil {
		t.Fatalf("NewWithTriggers: %v", err)
	}
	r := run(t, d)
	for _, tr := range trigs {
		waitFor(t, "initial offsets of "+tr.Trigger.Ref(), func() bool {
			return len(tryCommitted(tb.c.ListenAddrs(), tr.Trigger.ConsumerGroup(), tb.b.Topic())) == int(tb.parts)
		})
	}
	return r
}

// tryCommitted is committed for a group that may not exist yet (nothing
// committed then).
func tryCommitted(brokers []string, group, topic string) map[int32]int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return nil
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		if o.Err == nil && o.At >= 0 {
			out[p] = o.At
		}
	}
	return out
}

func exact(kv ...string) eventbroker.FilterSpec {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return eventbroker.FilterSpec{Exact: m}
}

// A Trigger starts at the end of its Broker's topic, delivers only what
// its filter lets through, with the record's coordinates and the Kafka
// Broker's headers, and commits past what it filters out and what is no
// CloudEvent.
func TestTriggerFiltersFromTheLatestOffset(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	tb := newTestBroker(t, c, 2, nil)
	tb.append(t, ce("before-1", "wanted", "k1"), ce("before-2", "wanted", "k2"))

	s := newSink(t, nil)
	tr := tb.trigger(t, s.URL(), []eventbroker.FilterSpec{{Any: []eventbroker.FilterSpec{exact("type", "wanted"), exact("type", "also")}}}, nil)
	run := startTriggers(t, testConfig(brokers), tb, tr)
	start := committed(t, brokers, tr.Trigger.ConsumerGroup(), tb.b.Topic())
	if start[0]+start[1] != 2 {
		t.Fatalf("initial offsets %v, want the end of the topic (2 records)", start)
	}

	tb.append(t, ce("a", "wanted", "k1"), ce("b", "other", "k1"), ce("c", "also", "k2"), ce("d", "other", "k2"))
	// Records that are no CloudEvent, or a broken one, are discarded.
	produce(t, producer(t, brokers),
		&kgo.Record{Topic: tb.b.Topic(), Partition: 0, Value: []byte("plain")},
		&kgo.Record{Topic: tb.b.Topic(), Partition: 1, Value: []byte("broken"),
			Headers: []kgo.RecordHeader{{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("x")}}})
	tb.append(t, ce("e", "wanted", "k1"))

	waitFor(t, "records committed to the end", func() bool {
		got := committed(t, brokers, tr.Trigger.ConsumerGroup(), tb.b.Topic())
		return got[0]+got[1] == 2+5+2
	})
	var ids []string
	for _, h := range s.snapshot() {
		ids = append(ids, h.id())
		p, _ := strconv.Atoi(h.header.Get("Ce-Knativekafkapartition"))
		o, err := strconv.ParseInt(h.header.Get("Ce-Knativekafkaoffset"), 10, 64)
		if err != nil || int32(p) != kafka.PartitionFor([]byte(h.header.Get("Ce-Partitionkey")), 2) || o < 1 {
			t.Errorf("%s: knativekafkapartition %q knativekafkaoffset %q, want its broker-topic record's",
				h.id(), h.header.Get("Ce-Knativekafkapartition"), h.header.Get("Ce-Knativekafkaoffset"))
		}
		if h.header.Get("Prefer") != "reply" || h.header.Get("Kn-Namespace") != "nova" {
			t.Errorf("%s: Prefer %q Kn-Namespace %q", h.id(), h.header.Get("Prefer"), h.header.Get("Kn-Namespace"))
		}
	}
	if strings.Join(sorted(ids), ",") != "a,c,e" {
		t.Fatalf("delivered %v, want a, c and e only", ids)
	}
	ref := tr.Trigger.Ref()
	for reason, want := range map[string]float64{"filtered": 2, "invalid": 2} {
		if got := testutil.ToFloat64(run.d.metrics.skipped.WithLabelValues("trigger:"+ref, reason)); got != want {
			t.Errorf("skipped %s = %v, want %v", reason, got, want)
		}
	}
	lags, err := run.d.Lag(context.Background())
	if err != nil || len(lags) != 2 || lags[0].Source != "trigger:"+ref || lags[0].Lag+lags[1].Lag != 0 {
		t.Errorf("lag %+v, %v", lags, err)
	}

	// A restart resumes from the committed offsets, not from the end.
	run.stop()
	tb.append(t, ce("while-down", "wanted", "k2"))
	startTriggers(t, testConfig(brokers), tb, tr)
	waitFor(t, "the event stored while the trigger was down", func() bool { return s.distinct() == 4 })
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// ordered (the annotation) is one event in flight per partition, in offset
// order; the default, unordered, has several in flight at once.
func TestTriggerDeliveryOrder(t *testing.T) {
	t.Run("ordered", func(t *testing.T) {
		c := testrig.Kafka(t)
		tb := newTestBroker(t, c, 3, nil)
		var (
			mu       sync.Mutex
			inFlight = map[string]int{}
			overlap  bool
		)
		s := newSink(t, nil)
		s.respond = func(h hit, _ int) (int, string) {
			p := h.header.Get("Ce-Knativekafkapartition")
			mu.Lock()
			inFlight[p]++
			overlap = overlap || inFlight[p] > 1
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inFlight[p]--
			mu.Unlock()
			return 202, ""
		}
		tr := tb.trigger(t, s.URL(), nil, func(tr *eventbroker.Trigger) { tr.Ordering = source.Ordered })
		startTriggers(t, testConfig(c.ListenAddrs()), tb, tr)
		const n = 60
		var es []cloudevents.Event
		for i := range n {
			es = append(es, ce(fmt.Sprintf("e%02d", i), "x", fmt.Sprintf("k%d", i%6)))
		}
		tb.append(t, es...)
		waitFor(t, "every event delivered", func() bool { return s.count() >= n })
		mu.Lock()
		defer mu.Unlock()
		if overlap {
			t.Error("two events of one partition were in flight at once")
		}
		last := map[string]int64{}
		for _, h := range s.snapshot() {
			p := h.header.Get("Ce-Knativekafkapartition")
			o, _ := strconv.ParseInt(h.header.Get("Ce-Knativekafkaoffset"), 10, 64)
			if prev, ok := last[p]; ok && o != prev+1 {
				t.Fatalf("partition %s: offset %d after %d", p, o, prev)
			}
			last[p] = o
		}
	})
	t.Run("unordered by default", func(t *testing.T) {
		c := testrig.Kafka(t)
		tb := newTestBroker(t, c, 1, nil)
		const n, bound = 20, 4
		// Ordered delivery would never reach the bound on one partition.
		gauge := newInFlight(bound, 0)
		s := newSink(t, gauge.respond)
		tr := tb.trigger(t, s.URL(), nil, nil)
		if tr.Trigger.Ordering != source.Unordered {
			t.Fatalf("default ordering %s", tr.Trigger.Ordering)
		}
		cfg := testConfig(c.ListenAddrs())
		cfg.MaxInFlight = bound
		startTriggers(t, cfg, tb, tr)
		var es []cloudevents.Event
		for i := range n {
			es = append(es, ce(fmt.Sprintf("u%02d", i), "x", "one-key"))
		}
		tb.append(t, es...)
		waitFor(t, "every event delivered", func() bool { return s.distinct() >= n })
		if most := gauge.most(); most != bound {
			t.Fatalf("at most %d events in flight, want %d", most, bound)
		}
	})
}

// A reply event is stored into the Broker and delivered like any other; an
// empty 2xx is a plain success; a 2xx body that is no CloudEvent fails the
// event without a retry, and it is dead-lettered with knativeerrordest only.
func TestTriggerReplies(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	dls := newSink(t, nil)
	retry := int32(3)
	tb := newTestBroker(t, c, 2, &eventbroker.DeliverySpec{Retry: &retry, DeadLetterSink: &source.Destination{URI: dls.URL()}})
	s := newSink(t, nil)
	inner := s.srv.Config.Handler
	s.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Ce-Type") {
		case "question":
			w.Header().Set("Ce-Specversion", "1.0")
			w.Header().Set("Ce-Id", "answer-to-"+r.Header.Get("Ce-Id"))
			w.Header().Set("Ce-Source", "/subscriber")
			w.Header().Set("Ce-Type", "answer")
			w.Header().Set("Ce-Partitionkey", r.Header.Get("Ce-Partitionkey"))
			w.Header().Set("Content-Type", "text/plain")
		case "chatty":
			w.Header().Set("Content-Type", "application/json")
		}
		inner.ServeHTTP(w, r)
	})
	s.respond = func(h hit, _ int) (int, string) {
		switch h.header.Get("Ce-Type") {
		case "question":
			return http.StatusOK, "42"
		case "chatty":
			return http.StatusOK, `{"ok":true}`
		}
		return http.StatusAccepted, ""
	}
	tr := tb.trigger(t, s.URL(), nil, nil)
	run := startTriggers(t, testConfig(brokers), tb, tr)
	tb.append(t, ce("q1", "question", "k"), ce("n1", "note", "k"), ce("c1", "chatty", "k"))

	waitFor(t, "the answer delivered through the broker", func() bool {
		for _, h := range s.snapshot() {
			if h.id() == "answer-to-q1" {
				return true
			}
		}
		return false
	})
	waitFor(t, "the chatty event dead-lettered", func() bool { return dls.count() >= 1 })
	var answer hit
	attempts := map[string]int{}
	for _, h := range s.snapshot() {
		attempts[h.id()]++
		if h.id() == "answer-to-q1" {
			answer = h
		}
	}
	if string(answer.body) != "42" || answer.header.Get("Ce-Source") != "/subscriber" || answer.header.Get("Ce-Knativekafkaoffset") == "" {
		t.Errorf("reply delivered as %q %v", answer.body, answer.header)
	}
	if attempts["c1"] != 1 {
		t.Errorf("the event whose response was no CloudEvent was tried %d times, want 1 (no retry)", attempts["c1"])
	}
	dl := dls.snapshot()[0]
	if dl.id() != "c1" || dl.header.Get("Ce-Knativeerrordest") != s.URL().String() ||
		dl.header.Get("Ce-Knativeerrorcode") != "" || dl.header.Get("Ce-Knativeerrordata") != "" {
		t.Errorf("dead letter %s with errordest %q code %q data %q, want c1 with knativeerrordest only",
			dl.id(), dl.header.Get("Ce-Knativeerrordest"), dl.header.Get("Ce-Knativeerrorcode"), dl.header.Get("Ce-Knativeerrordata"))
	}
	waitFor(t, "everything committed", func() bool {
		got := committed(t, brokers, tr.Trigger.ConsumerGroup(), tb.b.Topic())
		return got[0]+got[1] == 4 // three events and the reply
	})
	if got := testutil.ToFloat64(run.d.metrics.replies.WithLabelValues(TriggerRef(tr.Trigger))); got != 1 {
		t.Errorf("replies = %v, want 1", got)
	}
	if dls.count() != 1 {
		t.Errorf("%d dead letters, want 1", dls.count())
	}
}

// Without a delivery of its own a Trigger takes its Broker's, whole; with
// one, nothing of the Broker's (a Trigger that sets only retry has no
// dead-letter sink).
func TestTriggerDeliveryFallsBackToTheBrokerAsAWhole(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	dls := newSink(t, nil)
	retry, one := int32(2), int32(1)
	delay := time.Millisecond
	tb := newTestBroker(t, c, 1, &eventbroker.DeliverySpec{Retry: &retry, BackoffDelay: &delay,
		DeadLetterSink: &source.Destination{URI: dls.URL()}})
	failing := newSink(t, func(hit, int) (int, string) { return http.StatusInternalServerError, "down" })
	fallback := tb.trigger(t, failing.URL(), []eventbroker.FilterSpec{exact("type", "fallback")}, nil)
	own := tb.trigger(t, failing.URL(), []eventbroker.FilterSpec{exact("type", "own")}, func(tr *eventbroker.Trigger) {
		tr.Delivery = &eventbroker.DeliverySpec{Retry: &one, BackoffDelay: &delay}
	})
	run := startTriggers(t, testConfig(brokers), tb, fallback, own)
	tb.append(t, ce("f", "fallback", "k"), ce("o", "own", "k"))
	waitFor(t, "both events done", func() bool {
		return committed(t, brokers, fallback.Trigger.ConsumerGroup(), tb.b.Topic())[0] == 2 &&
			committed(t, brokers, own.Trigger.ConsumerGroup(), tb.b.Topic())[0] == 2
	})
	attempts := map[string]int{}
	for _, h := range failing.snapshot() {
		attempts[h.id()]++
	}
	if attempts["f"] != 3 || attempts["o"] != 2 {
		t.Errorf("attempts %v, want f 3 (the Broker's retry 2) and o 2 (its own retry 1)", attempts)
	}
	if dls.count() != 1 || dls.snapshot()[0].id() != "f" || dls.snapshot()[0].header.Get("Ce-Knativeerrorcode") != "500" {
		t.Errorf("dead letters %d, want f alone with code 500", dls.count())
	}
	if got := testutil.ToFloat64(run.d.metrics.discarded.WithLabelValues(TriggerRef(own.Trigger))); got != 1 {
		t.Errorf("own delivery without a dead-letter sink: discarded %v, want 1", got)
	}
}

func TestNewWithTriggersRefusesWhatCannotRun(t *testing.T) {
	c := testrig.Kafka(t)
	tb := newTestBroker(t, c, 1, nil)
	good := tb.trigger(t, &url.URL{Scheme: "http", Host: "x"}, nil, nil)
	noReply := good
	noReply.Reply = nil
	otherBroker := good
	otherBroker.Trigger.Broker = "elsewhere"
	unresolved := good
	unresolved.Trigger.Subscriber = source.Destination{Ref: &source.Reference{Kind: "Service", Name: "nobody"}}
	for name, tr := range map[string]Trigger{"no reply": noReply, "other broker": otherBroker, "unresolved subscriber": unresolved} {
		if _, err := NewWithTriggers(context.Background(), testConfig(c.ListenAddrs()), nil, []Trigger{tr}, MapResolver{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewWithTriggers(context.Background(), testConfig(c.ListenAddrs()), nil, []Trigger{good, good}, nil); err == nil ||
		!strings.Contains(err.Error(), "consumer group") {
		t.Errorf("two triggers of one name: %v", err)
	}
}
