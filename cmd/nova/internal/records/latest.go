package records

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/kafkacheck"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Latest reads the last records of topic, at most n from each partition,
// and returns the n newest decoded, newest first. It joins no consumer
// group, so it moves no one's offsets. When ctx ends before every
// partition's last record was read, it returns what it read with the
// context's error.
func Latest(ctx context.Context, brokers []string, sec kafka.Security, codec *envelope.Codec, topic string, n int) ([]Line, error) {
	if n <= 0 {
		return nil, nil
	}
	addr := strings.Join(brokers, ",")
	// Seconds, not the client's patient defaults: a person is waiting.
	quick := []kgo.Opt{kgo.DialTimeout(3 * time.Second), kgo.RequestRetries(2)}
	cl, err := broker.NewClient(brokers, sec, quick...)
	if err != nil {
		return nil, fmt.Errorf("records: Kafka at %s: %w", addr, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("records: end offsets of %s at %s: %w", topic, addr, err)
	}
	if err := ends.Error(); errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("records: Kafka at %s has no topic %s: %w (%w)", addr, topic, kafkacheck.ErrNoTopic, err)
	} else if err != nil {
		return nil, fmt.Errorf("records: end offsets of %s at %s: %w", topic, addr, err)
	}
	if len(ends[topic]) == 0 {
		return nil, fmt.Errorf("records: Kafka at %s has no topic %s: %w", addr, topic, kafkacheck.ErrNoTopic)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("records: start offsets of %s at %s: %w", topic, addr, err)
	}
	from := map[int32]kgo.Offset{}
	// last is the offset after the last record of each partition still
	// to be read.
	last := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		start := int64(0)
		if s, ok := starts.Lookup(topic, o.Partition); ok && s.Err == nil {
			start = s.Offset
		}
		if o.Offset <= start {
			return
		}
		from[o.Partition] = kgo.NewOffset().At(max(start, o.Offset-int64(n)))
		last[o.Partition] = o.Offset
	})
	if len(from) == 0 {
		return nil, nil
	}
	cons, err := broker.NewClient(brokers, sec, append(quick,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return nil, fmt.Errorf("records: Kafka at %s: %w", addr, err)
	}
	defer cons.Close()
	var lines []Line
	for len(last) > 0 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			newestFirst(lines)
			return lines[:min(n, len(lines))], fmt.Errorf("records: the last records of %s: %w", topic, ctx.Err())
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("%s[%d]: %w", t, p, err))
		})
		if ferr != nil {
			return nil, fmt.Errorf("records: %w", ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := last[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			lines = append(lines, Describe(codec, Message(r)))
			if r.Offset >= end-1 {
				delete(last, r.Partition)
			}
		})
	}
	newestFirst(lines)
	return lines[:min(n, len(lines))], nil
}
