package kafka_test

import (
	"context"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/envelope/roundtrip"
	"github.com/nova-social/nova/shared/event/kafka"
)

// TestRoundTrip: Producer → kfake → Sarama consumer → EventFromRecord →
// Decode, for every event type, binary and structured records.
func TestRoundTrip(t *testing.T) {
	codec := envelope.NewCodec(catalog.Default())
	roundtrip.Run(t, roundtrip.Pair{
		Name: "kafka",
		Transfer: func(t testing.TB, enc roundtrip.Encoding, events []cloudevents.Event) []envelope.Decoded {
			brokers := broker(t)
			cfg := kafka.DefaultProducerConfig(brokers...)
			if enc == roundtrip.Structured {
				cfg.Encoding = kafka.Structured
			}
			p := newProducer(t, cfg)
			recs := make([]kafka.Record, len(events))
			for i, e := range events {
				et, _ := catalog.Default().ByType(e.Type())
				recs[i] = kafka.Record{Topic: et.Topic, Event: e}
			}
			if err := p.Send(context.Background(), recs...); err != nil {
				t.Fatal(err)
			}
			var out []envelope.Decoded
			for _, m := range consume(t, brokers, len(events)) {
				isStructured := false
				for _, h := range m.Headers {
					if string(h.Key) == "content-type" && string(h.Value) == "application/cloudevents+json" {
						isStructured = true
					}
				}
				if isStructured != (enc == roundtrip.Structured) {
					t.Fatalf("%s record at %s/%d/%d has headers %v", enc, m.Topic, m.Partition, m.Offset, headerMap(m.Headers))
				}
				e, err := kafka.EventFromRecord(m, kafka.SourceRef{Namespace: "nova", Name: "roundtrip"})
				if err != nil {
					t.Fatal(err)
				}
				d, err := codec.Decode(e)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, d)
			}
			return out
		},
	})
}
