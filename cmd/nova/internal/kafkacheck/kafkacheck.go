// Package kafkacheck asks Kafka, within seconds, whether it answers and has
// the topics a tool is about to use. The clients retry for ever, which at a
// terminal (or behind a button) looks like a hang; asking first turns a
// broker down, a refused login or a missing topic into an error naming the
// address and the cause.
package kafkacheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Wait bounds how long a check waits for Kafka before it says why it got
// no answer.
const Wait = 8 * time.Second

// ErrNoTopic marks a topic Kafka does not have.
var ErrNoTopic = errors.New("no such topic")

// Check asks Kafka at brokers, within Wait, for the metadata of topics: an
// error names the address and the cause (connection refused, a login
// refused, no answer, a topic missing or not readable).
func Check(ctx context.Context, brokers []string, sec kafka.Security, topics ...string) error {
	missing, err := Topics(ctx, brokers, sec, topics...)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range topics {
		if e := missing[t]; e != nil {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// Topics is Check with a topic's trouble returned per topic, leaving err
// for what stops everything.
func Topics(ctx context.Context, brokers []string, sec kafka.Security, topics ...string) (map[string]error, error) {
	addr := strings.Join(brokers, ",")
	if addr == "" {
		return nil, errors.New("no Kafka address: give --kafka-brokers or KAFKA_BROKERS, or start Nova (make run) here")
	}
	ctx, cancel := context.WithTimeout(ctx, Wait)
	defer cancel()
	cl, err := broker.NewClient(brokers, sec, kgo.DialTimeout(3*time.Second), kgo.RequestRetries(2),
		kgo.RetryTimeout(Wait-2*time.Second))
	if err != nil {
		return nil, fmt.Errorf("Kafka at %s: %w", addr, err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	// Not nil: nil asks for every topic.
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, failure(addr, sec, err)
	}
	out := map[string]error{}
	for _, t := range resp.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		}
		switch err := kerr.ErrorForCode(t.ErrorCode); {
		case err == nil:
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			out[name] = fmt.Errorf("Kafka at %s has no topic %s: %w (%w)", addr, name, ErrNoTopic, err)
		case errors.Is(err, kerr.TopicAuthorizationFailed):
			out[name] = fmt.Errorf("Kafka at %s does not let %s use topic %s: %w", addr, sec, name, err)
		default:
			out[name] = fmt.Errorf("Kafka at %s, topic %s: %w", addr, name, err)
		}
	}
	return out, nil
}

// failure says why Kafka at addr did not answer, in the words an operator
// looks for.
func failure(addr string, sec kafka.Security, err error) error {
	var why string
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused: nothing listens there (is Nova running? make run starts it)"
	case errors.Is(err, context.DeadlineExceeded):
		why = fmt.Sprintf("no answer within %s", Wait)
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState),
		sec.SASL != kafka.NoSASL && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		// A broker may just close the connection on a wrong password.
		why = fmt.Sprintf("authentication failed: the broker refused the %s login of user %q "+
			"(nova run makes a new password each run: eval \"$(nova env)\" again, or leave KAFKA_* unset)", sec.SASL, sec.Username)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		why = fmt.Sprintf("authentication failed: the broker does not take %s logins", sec.SASL)
	default:
		why = "no answer"
	}
	return fmt.Errorf("Kafka at %s (%s): %s: %w", addr, sec, why, err)
}
