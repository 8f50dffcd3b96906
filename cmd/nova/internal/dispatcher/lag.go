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
	lags, errs, err := d.readLags(ctx)
	if err != nil {
		return nil, err
	}
	var out []Lag
	for _, l := range lags {
		out = append(out, l...)
	}
	return out, errors.Join(errs...)
}

// readLags reads each runner's lag, all at once: one after another they add
// up to seconds on a busy machine. lags[i] and errs[i] are d.runners[i]'s.
func (d *Dispatcher) readLags(ctx context.Context) ([][]Lag, []error, error) {
	// Not named results: a return on ctx's end must not touch the slices
	// the readers still write.
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
		return lags, errs, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
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
	ends, err := offsetsAt(client, want, sarama.OffsetNewest)
	if err != nil {
		return nil, fmt.Errorf("ends of %s: %w", r.src.ConsumerGroup, err)
	}
	var out []Lag
	uncommitted := map[string][]int32{}
	for _, t := range r.src.Topics {
		for _, p := range want[t] {
			l := Lag{Source: r.ref, Group: r.src.ConsumerGroup, Topic: t, Partition: p, Committed: -1, End: ends[partitionOf{t, p}]}
			if b := committed.GetBlock(t, p); b != nil && b.Err == sarama.ErrNoError && b.Offset >= 0 {
				l.Committed = b.Offset
				l.Lag = max(l.End-l.Committed, 0)
			} else if r.src.InitialOffset == source.OffsetEarliest {
				uncommitted[t] = append(uncommitted[t], p)
			}
			out = append(out, l)
		}
	}
	if len(uncommitted) == 0 {
		return out, nil
	}
	// With nothing committed, an earliest group still has the whole log to
	// read.
	starts, err := offsetsAt(client, uncommitted, sarama.OffsetOldest)
	if err != nil {
		return out, fmt.Errorf("starts of %s: %w", r.src.ConsumerGroup, err)
	}
	for i, l := range out {
		if start, ok := starts[partitionOf{l.Topic, l.Partition}]; ok {
			out[i].Lag = max(l.End-start, 0)
		}
	}
	return out, nil
}

type partitionOf struct {
	topic     string
	partition int32
}

// offsetsAt asks each partition's leader for its offset at (OffsetNewest or
// OffsetOldest), one request per broker rather than one per partition.
// A leader that moved since the client's metadata was read answers
// NOT_LEADER_OR_FOLLOWER: the metadata is read again and the question
// asked once more, as the client's own requests do.
func offsetsAt(client sarama.Client, parts map[string][]int32, at int64) (map[partitionOf]int64, error) {
	out, err := offsetsFromLeaders(client, parts, at)
	if !errors.Is(err, sarama.ErrNotLeaderForPartition) && !errors.Is(err, sarama.ErrLeaderNotAvailable) {
		return out, err
	}
	topics := make([]string, 0, len(parts))
	for t := range parts {
		topics = append(topics, t)
	}
	if rerr := client.RefreshMetadata(topics...); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return offsetsFromLeaders(client, parts, at)
}

func offsetsFromLeaders(client sarama.Client, parts map[string][]int32, at int64) (map[partitionOf]int64, error) {
	byLeader := map[*sarama.Broker]*sarama.OffsetRequest{}
	for t, ps := range parts {
		for _, p := range ps {
			b, err := client.Leader(t, p)
			if err != nil {
				return nil, fmt.Errorf("leader of %s/%d: %w", t, p, err)
			}
			req := byLeader[b]
			if req == nil {
				req = sarama.NewOffsetRequest(client.Config().Version)
				byLeader[b] = req
			}
			req.AddBlock(t, p, at, 1)
		}
	}
	out := map[partitionOf]int64{}
	for b, req := range byLeader {
		resp, err := b.GetAvailableOffsets(req)
		if err != nil {
			_ = b.Close() // the client opens it again on next use, as it does after its own failed requests
			return nil, fmt.Errorf("offsets from broker %d: %w", b.ID(), err)
		}
		for t, ps := range parts {
			for _, p := range ps {
				blk := resp.GetBlock(t, p)
				if blk == nil {
					continue // another leader's
				}
				if blk.Err != sarama.ErrNoError {
					return nil, fmt.Errorf("offset of %s/%d: %w", t, p, blk.Err)
				}
				if len(blk.Offsets) != 1 { // every version decodes into Offsets
					return nil, fmt.Errorf("offset of %s/%d: %w", t, p, sarama.ErrOffsetOutOfRange)
				}
				out[partitionOf{t, p}] = blk.Offsets[0]
			}
		}
	}
	for t, ps := range parts {
		for _, p := range ps {
			if _, ok := out[partitionOf{t, p}]; !ok {
				return nil, fmt.Errorf("offset of %s/%d: %w", t, p, sarama.ErrIncompleteResponse)
			}
		}
	}
	return out, nil
}

// lagLoop refreshes kafka_consumer_lag every LagInterval until ctx ends,
// each source's on its own: one whose brokers answer slowly leaves the
// others' gauges current.
func (d *Dispatcher) lagLoop(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range d.runners {
		wg.Go(func() { d.lagLoopOf(ctx, r) })
	}
	wg.Wait()
}

func (d *Dispatcher) lagLoopOf(ctx context.Context, r *runner) {
	t := time.NewTicker(d.cfg.LagInterval)
	defer t.Stop()
	for {
		lags, err := r.lag()
		if err != nil && ctx.Err() == nil && !errors.Is(err, errNotRunning) {
			d.log.Warn("read consumer lag", "source", r.ref, "error", err)
		}
		for _, l := range lags {
			d.metrics.lag.WithLabelValues(l.Group, l.Topic, strconv.Itoa(int(l.Partition))).Set(float64(l.Lag))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
