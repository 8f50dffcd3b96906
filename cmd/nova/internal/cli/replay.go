package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// ReplayResult says what a replay did.
type ReplayResult struct {
	// Selected are the pending entries that matched, oldest first.
	Selected []store.Entry
	// Replayed are those produced again and marked replayed.
	Replayed []store.Entry
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
// match f, sends each back to the topic it was read from and marks it
// replayed. f.Pending and f.OldestFirst are forced on: a replayed entry is
// never sent again by a later replay, and events of one key go back in the
// order they failed. Entries that could not be sent stay pending and are
// named in the error.
func Replay(ctx context.Context, dsn string, brokers []string, sec kafka.Security, f store.Filter) (ReplayResult, error) {
	pool, err := openDeadLetters(ctx, dsn)
	if err != nil {
		return ReplayResult{}, err
	}
	defer pool.Close()
	s := store.New(pool)
	f.Pending, f.OldestFirst = true, true
	entries, err := s.List(ctx, f)
	if err != nil {
		return ReplayResult{}, err
	}
	res := ReplayResult{Selected: entries}
	if len(entries) == 0 {
		return res, nil
	}
	p, err := replayProducer(brokers, sec)
	if err != nil {
		return res, err
	}
	defer p.Close()
	res.Replayed, err = replayEntries(ctx, s, p, entries)
	return res, err
}

func openDeadLetters(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pool, err := system.OpenDatabase(ctx, dsn)
	if err != nil {
		return nil, err
	}
	// The table exists once the dead-letter function has started; migrating
	// here lets a replay find nothing (rather than fail) before that.
	if err := store.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// replayEntries produces the entries one at a time, in the order given, and
// marks each replayed once the broker has acknowledged it. Sending before
// marking means a crash in between leaves the entry pending and a second
// replay sends it again; consumers deduplicate on source and id, so that
// costs nothing, whereas marking first could lose the event. The mark names
// the failure that was sent (Seq), so a failure of the replayed copy that is
// stored before the mark stays pending.
func replayEntries(ctx context.Context, s *store.Store, p *kafka.Producer, entries []store.Entry) ([]store.Entry, error) {
	var (
		done []store.Entry
		errs []error
	)
	for _, e := range entries {
		// Someone may have replayed it since it was listed.
		cur, err := s.Get(ctx, e.Source, e.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cur.ReplayedAt != nil {
			continue
		}
		rec, err := replayRecord(cur)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.Send(ctx, rec); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", e.Source, e.ID, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		marked, err := s.MarkReplayedIf(ctx, cur.Source, cur.ID, cur.Seq)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s was sent again but not marked replayed: %w", e.Source, e.ID, err))
			continue
		}
		if !marked {
			// The copy just sent has failed already and was stored as a
			// new, pending failure.
			errs = append(errs, fmt.Errorf("%s %s was sent again and failed again at once; it stays pending (nova dead-letters --id %s)",
				e.Source, e.ID, e.ID))
			continue
		}
		done = append(done, cur)
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
	fs := newFlags("replay", "[flags]", st)
	var (
		dsn, brokers, since string
		f                   store.Filter
		dryRun              bool
	)
	fs.StringVar(&dsn, "database-url", system.DefaultDatabaseURL, "PostgreSQL holding the dead-letter store [DATABASE_URL]")
	fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "Kafka to produce to [KAFKA_BROKERS]")
	sec := kafkaSecurity(fs)
	fs.StringVar(&f.Topic, "topic", "", "only events read from this topic")
	fs.StringVar(&f.Source, "source", "", "only events with this CloudEvents source")
	fs.StringVar(&f.ID, "id", "", "only the event with this CloudEvents id (with --source when ids may repeat across sources)")
	fs.StringVar(&f.Type, "type", "", "only events of this CloudEvents type")
	fs.StringVar(&since, "since", "", "only events dead-lettered since then: a duration back from now (2h) or an RFC 3339 time")
	fs.IntVar(&f.Limit, "limit", 100, "at most this many, oldest first")
	fs.BoolVar(&dryRun, "dry-run", false, "list what would be replayed and send nothing")
	if pos, err := parse(fs, args); err != nil {
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
	return replaySelected(ctx, st, dsn, kafka.ParseBrokers(brokers), sec(), f, dryRun)
}

// replaySelected is nova replay (and nova dead-letters --replay): it sends
// the pending entries matching f, or with dryRun lists them.
func replaySelected(ctx context.Context, st Streams, dsn string, brokers []string, sec kafka.Security, f store.Filter, dryRun bool) error {
	if dryRun {
		f.Pending, f.OldestFirst = true, true
		entries, err := DeadLetters(ctx, dsn, f)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			WriteDeadLetters(st.Out, entries)
		}
		fmt.Fprintf(st.Out, "would replay %d dead letters\n", len(entries))
		return nil
	}
	res, err := Replay(ctx, dsn, brokers, sec, f)
	for _, e := range res.Replayed {
		fmt.Fprintf(st.Out, "replayed %s %s %s to %s key %s\n", e.Type, e.Source, e.ID, e.Topic, replayKey(e))
	}
	fmt.Fprintf(st.Out, "replayed %d of %d dead letters\n", len(res.Replayed), len(res.Selected))
	return err
}

func replayKey(e store.Entry) string {
	if rec, err := replayRecord(e); err == nil {
		return rec.Key
	}
	return "-"
}
