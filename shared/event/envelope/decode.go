package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/shared/event/catalog"
)

// Decode reads e into the typed message of its catalogue event. See the
// package documentation for what is accepted. Errors are *DecodeError.
func (c *Codec) Decode(e cloudevents.Event) (Decoded, error) {
	if e.Type() == KafkaEventType {
		return c.decodePlain(e)
	}
	et, ok := c.cat.ByType(e.Type())
	if !ok {
		return Decoded{}, failure(e, ErrUnknownType, fmt.Sprintf("type %q is not a Nova event", e.Type()), nil)
	}
	if e.Source() != et.Source() {
		return Decoded{}, failure(e, ErrForeignSource,
			fmt.Sprintf("%s comes only from %s, not from %q", et.Type, et.Source(), e.Source()), nil)
	}
	if ds := e.DataSchema(); ds != "" && strings.TrimPrefix(ds, "https://") != strings.TrimPrefix(et.DataSchema(), "https://") {
		return Decoded{}, failure(e, ErrUndecodable,
			fmt.Sprintf("dataschema %q does not match type %s (want %q)", ds, et.Type, et.DataSchema()), nil)
	}
	data := e.Data()
	if len(data) == 0 {
		return Decoded{}, failure(e, ErrUndecodable, "event has no data", nil)
	}
	msg := newMessage(et)
	switch kind, err := dataKind(e.DataContentType()); {
	case err != nil:
		return Decoded{}, failure(e, ErrUndecodable, err.Error(), nil)
	case kind == kindProtobuf:
		if err := proto.Unmarshal(data, msg); err != nil {
			return Decoded{}, failure(e, ErrUndecodable, "data is not a protobuf "+string(et.MessageName()), err)
		}
		// The wire format takes any seconds and nanos; a time no clock can
		// show would pass here and fail every consumer that formats it.
		if err := checkTimes(msg.ProtoReflect()); err != nil {
			return Decoded{}, failure(e, ErrUndecodable, "data is not a valid "+string(et.MessageName()), err)
		}
	default:
		// A field this version does not know is ignored, as protobuf's
		// wire format ignores it: a newer producer's event stays readable.
		if err := unmarshalJSON(data, msg, true); err != nil {
			return Decoded{}, failure(e, ErrUndecodable, "data is not a JSON "+string(et.MessageName()), err)
		}
	}
	return c.decoded(e, et, msg, "")
}

// decoded finishes every successful parse the same way: the partition key,
// then the event type's contract, so every consumer of an event answers it
// alike whatever path it came by.
func (c *Codec) decoded(e cloudevents.Event, et catalog.EventType, msg proto.Message, what string) (Decoded, error) {
	if what == "" {
		what = string(et.MessageName().Name())
	}
	key := et.Key(msg)
	if key == "" {
		return Decoded{}, failure(e, ErrUndecodable, fmt.Sprintf("%s has no %s (its partition key)", what, et.KeyField), nil)
	}
	// A partitionkey other than the key field would have put the event on
	// another partition than the entity's other events: out of order.
	if pk, ok := e.Extensions()[PartitionKeyExtension]; ok && e.Type() != KafkaEventType {
		if s, _ := pk.(string); s != key {
			return Decoded{}, failure(e, ErrContract,
				fmt.Sprintf("partitionkey %q is not the event's %s %q", pk, et.KeyField, key), nil)
		}
	}
	ct, err := c.contractOf(msg)
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			return Decoded{}, failure(e, de.Kind, de.Reason, nil)
		}
		return Decoded{}, failure(e, ErrContract, err.Error(), nil)
	}
	ct.fillEventTime(msg.ProtoReflect(), e.Time())
	if err := ct.check(msg.ProtoReflect(), ""); err != nil {
		return Decoded{}, failure(e, ErrContract, err.Error(), nil)
	}
	return Decoded{Event: e, Type: et, Message: msg}, nil
}

type dataEncoding int

const (
	kindProtobuf dataEncoding = iota
	kindJSON
)

// dataKind maps a datacontenttype to the decoder for it. An absent content
// type means JSON, as the CloudEvents JSON format implies.
func dataKind(ct string) (dataEncoding, error) {
	if ct == "" {
		return kindJSON, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, fmt.Errorf("datacontenttype %q: %w", ct, err)
	}
	switch {
	case mt == "application/protobuf", mt == "application/x-protobuf", mt == "application/vnd.google.protobuf",
		mt == "application/octet-stream":
		return kindProtobuf, nil
	case mt == "application/json", mt == "text/json", strings.HasSuffix(mt, "+json"):
		return kindJSON, nil
	}
	return 0, fmt.Errorf("datacontenttype %q is neither protobuf nor JSON", ct)
}

// decodePlain reads a record that KafkaSource wrapped as dev.knative.kafka.event.
func (c *Codec) decodePlain(e cloudevents.Event) (Decoded, error) {
	topic := TopicOf(e.Source())
	if c.consumer != "" && !c.cat.TakesPlainRecords(topic, c.consumer) {
		return Decoded{}, failure(e, ErrPlainRefused,
			fmt.Sprintf("%s takes CloudEvents only from %q; plain records are taken only where the catalogue says (%s)", c.consumer, topic, c.plainTakers()), nil)
	}
	data := bytes.TrimSpace(e.Data())
	if len(data) == 0 {
		return Decoded{}, failure(e, ErrUndecodable, "plain record has no value", nil)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return Decoded{}, failure(e, ErrUndecodable, "plain record value is not a JSON object", err)
	}

	if raw, ok := fields["type"]; ok {
		var name string
		if json.Unmarshal(raw, &name) == nil {
			if et, ok := c.byName[name]; ok {
				if topic != "" && et.Topic != topic {
					return Decoded{}, failure(e, ErrForeignSource,
						fmt.Sprintf("plain record of type %q on %s: that type is carried only by %s", name, topic, et.Topic), nil)
				}
				delete(fields, "type")
				rest, err := json.Marshal(fields)
				if err != nil {
					return Decoded{}, failure(e, ErrUndecodable, "re-encode plain record", err)
				}
				msg := newMessage(et)
				if err := unmarshalJSON(rest, msg, true); err != nil {
					return Decoded{}, failure(e, ErrUndecodable,
						fmt.Sprintf("plain record of type %q is not a JSON %s", name, et.MessageName()), err)
				}
				return c.decoded(e, et, msg, fmt.Sprintf("plain record of type %q", name))
			}
		}
	}

	if topic == "" {
		return Decoded{}, failure(e, ErrUnknownType,
			fmt.Sprintf("plain record names no event type and its source %q names no topic", e.Source()), nil)
	}
	candidates := c.byTopic[topic]
	if len(candidates) == 0 {
		return Decoded{}, failure(e, ErrUnknownType, fmt.Sprintf("topic %q carries no Nova events", topic), nil)
	}
	var tried []string
	for _, et := range candidates {
		// With no type named, the fields are all that tell the events of
		// the topic apart, so here they are read strictly.
		msg := newMessage(et)
		if err := unmarshalJSON(data, msg, false); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", et.MessageName().Name(), err))
			continue
		}
		if !keyFieldSet(et, msg) {
			tried = append(tried, fmt.Sprintf("%s: no %s", et.MessageName().Name(), et.KeyField))
			continue
		}
		return c.decoded(e, et, msg, "plain record "+string(et.MessageName().Name()))
	}
	return Decoded{}, failure(e, ErrUndecodable,
		fmt.Sprintf("plain record on %s matches none of its events (%s)", topic, strings.Join(tried, "; ")), nil)
}

// plainTakers says which consumers take plain records from which topics.
func (c *Codec) plainTakers() string {
	var out []string
	for _, t := range c.cat.Topics() {
		if len(t.PlainRecordsFor) > 0 {
			out = append(out, t.Name+", by "+strings.Join(t.PlainRecordsFor, " and "))
		}
	}
	if len(out) == 0 {
		return "nowhere"
	}
	return strings.Join(out, "; ")
}

// TopicOf returns the topic named by a KafkaSource source
// ("/apis/v1/namespaces/<ns>/kafkasources/<name>#<topic>"), or "".
func TopicOf(source string) string {
	i := strings.LastIndexByte(source, '#')
	if i < 0 {
		return ""
	}
	return source[i+1:]
}

// KafkaSourceURI is the source KafkaSource gives a plain record read from topic.
func KafkaSourceURI(namespace, name, topic string) string {
	return "/apis/v1/namespaces/" + namespace + "/kafkasources/" + name + "#" + topic
}

func failure(e cloudevents.Event, kind error, reason string, err error) *DecodeError {
	return &DecodeError{Kind: kind, ID: e.ID(), Source: e.Source(), Type: e.Type(), Reason: reason, Err: err}
}

// IsDecodeError reports whether err means the event can never be handled
// (unknown type, undecodable data, a source that does not produce it, a
// plain record where none is taken), as opposed to a failure worth retrying.
func IsDecodeError(err error) bool {
	return errors.Is(err, ErrUnknownType) || errors.Is(err, ErrUndecodable) ||
		errors.Is(err, ErrForeignSource) || errors.Is(err, ErrPlainRefused) || errors.Is(err, ErrContract)
}

// checkTimes refuses a google.protobuf.Timestamp or Duration anywhere in m
// that is out of its documented range (years 1 to 9999, nanos below a
// second), which the protobuf wire format does not check but protojson and
// time.Time conversions do.
func checkTimes(m protoreflect.Message) error {
	switch v := m.Interface().(type) {
	case *timestamppb.Timestamp:
		return v.CheckValid()
	case *durationpb.Duration:
		return v.CheckValid()
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len() && err == nil; i++ {
				err = checkTimes(v.List().Get(i).Message())
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Message() != nil {
					err = checkTimes(mv.Message())
				}
				return err == nil
			})
		default:
			err = checkTimes(v.Message())
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", fd.Name(), err)
		}
		return err == nil
	})
	return err
}
