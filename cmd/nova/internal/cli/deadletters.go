package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/kafka"
)

// DeadLetters lists the dead-letter store of the database at dsn.
func DeadLetters(ctx context.Context, dsn string, f store.Filter) ([]store.Entry, error) {
	pool, err := openDeadLetters(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	return store.New(pool).List(ctx, f)
}

// WriteDeadLetters prints entries as a table, in the order given.
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

func oneLine(s string, most int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > most {
		return string(r[:most-1]) + "…"
	}
	return s
}

func deadLettersCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("dead-letters", "[flags]", st)
	var (
		dsn, brokers string
		f            store.Filter
		asJSON       bool
		replay       bool
	)
	fs.StringVar(&dsn, "database-url", system.DefaultDatabaseURL, "PostgreSQL [DATABASE_URL]")
	fs.StringVar(&f.Topic, "topic", "", "only events read from this topic")
	fs.StringVar(&f.Source, "source", "", "only events with this CloudEvents source")
	fs.StringVar(&f.ID, "id", "", "only the event with this CloudEvents id")
	fs.StringVar(&f.Type, "type", "", "only events of this CloudEvents type")
	fs.BoolVar(&f.Pending, "pending", false, "leave out events already replayed")
	fs.IntVar(&f.Limit, "limit", 50, "at most this many, newest first")
	fs.BoolVar(&asJSON, "json", false, "print the stored events as JSON lines")
	fs.BoolVar(&replay, "replay", false, "produce the matching pending events to their topics again and mark them replayed (as nova replay)")
	fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "with --replay: Kafka to produce to [KAFKA_BROKERS]")
	sec := kafkaSecurity(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return ErrUsage
	}
	if replay {
		// The same as nova replay with these filters.
		return replaySelected(ctx, st, dsn, kafka.ParseBrokers(brokers), sec(), f, false)
	}
	entries, err := DeadLetters(ctx, dsn, f)
	if err != nil {
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
