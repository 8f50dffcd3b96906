package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Trigger is a Knative Trigger of a Kafka Broker, run as the Kafka Broker's
// dispatcher runs it: a consumer group (knative-trigger-<ns>-<name>) on
// the Broker's topic that starts at the latest offset (committed before
// the first poll), reads only CloudEvents records (it discards others),
// delivers the events its filter lets through, with
// knativekafkapartition and knativekafkaoffset set, in the Trigger's
// delivery order (unordered by default) and with its delivery (or, as a
// whole, its Broker's), and stores a reply event of the subscriber back
// into the Broker. Filtered-out and discarded records are committed like
// delivered ones.
type Trigger struct {
	Trigger eventbroker.Trigger
	// Broker is the Broker the Trigger names, resolved (its Kafka topic
	// configuration read).
	Broker eventbroker.Broker
	// Reply stores a reply event into the Broker; the data plane produces
	// it straight into the Broker's topic (eventbroker.Store.Append).
	Reply func(ctx context.Context, e cloudevents.Event) error
}

// TriggerRef is the name a Trigger's deliveries carry in metrics, logs and
// Lag.Source: "trigger:<namespace>/<name>", apart from a KafkaSource's
// "<namespace>/<name>".
func TriggerRef(t eventbroker.Trigger) string { return "trigger:" + t.Ref() }

// maxReplyBytes bounds a subscriber's reply read back: a reply is stored
// as one Kafka record, which the data plane's producer caps at 1 MiB.
const maxReplyBytes = eventbroker.DefaultMaxEventBytes

// triggerRun is what a runner adds for a Trigger.
type triggerRun struct {
	filter eventbroker.Filter
	reply  func(ctx context.Context, e cloudevents.Event) error
}

// newTriggerRunner makes the runner of t: a KafkaSource in all but name
// (one topic, the Trigger's group, initial offset latest) with the
// Trigger's filter and reply handling on top.
func (d *Dispatcher) newTriggerRunner(t Trigger) *runner {
	tr, b := t.Trigger, t.Broker
	src := source.KafkaSource{
		File:             tr.File,
		Name:             tr.Name,
		Namespace:        tr.Namespace,
		BootstrapServers: b.Kafka.BootstrapServers,
		Topics:           []string{b.Topic()},
		ConsumerGroup:    tr.ConsumerGroup(),
		InitialOffset:    source.OffsetLatest,
		Ordering:         tr.Ordering,
		Delivery:         tr.DeliveryWith(b),
		Sink:             tr.Subscriber,
	}
	filter := tr.Filter
	if filter == nil {
		filter = eventbroker.MatchAll
	}
	return &runner{d: d, src: src, ref: TriggerRef(tr), brokers: src.BootstrapServers,
		trig: &triggerRun{filter: filter, reply: t.Reply}}
}

// initOffsets commits the end offset of each partition of the Trigger's
// topic on which its group has no committed offset yet, before the group
// first consumes: the Kafka Broker does so for a new Trigger (initial
// offset latest) before making it ready. Events stored before the Trigger
// started are never delivered to it; events stored after are never
// skipped, even if they arrive before its first poll.
func (r *runner) initOffsets(client sarama.Client, admin sarama.ClusterAdmin) error {
	topic, group := r.src.Topics[0], r.src.ConsumerGroup
	parts, err := client.Partitions(topic)
	if err != nil {
		return fmt.Errorf("partitions of %s: %w", topic, err)
	}
	committed, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		committed, err = &sarama.OffsetFetchResponse{}, nil
	}
	if err != nil {
		return fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	req := sarama.NewOffsetCommitRequest(client.Config(), group)
	n := 0
	for _, p := range parts {
		if b := committed.GetBlock(topic, p); b != nil && b.Err == sarama.ErrNoError && b.Offset >= 0 {
			continue
		}
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return fmt.Errorf("end of %s/%d: %w", topic, p, err)
		}
		req.AddBlock(topic, p, end, 0, "")
		n++
	}
	if n == 0 {
		return nil
	}
	coord, err := client.Coordinator(group)
	if err != nil {
		return fmt.Errorf("coordinator of %s: %w", group, err)
	}
	resp, err := coord.CommitOffset(req)
	if err != nil {
		return fmt.Errorf("commit initial offsets of %s: %w", group, err)
	}
	for p, kerr := range resp.Errors[topic] {
		if kerr != sarama.ErrNoError {
			return fmt.Errorf("commit initial offset of %s on %s/%d: %w", group, topic, p, kerr)
		}
	}
	r.d.log.Info("trigger starts at the end of its broker's topic", "trigger", r.ref, "group", group, "topic", topic, "partitions", n)
	return nil
}

// read turns a broker-topic record into the event to deliver: only a
// CloudEvents record is one. ok is false for a record to discard.
func (r *runner) read(msg *sarama.ConsumerMessage) (cloudevents.Event, bool) {
	e, err := kafka.CloudEventFromRecord(msg)
	if err != nil {
		r.d.metrics.skipped.WithLabelValues(r.ref, "invalid").Inc()
		r.d.log.Warn("record in the broker's topic is not a CloudEvent; discarding it, as the Kafka Broker does",
			"trigger", r.ref, "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "error", err)
		return cloudevents.Event{}, false
	}
	return e, true
}

// admit applies the Trigger's filter to e and, when it passes, sets the
// record's coordinates as the data plane's CloudEventOverridesMutator does.
// ok is false for an event not to deliver (its offset is committed).
func (r *runner) admit(e *cloudevents.Event, msg *sarama.ConsumerMessage) bool {
	match, err := r.trig.filter.Match(*e)
	if err != nil {
		r.d.metrics.skipped.WithLabelValues(r.ref, "filter_failed").Inc()
		r.d.log.Warn("trigger filter failed on the event; discarding it, as the Kafka Broker does",
			"trigger", r.ref, "id", e.ID(), "source", e.Source(), "topic", msg.Topic, "partition", msg.Partition,
			"offset", msg.Offset, "error", err)
		return false
	}
	if !match {
		r.d.metrics.skipped.WithLabelValues(r.ref, "filtered").Inc()
		return false
	}
	e.SetExtension(delivery.ExtKafkaPartition, strconv.FormatInt(int64(msg.Partition), 10))
	e.SetExtension(delivery.ExtKafkaOffset, strconv.FormatInt(msg.Offset, 10))
	return true
}

// repliedOK handles a subscriber's (or dead-letter sink's) 2xx as the
// Kafka Broker does: a reply CloudEvent is stored into the Broker, no reply
// is nothing to do, and a body that is no CloudEvent, or a reply that
// cannot be stored, is a failure.
func (r *runner) repliedOK(ctx context.Context, res result) error {
	if res.tooLarge {
		return fmt.Errorf("response body above %d bytes, larger than any event the broker stores", maxReplyBytes)
	}
	reply, err := eventbroker.ReadReply(ctx, res.header, res.body)
	if err != nil {
		return fmt.Errorf("unable to decode response: %w", err)
	}
	if reply == nil {
		return nil
	}
	if r.trig.reply == nil {
		return errors.New("reply event, and no broker to store it in")
	}
	// Bounded as the data plane's producer bounds it (delivery.timeout.ms):
	// a reply that cannot be stored fails the event rather than holding
	// its partition.
	sctx, cancel := context.WithTimeout(ctx, eventbroker.DefaultIngressTimeout)
	defer cancel()
	if err := r.trig.reply(sctx, *reply); err != nil {
		return fmt.Errorf("store reply %s into the broker: %w", reply.ID(), err)
	}
	r.d.metrics.replies.WithLabelValues(r.ref).Inc()
	return nil
}
