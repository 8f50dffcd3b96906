package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/broker"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/kafka"
)

// DeadLetters lists the dead-letter store of the database at dsn.
func DeadLetters(ctx context.Context, dsn string, f store.Filter) ([]store.Entry, error) {
	pool, err := system.OpenDatabase(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	// The table exists once the dead-letter function has started; migrating
	// here lets the listing work (empty) before that.
	if err := store.Migrate(ctx, pool); err != nil {
		return nil, err
	}
	return store.New(pool).List(ctx, f)
}

// WriteDeadLetters prints entries as a table, newest first.
func WriteDeadLetters(w io.Writer, entries []store.Entry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tTYPE\tSOURCE\tID\tFROM\tCODE\tERROR\tREPLAYED")
	for _, e := range entries {
		from := e.Topic
		if e.Partition != nil && e.Offset != nil {
			from += fmt.Sprintf("[%d]@%d", *e.Partition, *e.Offset)
		}
		replayed := ""
		if e.ReplayedAt != nil {
			replayed = e.ReplayedAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			e.ReceivedAt.Local().Format(time.DateTime), e.Type, e.Source, e.ID, from,
			code(e.ErrorCode), oneLine(e.ErrorData, 60), replayed)
	}
	_ = tw.Flush()
}

func code(c int) string {
	if c == 0 {
		return "-"
	}
	return fmt.Sprint(c)
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// replayable is the event as it was before it failed: without the
// extensions the dead-letter path added.
func replayable(e cloudevents.Event) cloudevents.Event {
	out := e.Clone()
	for _, ext := range []string{store.ExtErrorDest, store.ExtErrorCode, store.ExtErrorData,
		store.ExtKafkaTopic, store.ExtKafkaPartition, store.ExtKafkaOffset} {
		out.SetExtension(ext, nil)
	}
	return out
}

// Replay produces each entry's event to the topic it was read from again and
// marks it replayed; entries whose topic is unknown are skipped and named in
// the error.
func Replay(ctx context.Context, dsn string, brokers []string, entries []store.Entry) (int, error) {
	pool, err := system.OpenDatabase(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	s := store.New(pool)
	p, err := kafka.NewProducer(kafka.DefaultProducerConfig(brokers...))
	if err != nil {
		return 0, fmt.Errorf("connect to Kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	defer p.Close()
	var (
		n    int
		errs []error
	)
	for _, e := range entries {
		if e.Topic == "" {
			errs = append(errs, fmt.Errorf("%s %s: its topic is unknown", e.Source, e.ID))
			continue
		}
		ev := replayable(e.Event)
		key, _ := ev.Extensions()[envelope.PartitionKeyExtension].(string)
		if key == "" {
			key, _ = ev.Extensions()["key"].(string)
		}
		if err := p.Send(ctx, kafka.Record{Topic: e.Topic, Key: key, Event: ev}); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", e.Source, e.ID, err))
			continue
		}
		if err := s.MarkReplayed(ctx, e.Source, e.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func deadLettersCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("dead-letters", "[flags]", st)
	var (
		dsn, brokers string
		f            store.Filter
		asJSON       bool
		replay       bool
	)
	fs.StringVar(&dsn, "database-url", envOr("DATABASE_URL", system.DefaultDatabaseURL), "PostgreSQL [DATABASE_URL]")
	fs.StringVar(&f.Topic, "topic", "", "only events read from this topic")
	fs.StringVar(&f.Source, "source", "", "only events with this CloudEvents source")
	fs.BoolVar(&f.Pending, "pending", false, "leave out events already replayed")
	fs.IntVar(&f.Limit, "limit", 50, "at most this many, newest first")
	fs.BoolVar(&asJSON, "json", false, "print the stored events as JSON lines")
	fs.BoolVar(&replay, "replay", false, "produce the listed pending events to their topics again and mark them replayed")
	fs.StringVar(&brokers, "kafka-brokers", envOr("KAFKA_BROKERS", "127.0.0.1:9092"), "with --replay: Kafka to produce to [KAFKA_BROKERS]")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return ErrUsage
	}
	if replay {
		f.Pending = true
	}
	entries, err := DeadLetters(ctx, dsn, f)
	if err != nil {
		return err
	}
	if replay {
		n, err := Replay(ctx, dsn, broker.ParseBrokers(brokers), entries)
		fmt.Fprintf(st.Out, "replayed %d of %d dead letters\n", n, len(entries))
		return err
	}
	if asJSON {
		enc := json.NewEncoder(st.Out)
		for _, e := range entries {
			if err := enc.Encode(e.Event); err != nil {
				return err
			}
		}
		return nil
	}
	WriteDeadLetters(st.Out, entries)
	return nil
}
