package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/testrig"
)

func TestMigrateCreatesTableOnce(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	for range 2 {
		if err := outbox.Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	st, err := migrate.Status(ctx, pool, outbox.Component)
	if err != nil || len(st) != 1 || st[0].Name != "0001_outbox.sql" {
		t.Fatalf("status %+v, %v", st, err)
	}
}

func TestConfigValidate(t *testing.T) {
	topics := []string{catalog.ContentEvents}
	if err := (outbox.Config{Topics: topics}).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, c := range map[string]outbox.Config{
		"topics":  {},
		"batch":   {Topics: topics, BatchSize: -1},
		"lanes":   {Topics: topics, LanesPerBatch: outbox.Lanes + 1},
		"backoff": {Topics: topics, MinBackoff: time.Second, MaxBackoff: time.Millisecond},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, c)
		}
	}
}

func TestRolledBackTransactionPublishesNothing(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.relay(t, f.pool, f.producer(t), outbox.Config{})
	c := f.consume(t, catalog.ContentEvents)

	errAbort := errors.New("abort")
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := f.box.Enqueue(ctx, tx, post(user("alice"), 1)); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatal(err)
	}
	// Same key, committed after the rollback: once it is on Kafka, the
	// rolled-back event would have been before it.
	marker := f.enqueue(t, post(user("alice"), 2))
	recs := c.until(t, 1)
	if len(recs) != 1 || recs[0].ID != marker {
		t.Fatalf("Kafka holds %+v, want only the committed event %s", recs, marker)
	}
	eventually(t, "the outbox to be empty", func() bool { return f.pending(t) == 0 })
}

func TestPublishedRecordIsTheEnqueuedEvent(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.relay(t, f.pool, f.producer(t), outbox.Config{})
	c := f.consume(t, catalog.ContentEvents)

	bob := user("bob")
	msg := post(bob, 7)
	msg.Tags = []string{"go", "kafka"}
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := f.box.Enqueue(ctx, tx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := c.until(t, 1)[0].Record
	if string(r.Key) != bob {
		t.Fatalf("key %q", r.Key)
	}
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[string(h.Key)] = string(h.Value)
	}
	for h, want := range map[string]string{
		"ce_id":           ev.ID(),
		"ce_source":       "/nova/content-service",
		"ce_type":         "com.nova.content.post.created",
		"ce_subject":      msg.PostId,
		"ce_partitionkey": bob,
		"ce_specversion":  "1.0",
		"ce_dataschema":   ev.DataSchema(),
	} {
		if headers[h] != want {
			t.Errorf("header %s = %q, want %q", h, headers[h], want)
		}
	}
	if string(r.Value) != string(ev.Data()) {
		t.Errorf("value differs from the enqueued data")
	}
	if got, err := time.Parse(time.RFC3339Nano, headers["ce_time"]); err != nil || !got.Equal(ev.Time()) {
		t.Errorf("ce_time %q, want %v (%v)", headers["ce_time"], ev.Time(), err)
	}
}

// commitLog records, per key, the event ids in the order their transactions
// committed. The order comes from a counter row per key that each
// transaction bumps after its Enqueue: the row lock is held until commit,
// so the counter values follow commit order whatever the outbox does.
type commitLog struct {
	mu   sync.Mutex
	seqs map[string]map[int][]string // key -> commit seq -> ids in that tx
}

func (l *commitLog) add(key string, seq int, ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seqs == nil {
		l.seqs = map[string]map[int][]string{}
	}
	if l.seqs[key] == nil {
		l.seqs[key] = map[int][]string{}
	}
	l.seqs[key][seq] = ids
}

func (l *commitLog) order() map[string][]string {
	out := map[string][]string{}
	for key, m := range l.seqs {
		var seqs []int
		for s := range m {
			seqs = append(seqs, s)
		}
		sort.Ints(seqs)
		for _, s := range seqs {
			out[key] = append(out[key], m[s]...)
		}
	}
	return out
}

func (l *commitLog) total() int {
	n := 0
	for _, ids := range l.order() {
		n += len(ids)
	}
	return n
}

// writeConcurrently runs writers goroutines committing txs transactions each,
// each with one or two events of a random key, and returns the commit log.
func writeConcurrently(t *testing.T, f *fixture, keys []string, writers, txs int) *commitLog {
	t.Helper()
	ctx := context.Background()
	if _, err := f.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS commit_seq (key text PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, err := f.pool.Exec(ctx, `INSERT INTO commit_seq VALUES ($1, 0) ON CONFLICT DO NOTHING`, k); err != nil {
			t.Fatal(err)
		}
	}
	log := &commitLog{}
	var wg sync.WaitGroup
	var n atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range txs {
				key := keys[rng.IntN(len(keys))]
				events := 1 + rng.IntN(2)
				err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
					var ids []string
					for range events {
						ev, err := f.box.Enqueue(ctx, tx, post(key, int(n.Add(1))))
						if err != nil {
							return err
						}
						ids = append(ids, ev.ID())
					}
					// Widen the window between taking an id and committing,
					// where a writer of the same key could overtake.
					time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
					var seq int
					if err := tx.QueryRow(ctx, `UPDATE commit_seq SET n = n + 1 WHERE key = $1 RETURNING n`, key).Scan(&seq); err != nil {
						return err
					}
					log.add(key, seq, ids)
					return nil
				})
				if err != nil {
					t.Errorf("writer: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return log
}

func TestOneKeysEventsArriveInCommitOrder(t *testing.T) {
	f := setup(t)
	r := f.relay(t, f.pool, f.producer(t), outbox.Config{BatchSize: 50})
	c := f.consume(t, catalog.ContentEvents)

	log := writeConcurrently(t, f, []string{user("u1"), user("u2"), user("u3"), user("u4"), user("u5")}, 8, 30)
	recs := c.until(t, log.total())
	checkExactlyOnceInOrder(t, recs, log.order())
	eventually(t, "the outbox to be empty", func() bool { return f.pending(t) == 0 })
	// A row leaves the outbox before the relay counts it.
	eventually(t, "the relay to count every event", func() bool { return r.Stats().Published >= uint64(log.total()) })
	if s := r.Stats(); s.Published != uint64(log.total()) || s.Failed != 0 {
		t.Errorf("stats %+v, want %d published", s, log.total())
	}
}

func TestTwoRelaysPublishEachRowOnceInOrder(t *testing.T) {
	f := setup(t)
	relays := make([]*outbox.Relay, 2)
	for i := range relays {
		// Each relay with its own pool and producer, as two replicas.
		pool, err := pgxpool.New(context.Background(), f.dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		relays[i] = f.relay(t, pool, f.producer(t), outbox.Config{BatchSize: 20, LanesPerBatch: 4})
	}
	c := f.consume(t, catalog.ContentEvents)
	keys := make([]string, 24)
	for i := range keys {
		keys[i] = user(fmt.Sprintf("user-%02d", i))
	}
	log := writeConcurrently(t, f, keys, 8, 40)
	recs := c.until(t, log.total())
	checkExactlyOnceInOrder(t, recs, log.order())
	eventually(t, "both relays to finish", func() bool {
		return relays[0].Stats().Published+relays[1].Stats().Published == uint64(log.total())
	})
	t.Logf("relay 0 published %d, relay 1 published %d", relays[0].Stats().Published, relays[1].Stats().Published)
}

func TestBrokerDownRowsWaitThenGoInOrder(t *testing.T) {
	f := setup(t)
	f.kafka.DropProduce(t, true)

	r := f.relay(t, f.pool, f.producer(t), outbox.Config{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, SendTimeout: waitLimit})
	want := map[string][]string{}
	keys := []string{user("k1"), user("k2"), user("k3"), user("k4")}
	for i := range 40 {
		k := keys[i%len(keys)]
		want[k] = append(want[k], f.enqueue(t, post(k, i)))
	}
	eventually(t, "the relay to try the unreachable broker", func() bool {
		return f.kafka.Dropped(t) >= 3
	})
	if n := f.pending(t); n != 40 {
		t.Fatalf("%d rows in the outbox while the broker is down, want all 40", n)
	}
	if n := f.kafka.Written(t, catalog.ContentEvents); n != 0 {
		t.Fatalf("%d records reached the broker while it was down", n)
	}
	// More commits while it is still down.
	for i := 40; i < 60; i++ {
		k := keys[i%len(keys)]
		want[k] = append(want[k], f.enqueue(t, post(k, i)))
	}
	f.kafka.DropProduce(t, false)

	c := f.consume(t, catalog.ContentEvents)
	recs := c.until(t, 60)
	checkExactlyOnceInOrder(t, recs, want)
	eventually(t, "the outbox to be empty", func() bool { return f.pending(t) == 0 })
	// The relay counts a batch once its delete has committed, a moment
	// after the outbox is seen empty.
	eventually(t, "the relay to count 60 published", func() bool { return r.Stats().Published == 60 })
	t.Logf("stats %+v, %d produce requests dropped", r.Stats(), f.kafka.Dropped(t))
}

func TestBrokerRestartedOnSamePort(t *testing.T) {
	dir := t.TempDir()
	f := setup(t, testrig.KafkaDataDir(dir))
	addr := f.kafka.ListenAddrs()[0]
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("port of %s: %v", addr, err)
	}
	r := f.relay(t, f.pool, f.producer(t), outbox.Config{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, SendTimeout: waitLimit})
	want := map[string][]string{}
	abc := []string{user("a"), user("b"), user("c")}
	want[abc[0]] = append(want[abc[0]], f.enqueue(t, post(abc[0], 0)))
	eventually(t, "the first event to be published", func() bool { return r.Stats().Published == 1 })

	f.kafka.Close()
	for i := 1; i < 30; i++ {
		k := abc[i%3]
		want[k] = append(want[k], f.enqueue(t, post(k, i)))
	}
	eventually(t, "the relay to notice the broker is gone", func() bool { return r.Stats().Failed > 0 })
	if n := f.pending(t); n != 29 {
		t.Fatalf("%d rows waiting, want 29", n)
	}
	f.kafka = testrig.Kafka(t, testrig.KafkaDataDir(dir), testrig.KafkaPort(port))

	c := f.consume(t, catalog.ContentEvents)
	recs := c.until(t, 30)
	checkExactlyOnceInOrder(t, recs, want)
	eventually(t, "the outbox to be empty", func() bool { return f.pending(t) == 0 })
}

func TestRowsWrittenBeforeTheRelayStartsArePublished(t *testing.T) {
	f := setup(t)
	want := map[string][]string{}
	for i := range 10 {
		want[user("early")] = append(want[user("early")], f.enqueue(t, post(user("early"), i)))
	}
	f.relay(t, f.pool, f.producer(t), outbox.Config{})
	checkExactlyOnceInOrder(t, f.consume(t, catalog.ContentEvents).until(t, 10), want)
}

func TestEnqueueAllMixesKeysWithoutDeadlock(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.relay(t, f.pool, f.producer(t), outbox.Config{})
	c := f.consume(t, catalog.ContentEvents)
	keys := []string{user("k1"), user("k2"), user("k3"), user("k4")}
	var (
		mu   sync.Mutex
		want = map[string]int{}
		wg   sync.WaitGroup
		n    atomic.Int64
	)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for range 15 {
				// Every transaction takes every key, each in its own order:
				// one Enqueue per key would deadlock here.
				order := slices.Clone(keys)
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				var msgs []proto.Message
				for _, k := range order {
					msgs = append(msgs, post(k, int(n.Add(1))))
				}
				err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
					evs, err := f.box.EnqueueAll(ctx, tx, msgs)
					if err != nil {
						return err
					}
					time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
					mu.Lock()
					for _, ev := range evs {
						want[ev.ID()]++
					}
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Errorf("EnqueueAll: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recs := c.until(t, len(want))
	for _, r := range recs {
		want[r.ID]--
	}
	for id, left := range want {
		if left != 0 {
			t.Errorf("event %s: %d copies missing", id, left)
		}
	}
}

// A relay publishes its own topics' rows only: another function's rows wait
// for that function's relay, whose Kafka user may write them.
func TestRelayPublishesOnlyItsTopics(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	content := f.consume(t, catalog.ContentEvents)
	users := f.consume(t, catalog.UserEvents)
	var userID string
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		ev, err := f.box.Enqueue(ctx, tx, &eventsv1.UserRegistered{UserId: user("u1"), Username: "ann", Email: "ann@example.com", RegisteredAt: timestamppb.Now()})
		userID = ev.ID()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	postID := f.enqueue(t, post(user("u1"), 1))

	r := f.relay(t, f.pool, f.producer(t), outbox.Config{Topics: []string{catalog.ContentEvents}})
	if got := content.until(t, 1); got[0].ID != postID {
		t.Fatalf("content-events holds %s, want %s", got[0].ID, postID)
	}
	// Published counts after the delete commits.
	eventually(t, "the content relay to count its row", func() bool { return r.Stats().Published == 1 })
	if n := f.pending(t); n != 1 {
		t.Fatalf("%d rows left in the outbox, want the user-events row only", n)
	}

	f.relay(t, f.pool, f.producer(t), outbox.Config{Topics: []string{catalog.UserEvents}})
	if got := users.until(t, 1); got[0].ID != userID {
		t.Fatalf("user-events holds %s, want %s", got[0].ID, userID)
	}
	eventually(t, "the outbox to be empty", func() bool { return f.pending(t) == 0 })
}

// An Outbox given its function's topics refuses an event of another topic
// when it is enqueued, so no row waits for a relay that never comes.
func TestOutboxRefusesAnotherFunctionsTopic(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	box := outbox.New(f.codec, catalog.NotificationEvents)
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		_, err := box.Enqueue(ctx, tx, post(user("u1"), 1))
		return err
	})
	if !errors.Is(err, outbox.ErrForeignTopic) || !strings.Contains(err.Error(), catalog.ContentEvents) {
		t.Fatalf("got %v, want ErrForeignTopic naming content-events", err)
	}
	if n := f.pending(t); n != 0 {
		t.Fatalf("%d rows in the outbox after a refused enqueue", n)
	}
}
