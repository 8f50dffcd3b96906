package emitter_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/emitter"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	nid "github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

func TestEmitReachesTheCatalogueTopicWithItsKey(t *testing.T) {
	k := testrig.Kafka(t)
	p, err := kafka.NewProducer(kafka.DefaultProducerConfig(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	codec := envelope.NewCodec(catalog.Default())
	em := emitter.NewKafka(codec, p)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	msg := &eventsv1.FeedUpdated{PostId: nid.NewPostID().String(), AuthorId: nid.NewUserID().String(), FeedsWritten: 3,
		Kind: eventsv1.FeedUpdateKind_FEED_UPDATE_KIND_INSERTED, UpdatedAt: timestamppb.Now()}
	id := "01a21480-0000-7000-8000-000000000001"
	if err := em.Emit(ctx, msg, envelope.WithID(id)); err != nil {
		t.Fatal(err)
	}

	recs := k.Consume(t, catalog.FeedUpdates).Until(t, 1, 20*time.Second)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	cm := recs[0]
	if string(cm.Key) != msg.PostId {
		t.Fatalf("key %q, want the post id", cm.Key)
	}
	if want := kafka.PartitionFor(cm.Key, 3); cm.Partition != want {
		t.Fatalf("partition %d, murmur2 says %d", cm.Partition, want)
	}
	e, err := kafka.EventFromRecord(cm, kafka.SourceRef{Namespace: "default", Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := codec.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != id || e.Source() != "/nova/feed-service" || !proto.Equal(d.Message, msg) {
		t.Fatalf("emitted %s from %s carrying %v", e.ID(), e.Source(), d.Message)
	}
}

func TestEmitRefusesAMessageOutsideTheCatalogue(t *testing.T) {
	em := emitter.NewKafka(envelope.NewCodec(catalog.Default()), nil)
	if err := em.Emit(context.Background(), &eventsv1.MediaMetadata{}); err == nil {
		t.Fatal("a helper message was emitted as an event")
	}
}
