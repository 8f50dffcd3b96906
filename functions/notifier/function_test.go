package function_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	function "github.com/nova-social/nova/functions/notifier"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// host serves a started instance as the kn func scaffold does in
// production (func-go's http runtime).
func host(t *testing.T) (fn *eventfunctest.Server, brokers []string, dsn string) {
	t.Helper()
	k := testrig.Kafka(t)
	dsn = testrig.PostgresURL(t)
	fn = eventfunctest.Serve(t, function.New(), map[string]string{
		"DATABASE_URL": dsn, "REDIS_URL": testrig.RedisURL(t),
		"KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ","),
	})
	return fn, k.ListenAddrs(), dsn
}

// drained waits until the function's outbox relay has published every row.
func drained(t *testing.T, dsn string) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM nova_outbox").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox rows still unpublished", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A follow delivered over HTTP (twice, as a redelivery would) becomes one
// NotificationCreated on notification-events, keyed by the followed user,
// through the function's outbox relay.
func TestFollowOverHTTPIsAnnouncedOnce(t *testing.T) {
	fn, brokers, dsn := host(t)
	codec := envelope.NewCodec(catalog.Default())
	fan, star := id.NewUserID(), id.NewUserID()
	e, err := codec.New(&eventsv1.UserFollowed{FollowerId: fan.String(), FolloweeId: star.String(), FollowedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if code := fn.Status(t, e); code != http.StatusOK {
			t.Fatalf("UserFollowed answered %d", code)
		}
	}
	// Once the relay has published everything, the topic holds all the
	// announcements there will be: read it to its end.
	drained(t, dsn)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(catalog.NotificationEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, catalog.NotificationEvents)
	if err != nil {
		t.Fatal(err)
	}
	var total, read int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	var forStar []*eventsv1.NotificationCreated
	for read < total {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("waiting for NotificationCreated: %v (got %d for the star)", err, len(forStar))
		}
		for _, rec := range fs.Records() {
			read++
			cm := &sarama.ConsumerMessage{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value}
			for _, h := range rec.Headers {
				cm.Headers = append(cm.Headers, &sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
			}
			ev, err := kafka.EventFromRecord(cm, kafka.SourceRef{Namespace: "test", Name: "t"})
			if err != nil {
				t.Fatal(err)
			}
			d, err := codec.Decode(ev)
			if err != nil {
				t.Fatal(err)
			}
			nc := d.Message.(*eventsv1.NotificationCreated)
			if nc.GetRecipientId() == star.String() {
				if string(rec.Key) != star.String() {
					t.Fatalf("keyed %q, want the recipient", rec.Key)
				}
				forStar = append(forStar, nc)
			}
		}
	}
	if len(forStar) != 1 {
		t.Fatalf("%d NotificationCreated for one follow delivered twice, want 1", len(forStar))
	}
	if n := forStar[0]; n.GetKind() != eventsv1.NotificationKind_NOTIFICATION_KIND_FOLLOW || n.GetCount() != 1 ||
		len(n.GetActorIds()) != 1 || n.GetActorIds()[0] != fan.String() || n.GetText() == "" {
		t.Fatalf("NotificationCreated %v", n)
	}
}

func TestUndecodableEventIsRefusedWith4xx(t *testing.T) {
	fn, _, _ := host(t)
	e := cloudevents.NewEvent()
	e.SetID(id.NewPostID().String())
	e.SetSource("/nova/identity-service")
	e.SetType("com.nova.identity.user.followed")
	if err := e.SetData("application/json", map[string]any{"follower_id": 7}); err != nil {
		t.Fatal(err)
	}
	if code := fn.Status(t, e); code < 400 || code >= 500 {
		t.Fatalf("undecodable event answered %d, want a 4xx so the source dead-letters it", code)
	}
	codec := envelope.NewCodec(catalog.Default())
	// A malformed follower id breaks the contract, so no codec builds the
	// event: its data goes in a follow event by hand.
	malformed := &eventsv1.UserFollowed{FollowerId: "someone", FolloweeId: id.NewUserID().String(), FollowedAt: timestamppb.Now()}
	if _, err := codec.New(malformed); !errors.Is(err, envelope.ErrContract) {
		t.Fatalf("codec built a follow by %q: %v", malformed.FollowerId, err)
	}
	bad, err := codec.New(&eventsv1.UserFollowed{FollowerId: id.NewUserID().String(), FolloweeId: malformed.FolloweeId, FollowedAt: malformed.FollowedAt})
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(malformed)
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.SetData(bad.DataContentType(), data); err != nil {
		t.Fatal(err)
	}
	if code := fn.Status(t, bad); code < 400 || code >= 500 {
		t.Fatalf("malformed follower id answered %d, want a 4xx", code)
	}
}

func TestConfigRequiresTheStores(t *testing.T) {
	if _, err := function.ConfigFrom(map[string]string{}); err == nil {
		t.Fatal("empty configuration accepted")
	}
	c, err := function.ConfigFrom(map[string]string{"DATABASE_URL": "postgres://x", "REDIS_URL": "redis://x",
		"KAFKA_BROKERS": "a:9092, b:9092", "NOTIFY_GROUP_WINDOW": "15m"})
	if err != nil || c.GroupWindow != 15*time.Minute || len(c.KafkaBrokers) != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := function.ConfigFrom(map[string]string{"DATABASE_URL": "postgres://x", "REDIS_URL": "redis://x",
		"KAFKA_BROKERS": "a:9092", "NOTIFY_GROUP_WINDOW": "soon"}); err == nil {
		t.Fatal("bad window accepted")
	}
}
