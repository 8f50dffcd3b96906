package function_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	function "github.com/nova-social/nova/functions/feed-fanout"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// host serves a started instance as the kn func scaffold does in
// production (func-go's http runtime).
func host(t *testing.T) (fn *eventfunctest.Server, brokers []string) {
	t.Helper()
	k := testrig.Kafka(t)
	fn = eventfunctest.Serve(t, function.New(), map[string]string{
		"REDIS_URL": testrig.RedisURL(t), "KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ","),
	})
	return fn, k.ListenAddrs()
}

func TestPostCreatedOverHTTPFillsFeedAndAnnounces(t *testing.T) {
	fn, brokers := host(t)
	codec := envelope.NewCodec(catalog.Default())
	author, fan, postID := uuid.NewString(), uuid.NewString(), uuid.NewString()
	for _, m := range []proto.Message{
		&eventsv1.UserFollowed{FollowerId: fan, FolloweeId: author, FollowedAt: timestamppb.Now()},
		&eventsv1.PostCreated{PostId: postID, UserId: author, Content: "over http",
			Visibility: eventsv1.PostVisibility_POST_VISIBILITY_FOLLOWERS_ONLY, CreatedAt: timestamppb.Now()},
	} {
		e, err := codec.New(m)
		if err != nil {
			t.Fatal(err)
		}
		if code := fn.Status(t, e); code != http.StatusOK {
			t.Fatalf("%s answered %d", e.Type(), code)
		}
	}
	store, _ := feed.NewStore(testrig.Redis(t), feed.DefaultConfig())
	page, err := store.Read(context.Background(), fan, feed.ReadOptions{Limit: 10})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != postID {
		t.Fatalf("follower feed %+v (err %v)", page.Items, err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(catalog.FeedUpdates),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fetches := cl.PollFetches(ctx)
	if err := fetches.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fetches.Records()
	if len(recs) != 1 {
		t.Fatalf("%d FeedUpdated records, want 1", len(recs))
	}
	cm := &sarama.ConsumerMessage{Topic: recs[0].Topic, Partition: recs[0].Partition, Offset: recs[0].Offset,
		Key: recs[0].Key, Value: recs[0].Value}
	for _, h := range recs[0].Headers {
		cm.Headers = append(cm.Headers, &sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	e, err := kafka.EventFromRecord(cm, kafka.SourceRef{Namespace: "test", Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := codec.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	fu := d.Message.(*eventsv1.FeedUpdated)
	if fu.GetPostId() != postID || fu.GetFeedsWritten() != 2 || fu.GetKind() != eventsv1.FeedUpdateKind_FEED_UPDATE_KIND_INSERTED {
		t.Fatalf("FeedUpdated %v, want post %s written to 2 feeds", fu, postID)
	}
}

func TestUndecodableEventIsRefusedWith4xx(t *testing.T) {
	fn, _ := host(t)
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetSource("/nova/content-service")
	e.SetType("com.nova.content.post.created")
	if err := e.SetData("application/json", map[string]any{"post_id": 7}); err != nil {
		t.Fatal(err)
	}
	if code := fn.Status(t, e); code < 400 || code >= 500 {
		t.Fatalf("undecodable event answered %d, want a 4xx so the source dead-letters it", code)
	}
	e.SetType("com.example.unknown")
	if code := fn.Status(t, e); code < 400 || code >= 500 {
		t.Fatalf("unknown type answered %d, want a 4xx", code)
	}
}
