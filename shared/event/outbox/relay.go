package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/event/kafka"
)

// Publisher sends records to Kafka and returns once the broker acknowledged
// every one of them. *kafka.Producer is one. A failure of some records comes
// back as *kafka.SendError values (joined), naming them by index; any other
// error means none of them is known to be acknowledged.
type Publisher interface {
	Send(ctx context.Context, recs ...kafka.Record) error
}

// Config tunes a Relay. The zero value of a field means its default.
type Config struct {
	// Topics are the topics whose rows the relay publishes: its function's
	// own (catalog.Catalog.WrittenBy), which its Kafka user may write. Rows
	// of other topics are left for their functions' relays. Required.
	Topics []string
	// BatchSize is the most rows sent in one round. Default 500.
	BatchSize int
	// LanesPerBatch is the most lanes a relay takes in one round; lower
	// values spread the lanes more evenly over replicas. Default 64, at
	// most Lanes.
	LanesPerBatch int
	// PollInterval is how often the relay looks for rows without being
	// notified, in case a notification was lost. Default 1s.
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed round; it
	// doubles on every consecutive failure. Defaults 100ms and 30s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// SendTimeout bounds one Send, so a round (and the transaction that
	// holds its lanes) cannot hang forever. The producer keeps retrying
	// while the broker is unreachable (kafka.ProducerConfig.RetryMax): a
	// record that gave up while later records of its key were held behind
	// it would let those be written first. So during an outage shorter
	// than this the round simply waits and its rows go once, in order; a
	// longer one abandons the Send, keeps the rows, and sends them again
	// behind the originals still queued in the producer — duplicates, in
	// order, which consumers drop by event id. Default 2m.
	SendTimeout time.Duration
	// Logger receives the relay's warnings. Default slog.Default().
	Logger *slog.Logger
	// Tracer starts the publish span of each row that carries a trace (the
	// Distributed Tracing extension its producer stored), as a child of
	// that trace. Default: none.
	Tracer trace.TracerProvider
	// Meter makes the relay's instruments (see metrics.go): the rows
	// waiting per topic, and the records published and failed. Default:
	// none.
	Meter metric.MeterProvider
}

// Defaults returns c with every unset field at its default.
func (c Config) Defaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.LanesPerBatch == 0 {
		c.LanesPerBatch = 64
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a Config that cannot work, after defaults.
func (c Config) Validate() error {
	c = c.Defaults()
	var errs []error
	if len(c.Topics) == 0 {
		errs = append(errs, errors.New("Topics is empty: a relay publishes its function's topics only"))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("BatchSize %d must be positive", c.BatchSize))
	}
	if c.LanesPerBatch < 1 || c.LanesPerBatch > Lanes {
		errs = append(errs, fmt.Errorf("LanesPerBatch %d must be in 1..%d", c.LanesPerBatch, Lanes))
	}
	if c.PollInterval < 0 || c.MinBackoff < 0 || c.SendTimeout < 0 {
		errs = append(errs, errors.New("PollInterval, MinBackoff and SendTimeout must be positive"))
	}
	if c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("MaxBackoff %v is below MinBackoff %v", c.MaxBackoff, c.MinBackoff))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("outbox: relay config: %w", err)
	}
	return nil
}

// Stats are the relay's counters, for metrics.
type Stats struct {
	// Published is the number of rows the broker acknowledged and the
	// relay deleted.
	Published uint64
	// Failed is the number of records whose send failed (each retry of a
	// row counts again).
	Failed uint64
	// Pending is the number of rows of the relay's topics in the outbox
	// table at the last count, taken at most once per PollInterval; it
	// includes rows other replicas are sending.
	Pending int64
}

// Relay publishes the outbox table to Kafka. See the package doc for how
// it keeps order and shares the work with other replicas.
type Relay struct {
	pool *pgxpool.Pool
	pub  Publisher
	cfg  Config
	log  *slog.Logger

	published atomic.Uint64
	failed    atomic.Uint64
	pending   atomic.Int64
	// pendingByTopic is the last count per topic, every topic of
	// cfg.Topics present; nil before the first.
	pendingByTopic atomic.Pointer[map[string]int64]

	// probing is set by a failed send: the next round sends only the first
	// waiting row of each key. A producer coming back from an outage can
	// fail the first records of a batch and still write later ones (its
	// retries spent, the idempotent producer starts a new epoch and the
	// broker takes the later sequence), which would put a key's later
	// events on the log before its earlier ones. With one record per key in
	// flight that cannot happen; a round that sends cleanly ends probing.
	probing atomic.Bool
}

// NewRelay returns a relay that publishes pool's outbox through pub.
func NewRelay(pool *pgxpool.Pool, pub Publisher, cfg Config) (*Relay, error) {
	if pool == nil || pub == nil {
		return nil, errors.New("outbox: relay needs a pool and a publisher")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.Defaults()
	return &Relay{pool: pool, pub: pub, cfg: cfg, log: cfg.Logger.With("component", "outbox-relay")}, nil
}

// Stats returns the current counters.
func (r *Relay) Stats() Stats {
	return Stats{Published: r.published.Load(), Failed: r.failed.Load(), Pending: r.pending.Load()}
}

// Run publishes rows until ctx ends, then returns once the batch in flight,
// if any, is acknowledged and deleted (at most SendTimeout later). Failures
// (database or broker) are logged and retried with backoff; they never stop
// it, so it has no error to return.
func (r *Relay) Run(ctx context.Context) {
	if reg, err := r.instrument(); err != nil {
		r.log.WarnContext(ctx, "outbox relay: its metrics are not exported", "error", err)
	} else {
		defer func() { _ = reg.Unregister() }()
	}
	wake := make(chan struct{}, 1)
	listenDone := make(chan struct{})
	go func() {
		defer close(listenDone)
		r.listen(ctx, wake)
	}()
	defer func() { <-listenDone }()

	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	backoff := r.cfg.MinBackoff
	var counted time.Time
	for {
		err := r.drain(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(counted) >= r.cfg.PollInterval || err != nil {
			r.countPending(ctx)
			counted = time.Now()
		}
		if err != nil {
			r.log.WarnContext(ctx, "outbox relay round failed; backing off", "error", err, "backoff", backoff)
			if !sleep(ctx, jitter(backoff)) {
				return
			}
			backoff = min(2*backoff, r.cfg.MaxBackoff)
			continue
		}
		backoff = r.cfg.MinBackoff
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poll.C:
		}
	}
}

// drain runs rounds until one finds nothing it can send.
func (r *Relay) drain(ctx context.Context) error {
	for {
		n, err := r.round(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

type row struct {
	id  int64
	rec kafka.Record
}

// round sends one batch and returns how many rows it took.
func (r *Relay) round(ctx context.Context) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	// Rolling back releases the lanes and keeps every row.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// Random order spreads concurrent relays over the lanes; the LIMIT
	// above the lock call stops taking lanes once enough are held, and
	// OFFSET 0 keeps the planner from moving the lock call below the sort.
	rows, err := tx.Query(ctx, `
SELECT c.lane FROM (
	SELECT l.lane FROM generate_series(0, $2::int - 1) AS l(lane)
	WHERE EXISTS (SELECT 1 FROM `+Table+` o WHERE o.lane = l.lane AND o.topic = ANY($4))
	ORDER BY random() OFFSET 0
) c
WHERE pg_try_advisory_xact_lock($1, c.lane)
LIMIT $3`, laneLockClass, Lanes, r.cfg.LanesPerBatch, r.cfg.Topics)
	if err != nil {
		return 0, fmt.Errorf("take lanes: %w", err)
	}
	lanes, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, fmt.Errorf("take lanes: %w", err)
	}
	if len(lanes) == 0 {
		return 0, nil
	}
	// A new statement, so a new snapshot taken after the lanes were locked:
	// it sees every delete of the relay that held them before.
	batch, err := r.load(ctx, tx, lanes)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	if r.probing.Load() {
		batch = firstOfEachKey(batch)
	}

	recs := make([]kafka.Record, len(batch))
	for i, b := range batch {
		recs[i] = b.rec
	}
	spans := r.startSpans(ctx, recs)
	// From here on the round finishes even if ctx ends: abandoning a sent
	// batch before deleting it would send it again after a routine
	// shutdown. SendTimeout still bounds it.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.SendTimeout)
	defer cancel()
	sendErr := r.pub.Send(wctx, recs...)
	endSpans(spans, sendErr)
	done, nFailed := acknowledged(batch, sendErr)
	r.failed.Add(uint64(nFailed))
	r.probing.Store(sendErr != nil)
	if len(done) > 0 {
		if _, err := tx.Exec(wctx, `DELETE FROM `+Table+` WHERE id = ANY($1)`, done); err != nil {
			return 0, fmt.Errorf("delete %d published rows (they will be sent again): %w", len(done), err)
		}
		if err := tx.Commit(wctx); err != nil {
			return 0, fmt.Errorf("commit %d published rows (they will be sent again): %w", len(done), err)
		}
		r.published.Add(uint64(len(done)))
	}
	if sendErr != nil {
		return 0, fmt.Errorf("send %d of %d records: %w", nFailed, len(batch), sendErr)
	}
	return len(batch), nil
}

func (r *Relay) load(ctx context.Context, tx pgx.Tx, lanes []int32) ([]row, error) {
	rows, err := tx.Query(ctx, `
SELECT id, topic, key, event_id, source, type, subject, time, datacontenttype, dataschema, extensions, data
FROM `+Table+` WHERE lane = ANY($1) AND topic = ANY($3) ORDER BY id LIMIT $2`, lanes, r.cfg.BatchSize, r.cfg.Topics)
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
		var (
			b                            row
			eventID, source, typ         string
			subject, contentType, schema *string
			at                           *time.Time
			exts                         map[string]string
			data                         []byte
		)
		if err := cr.Scan(&b.id, &b.rec.Topic, &b.rec.Key, &eventID, &source, &typ, &subject, &at,
			&contentType, &schema, &exts, &data); err != nil {
			return b, err
		}
		ev := cloudevents.NewEvent()
		ev.SetID(eventID)
		ev.SetSource(source)
		ev.SetType(typ)
		if subject != nil {
			ev.SetSubject(*subject)
		}
		if at != nil {
			ev.SetTime(*at)
		}
		if schema != nil {
			ev.SetDataSchema(*schema)
		}
		for name, v := range exts {
			ev.SetExtension(name, v)
		}
		if data != nil || contentType != nil {
			ct := ""
			if contentType != nil {
				ct = *contentType
			}
			if err := ev.SetData(ct, data); err != nil {
				return b, fmt.Errorf("row %d: data: %w", b.id, err)
			}
		}
		b.rec.Event = ev
		return b, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return out, nil
}

// firstOfEachKey keeps the first row of each topic and key, in order.
func firstOfEachKey(batch []row) []row {
	type topicKey struct{ topic, key string }
	seen := map[topicKey]bool{}
	out := batch[:0:0]
	for _, b := range batch {
		k := topicKey{b.rec.Topic, b.rec.Key}
		if !seen[k] {
			seen[k] = true
			out = append(out, b)
		}
	}
	return out
}

// acknowledged returns the ids of the rows that may be deleted after a
// Send that returned err, and how many records failed. Within a key, only
// the rows before the key's first failure go: a later row stays even if it
// was acknowledged, so the key is sent again from its first failed row on.
func acknowledged(batch []row, err error) (ids []int64, failed int) {
	if err == nil {
		ids = make([]int64, len(batch))
		for i, b := range batch {
			ids[i] = b.id
		}
		return ids, 0
	}
	bad, ok := failedIndexes(err, len(batch))
	if !ok {
		return nil, len(batch)
	}
	type lane struct{ topic, key string }
	stopped := map[lane]bool{}
	for i, b := range batch {
		k := lane{b.rec.Topic, b.rec.Key}
		if bad[i] {
			stopped[k] = true
			continue
		}
		if !stopped[k] {
			ids = append(ids, b.id)
		}
	}
	return ids, len(bad)
}

// failedIndexes reads the per-record failures out of a Send error. ok is
// false when err says nothing about which records failed.
func failedIndexes(err error, n int) (map[int]bool, bool) {
	bad := map[int]bool{}
	var walk func(error) bool
	walk = func(e error) bool {
		//nolint:errorlint // walk unwraps the tree itself, one level at a time
		if se, ok := e.(*kafka.SendError); ok {
			if se.Index < 0 || se.Index >= n {
				return false
			}
			bad[se.Index] = true
			return true
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				if !walk(x) {
					return false
				}
			}
			return true
		}
		if u := errors.Unwrap(e); u != nil {
			return walk(u)
		}
		return false
	}
	if !walk(err) || len(bad) == 0 {
		return nil, false
	}
	return bad, true
}

// countPending counts the rows of each of the relay's topics.
func (r *Relay) countPending(ctx context.Context) {
	rows, err := r.pool.Query(ctx, `SELECT topic, count(*) FROM `+Table+` WHERE topic = ANY($1) GROUP BY topic`, r.cfg.Topics)
	byTopic := make(map[string]int64, len(r.cfg.Topics))
	for _, t := range r.cfg.Topics {
		byTopic[t] = 0
	}
	var total int64
	if err == nil {
		var (
			topic string
			n     int64
		)
		_, err = pgx.ForEachRow(rows, []any{&topic, &n}, func() error {
			byTopic[topic] = n
			total += n
			return nil
		})
	}
	if err != nil {
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "outbox relay: count pending rows", "error", err)
		}
		return
	}
	r.pending.Store(total)
	r.pendingByTopic.Store(&byTopic)
}

// listen keeps a LISTEN connection open and signals wake on every
// notification (and after every reconnect, for the ones it may have
// missed). It uses its own connection, not one of the pool's, because the
// connection is held for as long as the relay runs.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	backoff := r.cfg.MinBackoff
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, wake, func() { backoff = r.cfg.MinBackoff })
		if ctx.Err() != nil {
			return
		}
		r.log.WarnContext(ctx, "outbox relay: LISTEN connection lost; polling meanwhile", "error", err, "retry", backoff)
		if !sleep(ctx, jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

func (r *Relay) listenOnce(ctx context.Context, wake chan<- struct{}, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, r.pool.Config().ConnConfig)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	signal(wake)
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		signal(wake)
	}
}

func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// jitter spreads retries of several replicas by ±20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
