package kafka_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	kafkasarama "github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/envelope/roundtrip"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

func headerMap(hs []*sarama.RecordHeader) map[string]string {
	m := map[string]string{}
	for _, h := range hs {
		m[string(h.Key)] = string(h.Value)
	}
	return m
}

func TestSendWritesBinaryRecords(t *testing.T) {
	brokers := broker(t)
	p := newProducer(t, kafka.DefaultProducerConfig(brokers...))
	codec := envelope.NewCodec(catalog.Default())
	events, _ := roundtrip.Events(t, codec)
	recs := make([]kafka.Record, len(events))
	for i, e := range events {
		et, _ := catalog.Default().ByType(e.Type())
		recs[i] = kafka.Record{Topic: et.Topic, Event: e}
	}
	if err := p.Send(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	byID := map[string]cloudevents.Event{}
	for _, e := range events {
		byID[e.ID()] = e
	}
	for _, m := range consume(t, brokers, len(events)) {
		h := headerMap(m.Headers)
		sent, ok := byID[h["ce_id"]]
		if !ok {
			t.Fatalf("record with headers %v was not sent", h)
		}
		// The sdk's binding is the reference for the record layout.
		var want sarama.ProducerMessage
		if err := kafkasarama.WriteProducerMessage(context.Background(), binding.ToMessage(&sent), &want); err != nil {
			t.Fatal(err)
		}
		wantHeaders := map[string]string{}
		for _, h := range want.Headers {
			wantHeaders[string(h.Key)] = string(h.Value)
		}
		if len(h) != len(wantHeaders) {
			t.Errorf("%s: headers %v, want %v", sent.Type(), h, wantHeaders)
		}
		for k, v := range wantHeaders {
			if h[k] != v {
				t.Errorf("%s: header %s = %q, want %q", sent.Type(), k, h[k], v)
			}
		}
		wantKey, _ := want.Key.Encode()
		if string(m.Key) != string(wantKey) || string(m.Key) != sent.Extensions()["partitionkey"] {
			t.Errorf("%s: key %q, want %q", sent.Type(), m.Key, wantKey)
		}
		wantValue, _ := want.Value.Encode()
		if string(m.Value) != string(wantValue) {
			t.Errorf("%s: value differs from the binding's", sent.Type())
		}
		tp, _ := catalog.Default().Topic(m.Topic)
		if want := kafka.PartitionFor(m.Key, tp.Partitions); m.Partition != want {
			t.Errorf("%s: key %q on partition %d, murmur2 says %d", sent.Type(), m.Key, m.Partition, want)
		}
	}
}

func TestSendKeepsOrderPerKey(t *testing.T) {
	brokers := broker(t)
	p := newProducer(t, kafka.DefaultProducerConfig(brokers...))
	codec := envelope.NewCodec(catalog.Default())
	const n = 300
	users := []id.UserID{id.NewUserID(), id.NewUserID(), id.NewUserID()}
	var recs []kafka.Record
	for i := 0; i < n; i++ {
		e, err := codec.New(postDeleted(users[i%3]))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, kafka.Record{Topic: catalog.ContentEvents, Event: e})
	}
	if err := p.Send(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	got := consume(t, brokers, n)
	sort.SliceStable(got, func(i, j int) bool {
		if got[i].Partition != got[j].Partition {
			return got[i].Partition < got[j].Partition
		}
		return got[i].Offset < got[j].Offset
	})
	last := map[string]string{}
	for _, m := range got {
		id := headerMap(m.Headers)["ce_id"]
		if prev := last[string(m.Key)]; id <= prev {
			t.Fatalf("key %s: event %s after %s (UUIDv7 ids are in send order)", m.Key, id, prev)
		}
		last[string(m.Key)] = id
	}
}

func TestSendRejectsBadRecords(t *testing.T) {
	brokers := broker(t)
	p := newProducer(t, kafka.DefaultProducerConfig(brokers...))
	codec := envelope.NewCodec(catalog.Default())
	user := id.NewUserID()
	good, err := codec.New(postDeleted(user))
	if err != nil {
		t.Fatal(err)
	}
	unkeyed := good.Clone()
	unkeyed.SetExtension("partitionkey", nil)
	recs := []kafka.Record{
		{Topic: catalog.ContentEvents, Event: good},
		{Topic: "", Event: good},
		{Topic: catalog.ContentEvents, Key: id.NewUserID().String(), Event: good},
		{Topic: catalog.ContentEvents, Event: unkeyed},
		{Topic: catalog.ContentEvents, Key: user.String(), Event: unkeyed},
	}
	err = p.Send(context.Background(), recs...)
	var failed []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var se *kafka.SendError
		if !errors.As(e, &se) {
			t.Fatalf("%v is not a *SendError", e)
		}
		failed = append(failed, se.Index)
	}
	sort.Ints(failed)
	if len(failed) != 3 || failed[0] != 1 || failed[1] != 2 || failed[2] != 3 {
		t.Fatalf("failed records %v, want [1 2 3] (%v)", failed, err)
	}
	if n := len(consume(t, brokers, 2)); n != 2 {
		t.Fatalf("%d records written", n)
	}
}

func TestSendReturnsBrokerErrors(t *testing.T) {
	c := testrig.Kafka(t)
	// The broker refuses every write to content-events.
	c.RefuseWrites(t, catalog.ContentEvents)
	p := newProducer(t, kafka.DefaultProducerConfig(c.ListenAddrs()...))
	codec := envelope.NewCodec(catalog.Default())
	refused, err := codec.New(postDeleted(id.NewUserID()))
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := codec.New(&eventsv1.UserUnfollowed{FollowerId: id.NewUserID().String(), FolloweeId: id.NewUserID().String(), UnfollowedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Send(context.Background(),
		kafka.Record{Topic: catalog.ContentEvents, Event: refused},
		kafka.Record{Topic: catalog.UserEvents, Event: accepted})
	var se *kafka.SendError
	if !errors.As(err, &se) || se.Index != 0 || !errors.Is(err, sarama.ErrTopicAuthorizationFailed) {
		t.Fatalf("error %v, want record 0 refused with TOPIC_AUTHORIZATION_FAILED", err)
	}
	if strings.Count(err.Error(), "kafka: record") != 1 {
		t.Errorf("more than one record failed: %v", err)
	}
}

func TestSendHonoursContext(t *testing.T) {
	brokers := broker(t)
	p := newProducer(t, kafka.DefaultProducerConfig(brokers...))
	codec := envelope.NewCodec(catalog.Default())
	e, err := codec.New(postDeleted(id.NewUserID()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Send(ctx, kafka.Record{Topic: catalog.ContentEvents, Event: e}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: %v", err)
	}
}

func TestClose(t *testing.T) {
	brokers := broker(t)
	p, err := kafka.NewProducer(kafka.DefaultProducerConfig(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	codec := envelope.NewCodec(catalog.Default())
	e, err := codec.New(postDeleted(id.NewUserID()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(context.Background(), kafka.Record{Topic: catalog.ContentEvents, Event: e}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(context.Background(), kafka.Record{Topic: catalog.ContentEvents, Event: e}); !errors.Is(err, kafka.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestProducerConfig(t *testing.T) {
	if err := kafka.DefaultProducerConfig("127.0.0.1:9092").Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (kafka.ProducerConfig{Brokers: []string{"b:9092"}}).Validate(); err != nil {
		t.Fatalf("zero fields should take defaults: %v", err)
	}
	bad := []kafka.ProducerConfig{
		{},
		{Brokers: []string{""}},
		{Brokers: []string{"b:9092"}, KafkaVersion: "0.10.2.0"},
		{Brokers: []string{"b:9092"}, KafkaVersion: "nonsense"},
		{Brokers: []string{"b:9092"}, Linger: -1},
		{Brokers: []string{"b:9092"}, Encoding: 7},
	}
	for i, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("config %d accepted: %+v", i, c)
		}
		if _, err := kafka.NewProducer(c); err == nil {
			t.Errorf("NewProducer accepted config %d", i)
		}
	}
}

func TestParseBrokers(t *testing.T) {
	got := kafka.ParseBrokers(" a:9092, ,b:9092,")
	if len(got) != 2 || got[0] != "a:9092" || got[1] != "b:9092" {
		t.Fatalf("ParseBrokers = %q", got)
	}
	if got := kafka.ParseBrokers(""); len(got) != 0 {
		t.Fatalf("empty list gave %q", got)
	}
}
