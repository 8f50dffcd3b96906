package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/testrig"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	pool := testrig.Postgres(t)
	if err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	// Applying again is a no-op: every replica migrates at start-up.
	if err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return store.New(pool)
}

// deadLettered is an event as a KafkaSource hands it to its dead-letter
// sink: the original CloudEvent plus Knative's error extensions.
func deadLettered(id string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/nova/content-service")
	e.SetType("com.nova.content.post.created")
	e.SetSubject("post-1")
	e.SetTime(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	_ = e.SetData("application/json", map[string]string{"post_id": "post-1"})
	e.SetExtension(store.ExtErrorDest, "http://feed-fanout.nova.svc")
	e.SetExtension(store.ExtErrorCode, "422")
	e.SetExtension(store.ExtErrorData, base64.StdEncoding.EncodeToString([]byte("undecodable: missing user_id")))
	e.SetExtension(store.ExtKafkaTopic, "content-events")
	e.SetExtension(store.ExtKafkaPartition, "4")
	e.SetExtension(store.ExtKafkaOffset, "17")
	return e
}

func TestSaveListMarkReplayed(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)

	first := deadLettered("ev-1")
	saved, err := s.Save(ctx, first)
	if err != nil || !saved {
		t.Fatalf("save: %v %v", saved, err)
	}
	// Redelivery of the same dead letter is not stored twice.
	if saved, err := s.Save(ctx, first); err != nil || saved {
		t.Fatalf("second save: saved=%v err=%v, want false nil", saved, err)
	}

	// A plain record wrapped by a cluster's KafkaSource: no dispatcher
	// extensions, the id and source say where it came from.
	plain := event.New()
	plain.SetID("partition:2/offset:9")
	plain.SetSource("/apis/v1/namespaces/nova/kafkasources/feed-fanout#user-events")
	plain.SetType(store.KnativeKafkaEventType)
	_ = plain.SetData("application/json", []byte(`{"post_id":"test123"}`))
	plain.SetExtension(store.ExtErrorCode, 400)
	plain.SetExtension(store.ExtErrorData, "not base64 !")
	if _, err := s.Save(ctx, plain); err != nil {
		t.Fatal(err)
	}

	all, err := s.List(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != plain.ID() || all[1].ID != "ev-1" {
		t.Fatalf("list = %+v, want the plain record first (newest)", all)
	}
	got := all[1]
	if got.ErrorCode != 422 || got.ErrorData != "undecodable: missing user_id" || got.ErrorDest != "http://feed-fanout.nova.svc" {
		t.Errorf("error facts = %d %q %q", got.ErrorCode, got.ErrorData, got.ErrorDest)
	}
	if got.Topic != "content-events" || got.Partition == nil || *got.Partition != 4 || got.Offset == nil || *got.Offset != 17 {
		t.Errorf("origin = %q %v %v", got.Topic, got.Partition, got.Offset)
	}
	if got.Event.ID() != "ev-1" || got.Event.Subject() != "post-1" || string(got.Event.Data()) != `{"post_id":"post-1"}` ||
		!got.EventTime.Equal(first.Time()) {
		t.Errorf("stored event = %s", got.Event)
	}
	w := all[0]
	if w.Topic != "user-events" || *w.Partition != 2 || *w.Offset != 9 || w.ErrorCode != 400 || w.ErrorData != "not base64 !" {
		t.Errorf("wrapped origin = %q %v %v code %d data %q", w.Topic, *w.Partition, *w.Offset, w.ErrorCode, w.ErrorData)
	}

	byTopic, err := s.List(ctx, store.Filter{Topic: "content-events"})
	if err != nil || len(byTopic) != 1 || byTopic[0].ID != "ev-1" {
		t.Fatalf("filter by topic: %v %v", byTopic, err)
	}
	bySource, err := s.List(ctx, store.Filter{Source: plain.Source()})
	if err != nil || len(bySource) != 1 || bySource[0].ID != plain.ID() {
		t.Fatalf("filter by source: %v %v", bySource, err)
	}

	if err := s.MarkReplayed(ctx, first.Source(), first.ID()); err != nil {
		t.Fatal(err)
	}
	pending, err := s.List(ctx, store.Filter{Pending: true})
	if err != nil || len(pending) != 1 || pending[0].ID != plain.ID() {
		t.Fatalf("pending after replay: %v %v", pending, err)
	}
	e, err := s.Get(ctx, first.Source(), first.ID())
	if err != nil || e.ReplayedAt == nil {
		t.Fatalf("get replayed: %+v %v", e, err)
	}
	if err := s.MarkReplayed(ctx, "/nowhere", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark unknown: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "/nowhere", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown: %v, want ErrNotFound", err)
	}
}
