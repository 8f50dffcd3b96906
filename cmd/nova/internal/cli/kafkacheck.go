package cli

import (
	"context"

	"github.com/nova-social/nova/cmd/nova/internal/kafkacheck"
	"github.com/nova-social/nova/shared/event/kafka"
)

// kafkaWait bounds how long a tool waits for Kafka before it says why it
// got no answer: the clients retry for ever, which at a terminal looks
// like a hang.
const kafkaWait = kafkacheck.Wait

// ErrNoTopic marks a topic Kafka does not have.
var ErrNoTopic = kafkacheck.ErrNoTopic

// checkKafka asks Kafka at brokers, within kafkaWait, for the metadata of
// topics: an error names the address and the cause (connection refused,
// a login refused, no answer, a topic missing or not readable).
func checkKafka(ctx context.Context, brokers []string, sec kafka.Security, topics ...string) error {
	return kafkacheck.Check(ctx, brokers, sec, topics...)
}
