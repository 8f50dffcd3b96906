package kafka

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/protobuf/proto"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/envelope/roundtrip"
)

// Record headers travel through the fuzzer as one string: a "name:value"
// pair per line.
func joinHeaders(hs []*sarama.RecordHeader) string {
	var b strings.Builder
	for _, h := range hs {
		b.Write(h.Key)
		b.WriteByte(':')
		b.Write(h.Value)
		b.WriteByte('\n')
	}
	return b.String()
}

func splitHeaders(s string) []*sarama.RecordHeader {
	var hs []*sarama.RecordHeader
	for line := range strings.SplitSeq(s, "\n") {
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		hs = append(hs, &sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	return hs
}

// record writes e as the producer does, then reads it back as a consumer
// receives it.
func record(t testing.TB, enc Encoding, topic string, e cloudevents.Event) *sarama.ConsumerMessage {
	t.Helper()
	var pm sarama.ProducerMessage
	key, err := newEncoder(enc, 1).fill(context.Background(), &Record{Topic: topic, Event: e}, &pm)
	if err != nil {
		t.Fatalf("encode %s: %v", e.Type(), err)
	}
	cm := &sarama.ConsumerMessage{Topic: topic, Partition: 3, Offset: 11, Key: []byte(key)}
	for i := range pm.Headers {
		cm.Headers = append(cm.Headers, &pm.Headers[i])
	}
	if pm.Value != nil {
		if cm.Value, err = pm.Value.Encode(); err != nil {
			t.Fatal(err)
		}
	}
	return cm
}

// FuzzEventFromRecord: any record a topic can hold — binary (ce_ headers),
// structured (content-type application/cloudevents+json) or plain — read
// as KafkaSource reads it, then decoded. A refusal is a typed
// ErrUndecodable with a reason (the dispatcher dead-letters it); an event
// that decodes survives the producer's encoding in both modes unchanged.
func FuzzEventFromRecord(f *testing.F) {
	codec := envelope.NewCodec(catalog.Default())
	events, _ := roundtrip.Events(f, codec)
	for _, e := range events {
		et, _ := catalog.Default().ByType(e.Type())
		for _, enc := range []Encoding{Binary, Structured} {
			m := record(f, enc, et.Topic, e)
			f.Add(m.Topic, joinHeaders(m.Headers), m.Key, m.Value)
		}
	}
	f.Add("content-events", "trace:x\n", []byte("user456"), []byte(`{"post_id":"test123","user_id":"user456"}`))
	f.Add("content-events", "", []byte(nil), []byte(`{"type":"PostDeleted","post_id":"p","user_id":"u"}`))
	f.Add("content-events", "content-type:application/cloudevents+json\n", []byte(nil), []byte("{not json"))
	f.Add("content-events", "ce_specversion:1.0\nce_id:1\nce_type:com.nova.content.post.created\nce_source:/s\nce_time:yesterday\n", []byte(nil), []byte(nil))
	src := SourceRef{Namespace: "nova", Name: "fuzz"}

	f.Fuzz(func(t *testing.T, topic, headers string, key, value []byte) {
		msg := &sarama.ConsumerMessage{Topic: topic, Partition: 1, Offset: 2, Key: key, Value: value, Headers: splitHeaders(headers)}
		var (
			e   cloudevents.Event
			err error
		)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e, err = EventFromRecord(msg, src)
		runtime.ReadMemStats(&after)
		if n, limit := after.TotalAlloc-before.TotalAlloc, 16<<20+64*uint64(len(headers)+len(key)+len(value)); n > limit {
			t.Fatalf("reading a record of %d bytes allocated %d bytes", len(headers)+len(key)+len(value), n)
		}
		if err != nil {
			var de *envelope.DecodeError
			if !errors.Is(err, envelope.ErrUndecodable) || !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("error %v, want a DecodeError matching ErrUndecodable", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("passed on an invalid event: %v", err)
		}
		d, err := codec.Decode(e)
		if err != nil {
			if !envelope.IsDecodeError(err) || envelope.Reason(err) == "" {
				t.Fatalf("untyped decode error %v", err)
			}
			return
		}
		again, err := codec.New(d.Message, envelope.WithID("again"))
		if err != nil {
			t.Fatalf("decoded %s but cannot re-encode it: %v", d.Type.Type, err)
		}
		for _, enc := range []Encoding{Binary, Structured} {
			back, err := EventFromRecord(record(t, enc, d.Type.Topic, again), src)
			if err != nil {
				t.Fatalf("%s record of a decoded event refused: %v", enc, err)
			}
			bd, err := codec.Decode(back)
			if err != nil {
				t.Fatalf("%s record of a decoded event does not decode: %v", enc, err)
			}
			if !proto.Equal(bd.Message, d.Message) {
				t.Fatalf("%s round trip changed the message:\n got %v\nwant %v", enc, bd.Message, d.Message)
			}
		}
	})
}
