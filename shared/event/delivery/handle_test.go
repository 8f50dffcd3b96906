package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/lifecycle"
)

func TestApplyDecodesThenReacts(t *testing.T) {
	codec := envelope.NewCodec(catalog.Default()).ForConsumer(catalog.FeedFanout)
	followee := id.NewUserID().String()
	good, err := codec.New(&eventsv1.UserFollowed{FollowerId: id.NewUserID().String(), FolloweeId: followee, FollowedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var got envelope.Decoded
	if err := delivery.Apply(ctx, codec, good, func(_ context.Context, d envelope.Decoded) error { got = d; return nil }); err != nil {
		t.Fatal(err)
	}
	if m, _ := got.Message.(*eventsv1.UserFollowed); m.GetFolloweeId() != followee {
		t.Fatalf("reaction got %v", got.Message)
	}

	bad := good.Clone()
	bad.SetType("com.example.unknown")
	called := false
	err = delivery.Apply(ctx, codec, bad, func(context.Context, envelope.Decoded) error { called = true; return nil })
	if called || !delivery.IsPermanent(err) {
		t.Fatalf("undecodable event: reaction called %v, error %v (permanent %v)", called, err, delivery.IsPermanent(err))
	}

	down := errors.New("redis down")
	err = delivery.Apply(ctx, codec, good, func(context.Context, envelope.Decoded) error { return down })
	if !errors.Is(err, down) || delivery.IsPermanent(err) {
		t.Fatalf("reaction failure came back as %v", err)
	}
}

// The event-level rules every function's codec applies: an event type only
// from its producer, plain records only where the catalogue allows them; a
// refused event is permanent (a 4xx, dead-lettered with the reason) and the
// reaction never sees it.
func TestApplyRefusesForgedAndPlainEvents(t *testing.T) {
	ctx := context.Background()
	cat := catalog.Default()
	producer := envelope.NewCodec(cat)
	post, err := producer.New(&eventsv1.PostCreated{PostId: id.NewPostID().String(), UserId: id.NewUserID().String(), CreatedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	forged := post.Clone()
	forged.SetSource("/nova/identity-service")
	plain := func(topic, body string) event.Event {
		e := event.New()
		e.SetID("partition:0/offset:1")
		e.SetType(envelope.KafkaEventType)
		e.SetSource(envelope.KafkaSourceURI("nova", "src", topic))
		e.SetTime(time.Now()) // a KafkaSource's event has its record's time
		_ = e.SetData("application/json", []byte(body))
		return e
	}
	plainPost := `{"post_id":"` + id.NewPostID().String() + `","user_id":"` + id.NewUserID().String() + `"}`
	cases := []struct {
		name     string
		consumer string
		e        event.Event
		want     error // nil: taken
	}{
		{"the producer's event", catalog.FeedFanout, post, nil},
		{"a PostCreated from another service", catalog.FeedFanout, forged, envelope.ErrForeignSource},
		{"a PostCreated with no /nova/ source", catalog.SearchIndexer, func() event.Event { f := post.Clone(); f.SetSource("/attacker"); return f }(), envelope.ErrForeignSource},
		{"a plain record feed-fanout takes", catalog.FeedFanout, plain(catalog.ContentEvents, plainPost), nil},
		{"a plain record breaking the contract", catalog.FeedFanout, plain(catalog.ContentEvents, `{"post_id":"p","user_id":"u"}`), envelope.ErrContract},
		{"a plain record search-indexer refuses", catalog.SearchIndexer, plain(catalog.ContentEvents, plainPost), envelope.ErrPlainRefused},
		{"a plain record from another topic", catalog.FeedFanout, plain(catalog.UserEvents, `{"follower_id":"`+id.NewUserID().String()+`","followee_id":"`+id.NewUserID().String()+`"}`), envelope.ErrPlainRefused},
		{"a plain record typed for another topic", catalog.FeedFanout, plain(catalog.ContentEvents, `{"type":"com.nova.trustsafety.moderation.decided","post_id":"`+id.NewPostID().String()+`"}`), envelope.ErrForeignSource},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			called := false
			err := delivery.Apply(ctx, producer.ForConsumer(c.consumer), c.e, func(context.Context, envelope.Decoded) error { called = true; return nil })
			if c.want == nil {
				if err != nil || !called {
					t.Fatalf("refused (%v) or not applied (%v)", err, called)
				}
				return
			}
			if called || !errors.Is(err, c.want) || !delivery.IsPermanent(err) {
				t.Fatalf("reaction called %v, error %v; want a permanent %v", called, err, c.want)
			}
		})
	}

	// A codec that names no consumer is a function's mistake, not the
	// sender's: nothing is applied, and the event is retried, not refused.
	err = delivery.Apply(ctx, producer, post, func(context.Context, envelope.Decoded) error { t.Error("applied"); return nil })
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("no consumer: %v", err)
	}
}

func TestStatus(t *testing.T) {
	codec := envelope.NewCodec(catalog.Default())
	bad, err := codec.New(&eventsv1.UserFollowed{FollowerId: id.NewUserID().String(), FolloweeId: id.NewUserID().String(), FollowedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	bad.SetType("com.example.unknown")
	_, decodeErr := codec.Decode(bad)
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"handled", nil, http.StatusOK},
		{"permanent", delivery.Permanent(errors.New("post belongs to a deleted account")), http.StatusBadRequest},
		{"permanent, wrapped", fmt.Errorf("attach: %w", delivery.Permanent(errors.New("no such post"))), http.StatusBadRequest},
		{"undecodable", decodeErr, http.StatusBadRequest},
		{"not ready", fmt.Errorf("feed-fanout: %w: attempt 2 failed: dial tcp: refused", lifecycle.ErrNotReady), http.StatusServiceUnavailable},
		{"stopped", lifecycle.ErrStopped, http.StatusServiceUnavailable},
		{"transient", errors.New("database is down"), http.StatusInternalServerError},
		{"cancelled", context.Canceled, http.StatusInternalServerError},
	} {
		if got := delivery.Status(c.err); got != c.want {
			t.Errorf("%s: Status(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
	if delivery.Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
}
