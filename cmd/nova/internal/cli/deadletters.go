package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
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

// Failed is one record that one or more consumers failed: the dead-letter
// entries read from the same topic, partition and offset (the store keeps
// an entry per destination that failed an event, and a plain record is
// wrapped under each KafkaSource's own source), or, where that is unknown,
// of the same event.
type Failed struct {
	// Entries in the order listed.
	Entries []store.Entry
}

// GroupDeadLetters gathers entries by the record they failed, each group
// where its first entry was.
func GroupDeadLetters(entries []store.Entry) []Failed {
	var out []Failed
	at := map[string]int{}
	for _, e := range entries {
		k := recordOf(e)
		if i, ok := at[k]; ok {
			out[i].Entries = append(out[i].Entries, e)
			continue
		}
		at[k] = len(out)
		out = append(out, Failed{Entries: []store.Entry{e}})
	}
	return out
}

// recordOf names the record e failed: where it was read, else the event.
func recordOf(e store.Entry) string {
	if e.Topic != "" && e.Partition != nil && e.Offset != nil {
		return fmt.Sprintf("%s/%d/%d", e.Topic, *e.Partition, *e.Offset)
	}
	return "event " + e.Source + " " + e.ID
}

// where is the record's place as the table shows it: topic[partition]@offset.
func where(e store.Entry) string {
	from := e.Topic
	if e.Partition != nil && e.Offset != nil {
		from += fmt.Sprintf("[%d]@%d", *e.Partition, *e.Offset)
	}
	if from == "" {
		return "-"
	}
	return from
}

// Names are the functions of a running nova run by the address (host and
// port) each listens on, from its .nova/env (instance.FunctionURLs): under
// nova run a dead letter's knativeerrordest is such an address. Nil knows
// none.
type Names map[string]string

// NamesOf reads a value of instance.FunctionURLs.
func NamesOf(functionURLs string) Names {
	n := Names{}
	for _, f := range instance.ParseFunctionURLs(functionURLs) {
		if u, err := url.Parse(f.URL); err == nil && u.Host != "" {
			n[u.Host] = f.Name
		}
	}
	return n
}

// Consumer names who failed e: the KafkaSource whose source wraps a plain
// record; else the function delivery failed to: the one of the running
// nova run at that address, or in a cluster the service (the first label
// of the sink's host name, a function's Knative Service); else the sink's
// address.
func (n Names) Consumer(e store.Entry) string {
	if _, rest, ok := strings.Cut(e.Source, "/kafkasources/"); ok {
		if name, _, ok := strings.Cut(rest, "#"); ok && name != "" {
			return name
		}
	}
	u, err := url.Parse(e.ErrorDest)
	if err != nil || u.Host == "" {
		if e.ErrorDest == "" {
			return "unknown consumer"
		}
		return e.ErrorDest
	}
	if name, ok := n[u.Host]; ok {
		return name
	}
	if h := u.Hostname(); net.ParseIP(h) == nil && h != "localhost" {
		name, _, _ := strings.Cut(h, ".")
		return name
	}
	return strings.TrimSuffix(u.Host+u.Path, "/")
}

// consumers names who failed entries, each once, sorted.
func (n Names) consumers(entries []store.Entry) []string {
	var names []string
	for _, e := range entries {
		if c := n.Consumer(e); !slices.Contains(names, c) {
			names = append(names, c)
		}
	}
	slices.Sort(names)
	return names
}

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
			first.ReceivedAt.Local().Format(time.DateTime), first.Type, source, first.ID, where(first),
			strings.Join(names.consumers(g.Entries), ","), strings.Join(codes, ","), reason, replayed)
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
		fmt.Fprintf(w, "record %s", where(first))
		if k := replayKey(first); k != "-" {
			fmt.Fprintf(w, ", key %s", k)
		}
		fmt.Fprintf(w, ", failed by %d: %s\n", len(g.Entries), strings.Join(names.consumers(g.Entries), ", "))
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

// DeadLetterJSON is one entry as nova dead-letters --json prints it: the
// reason whole, and the stored record value decoded.
type DeadLetterJSON struct {
	// Record is where the failed record was read (topic/partition/offset),
	// the same for every consumer that failed it; empty when unknown.
	Record string `json:"record,omitempty"`
	// Consumer is who failed it: a function's name where one is known
	// (Names.Consumer), else the address delivery failed to (ErrorDest).
	Consumer   string     `json:"consumer"`
	Source     string     `json:"source"`
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Subject    string     `json:"subject,omitempty"`
	Time       *time.Time `json:"time,omitempty"`
	Topic      string     `json:"topic,omitempty"`
	Partition  *int32     `json:"partition,omitempty"`
	Offset     *int64     `json:"offset,omitempty"`
	Key        string     `json:"key,omitempty"`
	ErrorDest  string     `json:"error_dest,omitempty"`
	ErrorCode  int        `json:"error_code,omitempty"`
	Reason     string     `json:"reason"`
	ReceivedAt time.Time  `json:"received_at"`
	ReplayedAt *time.Time `json:"replayed_at,omitempty"`
	// ContentType is the event's datacontenttype.
	ContentType string `json:"datacontenttype,omitempty"`
	// Value is the record's value: a JSON value when it is JSON, a string
	// when it is text, base64 when it is binary; ValueEncoding says which
	// ("json", "text", "base64", or "none" for no value).
	Value         any    `json:"value,omitempty"`
	ValueEncoding string `json:"value_encoding"`
	// Message is a binary value read as its catalogue message, when it is
	// one (protobuf), in protojson.
	Message json.RawMessage `json:"message,omitempty"`
}

// DeadLetterAsJSON is e as --json prints it, its consumer named by names.
func DeadLetterAsJSON(codec *envelope.Codec, names Names, e store.Entry) DeadLetterJSON {
	j := DeadLetterJSON{
		Consumer: names.Consumer(e), Source: e.Source, ID: e.ID, Type: e.Type, Subject: e.Subject,
		Topic: e.Topic, Partition: e.Partition, Offset: e.Offset,
		ErrorDest: e.ErrorDest, ErrorCode: e.ErrorCode, Reason: e.ErrorData,
		ReceivedAt: e.ReceivedAt, ReplayedAt: e.ReplayedAt, ContentType: e.Event.DataContentType(),
	}
	if e.Topic != "" && e.Partition != nil && e.Offset != nil {
		j.Record = recordOf(e)
	}
	if !e.EventTime.IsZero() {
		t := e.EventTime
		j.Time = &t
	}
	if k := replayKey(e); k != "-" {
		j.Key = k
	}
	data := e.Event.Data()
	switch {
	case len(data) == 0:
		j.ValueEncoding = "none"
	case json.Valid(data):
		j.Value, j.ValueEncoding = json.RawMessage(data), "json"
	case isText(data):
		j.Value, j.ValueEncoding = string(data), "text"
	default:
		j.Value, j.ValueEncoding = base64.StdEncoding.EncodeToString(data), "base64"
		if d, err := codec.Decode(replayable(e.Event)); err == nil {
			if b, err := dataJSON.Marshal(d.Message); err == nil {
				j.Message = b
			}
		}
	}
	return j
}

// isText reports whether b reads as text: UTF-8 without control
// characters other than white space.
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
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
			if err := enc.Encode(DeadLetterAsJSON(codec, names, e)); err != nil {
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
