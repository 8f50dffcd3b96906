package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/IBM/sarama"
	kafkasarama "github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"

	"github.com/nova-social/nova/shared/event/envelope"
)

// SourceRef names the KafkaSource a record is read for; it makes up the
// source attribute of plain records.
type SourceRef struct {
	Namespace string
	Name      string
}

// URI is the CloudEvents source KafkaSource gives plain records of topic.
func (s SourceRef) URI(topic string) string {
	return envelope.KafkaSourceURI(s.Namespace, s.Name, topic)
}

// EventFromRecord reads msg as Knative's KafkaSource dispatcher does. A
// CloudEvents record, binary (ce_ headers) or structured
// (content-type application/cloudevents+json), is passed through as it was
// written. Any other record is wrapped: type dev.knative.kafka.event, id
// "partition:<p>/offset:<o>", source
// "/apis/v1/namespaces/<ns>/kafkasources/<name>#<topic>", subject
// "partition:<p>#<o>", extensions key and partitionkey from the record key,
// time from the record timestamp and the raw value as data.
//
// A record that claims to be a CloudEvent but is not a valid one is an
// *envelope.DecodeError matching envelope.ErrUndecodable, so the caller
// dead-letters it with the reason.
func EventFromRecord(msg *sarama.ConsumerMessage, src SourceRef) (cloudevents.Event, error) {
	e, err := readCloudEvent(msg)
	if errors.Is(err, ErrNotCloudEvent) {
		return wrapPlain(msg, src), nil
	}
	if err != nil {
		return cloudevents.Event{}, &envelope.DecodeError{
			Kind:   envelope.ErrUndecodable,
			ID:     recordID(msg),
			Source: src.URI(msg.Topic),
			Reason: fmt.Sprintf("record at %s is not a valid CloudEvent", position(msg)),
			Err:    err,
		}
	}
	return e, nil
}

// ErrNotCloudEvent is returned by CloudEventFromRecord for a record that
// carries no CloudEvent at all: neither ce_ headers nor a structured
// content type.
var ErrNotCloudEvent = errors.New("record is not a CloudEvent")

// CloudEventFromRecord reads msg as the Knative Kafka Broker's dispatcher
// reads its topic: only a CloudEvent record, binary or structured, is an
// event. A plain record fails with ErrNotCloudEvent and a malformed
// CloudEvent with the reason; the broker discards both (it has no plain
// record wrapping, unlike KafkaSource).
func CloudEventFromRecord(msg *sarama.ConsumerMessage) (cloudevents.Event, error) {
	e, err := readCloudEvent(msg)
	if err != nil {
		return cloudevents.Event{}, fmt.Errorf("record at %s: %w", position(msg), err)
	}
	return e, nil
}

func readCloudEvent(msg *sarama.ConsumerMessage) (cloudevents.Event, error) {
	headers := make(map[string][]byte, len(msg.Headers))
	contentType := ""
	for _, h := range msg.Headers {
		if h == nil {
			continue
		}
		k := strings.ToLower(string(h.Key))
		if k == contentTypeHeader {
			contentType = string(h.Value)
		}
		headers[k] = h.Value
	}
	// NewMessage, not NewMessageFromConsumerMessage: the latter adds
	// kafkaoffset/kafkapartition/kafkatopic extensions that KafkaSource does
	// not, and consumers must see the same event in both runtimes.
	m := kafkasarama.NewMessage(msg.Value, contentType, headers)
	switch m.ReadEncoding() {
	case binding.EncodingBinary, binding.EncodingStructured:
	default:
		return cloudevents.Event{}, ErrNotCloudEvent
	}
	e, err := binding.ToEvent(context.Background(), m)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		return cloudevents.Event{}, err
	}
	return *e, nil
}

func wrapPlain(msg *sarama.ConsumerMessage, src SourceRef) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(recordID(msg))
	e.SetType(envelope.KafkaEventType)
	e.SetSource(src.URI(msg.Topic))
	e.SetSubject("partition:" + strconv.FormatInt(int64(msg.Partition), 10) + "#" + strconv.FormatInt(msg.Offset, 10))
	if !msg.Timestamp.IsZero() {
		e.SetTime(msg.Timestamp)
	}
	if msg.Key != nil {
		e.SetExtension("key", string(msg.Key))
		e.SetExtension(envelope.PartitionKeyExtension, string(msg.Key))
	}
	if len(msg.Value) > 0 {
		e.DataEncoded = msg.Value
	}
	return e
}

func recordID(msg *sarama.ConsumerMessage) string {
	return "partition:" + strconv.FormatInt(int64(msg.Partition), 10) + "/offset:" + strconv.FormatInt(msg.Offset, 10)
}

func position(msg *sarama.ConsumerMessage) string {
	return fmt.Sprintf("%s/%d/%d", msg.Topic, msg.Partition, msg.Offset)
}
