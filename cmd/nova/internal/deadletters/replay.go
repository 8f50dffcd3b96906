package deadletters

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/cmd/nova/internal/kafkacheck"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// ReplayResult says what a replay did.
type ReplayResult struct {
	// Selected are the pending entries that matched, oldest first, with
	// the other pending entries of the same records (the other consumers
	// that failed them).
	Selected []store.Entry
	// Written are the records produced again, one per failed record
	// however many consumers failed it.
	Written []ReplayedRecord
}

// ReplayedRecord is one record written back to its topic.
type ReplayedRecord struct {
	Record kafka.Record
	// Resolved are the dead-letter entries it answers, marked replayed:
	// every consumer that failed the record gets it again.
	Resolved []store.Entry
}

// Resolved are the entries marked replayed.
func (r ReplayResult) Resolved() []store.Entry {
	var out []store.Entry
	for _, w := range r.Written {
		out = append(out, w.Resolved...)
	}
	return out
}

// ErrNotReplayable marks an entry that cannot be sent back as it was read:
// its topic or its key is unknown.
var ErrNotReplayable = errors.New("not replayable")

// producer bounds how long a replay waits for an unreachable Kafka: an
// operator wants an answer in seconds, not the half hour a service's
// producer keeps trying.
func producer(brokers []string, sec kafka.Security) (*kafka.Producer, error) {
	cfg := kafka.DefaultProducerConfig(brokers...)
	cfg.Security = sec
	cfg.ClientID = "nova-replay"
	cfg.RetryMax = 20
	cfg.MaxRetryBackoff = time.Second
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	return p, nil
}

// Replay selects the pending dead letters of s that match f, sends each
// failed record back to the topic it was read from, once however many
// consumers failed it, and marks its entries replayed. f.Pending and
// f.OldestFirst are forced on: a replayed entry is never sent again by a
// later replay, and events of one key go back in the order they failed.
// Entries that could not be sent stay pending and are named in the error.
func Replay(ctx context.Context, s *store.Store, brokers []string, sec kafka.Security, f store.Filter) (ReplayResult, error) {
	entries, err := SelectPending(ctx, s, f)
	res := ReplayResult{Selected: entries}
	if err != nil || len(entries) == 0 {
		return res, err
	}
	// Kafka asked first: down, a refused login or a topic gone is said in
	// seconds, and the entries of a missing topic stay pending.
	var topics []string
	for _, e := range entries {
		if e.Topic != "" && !slices.Contains(topics, e.Topic) {
			topics = append(topics, e.Topic)
		}
	}
	missing, err := kafkacheck.Topics(ctx, brokers, sec, topics...)
	if err != nil {
		return res, err
	}
	p, err := producer(brokers, sec)
	if err != nil {
		return res, err
	}
	defer p.Close()
	res.Written, err = replayRecords(ctx, s, p, Group(entries), missing)
	return res, err
}

// SelectPending lists the pending entries matching f, oldest first, and
// adds the pending entries of the same records that f left out (another
// consumer's, or past the limit): the record goes back once for all of
// them, so none of them may send it again later.
func SelectPending(ctx context.Context, s *store.Store, f store.Filter) ([]store.Entry, error) {
	f.Pending, f.OldestFirst = true, true
	entries, err := s.List(ctx, f)
	if err != nil {
		return nil, err
	}
	have := map[int64]bool{}
	for _, e := range entries {
		have[e.Seq] = true
	}
	var more []store.Entry
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Topic == "" || e.Partition == nil || e.Offset == nil || seen[RecordOf(e)] {
			continue
		}
		seen[RecordOf(e)] = true
		// Every consumer's entry of the record: a few, one per destination
		// (or KafkaSource) that failed it.
		sibs, err := s.List(ctx, store.Filter{Topic: e.Topic, Partition: e.Partition, Offset: e.Offset,
			Pending: true, OldestFirst: true, Limit: 10000})
		if err != nil {
			return nil, fmt.Errorf("dead-letter: the other consumers of %s: %w", RecordOf(e), err)
		}
		for _, sib := range sibs {
			if !have[sib.Seq] {
				have[sib.Seq] = true
				more = append(more, sib)
			}
		}
	}
	if len(more) == 0 {
		return entries, nil
	}
	entries = append(entries, more...)
	slices.SortStableFunc(entries, func(a, b store.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return entries, nil
}

// replayRecords produces each failed record once, in the order given, and
// marks the entries of every consumer that failed it replayed once the
// broker has acknowledged it. Sending before marking means a crash in
// between leaves the entries pending and a second replay sends the record
// again; consumers deduplicate on source and id, so that costs nothing,
// whereas marking first could lose the event. Each mark names the failure
// that was sent (Seq), so a failure of the replayed copy that is stored
// before the mark stays pending.
func replayRecords(ctx context.Context, s *store.Store, p *kafka.Producer, groups []Failed, missing map[string]error) ([]ReplayedRecord, error) {
	var (
		done []ReplayedRecord
		errs []error
	)
	for _, g := range groups {
		// Someone may have replayed some since they were listed, or a new
		// failure read elsewhere may have replaced one.
		var pending []store.Entry
		for _, e := range g.Entries {
			cur, err := s.Get(ctx, e.Source, e.ID, e.ErrorDest)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if cur.ReplayedAt == nil && RecordOf(cur) == RecordOf(e) {
				pending = append(pending, cur)
			}
		}
		if len(pending) == 0 {
			continue
		}
		first := pending[0]
		rec, err := Record(first)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := missing[rec.Topic]; err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", first.Source, first.ID, err))
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, kafkacheck.Wait)
		err = p.Send(sctx, rec)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", first.Source, first.ID, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		written := ReplayedRecord{Record: rec}
		for _, e := range pending {
			marked, err := s.MarkReplayedIf(ctx, e.Seq)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s was sent again but not marked replayed: %w", entryRef(e), err))
			case !marked:
				// The copy just sent has failed already and was stored as
				// a new, pending failure.
				errs = append(errs, fmt.Errorf("%s was sent again and failed again at once; it stays pending (nova dead-letters --id %s)",
					entryRef(e), e.ID))
			default:
				written.Resolved = append(written.Resolved, e)
			}
		}
		done = append(done, written)
	}
	return done, errors.Join(errs...)
}

// Record is the record that puts e back where it was read: the same
// topic and the same key, hence (murmur2, as every Nova producer
// partitions) the same partition while the topic keeps its partition
// count, behind whatever that key produced since. The event keeps its
// source and id, so a consumer that did apply it (another consumer group
// of the topic) recognises it, and one that never did applies it now.
func Record(e store.Entry) (kafka.Record, error) {
	if e.Topic == "" {
		return kafka.Record{}, fmt.Errorf("%s %s: %w: the topic it was read from is unknown", e.Source, e.ID, ErrNotReplayable)
	}
	ev := Replayable(e.Event)
	ext := ev.Extensions()
	key := extensionString(ext, envelope.PartitionKeyExtension)
	if key == "" {
		// A plain record KafkaSource wrapped carries its key in both; an
		// older wrapper set only key.
		key = extensionString(ext, "key")
	}
	if key == "" {
		return kafka.Record{}, fmt.Errorf("%s %s: %w: it has no partitionkey, so its partition cannot be found again", e.Source, e.ID, ErrNotReplayable)
	}
	return kafka.Record{Topic: e.Topic, Key: key, Event: ev}, nil
}

// Key is the key e's record goes back under, "-" when it cannot go back.
func Key(e store.Entry) string {
	if rec, err := Record(e); err == nil {
		return rec.Key
	}
	return "-"
}

// entryRef names one entry in a message: the event, and the destination
// that failed it.
func entryRef(e store.Entry) string {
	if e.ErrorDest == "" {
		return e.Source + " " + e.ID
	}
	return e.Source + " " + e.ID + " at " + e.ErrorDest
}

func extensionString(ext map[string]any, name string) string {
	v, ok := ext[name]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// Replayable is the event as it was before it failed: without the
// extensions the dead-letter path added.
func Replayable(e cloudevents.Event) cloudevents.Event {
	out := e.Clone()
	for _, ext := range []string{delivery.ExtErrorDest, delivery.ExtErrorCode, delivery.ExtErrorData,
		delivery.ExtKafkaTopic, delivery.ExtKafkaPartition, delivery.ExtKafkaOffset} {
		out.SetExtension(ext, nil)
	}
	return out
}
