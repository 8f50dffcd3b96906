// Package emitter publishes the events a function's reaction produces
// straight to their catalogue topic. Functions that keep their state in a
// database write events through shared/event/outbox instead; this is for the ones
// whose state lives in Redis, where a retried reaction re-emits the same
// event (same id) and consumers deduplicate it.
package emitter

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/telemetry"
)

// Sender sends records to Kafka; *kafka.Producer is one.
type Sender interface {
	Send(ctx context.Context, recs ...kafka.Record) error
}

// Kafka emits events through a Kafka producer.
type Kafka struct {
	codec  *envelope.Codec
	sender Sender
}

// NewKafka returns an emitter building events with codec and sending them
// with sender.
func NewKafka(codec *envelope.Codec, sender Sender) *Kafka {
	return &Kafka{codec: codec, sender: sender}
}

// Emit builds the CloudEvent for msg and waits until the broker has it.
func (k *Kafka) Emit(ctx context.Context, msg proto.Message, opts ...envelope.Option) error {
	et, ok := k.codec.Catalog().ByMessage(msg)
	if !ok {
		return fmt.Errorf("emitter: %s is not an event of the catalogue", msg.ProtoReflect().Descriptor().FullName())
	}
	e, err := k.codec.New(msg, opts...)
	if err != nil {
		return fmt.Errorf("emitter: build %s: %w", et.Type, err)
	}
	// Where the event was made: the reaction's trace.
	telemetry.SetEventTrace(ctx, &e)
	if err := k.sender.Send(ctx, kafka.Record{Topic: et.Topic, Key: et.Key(msg), Event: e}); err != nil {
		return fmt.Errorf("emitter: send %s: %w", et.Type, err)
	}
	return nil
}
