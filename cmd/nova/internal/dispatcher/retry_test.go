package dispatcher

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/testrig"
)

func TestRetriesFollowTheBackoffPolicy(t *testing.T) {
	for _, policy := range []source.BackoffPolicy{source.BackoffLinear, source.BackoffExponential} {
		t.Run(string(policy), func(t *testing.T) {
			c := testrig.Kafka(t)
			brokers := c.ListenAddrs()
			topic := newTopic(t, c, 1)
			const events, retries = 3, 3
			produce(t, producer(t, brokers), plainRecords(topic, 1, events, 0)...)
			s := newSink(t, func(_ hit, n int) (int, string) {
				if n <= retries {
					return http.StatusServiceUnavailable, "busy"
				}
				return http.StatusAccepted, ""
			})
			src := testSource(topic, s.URL(), func(s *source.KafkaSource) {
				s.Delivery.Retry = retries
				s.Delivery.BackoffPolicy = policy
				s.Delivery.BackoffDelay = 10 * time.Millisecond
			})
			cfg := testConfig(brokers)
			run := start(t, cfg, src)
			waitFor(t, "every event delivered after its retries", func() bool {
				return testutil.ToFloat64(run.d.metrics.delivered.WithLabelValues(src.Ref())) == events
			})

			byID := map[string][]time.Time{}
			for _, h := range s.snapshot() {
				byID[h.id()] = append(byID[h.id()], h.at)
			}
			if len(byID) != events {
				t.Fatalf("sink saw %d events, want %d", len(byID), events)
			}
			for id, at := range byID {
				if len(at) != retries+1 {
					t.Fatalf("%s: %d attempts, want %d", id, len(at), retries+1)
				}
				for n := 1; n <= retries; n++ {
					gap, want := at[n].Sub(at[n-1]), src.Delivery.Backoff(n)
					// The wait is at least the policy's; the upper bound only
					// catches a wrong formula, it is not a speed requirement.
					if gap < want || gap > want+2*time.Second {
						t.Errorf("%s: retry %d came %v after the previous attempt, want %v (policy %s)", id, n, gap, want, policy)
					}
				}
			}
			if got := testutil.ToFloat64(run.d.metrics.retried.WithLabelValues(src.Ref())); got != events*retries {
				t.Errorf("retries counter = %v, want %d", got, events*retries)
			}
		})
	}
}

// statusRecord asks the test sink to answer with code.
func statusRecord(topic string, code int) *kgo.Record {
	return &kgo.Record{Topic: topic, Value: []byte("status:" + strconv.Itoa(code))}
}

func TestStatusesDecideBetweenRetryAndDeadLetter(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	topic := newTopic(t, c, 1)
	retryable := []int{404, 408, 409, 429, 500, 502, 503}
	final := []int{301, 400, 401, 403, 410, 422}
	delivered := []int{200, 202, 204}
	var recs []*kgo.Record
	for _, group := range [][]int{retryable, final, delivered} {
		for _, code := range group {
			recs = append(recs, statusRecord(topic, code))
		}
	}
	produce(t, producer(t, brokers), recs...)

	s := newSink(t, func(h hit, _ int) (int, string) {
		code, _ := strconv.Atoi(strings.TrimPrefix(string(h.body), "status:"))
		return code, fmt.Sprintf("refused with %d", code)
	})
	// The failed response's kne-* headers become extensions; set one.
	inner := s.srv.Config.Handler
	s.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Kne-Reason", "tested")
		inner.ServeHTTP(w, r)
	})
	dls := newSink(t, nil)
	src := testSource(topic, s.URL(), func(s *source.KafkaSource) {
		s.Delivery.Retry = 2
		s.Delivery.BackoffDelay = time.Millisecond
		s.Delivery.DeadLetterSink = &source.Destination{URI: dls.URL()}
	})
	run := start(t, testConfig(brokers), src)
	failed := len(retryable) + len(final)
	waitFor(t, "every failure dead-lettered", func() bool { return dls.count() >= failed })
	waitFor(t, "every event done", func() bool { return committed(t, brokers, src.ConsumerGroup, topic)[0] == int64(len(recs)) })

	attempts := map[int]int{}
	for _, h := range s.snapshot() {
		code, _ := strconv.Atoi(strings.TrimPrefix(string(h.body), "status:"))
		attempts[code]++
	}
	for _, code := range retryable {
		if attempts[code] != 3 {
			t.Errorf("status %d: %d attempts, want 3 (1 + retry 2)", code, attempts[code])
		}
	}
	for _, code := range append(final, delivered...) {
		if attempts[code] != 1 {
			t.Errorf("status %d: %d attempts, want 1", code, attempts[code])
		}
	}

	dead := map[int]hit{}
	for _, h := range dls.snapshot() {
		code, _ := strconv.Atoi(strings.TrimPrefix(string(h.body), "status:"))
		dead[code] = h
	}
	if len(dead) != failed || dls.count() != failed {
		t.Fatalf("dead-letter sink got %d events (%d distinct), want %d", dls.count(), len(dead), failed)
	}
	for _, code := range append(retryable, final...) {
		h, ok := dead[code]
		if !ok {
			t.Errorf("status %d was not dead-lettered", code)
			continue
		}
		want := map[string]string{
			"Ce-Knativeerrordest":      s.srv.URL,
			"Ce-Knativeerrorcode":      strconv.Itoa(code),
			"Ce-Knativeerrordata":      base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("refused with %d", code))),
			"Ce-Knativekafkatopic":     topic,
			"Ce-Knativekafkapartition": "0",
			"Ce-Reason":                "tested",
			"Ce-Type":                  "dev.knative.kafka.event",
		}
		for k, v := range want {
			if got := h.header.Get(k); got != v {
				t.Errorf("status %d: dead-lettered %s = %q, want %q", code, k, got, v)
			}
		}
		if _, err := strconv.ParseInt(h.header.Get("Ce-Knativekafkaoffset"), 10, 64); err != nil {
			t.Errorf("status %d: knativekafkaoffset = %q", code, h.header.Get("Ce-Knativekafkaoffset"))
		}
	}
	m := run.d.metrics
	if got := testutil.ToFloat64(m.deadLettered.WithLabelValues(src.Ref())); got != float64(failed) {
		t.Errorf("dead-lettered counter = %v, want %d", got, failed)
	}
	if got := testutil.ToFloat64(m.delivered.WithLabelValues(src.Ref())); got != float64(len(delivered)) {
		t.Errorf("delivered counter = %v, want %d", got, len(delivered))
	}
	if got := testutil.ToFloat64(m.retried.WithLabelValues(src.Ref())); got != float64(2*len(retryable)) {
		t.Errorf("retried counter = %v, want %d", got, 2*len(retryable))
	}
}

func TestTimeoutAndTransportErrorsAreRetried(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	cl := producer(t, brokers)

	// A sink slower than the timeout on the first attempt only.
	slowTopic := newTopic(t, c, 1)
	produce(t, cl, plainRecords(slowTopic, 1, 1, 0)...)
	release := make(chan struct{})
	slow := newSink(t, func(_ hit, n int) (int, string) {
		if n == 1 {
			<-release
		}
		return http.StatusAccepted, ""
	})
	t.Cleanup(func() { close(release) }) // runs before the sink's Close
	slowSrc := testSource(slowTopic, slow.URL(), func(s *source.KafkaSource) {
		s.Delivery.Retry = 1
		s.Delivery.Timeout = 50 * time.Millisecond
	})

	// A sink nobody listens on.
	deadTopic := newTopic(t, c, 1)
	produce(t, cl, plainRecords(deadTopic, 1, 1, 0)...)
	gone := newSink(t, nil)
	gone.srv.Close()
	dls := newSink(t, nil)
	deadSrc := testSource(deadTopic, gone.URL(), func(s *source.KafkaSource) {
		s.Delivery.Retry = 2
		s.Delivery.DeadLetterSink = &source.Destination{URI: dls.URL()}
	})

	run := start(t, testConfig(brokers), slowSrc, deadSrc)
	waitFor(t, "the slow sink's event delivered on its retry", func() bool {
		return testutil.ToFloat64(run.d.metrics.delivered.WithLabelValues(slowSrc.Ref())) == 1
	})
	if got := slow.count(); got != 2 {
		t.Errorf("slow sink got %d attempts, want 2 (the first timed out)", got)
	}
	waitFor(t, "the unreachable sink's event dead-lettered", func() bool { return dls.count() == 1 })
	h := dls.snapshot()[0]
	if got := h.header.Get("Ce-Knativeerrordest"); got != gone.srv.URL {
		t.Errorf("knativeerrordest = %q, want %q", got, gone.srv.URL)
	}
	if code, data := h.header.Get("Ce-Knativeerrorcode"), h.header.Get("Ce-Knativeerrordata"); code != "" || data != "" {
		t.Errorf("no response came back, yet knativeerrorcode=%q knativeerrordata=%q", code, data)
	}
	if got := testutil.ToFloat64(run.d.metrics.retried.WithLabelValues(deadSrc.Ref())); got != 2 {
		t.Errorf("retries of the unreachable sink = %v, want 2", got)
	}
}

func TestFailingDeadLetterSinkHoldsTheCommit(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	topic := newTopic(t, c, 1)
	produce(t, producer(t, brokers), statusRecord(topic, 202), statusRecord(topic, 400), statusRecord(topic, 202))
	s := newSink(t, func(h hit, _ int) (int, string) {
		code, _ := strconv.Atoi(strings.TrimPrefix(string(h.body), "status:"))
		return code, ""
	})
	var accept atomic.Bool
	dls := newSink(t, func(hit, int) (int, string) {
		if accept.Load() {
			return http.StatusAccepted, ""
		}
		return http.StatusBadRequest, "not now" // even a 4xx from the dead-letter sink is retried
	})
	src := testSource(topic, s.URL(), func(s *source.KafkaSource) {
		s.Delivery.Retry = 1
		s.Delivery.BackoffDelay = time.Millisecond
		s.Delivery.DeadLetterSink = &source.Destination{URI: dls.URL()}
	})
	cfg := testConfig(brokers)
	cfg.DeadLetterBackoffMax = 20 * time.Millisecond
	start(t, cfg, src)

	waitFor(t, "the dead-letter sink tried well past the retries", func() bool { return dls.count() >= 6 })
	waitFor(t, "the event before the failure committed", func() bool {
		return committed(t, brokers, src.ConsumerGroup, topic)[0] == 1
	})
	time.Sleep(10 * testConfig(nil).CommitInterval) // leave room for a wrong commit to happen
	if got := committed(t, brokers, src.ConsumerGroup, topic)[0]; got != 1 {
		t.Fatalf("committed offset %d while offset 1 is neither delivered nor dead-lettered", got)
	}
	if s.count() != 2 { // offset 0, and offset 1 once (400 is final)
		t.Fatalf("ordered source went past the undone event: sink saw %d events", s.count())
	}
	accept.Store(true)
	waitFor(t, "everything committed once the dead-letter sink accepts", func() bool {
		return committed(t, brokers, src.ConsumerGroup, topic)[0] == 3
	})
}

func TestUnorderedCommitsOnlyPastDoneEvents(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	topic := newTopic(t, c, 1)
	const n, held = 10, 2
	produce(t, producer(t, brokers), plainRecords(topic, 1, n, 0)...)
	release := make(chan struct{})
	var releaseOnce atomic.Bool
	s := newSink(t, func(h hit, _ int) (int, string) {
		if _, o := h.coordinates(); o == held {
			<-release
		}
		return http.StatusAccepted, ""
	})
	t.Cleanup(func() { // runs before the sink's Close
		if releaseOnce.CompareAndSwap(false, true) {
			close(release)
		}
	})
	src := testSource(topic, s.URL(), func(s *source.KafkaSource) { s.Ordering = source.Unordered })
	run := start(t, testConfig(brokers), src)

	waitFor(t, "every event but the held one delivered", func() bool {
		return testutil.ToFloat64(run.d.metrics.delivered.WithLabelValues(src.Ref())) == n-1
	})
	waitFor(t, "the events before the held one committed", func() bool {
		return committed(t, brokers, src.ConsumerGroup, topic)[0] == held
	})
	time.Sleep(10 * testConfig(nil).CommitInterval) // leave room for a wrong commit to happen
	if got := committed(t, brokers, src.ConsumerGroup, topic)[0]; got != held {
		t.Fatalf("committed offset %d while offset %d is still in flight", got, held)
	}
	releaseOnce.Store(true)
	close(release)
	waitFor(t, "everything committed once the held event is done", func() bool {
		return committed(t, brokers, src.ConsumerGroup, topic)[0] == n
	})
}
