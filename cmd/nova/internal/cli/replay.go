package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/deadletters"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Replay selects the pending dead letters of the database at dsn that
// match f and sends each failed record back to the topic it was read
// from (deadletters.Replay).
func Replay(ctx context.Context, dsn string, brokers []string, sec kafka.Security, f store.Filter) (deadletters.ReplayResult, error) {
	pool, s, err := openDeadLetters(ctx, dsn)
	if err != nil {
		return deadletters.ReplayResult{}, err
	}
	defer pool.Close()
	return deadletters.Replay(ctx, s, brokers, sec, f)
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
		pool, s, err := openDeadLetters(ctx, dsn)
		if err != nil {
			return err
		}
		defer pool.Close()
		entries, err := deadletters.SelectPending(ctx, s, f)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			WriteDeadLetters(st.Out, names, entries)
		}
		fmt.Fprintf(st.Out, "would write %s for %s%s\n", plural(len(GroupDeadLetters(entries)), "record", "records"),
			plural(len(entries), "dead-letter entry", "dead-letter entries"), named(names.Consumers(entries)))
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
			w.Record.Topic, w.Record.Key, plural(len(e), "dead-letter entry", "dead-letter entries"), named(names.Consumers(e)))
	}
	resolved := res.Resolved()
	summary := fmt.Sprintf("wrote %s for %s%s", plural(len(res.Written), "record", "records"),
		plural(len(resolved), "dead-letter entry", "dead-letter entries"), named(names.Consumers(resolved)))
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
