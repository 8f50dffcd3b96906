package fanout_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/functions/feed-fanout/fanout"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/emitter"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

type rig struct {
	t       *testing.T
	ctx     context.Context
	codec   *envelope.Codec
	store   *feed.Store
	reactor *fanout.Reactor
	brokers []string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	k := testrig.Kafka(t)
	p, err := kafka.NewProducer(kafka.DefaultProducerConfig(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	store, err := feed.NewStore(testrig.Redis(t), feed.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	codec := envelope.NewCodec(catalog.Default())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &rig{t: t, ctx: context.Background(), codec: codec, store: store,
		reactor: fanout.NewReactor(store, emitter.NewKafka(codec, p), log), brokers: k.ListenAddrs()}
}

func id() string { return uuid.Must(uuid.NewV7()).String() }

// deliver builds the CloudEvent for msg as a producer would and reacts to it.
func (r *rig) deliver(msg proto.Message) envelope.Decoded {
	r.t.Helper()
	e, err := r.codec.New(msg)
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.codec.Decode(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.reactor.React(r.ctx, d); err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *rig) feed(user string) []string {
	r.t.Helper()
	page, err := r.store.Read(r.ctx, user, feed.ReadOptions{Limit: 50})
	if err != nil {
		r.t.Fatal(err)
	}
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

// The design document's unit test: handling PostCreated leaves the post in
// the local cache (and, here, in the follower's feed), against a real Redis.
func TestPostCreatedIsCachedAndFannedOut(t *testing.T) {
	r := newRig(t)
	author, fan := id(), id()
	r.deliver(&eventsv1.UserFollowed{FollowerId: fan, FolloweeId: author, FollowedAt: timestamppb.Now()})
	postID := id()
	r.deliver(&eventsv1.PostCreated{PostId: postID, UserId: author, Content: "hello",
		Type: eventsv1.PostType_POST_TYPE_TEXT, Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC,
		Tags: []string{"nova"}, CreatedAt: timestamppb.Now()})

	s, ok, err := r.store.Summary(r.ctx, postID)
	if err != nil || !ok {
		t.Fatalf("post %s not cached (err %v)", postID, err)
	}
	if s.Content != "hello" || s.AuthorID != author || len(s.Tags) != 1 {
		t.Fatalf("cached summary %+v", s)
	}
	if got := r.feed(fan); len(got) != 1 || got[0] != postID {
		t.Fatalf("follower feed %v, want [%s]", got, postID)
	}
}

func TestDuplicatedEventIsSkipped(t *testing.T) {
	r := newRig(t)
	author, fan := id(), id()
	r.deliver(&eventsv1.UserFollowed{FollowerId: fan, FolloweeId: author, FollowedAt: timestamppb.Now()})
	created := &eventsv1.PostCreated{PostId: id(), UserId: author, Content: "x",
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()}
	d := r.deliver(created)
	r.deliver(&eventsv1.PostDeleted{PostId: created.PostId, UserId: author, DeletedAt: timestamppb.Now()})
	// The same CloudEvent again (a redelivery): already processed, skipped.
	if err := r.reactor.React(r.ctx, d); err != nil {
		t.Fatal(err)
	}
	// A duplicate with a fresh id (a producer retry): the tombstone holds.
	r.deliver(created)
	if got := r.feed(fan); len(got) != 0 {
		t.Fatalf("deleted post came back: %v", got)
	}
}

func TestProfilesAndScoresAreKept(t *testing.T) {
	r := newRig(t)
	author, fan := id(), id()
	r.deliver(&eventsv1.UserRegistered{UserId: author, Username: "ada", Email: "ada@example.com", RegisteredAt: timestamppb.Now()})
	r.deliver(&eventsv1.UserProfileUpdated{UserId: author, DisplayName: proto.String("Ada L."), UpdatedAt: timestamppb.Now()})
	r.deliver(&eventsv1.UserFollowed{FollowerId: fan, FolloweeId: author, FollowedAt: timestamppb.Now()})
	p1, p2 := id(), id()
	now := time.Now()
	for i, p := range []string{p1, p2} {
		r.deliver(&eventsv1.PostCreated{PostId: p, UserId: author, Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC,
			CreatedAt: timestamppb.New(now.Add(time.Duration(i) * time.Second))})
	}
	r.deliver(&eventsv1.PostScoreUpdated{PostId: p1, AuthorId: author, Score: 10, ComputedAt: timestamppb.Now()})
	r.deliver(&eventsv1.PostScoreUpdated{PostId: p2, AuthorId: author, Score: 2, ComputedAt: timestamppb.Now()})
	page, err := r.store.Read(r.ctx, fan, feed.ReadOptions{Limit: 10, Order: feed.Ranked})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].ID != p1 {
		t.Fatalf("ranked feed %+v, want %s first", page.Items, p1)
	}
	if a := page.Items[0].Author; a.Username != "ada" || a.DisplayName != "Ada L." {
		t.Fatalf("author %+v", a)
	}
}

func TestPlainRecordWithoutTimeUsesTheRecordTime(t *testing.T) {
	r := newRig(t)
	author := id()
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	// A console producer's record, as a KafkaSource delivers it: no
	// created_at in the data, the record's time on the event.
	e := cloudevents.NewEvent()
	// Redis outlives a test run: an offset of its own keeps the record
	// from being seen as processed already.
	e.SetID(fmt.Sprintf("partition:0/offset:%d", time.Now().UnixNano()))
	e.SetType(envelope.KafkaEventType)
	e.SetSource(envelope.KafkaSourceURI("nova", "feed-fanout", catalog.ContentEvents))
	e.SetTime(at)
	if err := e.SetData(cloudevents.ApplicationJSON, []byte(`{"post_id":"`+id()+`","user_id":"`+author+`","content":"console"}`)); err != nil {
		t.Fatal(err)
	}
	d, err := r.codec.ForConsumer(catalog.FeedFanout).Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.reactor.React(r.ctx, d); err != nil {
		t.Fatal(err)
	}
	s, ok, err := r.store.Summary(r.ctx, d.Message.(*eventsv1.PostCreated).GetPostId())
	if err != nil || !ok || !s.CreatedAt.Equal(at) {
		t.Fatalf("created_at %v (ok %v, err %v), want the event time %v", s.CreatedAt, ok, err, at)
	}
}
