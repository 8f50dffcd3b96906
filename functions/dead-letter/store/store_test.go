package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/migrate"
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
	e, err := s.Get(ctx, first.Source(), first.ID(), "http://feed-fanout.nova.svc")
	if err != nil || e.ReplayedAt == nil {
		t.Fatalf("get replayed: %+v %v", e, err)
	}
	if err := s.MarkReplayed(ctx, "/nowhere", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark unknown: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "/nowhere", "x", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, first.Source(), first.ID(), "http://analytics.nova.svc"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get at a destination that never failed it: %v, want ErrNotFound", err)
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
	got, err := s.Get(ctx, e.Source(), e.ID(), "http://feed-fanout.nova.svc")
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
	first, err := s.Get(ctx, e.Source(), e.ID(), "http://feed-fanout.nova.svc")
	if err != nil {
		t.Fatal(err)
	}
	replayed := e.Clone()
	replayed.SetExtension(delivery.ExtKafkaOffset, "41")
	replayed.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString([]byte("failed again")))
	if saved, err := s.Save(ctx, replayed); err != nil || !saved {
		t.Fatalf("replayed copy failing: saved=%v err=%v, want true nil", saved, err)
	}
	if ok, err := s.MarkReplayedIf(ctx, first.Seq); err != nil || ok {
		t.Fatalf("mark the older failure: ok=%v err=%v, want false nil", ok, err)
	}
	got, err := s.Get(ctx, e.Source(), e.ID(), "http://feed-fanout.nova.svc")
	if err != nil {
		t.Fatal(err)
	}
	if got.ReplayedAt != nil || got.ErrorData != "failed again" || got.Seq == first.Seq {
		t.Fatalf("entry: replayed %v data %q seq %d (first %d)", got.ReplayedAt, got.ErrorData, got.Seq, first.Seq)
	}
	if ok, err := s.MarkReplayedIf(ctx, got.Seq); err != nil || !ok {
		t.Fatalf("mark the current failure: ok=%v err=%v", ok, err)
	}
}

// failedAt is e as the consumer at dest dead-letters it, with its reason.
func failedAt(e event.Event, dest, reason string) event.Event {
	out := e.Clone()
	out.SetExtension(delivery.ExtErrorDest, dest)
	out.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString([]byte(reason)))
	return out
}

// Several consumers of a topic dead-letter the same event: each keeps its
// own entry and reason, and what Save does with a redelivery, a failure
// after a replay or at another offset concerns that destination's entry
// alone.
func TestEachDestinationKeepsItsOwnEntry(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const fanout, search = "http://127.0.0.1:8082", "http://search-indexer.nova.svc.cluster.local"
	e := deadLettered("ev-shared")
	a, b := failedAt(e, fanout, "feed store unavailable"), failedAt(e, search, "index refused the document")
	for _, x := range []event.Event{a, b} {
		if saved, err := s.Save(ctx, x); err != nil || !saved {
			t.Fatalf("save for %v: saved=%v err=%v, want true nil", x.Extensions()[delivery.ExtErrorDest], saved, err)
		}
	}
	get := func(dest string) store.Entry {
		t.Helper()
		got, err := s.Get(ctx, e.Source(), e.ID(), dest)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	all, err := s.List(ctx, store.Filter{Source: e.Source(), ID: e.ID()})
	if err != nil || len(all) != 2 {
		t.Fatalf("entries of the event: %+v %v, want two", all, err)
	}
	firstA, firstB := get(fanout), get(search)
	if firstA.ErrorData != "feed store unavailable" || firstB.ErrorData != "index refused the document" || firstA.Seq == firstB.Seq {
		t.Fatalf("entries: %q seq %d, %q seq %d", firstA.ErrorData, firstA.Seq, firstB.ErrorData, firstB.Seq)
	}

	// A redelivery of one consumer's dead letter changes nothing.
	if saved, err := s.Save(ctx, failedAt(e, fanout, "redelivered")); err != nil || saved {
		t.Fatalf("redelivery: saved=%v err=%v, want false nil", saved, err)
	}
	if got := get(fanout); got.Seq != firstA.Seq || got.ErrorData != "feed store unavailable" {
		t.Errorf("after a redelivery: seq %d reason %q, want %d %q", got.Seq, got.ErrorData, firstA.Seq, "feed store unavailable")
	}

	// Marking one entry by its Seq leaves the other pending.
	if ok, err := s.MarkReplayedIf(ctx, firstB.Seq); err != nil || !ok {
		t.Fatalf("mark %s: ok=%v err=%v", search, ok, err)
	}
	if get(search).ReplayedAt == nil || get(fanout).ReplayedAt != nil {
		t.Fatalf("marking %s's entry marked %v and %s's %v", search, get(search).ReplayedAt, fanout, get(fanout).ReplayedAt)
	}
	pending, err := s.List(ctx, store.Filter{ID: e.ID(), Pending: true})
	if err != nil || len(pending) != 1 || pending[0].ErrorDest != fanout {
		t.Fatalf("pending: %+v %v, want %s's entry alone", pending, err, fanout)
	}

	// The event replayed: both marked. One consumer fails the replayed copy
	// again (read at a new offset): its entry is pending again with the new
	// reason, the other stays replayed.
	if err := s.MarkReplayed(ctx, e.Source(), e.ID()); err != nil {
		t.Fatal(err)
	}
	again := failedAt(e, search, "still refused")
	again.SetExtension(delivery.ExtKafkaOffset, "90")
	if saved, err := s.Save(ctx, again); err != nil || !saved {
		t.Fatalf("failing again after the replay: saved=%v err=%v, want true nil", saved, err)
	}
	if got := get(search); got.ReplayedAt != nil || got.ErrorData != "still refused" || *got.Offset != 90 || got.Seq == firstB.Seq {
		t.Errorf("%s's entry after failing again: replayed %v reason %q offset %d seq %d", search, got.ReplayedAt, got.ErrorData, *got.Offset, got.Seq)
	}
	if got := get(fanout); got.ReplayedAt == nil || got.ErrorData != "feed store unavailable" {
		t.Errorf("%s's entry after the other failed again: replayed %v reason %q", fanout, got.ReplayedAt, got.ErrorData)
	}
	// Failing again at the same offset after a replay (the same failure
	// delivered once more) is pending again too, for that destination only.
	if saved, err := s.Save(ctx, failedAt(e, fanout, "feed store unavailable")); err != nil || !saved {
		t.Fatalf("%s failing again after the replay: saved=%v err=%v, want true nil", fanout, saved, err)
	}
	if got := get(fanout); got.ReplayedAt != nil {
		t.Errorf("%s's entry is still marked replayed after failing again", fanout)
	}

	// A pending entry: a copy read at another offset replaces that
	// destination's entry only.
	other := failedAt(e, fanout, "failed at another offset")
	other.SetExtension(delivery.ExtKafkaOffset, "95")
	beforeB := get(search)
	if saved, err := s.Save(ctx, other); err != nil || !saved {
		t.Fatalf("another offset: saved=%v err=%v, want true nil", saved, err)
	}
	if got := get(fanout); got.ErrorData != "failed at another offset" || *got.Offset != 95 {
		t.Errorf("%s's entry at another offset: %q offset %d", fanout, got.ErrorData, *got.Offset)
	}
	if got := get(search); got.Seq != beforeB.Seq || got.ErrorData != beforeB.ErrorData {
		t.Errorf("%s's entry changed by another destination's failure", search)
	}
	if all, err := s.List(ctx, store.Filter{}); err != nil || len(all) != 2 {
		t.Fatalf("store holds %d entries (%v), want two", len(all), err)
	}
}

// A store made by the first migration, holding entries, keeps them when
// the key becomes (source, id, error_dest); other destinations can then be
// added to an event stored before.
func TestMigrationKeepsExistingEntries(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	first, err := fs.ReadFile(store.Migrations(), "0001_dead_letters.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate.Apply(ctx, pool, store.Component, fstest.MapFS{"0001_dead_letters.sql": {Data: first}}); err != nil {
		t.Fatal(err)
	}
	old := deadLettered("ev-old")
	if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (source, id, type, error_dest, error_data, event)
VALUES ($1, $2, $3, 'http://feed-fanout.nova.svc', 'old reason', '{"specversion":"1.0","id":"ev-old","source":"/nova/content-service","type":"com.nova.content.post.created"}')`,
		old.Source(), old.ID(), old.Type()); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	s := store.New(pool)
	if got, err := s.Get(ctx, old.Source(), old.ID(), "http://feed-fanout.nova.svc"); err != nil || got.ErrorData != "old reason" {
		t.Fatalf("entry stored before the migration: %+v %v", got, err)
	}
	if saved, err := s.Save(ctx, failedAt(old, "http://analytics.nova.svc", "new reason")); err != nil || !saved {
		t.Fatalf("another destination: saved=%v err=%v, want true nil", saved, err)
	}
	if all, err := s.List(ctx, store.Filter{ID: old.ID()}); err != nil || len(all) != 2 {
		t.Fatalf("entries: %+v %v, want two", all, err)
	}
}
