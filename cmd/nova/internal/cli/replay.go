package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/cmd/nova/internal/system"
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

// replayProducer bounds how long a replay waits for an unreachable Kafka:
// an operator at a terminal wants an answer in seconds, not the half hour
// a service's producer keeps trying.
func replayProducer(brokers []string, sec kafka.Security) (*kafka.Producer, error) {
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

// Replay selects the pending dead letters of the database at dsn that
// match f, sends each failed record back to the topic it was read from,
// once however many consumers failed it, and marks its entries replayed.
// f.Pending and f.OldestFirst are forced on: a replayed entry is never
// sent again by a later replay, and events of one key go back in the
// order they failed. Entries that could not be sent stay pending and are
// named in the error.
func Replay(ctx context.Context, dsn string, brokers []string, sec kafka.Security, f store.Filter) (ReplayResult, error) {
	pool, err := openDeadLetters(ctx, dsn)
	if err != nil {
		return ReplayResult{}, err
	}
	defer pool.Close()
	s := store.New(pool)
	entries, err := selectPending(ctx, s, f)
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
	missing, err := kafkaTopics(ctx, brokers, sec, topics...)
	if err != nil {
		return res, err
	}
	p, err := replayProducer(brokers, sec)
	if err != nil {
		return res, err
	}
	defer p.Close()
	res.Written, err = replayRecords(ctx, s, p, GroupDeadLetters(entries), missing)
	return res, err
}

// selectPending lists the pending entries matching f, oldest first, and
// adds the pending entries of the same records that f left out (another
// consumer's, or past the limit): the record goes back once for all of
// them, so none of them may send it again later.
func selectPending(ctx context.Context, s *store.Store, f store.Filter) ([]store.Entry, error) {
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
		if e.Topic == "" || e.Partition == nil || e.Offset == nil || seen[recordOf(e)] {
			continue
		}
		seen[recordOf(e)] = true
		// Every consumer's entry of the record: a few, one per destination
		// (or KafkaSource) that failed it.
		sibs, err := s.List(ctx, store.Filter{Topic: e.Topic, Partition: e.Partition, Offset: e.Offset,
			Pending: true, OldestFirst: true, Limit: 10000})
		if err != nil {
			return nil, fmt.Errorf("dead-letter: the other consumers of %s: %w", recordOf(e), err)
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
			if cur.ReplayedAt == nil && recordOf(cur) == recordOf(e) {
				pending = append(pending, cur)
			}
		}
		if len(pending) == 0 {
			continue
		}
		first := pending[0]
		rec, err := replayRecord(first)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := missing[rec.Topic]; err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", first.Source, first.ID, err))
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, kafkaWait)
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

// replayRecord is the record that puts e back where it was read: the same
// topic and the same key, hence (murmur2, as every Nova producer
// partitions) the same partition while the topic keeps its partition
// count, behind whatever that key produced since. The event keeps its
// source and id, so a consumer that did apply it (another consumer group
// of the topic) recognises it, and one that never did applies it now.
func replayRecord(e store.Entry) (kafka.Record, error) {
	if e.Topic == "" {
		return kafka.Record{}, fmt.Errorf("%s %s: %w: the topic it was read from is unknown", e.Source, e.ID, ErrNotReplayable)
	}
	ev := replayable(e.Event)
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

// replayable is the event as it was before it failed: without the
// extensions the dead-letter path added.
func replayable(e cloudevents.Event) cloudevents.Event {
	out := e.Clone()
	for _, ext := range []string{delivery.ExtErrorDest, delivery.ExtErrorCode, delivery.ExtErrorData,
		delivery.ExtKafkaTopic, delivery.ExtKafkaPartition, delivery.ExtKafkaOffset} {
		out.SetExtension(ext, nil)
	}
	return out
}

// parseSince reads --since: a duration back from now ("2h") or an RFC 3339
// time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %s: a duration back from now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want a duration such as 2h or a time such as 2026-11-25T10:00:00Z", s)
	}
	return t, nil
}

func replayCmd(ctx context.Context, args []string, st Streams) error {
	fs := newTool("replay", "[flags]", st)
	var (
		dsn, brokers, since string
		f                   store.Filter
		dryRun              bool
	)
	fs.StringVar(&dsn, "database-url", system.DefaultDatabaseURL, "PostgreSQL holding the dead-letter store"+runningNova+" [DATABASE_URL]")
	fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "Kafka to produce to"+runningNova+" [KAFKA_BROKERS]")
	sec := kafkaSecurity(fs.FlagSet, fs.getenv)
	fs.StringVar(&f.Topic, "topic", "", "only events read from this topic")
	fs.StringVar(&f.Source, "source", "", "only events with this CloudEvents source")
	fs.StringVar(&f.ID, "id", "", "only the event with this CloudEvents id (with --source when ids may repeat across sources)")
	fs.StringVar(&f.Type, "type", "", "only events of this CloudEvents type")
	fs.StringVar(&since, "since", "", "only events dead-lettered since then: a duration back from now (2h) or an RFC 3339 time")
	fs.IntVar(&f.Limit, "limit", 100, "at most this many, oldest first")
	fs.BoolVar(&dryRun, "dry-run", false, "list what would be replayed and send nothing")
	if pos, err := fs.parse(args); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return ErrUsage
	}
	var err error
	if f.Since, err = parseSince(since, time.Now()); err != nil {
		fmt.Fprintln(st.Err, err)
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if f.Limit <= 0 {
		fmt.Fprintln(st.Err, "--limit must be positive")
		return ErrUsage
	}
	return replaySelected(ctx, st, fs.consumerNames(), dsn, kafka.ParseBrokers(brokers), sec(), f, dryRun)
}

// replaySelected is nova replay (and nova dead-letters --replay): it sends
// the pending entries matching f, or with dryRun lists them, naming their
// consumers by names.
func replaySelected(ctx context.Context, st Streams, names Names, dsn string, brokers []string, sec kafka.Security, f store.Filter, dryRun bool) error {
	if dryRun {
		pool, err := openDeadLetters(ctx, dsn)
		if err != nil {
			return err
		}
		defer pool.Close()
		entries, err := selectPending(ctx, store.New(pool), f)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			WriteDeadLetters(st.Out, names, entries)
		}
		fmt.Fprintf(st.Out, "would write %s for %s%s\n", plural(len(GroupDeadLetters(entries)), "record", "records"),
			plural(len(entries), "dead-letter entry", "dead-letter entries"), named(names.consumers(entries)))
		return nil
	}
	res, err := Replay(ctx, dsn, brokers, sec, f)
	for _, w := range res.Written {
		e := w.Resolved
		if len(e) == 0 {
			fmt.Fprintf(st.Out, "wrote %s %s to %s key %s, for no entry (each failed again at once)\n",
				w.Record.Event.Type(), w.Record.Event.ID(), w.Record.Topic, w.Record.Key)
			continue
		}
		fmt.Fprintf(st.Out, "wrote %s %s to %s key %s for %s%s\n", w.Record.Event.Type(), w.Record.Event.ID(),
			w.Record.Topic, w.Record.Key, plural(len(e), "dead-letter entry", "dead-letter entries"), named(names.consumers(e)))
	}
	resolved := res.Resolved()
	summary := fmt.Sprintf("wrote %s for %s%s", plural(len(res.Written), "record", "records"),
		plural(len(resolved), "dead-letter entry", "dead-letter entries"), named(names.consumers(resolved)))
	if left := len(res.Selected) - len(resolved); left > 0 {
		summary += fmt.Sprintf("; %s of %d selected left pending", plural(left, "entry", "entries"), len(res.Selected))
	}
	fmt.Fprintln(st.Out, summary)
	return err
}

// plural is "1 record", "2 records".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// named is " (a, b)", or "" for no names.
func named(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}

func replayKey(e store.Entry) string {
	if rec, err := replayRecord(e); err == nil {
		return rec.Key
	}
	return "-"
}
