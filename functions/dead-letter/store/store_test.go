package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
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
	e.SetExtension(delivery.ExtErrorDest, "http://feed-fanout.nova.svc")
	e.SetExtension(delivery.ExtErrorCode, "422")
	e.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString([]byte("undecodable: missing user_id")))
	e.SetExtension(delivery.ExtKafkaTopic, "content-events")
	e.SetExtension(delivery.ExtKafkaPartition, "4")
	e.SetExtension(delivery.ExtKafkaOffset, "17")
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
	plain.SetType(envelope.KafkaEventType)
	_ = plain.SetData("application/json", []byte(`{"post_id":"test123"}`))
	plain.SetExtension(delivery.ExtErrorCode, 400)
	plain.SetExtension(delivery.ExtErrorData, "not base64 !")
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

func TestFilterByIDTypeAndTime(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a, b := deadLettered("ev-a"), deadLettered("ev-b")
	b.SetType("com.nova.content.post.deleted")
	for _, e := range []event.Event{a, b} {
		if _, err := s.Save(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(f store.Filter) []string {
		t.Helper()
		got, err := s.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range got {
			out = append(out, e.ID)
		}
		return out
	}
	if got := ids(store.Filter{ID: "ev-a"}); len(got) != 1 || got[0] != "ev-a" {
		t.Errorf("by id: %v", got)
	}
	if got := ids(store.Filter{Type: "com.nova.content.post.deleted"}); len(got) != 1 || got[0] != "ev-b" {
		t.Errorf("by type: %v", got)
	}
	if got := ids(store.Filter{Since: time.Now().Add(-time.Hour)}); len(got) != 2 {
		t.Errorf("since an hour ago: %v", got)
	}
	if got := ids(store.Filter{Since: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Errorf("since an hour ahead: %v", got)
	}
}

// An event that is replayed and fails again must show up as pending again
// with its new reason: keeping only the first failure would leave it marked
// replayed, and nobody would know it never got through.
func TestFailingAgainAfterReplayIsPendingAgain(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	e := deadLettered("ev-again")
	if _, err := s.Save(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkReplayed(ctx, e.Source(), e.ID()); err != nil {
		t.Fatal(err)
	}
	again := e.Clone()
	again.SetExtension(delivery.ExtErrorCode, "503")
	again.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString([]byte("still down")))
	again.SetExtension(delivery.ExtKafkaOffset, "40")
	saved, err := s.Save(ctx, again)
	if err != nil || !saved {
		t.Fatalf("save after replay: saved=%v err=%v, want true nil", saved, err)
	}
	got, err := s.Get(ctx, e.Source(), e.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.ReplayedAt != nil || got.ErrorCode != 503 || got.ErrorData != "still down" || got.Offset == nil || *got.Offset != 40 {
		t.Errorf("entry after failing again: replayed %v code %d data %q offset %v", got.ReplayedAt, got.ErrorCode, got.ErrorData, got.Offset)
	}
	// While pending, a redelivery of that failure is still stored once.
	if saved, err := s.Save(ctx, again); err != nil || saved {
		t.Fatalf("redelivery: saved=%v err=%v, want false nil", saved, err)
	}
}

// The replayed copy of an event is read at a new offset; if it fails before
// the replay has marked the entry, that failure replaces the entry, and the
// replay's mark (made for the older failure) does not hide it.
func TestFailureDuringReplayIsNotMarked(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	e := deadLettered("ev-race")
	if _, err := s.Save(ctx, e); err != nil {
		t.Fatal(err)
	}
	first, err := s.Get(ctx, e.Source(), e.ID())
	if err != nil {
		t.Fatal(err)
	}
	// Another consumer group dead-letters the same record: same offset, the
	// first copy is kept.
	same := e.Clone()
	same.SetExtension(delivery.ExtErrorDest, "http://search-indexer.nova.svc")
	if saved, err := s.Save(ctx, same); err != nil || saved {
		t.Fatalf("same record again: saved=%v err=%v, want false nil", saved, err)
	}
	replayed := e.Clone()
	replayed.SetExtension(delivery.ExtKafkaOffset, "41")
	replayed.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString([]byte("failed again")))
	if saved, err := s.Save(ctx, replayed); err != nil || !saved {
		t.Fatalf("replayed copy failing: saved=%v err=%v, want true nil", saved, err)
	}
	if ok, err := s.MarkReplayedIf(ctx, e.Source(), e.ID(), first.Seq); err != nil || ok {
		t.Fatalf("mark the older failure: ok=%v err=%v, want false nil", ok, err)
	}
	got, err := s.Get(ctx, e.Source(), e.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.ReplayedAt != nil || got.ErrorData != "failed again" || got.Seq == first.Seq {
		t.Fatalf("entry: replayed %v data %q seq %d (first %d)", got.ReplayedAt, got.ErrorData, got.Seq, first.Seq)
	}
	if ok, err := s.MarkReplayedIf(ctx, e.Source(), e.ID(), got.Seq); err != nil || !ok {
		t.Fatalf("mark the current failure: ok=%v err=%v", ok, err)
	}
}
