package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/records"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Line is one record as tail prints it.
type Line = records.Line

// Tail prints the records of topic as JSON lines until ctx ends, or until
// limit records when limit > 0. It reads every partition without joining a
// consumer group, so it changes no one's offsets.
func Tail(ctx context.Context, brokers []string, sec kafka.Security, topic string, fromStart bool, limit int, pretty bool, w io.Writer) error {
	// The consumer waits for ever for a broker or a topic that is not
	// there; asking first makes either an error in seconds.
	if err := checkKafka(ctx, brokers, sec, topic); err != nil {
		return err
	}
	start := kgo.NewOffset().AtEnd()
	if fromStart {
		start = kgo.NewOffset().AtStart()
	}
	cl, err := broker.NewClient(brokers, sec, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start))
	if err != nil {
		return fmt.Errorf("connect to Kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	codec := envelope.NewCodec(catalog.Default())
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "  ")
	}
	n := 0
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("%s[%d]: %w", t, p, err))
		})
		if ferr != nil {
			return ferr
		}
		var werr error
		fs.EachRecord(func(r *kgo.Record) {
			if werr != nil || (limit > 0 && n >= limit) {
				return
			}
			werr = enc.Encode(records.Describe(codec, records.Message(r)))
			n++
		})
		if werr != nil {
			return werr
		}
		if limit > 0 && n >= limit {
			return nil
		}
	}
}

func tailCmd(ctx context.Context, args []string, st Streams) error {
	fs := newTool("tail", "[flags] TOPIC", st)
	var (
		brokers          string
		fromStart, plain bool
		limit            int
	)
	fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "Kafka to read"+runningNova+" [KAFKA_BROKERS]")
	sec := kafkaSecurity(fs.FlagSet, fs.getenv)
	fs.BoolVar(&fromStart, "from-beginning", false, "start at the oldest record instead of the next new one")
	fs.IntVar(&limit, "n", 0, "stop after this many records (0: until Ctrl-C)")
	fs.BoolVar(&plain, "compact", false, "one line per event instead of indented JSON")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return ErrUsage
	}
	if _, ok := catalog.Default().Topic(pos[0]); !ok {
		fmt.Fprintf(st.Err, "nova tail: %s is not a catalogue topic; reading it anyway\n", pos[0])
	}
	return Tail(ctx, kafka.ParseBrokers(brokers), sec(), pos[0], fromStart, limit, !plain, st.Out)
}
