package outbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// waitLimit bounds how long a test waits for an outcome before failing; it
// is a hang guard, not a performance assertion.
const waitLimit = 90 * time.Second

type fixture struct {
	pool  *pgxpool.Pool
	dsn   string
	box   *outbox.Outbox
	codec *envelope.Codec
	kafka *testrig.KafkaBroker
	quiet *slog.Logger
}

func setup(t testing.TB, kopts ...testrig.KafkaOption) *fixture {
	t.Helper()
	dsn := testrig.PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := outbox.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	codec := envelope.NewCodec(catalog.Default())
	return &fixture{
		pool:  pool,
		dsn:   dsn,
		box:   outbox.New(codec),
		codec: codec,
		kafka: testrig.Kafka(t, kopts...),
		quiet: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func (f *fixture) producer(t testing.TB) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{
		Brokers:      f.kafka.ListenAddrs(),
		RetryBackoff: 20 * time.Millisecond,
		DialTimeout:  time.Second,
		Logger:       f.quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// relay starts a relay through pub and stops it when the test ends.
func (f *fixture) relay(t testing.TB, pool *pgxpool.Pool, pub outbox.Publisher, cfg outbox.Config) *outbox.Relay {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = f.quiet
	}
	if cfg.Topics == nil {
		cfg.Topics = allTopics()
	}
	r, err := outbox.NewRelay(pool, pub, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

// allTopics are every topic of the catalogue, for relays that publish
// whatever the tests enqueue.
func allTopics() []string {
	var out []string
	for _, t := range catalog.Default().Topics() {
		out = append(out, t.Name)
	}
	return out
}

// usersNS names the user ids the tests derive from names.
var usersNS = uuid.MustParse("0190f1c2-7a3b-7c4d-8e5f-0123456789ab")

// user is the user id a test's name for a user stands for: the same name
// always gives the same id.
func user(name string) string {
	return uuid.NewSHA1(usersNS, []byte(name)).String()
}

// post is a PostCreated by user (a user id), the content-events key.
func post(user string, n int) *eventsv1.PostCreated {
	return &eventsv1.PostCreated{
		PostId:    id.NewPostID().String(),
		UserId:    user,
		Content:   fmt.Sprintf("post %d of %s", n, user),
		Type:      eventsv1.PostType_POST_TYPE_TEXT,
		CreatedAt: timestamppb.Now(),
	}
}

// enqueue commits one transaction holding msg's event and returns the event.
func (f *fixture) enqueue(t testing.TB, msg *eventsv1.PostCreated) string {
	t.Helper()
	ctx := context.Background()
	var id string
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		ev, err := f.box.Enqueue(ctx, tx, msg)
		id = ev.ID()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) pending(t testing.TB) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+outbox.Table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// got is one record read back from Kafka.
type got struct {
	Key, ID   string
	Partition int32
	Offset    int64
	Record    *sarama.ConsumerMessage
}

// consumer reads topics from the start.
type consumer struct{ c *testrig.Consumer }

func (f *fixture) consume(t testing.TB, topics ...string) *consumer {
	t.Helper()
	return &consumer{f.kafka.Consume(t, topics...)}
}

// until reads until at least n records arrived and returns them, in the
// order read; within a partition that is offset order.
func (c *consumer) until(t testing.TB, n int) []got {
	t.Helper()
	var out []got
	for _, r := range c.c.Until(t, n, waitLimit) {
		g := got{Key: string(r.Key), Partition: r.Partition, Offset: r.Offset, Record: r}
		for _, h := range r.Headers {
			if string(h.Key) == "ce_id" {
				g.ID = string(h.Value)
			}
		}
		out = append(out, g)
	}
	return out
}

// eventually waits for cond, failing the test after waitLimit.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkExactlyOnceInOrder checks that recs hold every id of want once and,
// for each key, in the order of want[key].
func checkExactlyOnceInOrder(t testing.TB, recs []got, want map[string][]string) {
	t.Helper()
	seen := map[string]int{}
	byKey := map[string][]string{}
	for _, r := range recs {
		seen[r.ID]++
		byKey[r.Key] = append(byKey[r.Key], r.ID)
	}
	total := 0
	for key, ids := range want {
		total += len(ids)
		for _, id := range ids {
			if seen[id] != 1 {
				t.Errorf("key %s: event %s arrived %d times", key, id, seen[id])
			}
		}
		if fmt.Sprint(byKey[key]) != fmt.Sprint(ids) {
			t.Errorf("key %s: order on Kafka\n  %v\nwant commit order\n  %v", key, byKey[key], ids)
		}
	}
	if len(recs) != total {
		t.Errorf("%d records on Kafka, want %d", len(recs), total)
	}
}
