package dispatcher

import (
	"strconv"
	"strings"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Converter turns a consumed record into the CloudEvent delivered to the sink.
type Converter func(msg *sarama.ConsumerMessage, src source.KafkaSource) (cloudevents.Event, error)

// DefaultConverter reads a record as Knative's KafkaSource does, through
// kafka.EventFromRecord: a CloudEvent in binary (ce_ headers) or structured
// mode passes through unchanged, and any other record is wrapped as a
// dev.knative.kafka.event.
func DefaultConverter(msg *sarama.ConsumerMessage, src source.KafkaSource) (cloudevents.Event, error) {
	return kafka.EventFromRecord(msg, kafka.SourceRef{Namespace: src.Namespace, Name: src.Name})
}

// WrapPlain makes the CloudEvent Knative's KafkaSource makes of a record that
// is not a CloudEvent: type dev.knative.kafka.event, id
// "partition:<p>/offset:<o>", source
// "/apis/v1/namespaces/<ns>/kafkasources/<name>#<topic>", subject
// "partition:<p>#<o>", time the record's timestamp, the value as data, the key
// as the key and partitionkey extensions, and each record header as an
// extension named by the header's lower-cased letters and digits. The
// dispatcher falls back on it for a record that claims to be a CloudEvent
// but cannot be read as one: Knative's dispatcher wraps such a record too
// rather than dropping it, and the function then dead-letters it with a
// reason if it cannot use it.
func WrapPlain(msg *sarama.ConsumerMessage, src source.KafkaSource) cloudevents.Event {
	p := strconv.FormatInt(int64(msg.Partition), 10)
	o := strconv.FormatInt(msg.Offset, 10)
	e := cloudevents.NewEvent()
	e.SetID("partition:" + p + "/offset:" + o)
	e.SetType("dev.knative.kafka.event")
	e.SetSource(src.CESource(msg.Topic))
	e.SetSubject("partition:" + p + "#" + o)
	if !msg.Timestamp.IsZero() {
		e.SetTime(msg.Timestamp)
	}
	if msg.Key != nil {
		e.SetExtension("partitionkey", string(msg.Key))
		e.SetExtension("key", string(msg.Key))
	}
	for _, h := range msg.Headers {
		if h == nil {
			continue
		}
		if name := extensionName(string(h.Key)); name != "" && !isContextAttribute(name) {
			e.SetExtension(name, h.Value)
		}
	}
	if msg.Value != nil {
		e.DataEncoded = msg.Value
	}
	return e
}

func extensionName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// isContextAttribute guards the attributes set above from being overwritten
// through SetExtension, which would fail or silently replace them.
func isContextAttribute(name string) bool {
	switch name {
	case "id", "type", "source", "subject", "time", "specversion", "datacontenttype", "dataschema", "data":
		return true
	}
	return false
}

// convert applies the configured converter, falling back on WrapPlain when a
// record cannot be read as the CloudEvent it claims to be.
func (r *runner) convert(msg *sarama.ConsumerMessage) cloudevents.Event {
	e, err := r.d.cfg.Convert(msg, r.src)
	if err != nil {
		r.d.log.Warn("record is not a readable CloudEvent; wrapping it as a plain record",
			"source", r.src.Ref(), "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "error", err)
		e = WrapPlain(msg, r.src)
	}
	for k, v := range r.src.Extensions {
		e.SetExtension(k, v)
	}
	return e
}
