package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// BuildEvent makes the CloudEvent of a catalogue type from its message as
// JSON (protojson field names; the design document's short enum names are
// accepted), with every attribute of the event contract.
func BuildEvent(codec *envelope.Codec, typ string, data []byte, opts ...envelope.Option) (cloudevents.Event, catalog.EventType, error) {
	et, ok := codec.Catalog().ByType(typ)
	if !ok {
		return cloudevents.Event{}, catalog.EventType{}, fmt.Errorf("%w: %q (see shared/event/catalog for the types)", envelope.ErrUnknownType, typ)
	}
	// The codec already reads JSON data into the typed message, short enum
	// names included; a draft event carries the JSON to it.
	draft := cloudevents.NewEvent()
	draft.SetID("draft")
	draft.SetSource(et.Source())
	draft.SetType(typ)
	// Data that leaves its event time out happened now: the decoder fills
	// it from the draft's time, as it would from a hand-written event's.
	draft.SetTime(time.Now())
	if err := draft.SetData(envelope.ContentTypeJSON, data); err != nil {
		return cloudevents.Event{}, et, err
	}
	d, err := codec.Decode(draft)
	if err != nil {
		// The type is known, so only the data can be at fault.
		return cloudevents.Event{}, et, fmt.Errorf("%w: %s: %s", envelope.ErrUndecodable, typ, envelope.Reason(err))
	}
	e, err := codec.New(d.Message, opts...)
	return e, et, err
}

// Produce publishes e to topic with Nova's producer and waits for the ack.
// Kafka is asked first whether it answers and has the topic, so a broker
// that is down, a refused login or a missing topic is an error in seconds
// (the producer itself would keep retrying).
func Produce(ctx context.Context, brokers []string, sec kafka.Security, topic string, e cloudevents.Event) error {
	if err := checkKafka(ctx, brokers, sec, topic); err != nil {
		return err
	}
	cfg := kafka.DefaultProducerConfig(brokers...)
	cfg.Security = sec
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		return fmt.Errorf("connect to Kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	sctx, cancel := context.WithTimeout(ctx, kafkaWait)
	defer cancel()
	sendErr := p.Send(sctx, kafka.Record{Topic: topic, Event: e})
	if errors.Is(sendErr, context.DeadlineExceeded) && ctx.Err() == nil {
		sendErr = fmt.Errorf("Kafka at %s did not acknowledge the event on %s within %s: %w", strings.Join(brokers, ","), topic, kafkaWait, sendErr)
	}
	return errors.Join(sendErr, p.Close())
}

// Post sends e to url as a binary-mode CloudEvent, as a KafkaSource does,
// and returns the HTTP status.
func Post(ctx context.Context, url string, e cloudevents.Event) (int, error) {
	c, err := cloudevents.NewClientHTTP()
	if err != nil {
		return 0, err
	}
	res := c.Send(cloudevents.ContextWithTarget(ctx, url), e)
	var hr *cehttp.Result
	if cloudevents.ResultAs(res, &hr) {
		if cloudevents.IsACK(res) {
			return hr.StatusCode, nil
		}
		return hr.StatusCode, fmt.Errorf("%s answered %d: %w", url, hr.StatusCode, res)
	}
	if !cloudevents.IsACK(res) {
		return 0, fmt.Errorf("post to %s: %w", url, res)
	}
	return 0, nil
}

func sendCmd(ctx context.Context, args []string, st Streams) error {
	fs := newTool("send", "[flags] TYPE [JSON]  (JSON from --data, the argument, or stdin)", st)
	var (
		brokers, to, data, id, src string
		asJSON                     bool
	)
	fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "Kafka to produce to"+runningNova+" [KAFKA_BROKERS]")
	sec := kafkaSecurity(fs.FlagSet, fs.getenv)
	fs.StringVar(&to, "to", "", "POST the event to this function URL instead of producing it")
	fs.usedIf("kafka-brokers", func() bool { return to == "" })
	fs.StringVar(&data, "data", "", "the message as JSON")
	fs.StringVar(&id, "id", "", "event id (default: a fresh UUIDv7)")
	fs.StringVar(&src, "source", "", "event source (default: /nova/<the producing service>; functions refuse any other, which is how to test that they do)")
	fs.BoolVar(&asJSON, "json", false, "carry the data as JSON (application/json) instead of protobuf")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 || (len(pos) == 2 && data != "") {
		fs.Usage()
		return ErrUsage
	}
	typ := pos[0]
	raw := []byte(data)
	switch {
	case len(pos) == 2 && pos[1] != "-":
		raw = []byte(pos[1])
	case data == "":
		if raw, err = io.ReadAll(st.In); err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
	}
	var opts []envelope.Option
	if id != "" {
		opts = append(opts, envelope.WithID(id))
	}
	if src != "" {
		opts = append(opts, envelope.WithSource(src))
	}
	if asJSON {
		opts = append(opts, envelope.WithJSON())
	}
	e, et, err := BuildEvent(envelope.NewCodec(catalog.Default()), typ, raw, opts...)
	if err != nil {
		return err
	}
	if to != "" {
		code, err := Post(ctx, to, e)
		if err != nil {
			return err
		}
		fmt.Fprintf(st.Out, "posted %s id=%s to %s: %d\n", e.Type(), e.ID(), to, code)
		return nil
	}
	if err := Produce(ctx, kafka.ParseBrokers(brokers), sec(), et.Topic, e); err != nil {
		return err
	}
	fmt.Fprintf(st.Out, "sent %s id=%s to %s key=%s\n", e.Type(), e.ID(), et.Topic, e.Extensions()[envelope.PartitionKeyExtension])
	return nil
}
