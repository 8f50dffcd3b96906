package dispatcher

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/testrig"
)

// TestRecordsReachTheSinkAsKnativeDeliversThem runs a manifest (sink by
// reference, resolved like a function's name) over four records: a plain
// JSON record, a binary-mode CloudEvent, a structured-mode CloudEvent and a
// record claiming to be a CloudEvent that is not one.
func TestRecordsReachTheSinkAsKnativeDeliversThem(t *testing.T) {
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	topic := newTopic(t, c, 1)
	s := newSink(t, nil)

	manifest := fmt.Sprintf(`apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata:
  name: display
  namespace: nova
spec:
  consumerGroup: display-%s
  bootstrapServers: [cluster-bootstrap:9092]
  topics: [%s]
  initialOffset: earliest
  ceOverrides:
    extensions:
      novatest: "yes"
  sink:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: event-display
`, testrig.ID(), topic)
	srcs, err := source.Parse("display.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"post_id":"p1","user_id":"u1"}`)
	binaryData := []byte{0x0a, 0x02, 'p', '1'}
	structured := []byte(`{"specversion":"1.0","id":"s-1","type":"com.nova.content.post.deleted","source":"/nova/content-service","subject":"p9","datacontenttype":"application/json","data":{"post_id":"p9"}}`)
	produce(t, producer(t, brokers),
		&kgo.Record{Topic: topic, Key: []byte("u1"), Value: plain},
		&kgo.Record{Topic: topic, Key: []byte("u2"), Value: binaryData, Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")},
			{Key: "ce_id", Value: []byte("0190a8a0-0000-7000-8000-000000000001")},
			{Key: "ce_type", Value: []byte("com.nova.content.post.created")},
			{Key: "ce_source", Value: []byte("/nova/content-service")},
			{Key: "ce_subject", Value: []byte("p1")},
			{Key: "ce_partitionkey", Value: []byte("u2")},
			{Key: "ce_dataschema", Value: []byte("https://type.googleapis.com/nova.events.v1.PostCreated")},
			{Key: "content-type", Value: []byte("application/protobuf")},
		}},
		&kgo.Record{Topic: topic, Value: structured, Headers: []kgo.RecordHeader{
			{Key: "content-type", Value: []byte("application/cloudevents+json")},
		}},
		&kgo.Record{Topic: topic, Value: []byte("not really"), Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")}, // and nothing else a CloudEvent needs
		}},
	)

	cfg := testConfig(brokers)
	d, err := New(t.Context(), cfg, srcs, MapResolver{"event-display": s.srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if sink, dls, ok := d.Sink("nova/display"); !ok || sink.String() != s.srv.URL+"/" || dls != nil {
		t.Fatalf("Sink = %v %v %v", sink, dls, ok)
	}
	done := make(chan error, 1)
	ctx, cancel := contextWithCancel(t)
	go func() { done <- d.Run(ctx) }()
	waitFor(t, "four events delivered", func() bool { return s.count() >= 4 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	hits := s.snapshot()
	if len(hits) != 4 {
		t.Fatalf("sink got %d requests, want 4", len(hits))
	}
	check := func(name string, h hit, want map[string]string, body []byte) {
		t.Helper()
		for k, v := range want {
			if got := h.header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got, v)
			}
		}
		if !bytes.Equal(h.body, body) {
			t.Errorf("%s: body %q, want %q", name, h.body, body)
		}
	}
	check("plain record", hits[0], map[string]string{
		"Ce-Specversion":  "1.0",
		"Ce-Type":         "dev.knative.kafka.event",
		"Ce-Id":           "partition:0/offset:0",
		"Ce-Source":       "/apis/v1/namespaces/nova/kafkasources/display#" + topic,
		"Ce-Subject":      "partition:0#0",
		"Ce-Key":          "u1",
		"Ce-Partitionkey": "u1",
		"Ce-Novatest":     "yes",
	}, plain)
	if hits[0].header.Get("Ce-Time") == "" {
		t.Error("plain record: no ce-time (Knative sets the record timestamp)")
	}
	check("binary CloudEvent", hits[1], map[string]string{
		"Ce-Id":           "0190a8a0-0000-7000-8000-000000000001",
		"Ce-Type":         "com.nova.content.post.created",
		"Ce-Source":       "/nova/content-service",
		"Ce-Subject":      "p1",
		"Ce-Partitionkey": "u2",
		"Ce-Dataschema":   "https://type.googleapis.com/nova.events.v1.PostCreated",
		"Content-Type":    "application/protobuf",
		"Ce-Key":          "",
		"Ce-Novatest":     "yes",
	}, binaryData)
	check("structured CloudEvent, sent in binary mode", hits[2], map[string]string{
		"Ce-Id":        "s-1",
		"Ce-Type":      "com.nova.content.post.deleted",
		"Ce-Subject":   "p9",
		"Content-Type": "application/json",
	}, []byte(`{"post_id":"p9"}`))
	check("unreadable CloudEvent, wrapped", hits[3], map[string]string{
		"Ce-Type":          "dev.knative.kafka.event",
		"Ce-Id":            "partition:0/offset:3",
		"Ce-Cespecversion": "MS4w", // the record's headers become (binary) extensions
	}, []byte("not really"))
	for i, h := range hits {
		if h.header.Get("Ce-Knativeerrordest") != "" {
			t.Errorf("hit %d carries dead-letter extensions", i)
		}
	}
}

func TestNewRefusesWhatCannotRun(t *testing.T) {
	sink := newSink(t, nil)
	a := testSource("t", sink.URL(), nil)
	b := testSource("t", sink.URL(), func(s *source.KafkaSource) { s.ConsumerGroup = a.ConsumerGroup })
	ref := testSource("t", nil, func(s *source.KafkaSource) {
		s.Sink = source.Destination{Ref: &source.Reference{Kind: "Service", Name: "missing", Namespace: "nova"}}
	})
	cfg := testConfig([]string{"127.0.0.1:1"})
	for name, tc := range map[string]struct {
		srcs []source.KafkaSource
		res  Resolver
	}{
		"shared consumer group": {[]source.KafkaSource{a, b}, nil},
		"unresolvable sink":     {[]source.KafkaSource{ref}, MapResolver{"other": "http://x"}},
		"no resolver":           {[]source.KafkaSource{ref}, nil},
	} {
		if _, err := New(t.Context(), cfg, tc.srcs, tc.res); err == nil {
			t.Errorf("%s: New succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	bad := cfg
	bad.MaxInFlight = -1
	if _, err := New(t.Context(), bad, []source.KafkaSource{a}, nil); err == nil {
		t.Error("New accepted MaxInFlight -1")
	}
}
