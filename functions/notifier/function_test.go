package function_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"
	fcloudevents "knative.dev/func-go/cloudevents"

	function "github.com/nova-social/nova/functions/notifier"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// host serves a started instance through func-go's CloudEvents middleware,
// as the kn func scaffold does in production.
func host(t *testing.T) (url string, brokers []string) {
	t.Helper()
	k := testrig.Kafka(t)
	f := function.New()
	if err := f.Start(context.Background(), map[string]string{
		"DATABASE_URL": testrig.PostgresURL(t), "REDIS_URL": testrig.RedisURL(t),
		"KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ","),
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop(context.Background()) })
	srv := httptest.NewServer(fcloudevents.New(f).Handler)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/health/readiness")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("not ready: %v %v", resp, err)
	}
	return srv.URL, k.ListenAddrs()
}

func send(t *testing.T, url string, e cloudevents.Event) int {
	t.Helper()
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(url))
	if err != nil {
		t.Fatal(err)
	}
	var httpRes *cehttp.Result
	if res := c.Send(context.Background(), e); !cloudevents.ResultAs(res, &httpRes) {
		t.Fatalf("no HTTP result: %v", res)
	}
	return httpRes.StatusCode
}

// A follow delivered over HTTP (twice, as a redelivery would) becomes one
// NotificationCreated on notification-events, keyed by the followed user,
// through the function's outbox relay.
func TestFollowOverHTTPIsAnnouncedOnce(t *testing.T) {
	url, brokers := host(t)
	codec := envelope.NewCodec(catalog.Default())
	fan, star := id.NewUserID(), id.NewUserID()
	e, err := codec.New(&eventsv1.UserFollowed{FollowerId: fan.String(), FolloweeId: star.String(), FollowedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if code := send(t, url, e); code != http.StatusOK {
			t.Fatalf("UserFollowed answered %d", code)
		}
	}
	// A marker after it: once the marker's announcement is read, anything
	// the redelivery could have announced would have been read too.
	marker, err := codec.New(&eventsv1.UserFollowed{FollowerId: star.String(), FolloweeId: fan.String(), FollowedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if code := send(t, url, marker); code != http.StatusOK {
		t.Fatalf("marker answered %d", code)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(catalog.NotificationEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var forStar []*eventsv1.NotificationCreated
	markerSeen := false
	for !markerSeen {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("waiting for NotificationCreated: %v (got %d for the star)", err, len(forStar))
		}
		for _, rec := range fs.Records() {
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
			switch nc.GetRecipientId() {
			case star.String():
				if string(rec.Key) != star.String() {
					t.Fatalf("keyed %q, want the recipient", rec.Key)
				}
				forStar = append(forStar, nc)
			case fan.String():
				markerSeen = true
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
	url, _ := host(t)
	e := cloudevents.NewEvent()
	e.SetID(id.NewPostID().String())
	e.SetSource("/nova/identity-service")
	e.SetType("com.nova.identity.user.followed")
	if err := e.SetData("application/json", map[string]any{"follower_id": 7}); err != nil {
		t.Fatal(err)
	}
	if code := send(t, url, e); code < 400 || code >= 500 {
		t.Fatalf("undecodable event answered %d, want a 4xx so the source dead-letters it", code)
	}
	codec := envelope.NewCodec(catalog.Default())
	bad, err := codec.New(&eventsv1.UserFollowed{FollowerId: "someone", FolloweeId: id.NewUserID().String()})
	if err != nil {
		t.Fatal(err)
	}
	if code := send(t, url, bad); code < 400 || code >= 500 {
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
