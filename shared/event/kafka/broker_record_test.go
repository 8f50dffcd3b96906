package kafka_test

import (
	"context"
	"errors"
	"testing"

	"github.com/IBM/sarama"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
)

// The Knative Kafka Broker stores an event without a partitionkey under no
// key; KeyOptional lets the producer do the same, and only then.
func TestSendKeyOptionalWritesUnkeyedRecords(t *testing.T) {
	brokers := broker(t)
	p := newProducer(t, kafka.DefaultProducerConfig(brokers...))
	user := id.NewUserID()
	e, err := envelope.NewCodec(catalog.Default()).New(postDeleted(user))
	if err != nil {
		t.Fatal(err)
	}
	keyed := e.Clone()
	unkeyed := e.Clone()
	unkeyed.SetID("unkeyed")
	unkeyed.SetExtension("partitionkey", nil)
	err = p.Send(context.Background(),
		kafka.Record{Topic: catalog.ContentEvents, Event: keyed, KeyOptional: true},
		kafka.Record{Topic: catalog.ContentEvents, Event: unkeyed, KeyOptional: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range consume(t, brokers, 2) {
		h := headerMap(m.Headers)
		switch h["ce_id"] {
		case "unkeyed":
			if m.Key != nil {
				t.Errorf("event without partitionkey stored under key %q", m.Key)
			}
			if _, ok := h["ce_partitionkey"]; ok {
				t.Errorf("event without partitionkey got a ce_partitionkey header")
			}
		default:
			if string(m.Key) != user.String() || h["ce_partitionkey"] != user.String() {
				t.Errorf("keyed event stored under key %q, header %q", m.Key, h["ce_partitionkey"])
			}
		}
	}
}

func TestCloudEventFromRecord(t *testing.T) {
	binary := []*sarama.RecordHeader{
		{Key: []byte("ce_specversion"), Value: []byte("1.0")},
		{Key: []byte("ce_id"), Value: []byte("1")},
		{Key: []byte("ce_type"), Value: []byte("com.nova.content.post.created")},
		{Key: []byte("ce_source"), Value: []byte("/nova/content-service")},
		{Key: []byte("ce_partitionkey"), Value: []byte("u1")},
		{Key: []byte("content-type"), Value: []byte("application/json")},
	}
	e, err := kafka.CloudEventFromRecord(&sarama.ConsumerMessage{Topic: "t", Headers: binary, Value: []byte(`{"a":1}`)})
	if err != nil || e.ID() != "1" || e.Extensions()["partitionkey"] != "u1" || string(e.Data()) != `{"a":1}` {
		t.Fatalf("binary record read as %v, %v", e, err)
	}
	structured := []*sarama.RecordHeader{{Key: []byte("content-type"), Value: []byte("application/cloudevents+json")}}
	e, err = kafka.CloudEventFromRecord(&sarama.ConsumerMessage{Topic: "t", Headers: structured,
		Value: []byte(`{"specversion":"1.0","id":"2","source":"/s","type":"x"}`)})
	if err != nil || e.ID() != "2" {
		t.Fatalf("structured record read as %v, %v", e, err)
	}

	_, err = kafka.CloudEventFromRecord(&sarama.ConsumerMessage{Topic: "t", Key: []byte("k"), Value: []byte(`{"post_id":"p"}`)})
	if !errors.Is(err, kafka.ErrNotCloudEvent) {
		t.Fatalf("plain record: %v, want ErrNotCloudEvent", err)
	}
	_, err = kafka.CloudEventFromRecord(&sarama.ConsumerMessage{Topic: "t", Headers: binary[:3]})
	if err == nil || errors.Is(err, kafka.ErrNotCloudEvent) {
		t.Fatalf("binary record without a source: %v, want a malformed-event error", err)
	}
}
