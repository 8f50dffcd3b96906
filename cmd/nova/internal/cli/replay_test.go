package cli_test

import (
	"context"
	"encoding/base64"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/functions/dead-letter/store"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// replayFixture is a broker and a dead-letter store holding events that
// were really read from the broker, as the dispatcher hands them to the
// dead-letter function.
type replayFixture struct {
	t       *testing.T
	brokers []string
	dsn     string
	store   *store.Store
	codec   *envelope.Codec
	prod    *kafka.Producer
	client  *kgo.Client
	seen    []*kgo.Record // every content-events record read so far
}

func newReplayFixture(t *testing.T) *replayFixture {
	t.Helper()
	k := testrig.Kafka(t)
	dsn := testrig.PostgresURL(t)
	f := &replayFixture{t: t, brokers: k.ListenAddrs(), dsn: dsn, codec: envelope.NewCodec(catalog.Default())}
	p, err := kafka.NewProducer(kafka.DefaultProducerConfig(f.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	f.prod = p
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.ConsumeTopics(catalog.ContentEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	f.client = cl
	f.store = deadLetterStore(t, dsn)
	// The tools name consumers after the running Nova's functions: no
	// running Nova here (a developer's nova run of this checkout would
	// name the fixture's addresses), unless the test set one up.
	if os.Getenv("NOVA_ROOT") == "" {
		t.Setenv("NOVA_ROOT", t.TempDir())
	}
	t.Setenv(instance.FunctionURLs, "")
	return f
}

// deadLetterStore is the dead-letter store of the database at dsn, its
// table made as the dead-letter function makes it under nova run: the
// tools never create it.
func deadLetterStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	sp, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	if err := store.Migrate(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	return store.New(sp)
}

func newCodec() *envelope.Codec { return envelope.NewCodec(catalog.Default()) }

// read returns the next n content-events records.
func (f *replayFixture) read(n int) []*kgo.Record {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fetches := f.client.PollFetches(ctx)
		if ctx.Err() != nil {
			f.t.Fatalf("read %d records, got %d", n, len(got))
		}
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	f.seen = append(f.seen, got...)
	return got
}

// fixtureDest is the address deadLetter's consumer failed at, as under
// nova run.
const fixtureDest = "http://127.0.0.1:8081/"

// deadLetter produces msg to content-events, reads it back, and stores it
// as the dispatcher would dead-letter it after a delivery that ended with
// status.
func (f *replayFixture) deadLetter(msg proto.Message, status int, reason string) (cloudevents.Event, *kgo.Record) {
	f.t.Helper()
	e, err := f.codec.New(msg)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.prod.Send(context.Background(), kafka.Record{Topic: catalog.ContentEvents, Event: e}); err != nil {
		f.t.Fatal(err)
	}
	rec := f.read(1)[0]
	dl := e.Clone()
	dl.SetExtension(delivery.ExtErrorDest, fixtureDest)
	dl.SetExtension(delivery.ExtErrorCode, strconv.Itoa(status))
	dl.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString([]byte(reason)))
	dl.SetExtension(delivery.ExtKafkaTopic, rec.Topic)
	dl.SetExtension(delivery.ExtKafkaPartition, strconv.Itoa(int(rec.Partition)))
	dl.SetExtension(delivery.ExtKafkaOffset, strconv.FormatInt(rec.Offset, 10))
	if _, err := f.store.Save(context.Background(), dl); err != nil {
		f.t.Fatal(err)
	}
	return e, rec
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func created(postID, userID string) *eventsv1.PostCreated {
	return &eventsv1.PostCreated{PostId: postID, UserId: userID, Content: "hello",
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()}
}

// nova replay sends a pending dead letter back to the topic and partition
// it was read from, with its key, id and data, without the dead-letter
// extensions, marks it replayed, and never sends it a second time.
func TestReplaySendsBackToTheSamePartitionOnce(t *testing.T) {
	f := newReplayFixture(t)
	ctx := context.Background()
	brokers := strings.Join(f.brokers, ",")
	user := id.NewUserID().String()
	orig, origRec := f.deadLetter(created(id.NewPostID().String(), user), 500, "feed store unavailable")
	other, _ := f.deadLetter(&eventsv1.PostDeleted{PostId: id.NewPostID().String(), UserId: id.NewUserID().String(), DeletedAt: timestamppb.Now()}, 400, "bad")

	// A dry run lists and sends nothing.
	code, out, errs := run(t, "", "replay", "--dry-run", "--database-url", f.dsn, "--kafka-brokers", brokers,
		"--type", orig.Type())
	if code != 0 || !strings.Contains(out, orig.ID()) || strings.Contains(out, other.ID()) || !strings.Contains(out, "would write 1 record for 1 dead-letter entry") {
		t.Fatalf("dry run: %d %q %q", code, out, errs)
	}
	if e, err := f.store.Get(ctx, orig.Source(), orig.ID(), fixtureDest); err != nil || e.ReplayedAt != nil {
		t.Fatalf("dry run marked the entry: %+v %v", e.ReplayedAt, err)
	}

	code, out, errs = run(t, "", "replay", "--database-url", f.dsn, "--kafka-brokers", brokers, "--type", orig.Type())
	if code != 0 || !strings.Contains(out, "wrote 1 record for 1 dead-letter entry (127.0.0.1:8081)\n") {
		t.Fatalf("replay: %d %q %q", code, out, errs)
	}
	rec := f.read(1)[0]
	if rec.Partition != origRec.Partition || string(rec.Key) != user || rec.Offset <= origRec.Offset {
		t.Errorf("replayed to partition %d key %q offset %d; original partition %d key %q offset %d",
			rec.Partition, rec.Key, rec.Offset, origRec.Partition, origRec.Key, origRec.Offset)
	}
	if id, _ := header(rec, "ce_id"); id != orig.ID() {
		t.Errorf("replayed ce_id %q, want the original %q", id, orig.ID())
	}
	if src, _ := header(rec, "ce_source"); src != orig.Source() {
		t.Errorf("replayed ce_source %q, want %q", src, orig.Source())
	}
	if pk, _ := header(rec, "ce_partitionkey"); pk != user {
		t.Errorf("replayed ce_partitionkey %q, want %q", pk, user)
	}
	for _, h := range rec.Headers {
		if strings.HasPrefix(h.Key, "ce_knative") {
			t.Errorf("replayed record carries the dead-letter header %s=%s", h.Key, h.Value)
		}
	}
	if string(rec.Value) != string(orig.Data()) {
		t.Errorf("replayed data %x, want %x", rec.Value, orig.Data())
	}
	got, err := f.store.Get(ctx, orig.Source(), orig.ID(), fixtureDest)
	if err != nil || got.ReplayedAt == nil {
		t.Fatalf("entry not marked replayed: %+v %v", got.ReplayedAt, err)
	}

	// Replayed entries are not sent again.
	code, out, errs = run(t, "", "replay", "--database-url", f.dsn, "--kafka-brokers", brokers, "--type", orig.Type())
	if code != 0 || !strings.Contains(out, "wrote 0 records for 0 dead-letter entries\n") {
		t.Fatalf("second replay: %d %q %q", code, out, errs)
	}
	// nova dead-letters --replay is the same command: it replays the
	// other one (and only it).
	code, out, errs = run(t, "", "dead-letters", "--replay", "--database-url", f.dsn, "--kafka-brokers", brokers)
	if code != 0 || !strings.Contains(out, "wrote 1 record for 1 dead-letter entry") {
		t.Fatalf("dead-letters --replay: %d %q %q", code, out, errs)
	}
	if id, _ := header(f.read(1)[0], "ce_id"); id != other.ID() {
		t.Errorf("dead-letters --replay sent %q, want %q", id, other.ID())
	}
	// Nothing else reached the topic.
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if extra := f.client.PollFetches(pctx).Records(); len(extra) > 0 {
		t.Errorf("%d records more than replayed, first %+v", len(extra), extra[0])
	}
}

// --id picks one event; an entry whose topic is unknown is reported and
// left pending, and the exit code says the replay was partial.
func TestReplayByIDAndUnreplayableEntries(t *testing.T) {
	f := newReplayFixture(t)
	ctx := context.Background()
	brokers := strings.Join(f.brokers, ",")
	a, _ := f.deadLetter(created(id.NewPostID().String(), id.NewUserID().String()), 500, "boom")
	b, _ := f.deadLetter(created(id.NewPostID().String(), id.NewUserID().String()), 500, "boom")

	// As a cluster's KafkaSource dead-letters a CloudEvent: no Kafka
	// coordinates, so the topic is unknown.
	lost, err := f.codec.New(created(id.NewPostID().String(), id.NewUserID().String()))
	if err != nil {
		t.Fatal(err)
	}
	lost.SetExtension(delivery.ExtErrorCode, "500")
	if _, err := f.store.Save(ctx, lost); err != nil {
		t.Fatal(err)
	}

	code, out, errs := run(t, "", "replay", "--database-url", f.dsn, "--kafka-brokers", brokers, "--id", b.ID())
	if code != 0 || !strings.Contains(out, "wrote 1 record for 1 dead-letter entry") {
		t.Fatalf("replay --id: %d %q %q", code, out, errs)
	}
	if id, _ := header(f.read(1)[0], "ce_id"); id != b.ID() {
		t.Errorf("replay --id sent %q, want %q", id, b.ID())
	}
	if e, _ := f.store.Get(ctx, a.Source(), a.ID(), fixtureDest); e.ReplayedAt != nil {
		t.Errorf("replay --id %s also marked %s", b.ID(), a.ID())
	}

	code, out, errs = run(t, "", "replay", "--database-url", f.dsn, "--kafka-brokers", brokers)
	if code != 1 || !strings.Contains(out, "wrote 1 record for 1 dead-letter entry (127.0.0.1:8081); 1 entry of 2 selected left pending") || !strings.Contains(errs, "not replayable") ||
		!strings.Contains(errs, lost.ID()) {
		t.Fatalf("replay with an unknown topic: %d %q %q", code, out, errs)
	}
	if e, err := f.store.Get(ctx, lost.Source(), lost.ID(), ""); err != nil || e.ReplayedAt != nil {
		t.Errorf("an entry that was not sent: replayed %v, %v; want it pending", e.ReplayedAt, err)
	}

	// nova dead-letters shows it, pending, by id.
	code, out, errs = run(t, "", "dead-letters", "--database-url", f.dsn, "--pending", "--id", lost.ID())
	if code != 0 || !strings.Contains(out, lost.ID()) || strings.Contains(out, a.ID()) {
		t.Fatalf("dead-letters --id: %d %q %q", code, out, errs)
	}

	for name, args := range map[string][]string{
		"bad since":      {"replay", "--since", "yesterday"},
		"negative limit": {"replay", "--limit", "-1"},
		"stray argument": {"replay", "now"},
	} {
		if code, _, _ := run(t, "", append(args, "--database-url", f.dsn, "--kafka-brokers", brokers)...); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
	}
	// --since in the future selects nothing.
	code, out, _ = run(t, "", "replay", "--dry-run", "--database-url", f.dsn, "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if code != 0 || !strings.Contains(out, "would write 0 records for 0 dead-letter entries") {
		t.Errorf("replay --since ahead: %d %q", code, out)
	}
}
