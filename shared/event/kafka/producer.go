package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/telemetry"
)

// Record is one CloudEvent to publish.
type Record struct {
	Topic string
	// Key is the Kafka key; when empty the event's partitionkey extension
	// is used. When both are set they must agree.
	Key   string
	Event cloudevents.Event
	// KeyOptional writes a record with neither a Key nor a partitionkey
	// without a key (a random partition), as the Knative Kafka Broker's
	// ingress stores such events, instead of refusing it. Nova's own
	// events always have a key, so only the broker emulation sets it.
	KeyOptional bool
	// Trace is written as the record's W3C traceparent (and tracestate)
	// header: the span a consumer's continues. When it is unset and the
	// Send's context holds a recording span, Send starts a producer span
	// under it and writes that.
	Trace trace.SpanContext
}

// SendError is the failure of one record of a Send.
type SendError struct {
	// Index is the record's position in the Send call.
	Index  int
	Record Record
	Err    error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("kafka: record %d (%s, key %q, event %s): %v", e.Index, e.Record.Topic, e.Record.Key, e.Record.Event.ID(), e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("kafka: producer is closed")

// Producer publishes CloudEvents to Kafka. It is safe for concurrent use;
// concurrent and multi-record Sends share batches and requests.
type Producer struct {
	ap      sarama.AsyncProducer
	enc     Encoding
	log     *slog.Logger
	mu      sync.RWMutex // held for reading while a Send enqueues; Close takes it to stop new Sends
	closed  bool
	drained sync.WaitGroup
	once    sync.Once
}

// NewProducer connects an idempotent producer to cfg.Brokers.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	cfg = cfg.Defaults()
	sc, err := cfg.SaramaConfig()
	if err != nil {
		return nil, err
	}
	ap, err := sarama.NewAsyncProducer(cfg.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("kafka: connect producer to %v (%s): %w", cfg.Brokers, cfg.Security, err)
	}
	p := &Producer{ap: ap, enc: cfg.Encoding, log: cfg.Logger}
	p.drained.Add(2)
	go p.successes()
	go p.failures()
	return p, nil
}

// ticket follows one record through the async producer.
type ticket struct {
	b *batch
	i int
}

// batch is the state of one Send call. It holds only indexes and errors,
// not the caller's records, so results arriving after a cancelled Send
// returned touch nothing the caller owns.
type batch struct {
	left    atomic.Int64
	mu      sync.Mutex
	failed  []failure
	done    chan struct{}
	tickets []ticket
}

type failure struct {
	i   int
	err error
}

func (b *batch) finish(i int, err error) {
	if err != nil {
		b.mu.Lock()
		b.failed = append(b.failed, failure{i, err})
		b.mu.Unlock()
	}
	if b.left.Add(-1) == 0 {
		close(b.done)
	}
}

// err joins the failures as *SendError, in record order, with each record
// as it was sent (its key filled in).
func (b *batch) err(recs []Record, keys []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.failed) == 0 {
		return nil
	}
	slices.SortFunc(b.failed, func(x, y failure) int { return x.i - y.i })
	errs := make([]error, len(b.failed))
	for n, f := range b.failed {
		rec := recs[f.i]
		if rec.Key == "" {
			rec.Key = keys[f.i]
		}
		errs[n] = &SendError{Index: f.i, Record: rec, Err: f.err}
	}
	return errors.Join(errs...)
}

func (p *Producer) successes() {
	defer p.drained.Done()
	for msg := range p.ap.Successes() {
		if t, ok := msg.Metadata.(*ticket); ok {
			t.b.finish(t.i, nil)
		}
	}
}

func (p *Producer) failures() {
	defer p.drained.Done()
	for pe := range p.ap.Errors() {
		if t, ok := pe.Msg.Metadata.(*ticket); ok {
			t.b.finish(t.i, pe.Err)
		} else {
			p.log.Error("kafka: produce failed for a record of no Send", "topic", pe.Msg.Topic, "error", pe.Err)
		}
	}
}

// Send publishes recs and waits until the broker acknowledged every one of
// them (acks from all in-sync replicas). Records are written in order per
// partition. Failed records come back as an errors.Join of *SendError; the
// others were written. If ctx ends first Send returns ctx.Err(): records
// already handed to the producer may still be written.
func (p *Producer) Send(ctx context.Context, recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	// A context already ended sends nothing; checked first because the
	// select below picks at random between a ready input and a done ctx.
	if err := ctx.Err(); err != nil {
		return err
	}
	if trace.SpanFromContext(ctx).IsRecording() {
		return p.sendTraced(ctx, recs)
	}
	return p.send(ctx, recs)
}

// sendTraced is Send under a producer span for the records that carry no
// trace of their own.
func (p *Producer) sendTraced(ctx context.Context, recs []Record) error {
	untraced := 0
	for i := range recs {
		if !recs[i].Trace.IsValid() {
			untraced++
		}
	}
	if untraced == 0 {
		return p.send(ctx, recs)
	}
	sctx, span := telemetry.Child(ctx, "send "+recs[0].Topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(SendAttributes(recs[0])...))
	defer span.End()
	traced := slices.Clone(recs)
	for i := range traced {
		if !traced[i].Trace.IsValid() {
			traced[i].Trace = span.SpanContext()
		}
	}
	err := p.send(sctx, traced)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
	}
	return err
}

func (p *Producer) send(ctx context.Context, recs []Record) error {
	b := &batch{
		done:    make(chan struct{}),
		tickets: make([]ticket, len(recs)),
	}
	keys := make([]string, len(recs))
	b.left.Store(int64(len(recs)))
	msgs := make([]sarama.ProducerMessage, len(recs))
	w := newEncoder(p.enc, len(recs))

	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return ErrClosed
	}
	input := p.ap.Input()
	for i := range recs {
		msg := &msgs[i]
		key, err := w.fill(ctx, &recs[i], msg)
		keys[i] = key
		if err != nil {
			b.finish(i, err)
			continue
		}
		b.tickets[i] = ticket{b: b, i: i}
		msg.Metadata = &b.tickets[i]
		select {
		case input <- msg:
		case <-ctx.Done():
			for j := i; j < len(recs); j++ {
				b.finish(j, ctx.Err())
			}
			p.mu.RUnlock()
			return ctx.Err()
		}
	}
	p.mu.RUnlock()

	select {
	case <-b.done:
		return b.err(recs, keys)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes what was handed to the producer, waits for the broker's
// answers and closes the connections. Sends after Close fail with ErrClosed.
func (p *Producer) Close() error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		// AsyncClose, not Close: sarama's Close would read the result
		// channels that the dispatch goroutines own.
		p.ap.AsyncClose()
		p.drained.Wait()
	})
	return nil
}
