package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/deadletters"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// DeadLetters lists the dead-letter store of the database at dsn.
func DeadLetters(ctx context.Context, dsn string, f store.Filter) ([]store.Entry, error) {
	pool, s, err := openDeadLetters(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	return s.List(ctx, f)
}

// Failed is one record that one or more consumers failed.
type Failed = deadletters.Failed

// GroupDeadLetters gathers entries by the record they failed, each group
// where its first entry was.
func GroupDeadLetters(entries []store.Entry) []Failed { return deadletters.Group(entries) }

// Names are the functions of a running nova run by the address each
// listens on, which name the consumers of dead letters.
type Names = deadletters.Names

// WriteDeadLetters prints entries as a table, a line per failed record
// with the consumers that failed it (named by names), in the order given.
// Reasons are cut to fit; nova dead-letters --id shows them whole.
func WriteDeadLetters(w io.Writer, names Names, entries []store.Entry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tTYPE\tSOURCE\tID\tFROM\tCONSUMERS\tCODE\tERROR\tREPLAYED")
	for _, g := range GroupDeadLetters(entries) {
		first := g.Entries[0]
		source := first.Source
		var codes, reasons []string
		replayed, pending := "", 0
		for _, e := range g.Entries {
			if e.Source != source {
				source = "(each consumer's)"
			}
			if c := code(e.ErrorCode); !slices.Contains(codes, c) {
				codes = append(codes, c)
			}
			if r := oneLine(e.ErrorData, 1000); !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
			if e.ReplayedAt == nil {
				pending++
			} else if t := e.ReplayedAt.Local().Format(time.DateTime); t > replayed {
				replayed = t
			}
		}
		reason := oneLine(reasons[0], 60)
		if len(reasons) > 1 {
			reason = oneLine(reasons[0], 45) + fmt.Sprintf(" (+%d more)", len(reasons)-1)
		}
		if pending > 0 && replayed != "" {
			replayed = fmt.Sprintf("%d of %d", len(g.Entries)-pending, len(g.Entries))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			first.ReceivedAt.Local().Format(time.DateTime), first.Type, source, first.ID, deadletters.Where(first),
			strings.Join(names.Consumers(g.Entries), ","), strings.Join(codes, ","), reason, replayed)
	}
	_ = tw.Flush()
}

// WriteDeadLetterDetails prints every entry whole, grouped by the record
// they failed: every attribute, and each consumer's reason in full.
func WriteDeadLetterDetails(w io.Writer, names Names, entries []store.Entry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return
	}
	for i, g := range GroupDeadLetters(entries) {
		if i > 0 {
			fmt.Fprintln(w)
		}
		first := g.Entries[0]
		fmt.Fprintf(w, "record %s", deadletters.Where(first))
		if k := deadletters.Key(first); k != "-" {
			fmt.Fprintf(w, ", key %s", k)
		}
		fmt.Fprintf(w, ", failed by %d: %s\n", len(g.Entries), strings.Join(names.Consumers(g.Entries), ", "))
		field(w, "  ", "type", first.Type)
		field(w, "  ", "id", first.ID)
		field(w, "  ", "subject", first.Subject)
		if !first.EventTime.IsZero() {
			field(w, "  ", "time", first.EventTime.Local().Format(time.RFC3339Nano))
		}
		for _, e := range g.Entries {
			fmt.Fprintf(w, "  consumer %s\n", names.Consumer(e))
			field(w, "    ", "source", e.Source)
			field(w, "    ", "sink", e.ErrorDest)
			field(w, "    ", "code", code(e.ErrorCode))
			field(w, "    ", "received", e.ReceivedAt.Local().Format(time.DateTime))
			replayed := "no (pending)"
			if e.ReplayedAt != nil {
				replayed = e.ReplayedAt.Local().Format(time.DateTime)
			}
			field(w, "    ", "replayed", replayed)
			field(w, "    ", "reason", e.ErrorData)
		}
	}
}

// field prints a labelled value, the lines of a long one each under the
// first.
func field(w io.Writer, indent, label, value string) {
	if value == "" {
		return
	}
	pad := indent + strings.Repeat(" ", 10)
	lines := strings.Split(strings.TrimRight(value, "\n"), "\n")
	fmt.Fprintf(w, "%s%-10s%s\n", indent, label, lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "%s%s\n", pad, l)
	}
}

// DeadLetterJSON is one entry as nova dead-letters --json prints it.
type DeadLetterJSON = deadletters.JSON

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
	fs := newTool("dead-letters", "[flags]", st)
	var (
		dsn, brokers string
		f            store.Filter
		asJSON       bool
		replay       bool
	)
	fs.StringVar(&dsn, "database-url", system.DefaultDatabaseURL, "PostgreSQL holding the dead-letter store"+runningNova+" [DATABASE_URL]")
	fs.StringVar(&f.Topic, "topic", "", "only events read from this topic")
	fs.StringVar(&f.Source, "source", "", "only events with this CloudEvents source")
	fs.StringVar(&f.ID, "id", "", "only the event with this CloudEvents id, shown whole: every consumer's full reason")
	fs.StringVar(&f.Type, "type", "", "only events of this CloudEvents type")
	fs.BoolVar(&f.Pending, "pending", false, "leave out events already replayed")
	fs.IntVar(&f.Limit, "limit", 50, "at most this many, newest first")
	fs.BoolVar(&asJSON, "json", false, "print each entry as a JSON line: its whole reason and the record's value decoded (value_encoding json, text or base64)")
	fs.BoolVar(&replay, "replay", false, "produce the matching pending events to their topics again and mark them replayed (as nova replay)")
	fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "with --replay: Kafka to produce to"+runningNova+" [KAFKA_BROKERS]")
	fs.usedIf("kafka-brokers", func() bool { return replay })
	sec := kafkaSecurity(fs.FlagSet, fs.getenv)
	if pos, err := fs.parse(args); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return ErrUsage
	}
	if replay {
		// The same as nova replay with these filters.
		return replaySelected(ctx, st, fs.consumerNames(), dsn, kafka.ParseBrokers(brokers), sec(), f, false)
	}
	names := fs.consumerNames()
	entries, err := DeadLetters(ctx, dsn, f)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(st.Out)
		codec := envelope.NewCodec(catalog.Default())
		for _, e := range entries {
			if err := enc.Encode(deadletters.AsJSON(codec, names, e)); err != nil {
				return err
			}
		}
		return nil
	}
	if f.ID != "" {
		WriteDeadLetterDetails(st.Out, names, entries)
		return nil
	}
	WriteDeadLetters(st.Out, names, entries)
	return nil
}
