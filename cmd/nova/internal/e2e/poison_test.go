package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/nova-social/nova/cmd/nova/internal/cli"
	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/cmd/nova/internal/registry"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// startWithMiddleware is start with every function's handler wrapped by mw.
func startWithMiddleware(t testing.TB, mw func(function string, next http.Handler) http.Handler) *rig {
	t.Helper()
	return startWith(t, system.Config{Middleware: mw})
}

// outage makes one function answer 500 to one event: the first event of
// a type and partition key that arrives while it is armed. Every delivery of
// that event fails until it is fixed; every other event goes through.
type outage struct {
	function, eventType, key string

	mu       sync.Mutex
	armed    bool
	failing  string // the CloudEvents id being failed
	attempts int
}

func (o *outage) middleware(function string, next http.Handler) http.Handler {
	if function != o.function {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if o.hit(req.Header) {
			http.Error(w, "feed store unavailable (injected)", http.StatusInternalServerError)
			return
		}
		next.ServeHTTP(w, req)
	})
}

func (o *outage) hit(h http.Header) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.armed {
		return false
	}
	id := h.Get("Ce-Id")
	if o.failing == "" && h.Get("Ce-Type") == o.eventType && h.Get("Ce-Partitionkey") == o.key {
		o.failing = id
	}
	if id == "" || id != o.failing {
		return false
	}
	o.attempts++
	return true
}

func (o *outage) arm(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.armed = on
}

func (o *outage) state() (id string, attempts int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failing, o.attempts
}

// sendPoison produces to content-events, with the partition key key, a
// PostCreated whose data is not a PostCreated: no retry can fix it.
func (r *rig) sendPoison(ctx context.Context, key string) cloudevents.Event {
	r.t.Helper()
	prod, err := kafka.NewProducer(r.producerConfig())
	if err != nil {
		r.t.Fatal(err)
	}
	defer prod.Close()
	poison := cloudevents.NewEvent()
	poison.SetID(uuid.Must(uuid.NewV7()).String())
	poison.SetSource("/nova/content-service")
	poison.SetType("com.nova.content.post.created")
	poison.SetExtension(envelope.PartitionKeyExtension, key)
	if err := poison.SetData("application/protobuf", []byte{0xff, 0xff, 0xff, 0xff}); err != nil {
		r.t.Fatal(err)
	}
	if err := prod.Send(ctx, kafka.Record{Topic: catalog.ContentEvents, Event: poison}); err != nil {
		r.t.Fatal(err)
	}
	return poison
}

// onlyPoisonAndReplayed requires the dead-letter store to hold two failed
// records, the poison (an entry per consumer that refused it) and the event
// replayed from it, listing them otherwise.
func (r *rig) onlyPoisonAndReplayed(ctx context.Context, dls *store.Store) {
	r.t.Helper()
	all, err := dls.List(ctx, store.Filter{Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	if n := len(cli.GroupDeadLetters(all)); n != 2 {
		for _, e := range all {
			r.t.Logf("dead letter %s %s %s at %s code %d %q", e.Type, e.Source, e.ID, e.ErrorDest, e.ErrorCode, e.ErrorData)
		}
		r.t.Fatalf("%d failed records in the dead-letter store, want the poison and the replayed event", n)
	}
}

// deadLetter waits until the dead-letter store holds the event as function
// failed it: the entry whose destination is the function's address.
func (r *rig) deadLetter(s *store.Store, src, id, function string) store.Entry {
	r.t.Helper()
	dest, ok := r.sys.FunctionURL(function)
	if !ok {
		r.t.Fatalf("%s is not hosted", function)
	}
	var e store.Entry
	r.eventually("dead letter "+src+" "+id+" of "+function+" stored", func() (bool, string) {
		var err error
		e, err = s.Get(context.Background(), src, id, dest)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return e
}

// nameFunctions tells the nova tools where each function listens, as
// nova run's .nova/env does, so that they name the consumers of dead
// letters.
func (r *rig) nameFunctions(t *testing.T) {
	t.Helper()
	var fns []instance.Function
	for _, f := range registry.Functions() {
		if u, ok := r.sys.FunctionURL(f.Name); ok {
			fns = append(fns, instance.Function{Name: f.Name, URL: u})
		}
	}
	t.Setenv(instance.FunctionURLs, instance.FormatFunctionURLs(fns))
}

// consumersOf are the functions KafkaSources deliver topic to, sorted.
func consumersOf(sources []source.KafkaSource, topic string) []string {
	var out []string
	for _, s := range sources {
		if slices.Contains(s.Topics, topic) && s.Sink.Ref != nil && !slices.Contains(out, s.Sink.Ref.Name) {
			out = append(out, s.Sink.Ref.Name)
		}
	}
	slices.Sort(out)
	return out
}

// nova runs a nova command, returning its exit code and output.
func nova(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(ctx, args, cli.Streams{In: strings.NewReader(""), Out: &stdout, Err: &stderr})
	return code, stdout.String(), stderr.String()
}

// A record that can never be handled, and an event whose function keeps
// failing, are each dead-lettered with their reason after the retries
// their KafkaSource allows, and neither holds up the events behind them on
// the same partition. Once the failure is over, nova replay sends the
// dead-lettered event back and its effect appears exactly once.
func TestPoisonEventsAreDeadLetteredAndReplayed(t *testing.T) {
	root, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	sources, err := source.LoadDir(filepath.Join(root, "eventing", "sources"))
	if err != nil {
		t.Fatal(err)
	}
	var fanout source.KafkaSource
	for _, s := range sources {
		if s.Name == "feed-fanout" {
			fanout = s
		}
	}
	if fanout.Name == "" || fanout.Ordering != source.Ordered {
		t.Fatalf("feed-fanout's KafkaSource not found, or not ordered: %+v", fanout)
	}

	out := &outage{function: "feed-fanout", eventType: "com.nova.content.post.created"}
	began := time.Now()
	r := startWithMiddleware(t, out.middleware)
	t.Logf("Nova started in %s", time.Since(began).Round(time.Millisecond))
	dls := store.New(r.pool(t))
	ctx := context.Background()
	topic, _ := catalog.Default().Topic(catalog.ContentEvents)
	partitionOf := func(key string) int32 { return kafka.PartitionFor([]byte(key), topic.Partitions) }

	poisoned, victim, fan := r.register("poisoned"), r.register("victim"), r.register("fan")
	r.follow(fan, poisoned)
	r.follow(fan, victim)
	r.settle()
	t.Logf("users ready after %s", time.Since(began).Round(time.Millisecond))

	// a) A PostCreated whose data is not a PostCreated: no retry can fix
	// it, so every consumer of content-events answers 400 at once, and
	// each one's dead letter is kept.
	poison := r.sendPoison(ctx, poisoned.ID)
	// Produced after the poison with the same key, so behind it on its
	// partition.
	after := r.post(poisoned, "after the poison", "PUBLIC")
	r.feedIs(fan, after)
	dl := r.deadLetter(dls, poison.Source(), poison.ID(), "feed-fanout")
	if dl.ErrorCode != http.StatusBadRequest || dl.ErrorData == "" || dl.Topic != catalog.ContentEvents ||
		dl.Partition == nil || *dl.Partition != partitionOf(poisoned.ID) || dl.ReplayedAt != nil {
		t.Fatalf("poison dead letter: code %d reason %q from %s %v replayed %v; want 400 with a reason from %s[%d]",
			dl.ErrorCode, dl.ErrorData, dl.Topic, dl.Partition, dl.ReplayedAt, catalog.ContentEvents, partitionOf(poisoned.ID))
	}
	t.Logf("poison record: dead-lettered with %d %q; the post behind it on partition %d was applied",
		dl.ErrorCode, oneLine(dl.ErrorData), *dl.Partition)
	consumers := consumersOf(sources, catalog.ContentEvents)
	for _, c := range consumers {
		e := r.deadLetter(dls, poison.Source(), poison.ID(), c)
		if e.ErrorCode != http.StatusBadRequest || e.ErrorData != dl.ErrorData || e.Topic != dl.Topic ||
			e.Partition == nil || *e.Partition != *dl.Partition || e.Offset == nil || *e.Offset != *dl.Offset {
			t.Errorf("%s's dead letter of the poison: code %d reason %q from %s %v@%v; want feed-fanout's: %d %q from %s %d@%d",
				c, e.ErrorCode, e.ErrorData, e.Topic, e.Partition, e.Offset, dl.ErrorCode, dl.ErrorData, dl.Topic, *dl.Partition, *dl.Offset)
		}
	}
	// nova dead-letters shows one record, refused by each of them.
	r.nameFunctions(t)
	code, stdout, stderr := nova(ctx, "dead-letters", "--database-url", r.sys.DatabaseURL())
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); code != 0 || len(lines) != 2 ||
		!strings.Contains(lines[1], poison.ID()) || !strings.Contains(lines[1], strings.Join(consumers, ",")) {
		t.Fatalf("nova dead-letters: exit %d, want one line for the poison with the consumers %v:\n%s%s", code, consumers, stdout, stderr)
	}
	code, stdout, stderr = nova(ctx, "dead-letters", "--database-url", r.sys.DatabaseURL(), "--id", poison.ID())
	if want := fmt.Sprintf("failed by %d: %s", len(consumers), strings.Join(consumers, ", ")); code != 0 || !strings.Contains(stdout, want) {
		t.Fatalf("nova dead-letters --id: exit %d, want %q:\n%s%s", code, want, stdout, stderr)
	}
	t.Logf("poison: one record dead-lettered by the %d consumers of %s: %s", len(consumers), catalog.ContentEvents, strings.Join(consumers, ", "))

	t.Logf("poison done after %s", time.Since(began).Round(time.Millisecond))

	// b) feed-fanout fails the victim's next post with 500 until fixed.
	out.key = victim.ID
	out.arm(true)
	failed := r.post(victim, "posted during the outage", "PUBLIC")
	later := r.post(victim, "posted after it", "PUBLIC")
	// The later post is applied once the failing one is dead-lettered:
	// ordered delivery waits for it, then moves on.
	r.feedIs(fan, later, after)
	failedID, attempts := out.state()
	if failedID == "" {
		t.Fatal("the outage never saw the victim's post")
	}
	dl = r.deadLetter(dls, "/nova/content-service", failedID, "feed-fanout")
	if want := int(fanout.Delivery.Retry) + 1; attempts != want {
		t.Errorf("feed-fanout was tried %d times for the failing event, want %d (retry: %d in %s)",
			attempts, want, fanout.Delivery.Retry, fanout.File)
	}
	if dl.ErrorCode != http.StatusInternalServerError || !strings.Contains(dl.ErrorData, "feed store unavailable") ||
		dl.Topic != catalog.ContentEvents || dl.Partition == nil || *dl.Partition != partitionOf(victim.ID) ||
		dl.Subject != failed {
		t.Fatalf("failing event's dead letter: code %d reason %q from %s %v subject %s", dl.ErrorCode, dl.ErrorData,
			dl.Topic, dl.Partition, dl.Subject)
	}
	var backoff time.Duration
	for n := 1; n <= int(fanout.Delivery.Retry); n++ {
		backoff += fanout.Delivery.Backoff(n)
	}
	t.Logf("failing event: %d attempts (%s: retry %d, %s backoff from %s, %s of waiting), dead-lettered with %d",
		attempts, filepath.Base(fanout.File), fanout.Delivery.Retry, fanout.Delivery.BackoffPolicy,
		fanout.Delivery.BackoffDelay, backoff, dl.ErrorCode)

	t.Logf("dead-lettered both after %s", time.Since(began).Round(time.Millisecond))

	// The cause is fixed; nova replay sends the event back.
	out.arm(false)
	code, stdout, stderr = nova(ctx, append(append([]string{"replay", "--database-url", r.sys.DatabaseURL()}, r.toolArgs(t)...),
		"--source", "/nova/content-service", "--id", failedID)...)
	if code != 0 || !strings.Contains(stdout, "wrote 1 record for 1 dead-letter entry (feed-fanout)") {
		t.Fatalf("nova replay: exit %d, %q %q", code, stdout, stderr)
	}
	r.feedIs(fan, later, failed, after)
	r.settle()
	// Exactly once: every consumer has now seen it again, and the feed
	// still holds it once.
	r.feedIs(fan, later, failed, after)
	if _, n := out.state(); n != attempts {
		t.Errorf("the outage saw %d more attempts after it was fixed", n-attempts)
	}
	if got := r.deadLetter(dls, "/nova/content-service", failedID, "feed-fanout"); got.ReplayedAt == nil {
		t.Fatalf("dead letter after replay: not marked replayed")
	}
	// Nothing else was dead-lettered along the way: only the poison (now
	// the only pending entry) and the replayed event.
	r.onlyPoisonAndReplayed(ctx, dls)
	// A second replay finds nothing left to send but the poison, which
	// fails again in the same way: it is not something a replay can fix.
	// It would go back once, for every consumer that refused it.
	code, stdout, stderr = nova(ctx, "replay", "--dry-run", "--database-url", r.sys.DatabaseURL())
	want := fmt.Sprintf("would write 1 record for %d dead-letter entries (%s)", len(consumers), strings.Join(consumers, ", "))
	if code != 0 || !strings.Contains(stdout, want) || !strings.Contains(stdout, poison.ID()) {
		t.Fatalf("nova replay --dry-run: exit %d, want %q: %q %q", code, want, stdout, stderr)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
