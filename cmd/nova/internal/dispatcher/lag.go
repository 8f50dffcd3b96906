package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/nova-social/nova/cmd/nova/internal/source"
)

// Lag is how far a source's (or Trigger's) consumer group is behind on one
// partition.
type Lag struct {
	// Source is the KafkaSource's "<namespace>/<name>", or the Trigger's
	// TriggerRef.
	Source    string
	Group     string
	Topic     string
	Partition int32
	// Committed is the group's committed offset, -1 when it has none.
	Committed int64
	// End is the partition's high watermark.
	End int64
	// Lag is End - Committed; with nothing committed it is what the group
	// would still have to read: from the log start for initialOffset
	// earliest, nothing for latest.
	Lag int64
}

// Lag reads every source's and Trigger's lag from the brokers now. It works only while Run
// is running.
func (d *Dispatcher) Lag(ctx context.Context) ([]Lag, error) {
	// Sources are read at once: each costs round trips per partition, and
	// one after another they add up to seconds on a busy machine.
	lags := make([][]Lag, len(d.runners))
	errs := make([]error, len(d.runners))
	var wg sync.WaitGroup
	for i, r := range d.runners {
		wg.Go(func() {
			l, err := r.lag()
			if err != nil {
				err = fmt.Errorf("%s %s: %w", r.kind(), r.ref, err)
			}
			lags[i], errs[i] = l, err
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var out []Lag
	for _, l := range lags {
		out = append(out, l...)
	}
	return out, errors.Join(errs...)
}

var errNotRunning = errors.New("dispatcher is not running")

func (r *runner) lag() ([]Lag, error) {
	r.mu.Lock()
	client, admin := r.client, r.admin
	r.mu.Unlock()
	if client == nil {
		return nil, errNotRunning
	}
	want := map[string][]int32{}
	for _, t := range r.src.Topics {
		parts, err := client.Partitions(t)
		if err != nil {
			return nil, fmt.Errorf("partitions of %s: %w", t, err)
		}
		want[t] = parts
	}
	committed, err := admin.ListConsumerGroupOffsets(r.src.ConsumerGroup, want)
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		// The group has not formed yet: nothing is committed.
		committed, err = &sarama.OffsetFetchResponse{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("committed offsets of %s: %w", r.src.ConsumerGroup, err)
	}
	var out []Lag
	for _, t := range r.src.Topics {
		for _, p := range want[t] {
			end, err := client.GetOffset(t, p, sarama.OffsetNewest)
			if err != nil {
				return out, fmt.Errorf("end of %s/%d: %w", t, p, err)
			}
			l := Lag{Source: r.ref, Group: r.src.ConsumerGroup, Topic: t, Partition: p, Committed: -1, End: end}
			if b := committed.GetBlock(t, p); b != nil && b.Err == sarama.ErrNoError {
				l.Committed = b.Offset
			}
			switch {
			case l.Committed >= 0:
				l.Lag = max(end-l.Committed, 0)
			case r.src.InitialOffset == source.OffsetEarliest:
				start, err := client.GetOffset(t, p, sarama.OffsetOldest)
				if err != nil {
					return out, fmt.Errorf("start of %s/%d: %w", t, p, err)
				}
				l.Lag = max(end-start, 0)
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// lagLoop refreshes kafka_consumer_lag every LagInterval until ctx ends.
func (d *Dispatcher) lagLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.LagInterval)
	defer t.Stop()
	for {
		for _, r := range d.runners {
			lags, err := r.lag()
			if err != nil && ctx.Err() == nil && !errors.Is(err, errNotRunning) {
				d.log.Warn("read consumer lag", "source", r.ref, "error", err)
			}
			for _, l := range lags {
				d.metrics.lag.WithLabelValues(l.Group, l.Topic, strconv.Itoa(int(l.Partition))).Set(float64(l.Lag))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
