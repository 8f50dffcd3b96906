package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// DefaultBenchTopic is where the producer benchmark writes unless told
// otherwise. No KafkaSource reads it, so no function spends the run
// consuming synthetic posts and no feed, index or counter is touched.
const DefaultBenchTopic = "nova-bench"

// ProducerConfig configures a producer benchmark. Zero fields take the
// defaults of the matching flags.
type ProducerConfig struct {
	Brokers []string
	// Security is how both producers (and the topic set-up) log in.
	Security kafka.Security
	// Topic receives the records; see DefaultBenchTopic.
	Topic string
	// NumRecords to send in each run.
	NumRecords int
	// RecordSize is the size of each record's value in bytes. Nova's
	// records are PostCreated events whose content is padded so that the
	// protobuf data is this long; the CloudEvent attributes travel in
	// headers on top, as they do in production.
	RecordSize int
	// Throughput caps records per second; 0 or less sends as fast as the
	// producer takes them (kafka-producer-perf-test's -1).
	Throughput float64
	// InFlight bounds records sent and not yet acknowledged, for both
	// producers alike.
	InFlight int
	// Batch is the number of records per Send of Nova's producer; 1 (the
	// default) gives every record its own latency, the outbox relay sends
	// up to 500 at a time.
	Batch int
	// ReportInterval is the period of the progress lines.
	ReportInterval time.Duration
	// Keys is the number of distinct keys (authors) the records cycle
	// through.
	Keys int
	// Progress receives the progress lines; nil discards them.
	Progress io.Writer
	// Logger receives the producer's own log lines.
	Logger *slog.Logger
}

// Producer defaults.
const (
	DefaultNumRecords     = 100_000
	DefaultRecordSize     = 1024
	DefaultInFlight       = 1024
	DefaultReportInterval = 5 * time.Second
	DefaultKeys           = 1000
	DefaultBenchPartition = 6 // as content-events
)

// Defaults fills unset fields.
func (c ProducerConfig) Defaults() ProducerConfig {
	if c.Topic == "" {
		c.Topic = DefaultBenchTopic
	}
	if c.NumRecords == 0 {
		c.NumRecords = DefaultNumRecords
	}
	if c.RecordSize == 0 {
		c.RecordSize = DefaultRecordSize
	}
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
	if c.Batch == 0 {
		c.Batch = 1
	}
	if c.ReportInterval == 0 {
		c.ReportInterval = DefaultReportInterval
	}
	if c.Keys == 0 {
		c.Keys = DefaultKeys
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration that cannot run.
func (c ProducerConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no Kafka brokers"))
	}
	if c.NumRecords < 1 {
		errs = append(errs, fmt.Errorf("num-records %d: at least 1", c.NumRecords))
	}
	if c.RecordSize < 1 || c.RecordSize > 1<<20-4096 {
		errs = append(errs, fmt.Errorf("record-size %d: between 1 and %d bytes", c.RecordSize, 1<<20-4096))
	}
	if c.InFlight < 1 {
		errs = append(errs, fmt.Errorf("in-flight %d: at least 1", c.InFlight))
	}
	if c.Batch < 1 || c.Batch > c.InFlight {
		errs = append(errs, fmt.Errorf("batch %d: between 1 and in-flight (%d)", c.Batch, c.InFlight))
	}
	if c.ReportInterval < 0 || c.Keys < 1 {
		errs = append(errs, errors.New("report interval must not be negative and keys at least 1"))
	}
	return errors.Join(errs...)
}

// ProducerResult is what one run measured.
type ProducerResult struct {
	Name    string // "nova" or "raw"
	Records int    // acknowledged by the broker
	Failed  int
	// Bytes are the value bytes acknowledged; headers are not counted,
	// as kafka-producer-perf-test counts only its record size.
	Bytes     int64
	ValueSize int // bytes of one record's value
	Elapsed   time.Duration
	Latency   Summary // send → broker ack, per record
	FirstErr  error
}

// RecordsPerSec is the acknowledged throughput.
func (r ProducerResult) RecordsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

// MBPerSec is the acknowledged value bytes per second, in MiB as
// kafka-producer-perf-test reports them.
func (r ProducerResult) MBPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / (1024 * 1024) / r.Elapsed.Seconds()
}

// String is kafka-producer-perf-test's closing line, with the percentiles
// in fractional milliseconds (the broker answers well within one).
func (r ProducerResult) String() string {
	l := r.Latency
	s := fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %s ms avg latency, %s ms max latency, %s ms 50th, %s ms 95th, %s ms 99th, %s ms 99.9th.",
		r.Records, r.RecordsPerSec(), r.MBPerSec(), ms(l.Avg), ms(l.Max), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.P999))
	if r.Failed > 0 {
		s += fmt.Sprintf(" %d records FAILED (first: %v).", r.Failed, r.FirstErr)
	}
	return s
}

// CheckBrokers fails with a readable message when no broker answers within
// timeout.
func CheckBrokers(ctx context.Context, brokers []string, sec kafka.Security, timeout time.Duration) error {
	cl, err := broker.NewClient(brokers, sec, kgo.DialTimeout(timeout))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("no Kafka broker reachable at %s: %w", strings.Join(brokers, ","), err)
	}
	return nil
}

// EnsureTopic creates topic with partitions when it does not exist and
// reports whether it did.
func EnsureTopic(ctx context.Context, brokers []string, sec kafka.Security, topic string, partitions int32) (bool, error) {
	cl, err := broker.NewClient(brokers, sec)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	if d, ok := details[topic]; ok && d.Err == nil {
		return false, nil
	}
	res, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = res.Err
	}
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create topic %s: %w", topic, err)
	}
	return true, nil
}

// DeleteTopic removes topic, so a broker that keeps records in memory
// gives the space back.
func DeleteTopic(ctx context.Context, brokers []string, sec kafka.Security, topic string) error {
	cl, err := broker.NewClient(brokers, sec)
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).DeleteTopic(ctx, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	return nil
}

// TopicRecords is the number of records topic holds: the sum over its
// partitions of end minus start offsets.
func TopicRecords(ctx context.Context, brokers []string, sec kafka.Security, topic string) (int64, error) {
	cl, err := broker.NewClient(brokers, sec)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	var n int64
	var errs []error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, o.Err)
			return
		}
		s, _ := starts.Lookup(o.Topic, o.Partition)
		n += o.Offset - s.Offset
	})
	return n, errors.Join(errs...)
}

// meter collects per-record outcomes from concurrent senders and prints a
// progress line per interval, as kafka-producer-perf-test does.
type meter struct {
	lat   []time.Duration // by record index, written once each
	start time.Time

	mu       sync.Mutex
	window   windowStats
	total    windowStats
	failed   int
	firstErr error
}

type windowStats struct {
	n     int
	bytes int64
	sum   time.Duration
	max   time.Duration
	begin time.Time
}

func newMeter(n int) *meter {
	now := time.Now()
	return &meter{lat: make([]time.Duration, n), start: now, window: windowStats{begin: now}}
}

func (m *meter) ok(i int, bytes int, d time.Duration) {
	m.lat[i] = d
	m.mu.Lock()
	for _, w := range []*windowStats{&m.window, &m.total} {
		w.n++
		w.bytes += int64(bytes)
		w.sum += d
		w.max = max(w.max, d)
	}
	m.mu.Unlock()
}

func (m *meter) fail(i int, err error) {
	m.lat[i] = -1
	m.mu.Lock()
	m.failed++
	if m.firstErr == nil {
		m.firstErr = err
	}
	m.mu.Unlock()
}

// report prints and resets the current window.
func (m *meter) report(w io.Writer) {
	m.mu.Lock()
	s := m.window
	m.window = windowStats{begin: time.Now()}
	m.mu.Unlock()
	secs := time.Since(s.begin).Seconds()
	if s.n == 0 || secs <= 0 {
		fmt.Fprintf(w, "0 records sent, 0.0 records/sec (0.00 MB/sec)\n")
		return
	}
	fmt.Fprintf(w, "%d records sent, %.1f records/sec (%.2f MB/sec), %s ms avg latency, %s ms max latency.\n",
		s.n, float64(s.n)/secs, float64(s.bytes)/(1024*1024)/secs, ms(s.sum/time.Duration(s.n)), ms(s.max))
}

// progress prints a window every interval until the returned stop is
// called; stop returns once the last line is written.
func (m *meter) progress(w io.Writer, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				m.report(w)
			}
		}
	}()
	return func() { close(quit); <-done }
}

func (m *meter) result(name string, valueSize int) ProducerResult {
	elapsed := time.Since(m.start)
	m.mu.Lock()
	defer m.mu.Unlock()
	ok := make([]time.Duration, 0, m.total.n)
	for _, d := range m.lat {
		if d >= 0 {
			ok = append(ok, d)
		}
	}
	return ProducerResult{
		Name: name, Records: m.total.n, Failed: m.failed, Bytes: m.total.bytes,
		ValueSize: valueSize, Elapsed: elapsed, Latency: Summarize(ok), FirstErr: m.firstErr,
	}
}

// pacer spaces sends to a rate, sleeping only when ahead of schedule, as
// kafka-producer-perf-test's throttler does.
type pacer struct {
	start time.Time
	every time.Duration // 0: unthrottled
}

func newPacer(rate float64) pacer {
	p := pacer{start: time.Now()}
	if rate > 0 {
		p.every = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// wait returns once record i is due, or ctx is done.
func (p pacer) wait(ctx context.Context, i int) error {
	if p.every == 0 {
		return ctx.Err()
	}
	d := time.Until(p.start.Add(time.Duration(i) * p.every))
	if d <= time.Millisecond {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// postMaker builds the PostCreated of record i. Post ids are UUID-shaped
// (the run's prefix and the index, so making them costs the benchmark
// nothing the baseline does not pay) and the time is whole seconds, so
// every record's protobuf has the same size.
type postMaker struct {
	run     string // the first 23 characters of a UUID, shared by the run's posts
	keys    []string
	padding string
	size    int
	at      *timestamppb.Timestamp
}

func newPostMaker(recordSize, keys int) postMaker {
	pm := postMaker{at: timestamppb.New(time.Now().Truncate(time.Second)), run: uuid.Must(uuid.NewV7()).String()[:23]}
	for i := range keys {
		pm.keys = append(pm.keys, uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "nova-bench-user-%d", i)).String())
	}
	// The content field costs a tag byte, its length varint and itself;
	// find the padding that brings the message to recordSize (or as close
	// as a message of this shape can be).
	base := proto.Size(pm.msg(0, ""))
	n := max(recordSize-base, 0)
	for n > 0 && proto.Size(pm.msg(0, strings.Repeat("x", n))) > recordSize {
		n--
	}
	pm.padding = strings.Repeat("x", n)
	pm.size = proto.Size(pm.msg(0, pm.padding))
	return pm
}

func (pm postMaker) msg(i int, content string) *eventsv1.PostCreated {
	return &eventsv1.PostCreated{
		PostId:     fmt.Sprintf("%s-%012x", pm.run, i),
		UserId:     pm.keys[i%len(pm.keys)],
		Content:    content,
		Type:       eventsv1.PostType_POST_TYPE_TEXT,
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC,
		Tags:       []string{"bench"},
		CreatedAt:  pm.at,
	}
}

// RunNova sends NumRecords PostCreated events as Nova publishes them: each
// a fresh binary-mode CloudEvent (UUIDv7 id, protobuf data, keyed by the
// author) through kafka.Producer with its default, idempotent configuration.
// InFlight/Batch senders each Send Batch records and wait for the acks, so
// with Batch 1 every record's latency is its own while concurrent Sends
// share broker requests; a larger Batch sends as the outbox relay does, and
// each record's latency is then that of its Send.
func RunNova(ctx context.Context, cfg ProducerConfig) (ProducerResult, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return ProducerResult{}, err
	}
	pcfg := kafka.DefaultProducerConfig(cfg.Brokers...)
	pcfg.Security = cfg.Security
	pcfg.ClientID = "nova-bench"
	pcfg.Logger = cfg.Logger
	p, err := kafka.NewProducer(pcfg)
	if err != nil {
		return ProducerResult{}, fmt.Errorf("connect to Kafka at %s: %w", strings.Join(cfg.Brokers, ","), err)
	}
	defer p.Close()
	codec := envelope.NewCodec(catalog.Default())
	pm := newPostMaker(cfg.RecordSize, cfg.Keys)

	m := newMeter(cfg.NumRecords)
	defer m.progress(cfg.Progress, cfg.ReportInterval)()

	next := make(chan int) // first record of a batch
	var wg sync.WaitGroup
	for range max(min(cfg.InFlight/cfg.Batch, (cfg.NumRecords+cfg.Batch-1)/cfg.Batch), 1) {
		wg.Go(func() {
			recs := make([]kafka.Record, 0, cfg.Batch)
			idx := make([]int, 0, cfg.Batch)
			for from := range next {
				recs, idx = recs[:0], idx[:0]
				for i := from; i < min(from+cfg.Batch, cfg.NumRecords); i++ {
					e, err := codec.New(pm.msg(i, pm.padding))
					if err != nil {
						m.fail(i, err)
						continue
					}
					recs = append(recs, kafka.Record{Topic: cfg.Topic, Event: e})
					idx = append(idx, i)
				}
				t0 := time.Now()
				err := p.Send(ctx, recs...)
				d := time.Since(t0)
				failed := map[int]error{}
				for _, e := range joined(err) {
					if se := (*kafka.SendError)(nil); errors.As(e, &se) {
						failed[se.Index] = se.Err
					} else {
						for k := range recs {
							failed[k] = e
						}
					}
				}
				for k, i := range idx {
					if err, bad := failed[k]; bad {
						m.fail(i, err)
					} else {
						m.ok(i, len(recs[k].Event.Data()), d)
					}
				}
			}
		})
	}
	pace := newPacer(cfg.Throughput)
	var feedErr error
	for from := 0; from < cfg.NumRecords; from += cfg.Batch {
		if feedErr = pace.wait(ctx, from+cfg.Batch-1); feedErr != nil {
			break
		}
		next <- from
	}
	close(next)
	wg.Wait()
	res := m.result("nova", pm.size)
	if feedErr != nil {
		return res, feedErr
	}
	return res, ctx.Err()
}

// joined splits an errors.Join into its parts.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// RunRaw is the baseline: the same number of records of the same value
// size and keys, plain bytes without CloudEvent headers, through a Sarama
// AsyncProducer with the same configuration as Nova's producer and the same
// bound on records in flight.
func RunRaw(ctx context.Context, cfg ProducerConfig) (ProducerResult, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return ProducerResult{}, err
	}
	pcfg := kafka.DefaultProducerConfig(cfg.Brokers...)
	pcfg.Security = cfg.Security
	pcfg.ClientID = "nova-bench-raw"
	sc, err := pcfg.SaramaConfig()
	if err != nil {
		return ProducerResult{}, err
	}
	ap, err := sarama.NewAsyncProducer(cfg.Brokers, sc)
	if err != nil {
		return ProducerResult{}, fmt.Errorf("connect to Kafka at %s: %w", strings.Join(cfg.Brokers, ","), err)
	}
	pm := newPostMaker(cfg.RecordSize, cfg.Keys)
	value := make([]byte, cfg.RecordSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	keys := make([]sarama.Encoder, len(pm.keys))
	for i, k := range pm.keys {
		keys[i] = sarama.StringEncoder(k)
	}

	type ticket struct {
		i  int
		t0 time.Time
	}
	m := newMeter(cfg.NumRecords)
	defer m.progress(cfg.Progress, cfg.ReportInterval)()

	slots := make(chan struct{}, cfg.InFlight)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for msg := range ap.Successes() {
			t := msg.Metadata.(ticket)
			m.ok(t.i, len(value), time.Since(t.t0))
			<-slots
		}
	})
	wg.Go(func() {
		for pe := range ap.Errors() {
			t := pe.Msg.Metadata.(ticket)
			m.fail(t.i, pe.Err)
			<-slots
		}
	})
	go func() { wg.Wait(); close(done) }()

	pace := newPacer(cfg.Throughput)
	var feedErr error
	input := ap.Input()
feed:
	for i := range cfg.NumRecords {
		if feedErr = pace.wait(ctx, i); feedErr != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			feedErr = ctx.Err()
			break feed
		}
		input <- &sarama.ProducerMessage{Topic: cfg.Topic, Key: keys[i%len(keys)],
			Value: sarama.ByteEncoder(value), Metadata: ticket{i: i, t0: time.Now()}}
	}
	// AsyncClose flushes what was queued and closes both result channels
	// once every record has an answer.
	ap.AsyncClose()
	<-done
	return m.result("raw", len(value)), feedErr
}

// WriteComparison prints Nova's run beside the raw baseline.
func WriteComparison(w io.Writer, nova, raw ProducerResult) {
	fmt.Fprintf(w, "\n%-8s %12s %10s %9s %9s %9s %9s %9s %9s %7s\n",
		"producer", "records/s", "MB/s", "avg ms", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms", "failed")
	for _, r := range []ProducerResult{nova, raw} {
		fmt.Fprintf(w, "%-8s %12.1f %10.2f %9s %9s %9s %9s %9s %9s %7d\n", r.Name, r.RecordsPerSec(), r.MBPerSec(),
			ms(r.Latency.Avg), ms(r.Latency.P50), ms(r.Latency.P95), ms(r.Latency.P99), ms(r.Latency.P999), ms(r.Latency.Max), r.Failed)
	}
	if raw.RecordsPerSec() > 0 {
		fmt.Fprintf(w, "nova/raw throughput: %.0f%%", 100*nova.RecordsPerSec()/raw.RecordsPerSec())
		if raw.Latency.P99 > 0 {
			fmt.Fprintf(w, "; p99 latency nova/raw: %.2fx", float64(nova.Latency.P99)/float64(raw.Latency.P99))
		}
		fmt.Fprintln(w)
	}
}
