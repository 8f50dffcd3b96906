// Package roundtrip is one test suite that every way of carrying Nova's
// events runs: a sender and a receiver (Kafka producer and consumer, an HTTP
// client and a function, …) must deliver every event type of the catalogue
// in binary and in structured mode, with protobuf and JSON data, and the
// receiver must decode each into the message that was sent with every
// CloudEvents attribute intact.
package roundtrip

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
)

// Encoding is how a CloudEvent is laid onto the transport.
type Encoding string

// The two CloudEvents content modes.
const (
	Binary     Encoding = "binary"
	Structured Encoding = "structured"
)

// Pair is a sender and a receiver under test.
type Pair struct {
	// Name labels the subtests.
	Name string
	// Transfer sends events with the given encoding and returns what the
	// receiver decoded with the envelope codec, in any order. It fails t
	// when the transport fails; it must not drop decode errors silently
	// either (fail t with them).
	Transfer func(t testing.TB, enc Encoding, events []cloudevents.Event) []envelope.Decoded
}

// Run runs the suite against p: for each encoding, one event of every
// catalogue type with protobuf data and one with JSON data.
func Run(t *testing.T, p Pair) {
	t.Helper()
	codec := envelope.NewCodec(catalog.Default())
	for _, enc := range []Encoding{Binary, Structured} {
		t.Run(p.Name+"/"+string(enc), func(t *testing.T) {
			events, want := Events(t, codec)
			got := p.Transfer(t, enc, events)
			byID := make(map[string]envelope.Decoded, len(got))
			for _, d := range got {
				if _, dup := byID[d.Event.ID()]; dup {
					t.Errorf("event %s received twice", d.Event.ID())
				}
				byID[d.Event.ID()] = d
			}
			for i, sent := range events {
				d, ok := byID[sent.ID()]
				if !ok {
					t.Errorf("%s (%s): not received", sent.Type(), sent.DataContentType())
					continue
				}
				Compare(t, sent, want[i], d)
			}
			if len(got) != len(events) {
				t.Errorf("received %d events, sent %d", len(got), len(events))
			}
		})
	}
}

// Events builds one event of every catalogue type with protobuf data and
// one with JSON data, each carrying a fully populated sample message, and
// returns them with the messages they carry.
func Events(t testing.TB, codec *envelope.Codec) ([]cloudevents.Event, []proto.Message) {
	t.Helper()
	var (
		events []cloudevents.Event
		msgs   []proto.Message
	)
	at := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
	for i, et := range codec.Catalog().Events() {
		for j, asJSON := range []bool{false, true} {
			msg := Sample(et, 2*i+j)
			opts := []envelope.Option{envelope.WithTime(at.Add(time.Duration(i) * time.Second))}
			if asJSON {
				opts = append(opts, envelope.WithJSON())
			}
			e, err := codec.New(msg, opts...)
			if err != nil {
				t.Fatalf("build %s: %v", et.Type, err)
			}
			events = append(events, e)
			msgs = append(msgs, msg)
		}
	}
	return events, msgs
}

// Compare fails t unless d is sent, carrying want, as a receiver must see it.
func Compare(t testing.TB, sent cloudevents.Event, want proto.Message, d envelope.Decoded) {
	t.Helper()
	got := d.Event
	label := fmt.Sprintf("%s (%s)", sent.Type(), sent.DataContentType())
	check := func(attr, g, w string) {
		if g != w {
			t.Errorf("%s: %s = %q, want %q", label, attr, g, w)
		}
	}
	check("specversion", got.SpecVersion(), sent.SpecVersion())
	check("id", got.ID(), sent.ID())
	check("source", got.Source(), sent.Source())
	check("type", got.Type(), sent.Type())
	check("subject", got.Subject(), sent.Subject())
	check("datacontenttype", got.DataContentType(), sent.DataContentType())
	check("dataschema", got.DataSchema(), sent.DataSchema())
	check("partitionkey", extension(got, envelope.PartitionKeyExtension), extension(sent, envelope.PartitionKeyExtension))
	if !got.Time().Equal(sent.Time()) {
		t.Errorf("%s: time = %s, want %s", label, got.Time(), sent.Time())
	}
	check("decoded type", d.Type.Type, sent.Type())
	if !proto.Equal(d.Message, want) {
		t.Errorf("%s: message = %v, want %v", label, d.Message, want)
	}
}

func extension(e cloudevents.Event, name string) string {
	v, ok := e.Extensions()[name]
	if !ok {
		return ""
	}
	s, err := types.ToString(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

// Sample returns a message of et's kind with every field set (repeated
// fields with two elements, optional fields present, enums at a non-zero
// value, ids as valid ids), varied by n so samples of one type differ. It
// keeps its event type's contract.
func Sample(et catalog.EventType, n int) proto.Message {
	m := et.Message.ProtoReflect().New()
	fill(m, n, 0)
	return m.Interface()
}

func fill(m protoreflect.Message, n, depth int) {
	if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		ts := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(n)*time.Minute + 123456789))
		proto.Merge(m.Interface(), ts)
		return
	}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			k := scalar(fd.MapKey(), n, 0).MapKey()
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v := mp.NewValue()
				fill(v.Message(), n, depth+1)
				mp.Set(k, v)
			} else {
				mp.Set(k, scalar(fd.MapValue(), n, 0))
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := 0; j < 2; j++ {
				if fd.Kind() == protoreflect.MessageKind {
					v := l.NewElement()
					fill(v.Message(), n+j, depth+1)
					l.Append(v)
				} else {
					l.Append(scalar(fd, n, j))
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			if depth < 3 {
				fill(m.Mutable(fd).Message(), n, depth+1)
			}
		default:
			m.Set(fd, scalar(fd, n, 0))
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, n, j int) protoreflect.Value {
	k := int64(fd.Number()) + int64(n)*100 + int64(j)
	switch fd.Kind() {
	case protoreflect.StringKind:
		text := fmt.Sprintf("%s-%d-%d", fd.Name(), n, j)
		if r := envelope.Rules(fd); envelope.IDKind(r) != "" {
			// A UUIDv8 drawn from the text: distinct per field and sample,
			// and the same on every run.
			h := sha256.Sum256([]byte(text))
			h[6] = 0x80 | h[6]&0x0f
			h[8] = 0x80 | h[8]&0x3f
			return protoreflect.ValueOfString(uuid.UUID(h[:16]).String())
		}
		return protoreflect.ValueOfString(text)
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(n), byte(j), 0xff})
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(1 + (n+j)%(vals.Len()-1)).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(k))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(k << 33) // beyond float64-exact JSON numbers' comfort
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(k))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(k) << 33)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(k) + 0.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(k) + 0.25)
	}
	panic(fmt.Sprintf("roundtrip: no sample for %s", fd.FullName()))
}
