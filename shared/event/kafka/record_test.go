package kafka_test

import (
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

var src = kafka.SourceRef{Namespace: "nova", Name: "feed-fanout"}

func TestEventFromPlainRecord(t *testing.T) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	msg := &sarama.ConsumerMessage{
		Topic: "content-events", Partition: 4, Offset: 17, Timestamp: at,
		Key: []byte("user456"), Value: []byte(`{"post_id":"test123","user_id":"user456"}`),
		Headers: []*sarama.RecordHeader{{Key: []byte("trace"), Value: []byte("x")}},
	}
	e, err := kafka.EventFromRecord(msg, src)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"type":         {e.Type(), "dev.knative.kafka.event"},
		"id":           {e.ID(), "partition:4/offset:17"},
		"source":       {e.Source(), "/apis/v1/namespaces/nova/kafkasources/feed-fanout#content-events"},
		"subject":      {e.Subject(), "partition:4#17"},
		"key":          {e.Extensions()["key"].(string), "user456"},
		"partitionkey": {e.Extensions()["partitionkey"].(string), "user456"},
		"data":         {string(e.Data()), string(msg.Value)},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if !e.Time().Equal(at) {
		t.Errorf("time %s, want %s", e.Time(), at)
	}
	if err := e.Validate(); err != nil {
		t.Error(err)
	}
}

func TestEventFromUnkeyedEmptyRecord(t *testing.T) {
	e, err := kafka.EventFromRecord(&sarama.ConsumerMessage{Topic: "media-events"}, src)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Extensions()["key"]; ok {
		t.Error("unkeyed record got a key extension")
	}
	if len(e.Data()) != 0 {
		t.Errorf("data %q", e.Data())
	}
}

func TestEventFromMalformedCloudEventRecord(t *testing.T) {
	cases := map[string][]*sarama.RecordHeader{
		"binary without id": {
			{Key: []byte("ce_specversion"), Value: []byte("1.0")},
			{Key: []byte("ce_type"), Value: []byte("com.nova.content.post.created")},
			{Key: []byte("ce_source"), Value: []byte("/nova/content-service")},
		},
		"binary with a bad time": {
			{Key: []byte("ce_specversion"), Value: []byte("1.0")},
			{Key: []byte("ce_id"), Value: []byte("1")},
			{Key: []byte("ce_type"), Value: []byte("com.nova.content.post.created")},
			{Key: []byte("ce_source"), Value: []byte("/nova/content-service")},
			{Key: []byte("ce_time"), Value: []byte("yesterday")},
		},
		"structured that is not JSON": {
			{Key: []byte("content-type"), Value: []byte("application/cloudevents+json")},
		},
	}
	for name, headers := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := kafka.EventFromRecord(&sarama.ConsumerMessage{Topic: "content-events", Headers: headers, Value: []byte("{not json")}, src)
			var de *envelope.DecodeError
			if !errors.Is(err, envelope.ErrUndecodable) || !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("error %v, want a DecodeError matching ErrUndecodable", err)
			}
		})
	}
}
