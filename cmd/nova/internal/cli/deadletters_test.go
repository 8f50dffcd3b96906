package cli_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/nova-social/nova/cmd/nova/internal/cli"
	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// plainDeadLetter produces a plain record (as a console producer writes
// it) to content-events, reads it back, and stores it as each consumer's
// KafkaSource dead-letters it: wrapped under the source's own name, with
// that consumer's reason.
func (f *replayFixture) plainDeadLetter(key, value string, reasons map[string]string) *kgo.Record {
	f.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...))
	if err != nil {
		f.t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: catalog.ContentEvents, Key: []byte(key), Value: []byte(value)}).FirstErr(); err != nil {
		f.t.Fatal(err)
	}
	rec := f.read(1)[0]
	msg := &sarama.ConsumerMessage{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
	for _, consumer := range sortedKeys(reasons) {
		e, err := kafka.EventFromRecord(msg, kafka.SourceRef{Namespace: "nova", Name: consumer})
		if err != nil {
			f.t.Fatal(err)
		}
		e.SetExtension(delivery.ExtErrorDest, "http://"+consumer+".nova.svc.cluster.local")
		e.SetExtension(delivery.ExtErrorCode, "400")
		e.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString([]byte(reasons[consumer])))
		e.SetExtension(delivery.ExtKafkaTopic, rec.Topic)
		e.SetExtension(delivery.ExtKafkaPartition, strconv.Itoa(int(rec.Partition)))
		e.SetExtension(delivery.ExtKafkaOffset, strconv.FormatInt(rec.Offset, 10))
		if _, err := f.store.Save(context.Background(), e); err != nil {
			f.t.Fatal(err)
		}
	}
	return rec
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

// A plain record three consumers refused is one record: nova dead-letters
// shows it once with the three consumers, and nova replay writes it back
// once (it used to write it once per consumer), marks the three entries
// replayed and says exactly that.
func TestReplayWritesARecordOnceForEveryConsumerThatFailedIt(t *testing.T) {
	f := newReplayFixture(t)
	ctx := context.Background()
	brokers := strings.Join(f.brokers, ",")
	key := "user-" + testrig.ID()
	rec := f.plainDeadLetter(key, `{"post_id":"p-`+testrig.ID()+`","user_id":"`+key+`"}`, map[string]string{
		"feed-fanout":    "feed store unavailable",
		"search-indexer": "plain records are not taken here",
		"analytics":      "plain records are not taken here",
	})
	id := "partition:" + strconv.Itoa(int(rec.Partition)) + "/offset:" + strconv.FormatInt(rec.Offset, 10)
	from := catalog.ContentEvents + "[" + strconv.Itoa(int(rec.Partition)) + "]@" + strconv.FormatInt(rec.Offset, 10)

	code, out, errs := run(t, "", "dead-letters", "--database-url", f.dsn)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[1], from) ||
		!strings.Contains(lines[1], "analytics,feed-fanout,search-indexer") || !strings.Contains(lines[1], "(+1 more)") {
		t.Fatalf("dead-letters: %d, want a header and one line for the record with its three consumers:\n%s%s", code, out, errs)
	}

	code, out, errs = run(t, "", "replay", "--dry-run", "--database-url", f.dsn, "--kafka-brokers", brokers)
	if code != 0 || !strings.Contains(out, "would write 1 record for 3 dead-letter entries (analytics, feed-fanout, search-indexer)") {
		t.Fatalf("replay --dry-run: %d %q %q", code, out, errs)
	}
	// One consumer's entry picked: the record goes back for all three.
	code, out, errs = run(t, "", "replay", "--database-url", f.dsn, "--kafka-brokers", brokers,
		"--source", "/apis/v1/namespaces/nova/kafkasources/search-indexer#content-events")
	want := "wrote 1 record for 3 dead-letter entries (analytics, feed-fanout, search-indexer)\n"
	if code != 0 || !strings.HasSuffix(out, want) || strings.Count(out, "\nwrote ") != 1 {
		t.Fatalf("replay: %d, want it to end %q:\n%s%s", code, want, out, errs)
	}
	got := f.readFor(2 * time.Second)
	if len(got) != 1 {
		t.Fatalf("replay wrote %d records for one record three consumers failed, want 1", len(got))
	}
	if string(got[0].Key) != key || got[0].Partition != rec.Partition {
		t.Errorf("replayed key %q partition %d, want %q %d", got[0].Key, got[0].Partition, key, rec.Partition)
	}
	for _, consumer := range []string{"feed-fanout", "search-indexer", "analytics"} {
		e, err := f.store.Get(ctx, kafka.SourceRef{Namespace: "nova", Name: consumer}.URI(catalog.ContentEvents), id,
			"http://"+consumer+".nova.svc.cluster.local")
		if err != nil || e.ReplayedAt == nil {
			t.Errorf("%s's entry: replayed %v, %v; want it marked", consumer, e.ReplayedAt, err)
		}
	}
	// Nothing is left to send.
	code, out, errs = run(t, "", "replay", "--database-url", f.dsn, "--kafka-brokers", brokers)
	if code != 0 || !strings.Contains(out, "wrote 0 records for 0 dead-letter entries") {
		t.Fatalf("second replay: %d %q %q", code, out, errs)
	}
	if extra := f.readFor(500 * time.Millisecond); len(extra) != 0 {
		t.Errorf("the second replay wrote %d records", len(extra))
	}
}

// typedDeadLetter produces msg to content-events, reads it back, and stores
// it as each consumer that failed it dead-letters it: the same CloudEvent
// (source and id), each with the address delivery failed to (the keys of
// reasons) and its own reason.
func (f *replayFixture) typedDeadLetter(msg proto.Message, reasons map[string]string) (cloudevents.Event, *kgo.Record) {
	f.t.Helper()
	e, err := f.codec.New(msg)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.prod.Send(context.Background(), kafka.Record{Topic: catalog.ContentEvents, Event: e}); err != nil {
		f.t.Fatal(err)
	}
	rec := f.read(1)[0]
	for _, dest := range sortedKeys(reasons) {
		f.failedAt(e, rec, dest, reasons[dest])
	}
	return e, rec
}

// failedAt stores e, read as rec, as the consumer at dest dead-letters it.
func (f *replayFixture) failedAt(e cloudevents.Event, rec *kgo.Record, dest, reason string) {
	f.t.Helper()
	dl := e.Clone()
	dl.SetExtension(delivery.ExtErrorDest, dest)
	dl.SetExtension(delivery.ExtErrorCode, "400")
	dl.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString([]byte(reason)))
	dl.SetExtension(delivery.ExtKafkaTopic, rec.Topic)
	dl.SetExtension(delivery.ExtKafkaPartition, strconv.Itoa(int(rec.Partition)))
	dl.SetExtension(delivery.ExtKafkaOffset, strconv.FormatInt(rec.Offset, 10))
	if _, err := f.store.Save(context.Background(), dl); err != nil {
		f.t.Fatal(err)
	}
}

// A typed event three consumers refused (under nova run: three functions'
// addresses) is kept once per consumer, listed as one record with the
// three consumers named after the running Nova's functions (its .nova/env),
// and written back once for the three. A consumer that fails the replayed
// copy again has its own entry pending again; the others stay replayed.
func TestReplayWritesATypedEventOnceForEveryConsumerThatFailedIt(t *testing.T) {
	clearToolVars(t)
	root := t.TempDir()
	t.Setenv("NOVA_ROOT", root)
	f := newReplayFixture(t)
	ctx := context.Background()
	brokers := strings.Join(f.brokers, ",")
	const fanout, search, analytics = "http://127.0.0.1:8082", "http://127.0.0.1:8088", "http://127.0.0.1:8089"
	user := id.NewUserID().String()
	const reason = "data breaks the contract of com.nova.content.post.created: "
	e, rec := f.typedDeadLetter(created(id.NewPostID().String(), user), map[string]string{
		fanout:    reason + "feed-fanout's words",
		search:    reason + "search-indexer's words",
		analytics: reason + "analytics' words",
	})
	from := catalog.ContentEvents + "[" + strconv.Itoa(int(rec.Partition)) + "]@" + strconv.FormatInt(rec.Offset, 10)

	// No running Nova: the consumers are their addresses.
	code, out, errs := run(t, "", "dead-letters", "--database-url", f.dsn)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 ||
		!strings.Contains(lines[1], "127.0.0.1:8082,127.0.0.1:8088,127.0.0.1:8089") {
		t.Fatalf("dead-letters without a running Nova: %d, want one line with the three addresses:\n%s%s", code, out, errs)
	}

	// The running Nova's file says which function listens where.
	if err := instance.Write(instance.Path(root), os.Getpid(), []instance.Var{{Key: instance.FunctionURLs,
		Value: instance.FormatFunctionURLs([]instance.Function{{Name: "dead-letter", URL: "http://127.0.0.1:8081"},
			{Name: "feed-fanout", URL: fanout}, {Name: "search-indexer", URL: search}, {Name: "analytics", URL: analytics}})}}); err != nil {
		t.Fatal(err)
	}
	code, out, errs = run(t, "", "dead-letters", "--database-url", f.dsn)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[1], from) || !strings.Contains(lines[1], e.ID()) ||
		!strings.Contains(lines[1], e.Source()) || !strings.Contains(lines[1], "analytics,feed-fanout,search-indexer") ||
		!strings.Contains(lines[1], "(+2 more)") {
		t.Fatalf("dead-letters: %d, want a header and one line for the event with its three consumers:\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "", "dead-letters", "--database-url", f.dsn, "--id", e.ID())
	if code != 0 || !strings.Contains(out, "failed by 3: analytics, feed-fanout, search-indexer") {
		t.Fatalf("dead-letters --id: %d %q %q", code, out, errs)
	}
	for _, want := range []string{"consumer feed-fanout", "sink      " + fanout, reason + "feed-fanout's words",
		"consumer search-indexer", reason + "search-indexer's words", "consumer analytics", reason + "analytics' words"} {
		if !strings.Contains(out, want) {
			t.Errorf("dead-letters --id lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = run(t, "", "dead-letters", "--database-url", f.dsn, "--json")
	if code != 0 {
		t.Fatalf("--json: %d %q %q", code, out, errs)
	}
	byConsumer := map[string]cli.DeadLetterJSON{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var j cli.DeadLetterJSON
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		byConsumer[j.Consumer] = j
	}
	for name, want := range map[string][2]string{"feed-fanout": {fanout, reason + "feed-fanout's words"},
		"search-indexer": {search, reason + "search-indexer's words"}, "analytics": {analytics, reason + "analytics' words"}} {
		j, ok := byConsumer[name]
		if !ok || j.ErrorDest != want[0] || j.Reason != want[1] || j.ID != e.ID() ||
			j.Record != catalog.ContentEvents+"/"+strconv.Itoa(int(rec.Partition))+"/"+strconv.FormatInt(rec.Offset, 10) {
			t.Errorf("--json entry of %s: %+v (found %v)", name, j, ok)
		}
	}
	if len(byConsumer) != 3 {
		t.Errorf("--json printed the consumers %v, want three", byConsumer)
	}

	code, out, errs = run(t, "", "replay", "--dry-run", "--database-url", f.dsn, "--kafka-brokers", brokers)
	if code != 0 || !strings.Contains(out, "would write 1 record for 3 dead-letter entries (analytics, feed-fanout, search-indexer)") {
		t.Fatalf("replay --dry-run: %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, "", "replay", "--database-url", f.dsn, "--kafka-brokers", brokers,
		"--source", e.Source(), "--id", e.ID())
	want := "wrote 1 record for 3 dead-letter entries (analytics, feed-fanout, search-indexer)\n"
	if code != 0 || !strings.HasSuffix(out, want) || strings.Count(out, "\nwrote ") != 1 {
		t.Fatalf("replay: %d, want it to end %q:\n%s%s", code, want, out, errs)
	}
	got := f.readFor(2 * time.Second)
	if len(got) != 1 {
		t.Fatalf("replay wrote %d records for one event three consumers failed, want 1", len(got))
	}
	if ceID, _ := header(got[0], "ce_id"); ceID != e.ID() || string(got[0].Key) != user || got[0].Partition != rec.Partition {
		t.Errorf("replayed ce_id %q key %q partition %d, want %q %q %d", ceID, got[0].Key, got[0].Partition, e.ID(), user, rec.Partition)
	}
	for _, dest := range []string{fanout, search, analytics} {
		if ent, err := f.store.Get(ctx, e.Source(), e.ID(), dest); err != nil || ent.ReplayedAt == nil {
			t.Errorf("%s's entry: replayed %v, %v; want it marked", dest, ent.ReplayedAt, err)
		}
	}

	// search-indexer refuses the replayed copy too: its entry alone is
	// pending again, with the new reason, and a replay would send the
	// event back for it alone.
	f.failedAt(e, got[0], search, "still refused")
	code, out, errs = run(t, "", "dead-letters", "--database-url", f.dsn, "--pending")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 ||
		!strings.Contains(lines[1], "search-indexer") || strings.Contains(lines[1], "feed-fanout") || !strings.Contains(lines[1], "still refused") {
		t.Fatalf("dead-letters --pending after search-indexer failed again: %d\n%s%s", code, out, errs)
	}
	for dest, replayed := range map[string]bool{fanout: true, search: false, analytics: true} {
		if ent, err := f.store.Get(ctx, e.Source(), e.ID(), dest); err != nil || (ent.ReplayedAt != nil) != replayed {
			t.Errorf("%s's entry after search-indexer failed again: replayed %v, %v; want replayed %v", dest, ent.ReplayedAt, err, replayed)
		}
	}
	code, out, errs = run(t, "", "replay", "--dry-run", "--database-url", f.dsn, "--kafka-brokers", brokers)
	if code != 0 || !strings.Contains(out, "would write 1 record for 1 dead-letter entry (search-indexer)") {
		t.Fatalf("replay --dry-run after search-indexer failed again: %d %q %q", code, out, errs)
	}
}

// The list cuts reasons to fit; --id shows each consumer's whole reason,
// line breaks and all; --json has the whole reason and the record's
// value decoded: JSON as JSON, text as a string, binary as base64 (with
// the catalogue message read from it), each saying which.
func TestDeadLettersShowWholeReasonsAndDecodedValues(t *testing.T) {
	f := newReplayFixture(t)
	long := "search index refused the document: " + strings.Repeat("field title exceeds the mapping's limit; ", 6) +
		"\nsecond line of the body\n\tindented third"
	key := "user-" + testrig.ID()
	jsonValue := `{"post_id":"p-` + testrig.ID() + `","user_id":"` + key + `"}`
	jsonRec := f.plainDeadLetter(key, jsonValue, map[string]string{"search-indexer": long, "analytics": "short"})
	textRec := f.plainDeadLetter(key, "hello, plain text: é", map[string]string{"feed-fanout": "not JSON"})
	user := id.NewUserID().String()
	typed, _ := f.deadLetter(created(id.NewPostID().String(), user), 500, long)

	code, out, errs := run(t, "", "dead-letters", "--database-url", f.dsn)
	if code != 0 || strings.Contains(out, "second line") || !strings.Contains(out, "…") {
		t.Fatalf("list: %d, want reasons cut to one line:\n%s%s", code, out, errs)
	}

	jsonID := "partition:" + strconv.Itoa(int(jsonRec.Partition)) + "/offset:" + strconv.FormatInt(jsonRec.Offset, 10)
	code, out, errs = run(t, "", "dead-letters", "--database-url", f.dsn, "--id", jsonID)
	if code != 0 {
		t.Fatalf("--id: %d %q %q", code, out, errs)
	}
	for _, line := range strings.Split(long, "\n") {
		if !strings.Contains(out, line) {
			t.Errorf("--id leaves out %q of the reason:\n%s", line, out)
		}
	}
	if !strings.Contains(out, "failed by 2: analytics, search-indexer") || !strings.Contains(out, "consumer search-indexer") {
		t.Errorf("--id does not name both consumers:\n%s", out)
	}
	code, out, errs = run(t, "", "dead-letters", "--database-url", f.dsn, "--id", typed.ID())
	if code != 0 || !strings.Contains(out, "indented third") || !strings.Contains(out, strings.Repeat("field title exceeds the mapping's limit; ", 6)) {
		t.Fatalf("--id of a typed event: %d, want the whole reason:\n%s%s", code, out, errs)
	}

	code, out, errs = run(t, "", "dead-letters", "--database-url", f.dsn, "--json")
	if code != 0 {
		t.Fatalf("--json: %d %q %q", code, out, errs)
	}
	var got []cli.DeadLetterJSON
	raw := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var j cli.DeadLetterJSON
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, j)
		raw[j.Consumer+" "+j.ID] = m
	}
	if len(got) != 4 {
		t.Fatalf("--json printed %d entries, want 4:\n%s", len(got), out)
	}
	si := raw["search-indexer "+jsonID]
	if si == nil || si["reason"] != long || si["value_encoding"] != "json" || si["record"] != catalog.ContentEvents+"/"+strconv.Itoa(int(jsonRec.Partition))+"/"+strconv.FormatInt(jsonRec.Offset, 10) {
		t.Errorf("JSON value entry: %v", si)
	}
	if v, ok := si["value"].(map[string]any); !ok || v["user_id"] != key {
		t.Errorf("JSON value = %#v, want the object", si["value"])
	}
	textID := "partition:" + strconv.Itoa(int(textRec.Partition)) + "/offset:" + strconv.FormatInt(textRec.Offset, 10)
	if tx := raw["feed-fanout "+textID]; tx == nil || tx["value"] != "hello, plain text: é" || tx["value_encoding"] != "text" {
		t.Errorf("text value entry: %v", tx)
	}
	bin := raw["127.0.0.1:8081 "+typed.ID()]
	if bin == nil || bin["value_encoding"] != "base64" || bin["value"] != base64.StdEncoding.EncodeToString(typed.Data()) || bin["reason"] != long {
		t.Fatalf("binary value entry: %v", bin)
	}
	if m, ok := bin["message"].(map[string]any); !ok || m["user_id"] != user {
		t.Errorf("binary value's message = %#v, want the PostCreated read from it", bin["message"])
	}
}

// readFor returns every content-events record that arrives within d.
func (f *replayFixture) readFor(d time.Duration) []*kgo.Record {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var got []*kgo.Record
	for ctx.Err() == nil {
		f.client.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	f.seen = append(f.seen, got...)
	return got
}
