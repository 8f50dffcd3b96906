package cli_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// toolTimeLimit is how long a tool may take to say Kafka is not usable.
const toolTimeLimit = 10 * time.Second

// deletedJSON is a valid PostDeleted for nova send.
func deletedJSON() string {
	return `{"post_id":"` + id.NewPostID().String() + `","user_id":"` + id.NewUserID().String() + `","deleted_at":"2026-01-02T03:04:05Z"}`
}

// failsFast runs a tool and requires it to fail (exit 1) within
// toolTimeLimit with every one of want in its stderr.
func failsFast(t *testing.T, name string, want []string, args ...string) string {
	t.Helper()
	start := time.Now()
	code, out, errs := run(t, "", args...)
	took := time.Since(start)
	if code != 1 || took > toolTimeLimit {
		t.Errorf("%s: exit %d after %s, want 1 within %s\nstdout %q\nstderr %q", name, code, took.Round(time.Millisecond), toolTimeLimit, out, errs)
	}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("%s: stderr %q does not say %q", name, errs, w)
		}
	}
	return out
}

// Every broker client of the tools, given the address of a broker that
// has stopped, fails within seconds naming the address and the refused
// connection, where nova tail used to wait for ever.
func TestToolsFailFastWhenTheBrokerIsDown(t *testing.T) {
	f := newReplayFixture(t)
	f.deadLetter(created(id.NewPostID().String(), id.NewUserID().String()), 500, "boom")
	stopped := testrig.Kafka(t)
	addr := stopped.ListenAddrs()[0]
	stopped.Close()
	want := []string{"Kafka at " + addr, "connection refused"}
	for name, args := range map[string][]string{
		"send":                  {"send", "--kafka-brokers", addr, "com.nova.content.post.deleted", deletedJSON()},
		"tail":                  {"tail", "--kafka-brokers", addr, catalog.ContentEvents},
		"lag":                   {"lag", "--kafka-brokers", addr},
		"replay":                {"replay", "--database-url", f.dsn, "--kafka-brokers", addr},
		"dead-letters --replay": {"dead-letters", "--replay", "--database-url", f.dsn, "--kafka-brokers", addr},
		"bench":                 {"bench", "--kafka-brokers", addr, "--num-records", "1"},
		"bench mixed":           {"bench", "mixed", "--kafka-brokers", addr, "--mail-dir", t.TempDir()},
	} {
		failsFast(t, name, want, args...)
	}
	// The entry that could not be sent is still pending.
	code, out, _ := run(t, "", "replay", "--dry-run", "--database-url", f.dsn)
	if code != 0 || !strings.Contains(out, "would write 1 record for 1 dead-letter entry") {
		t.Errorf("after the failed replays: %d %q", code, out)
	}
}

// A topic the broker does not have is an error naming it, in seconds: for
// nova send (the event's topic deleted), nova tail, and nova replay, which
// leaves the entries of that topic pending.
func TestToolsFailFastOnAMissingTopic(t *testing.T) {
	f := newReplayFixture(t)
	ctx := context.Background()
	addr := strings.Join(f.brokers, ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).DeleteTopics(ctx, catalog.ContentEvents); err != nil {
		t.Fatal(err)
	}
	failsFast(t, "send", []string{"Kafka at " + addr + " has no topic " + catalog.ContentEvents},
		"send", "--kafka-brokers", addr, "com.nova.content.post.deleted", deletedJSON())
	failsFast(t, "tail", []string{"Kafka at " + addr + " has no topic no-such-topic"},
		"tail", "--kafka-brokers", addr, "no-such-topic")

	// A dead letter read from a topic deleted since.
	gone := "gone-" + testrig.ID()
	e, err := f.codec.New(created(id.NewPostID().String(), id.NewUserID().String()))
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension(delivery.ExtErrorCode, "500")
	e.SetExtension(delivery.ExtKafkaTopic, gone)
	e.SetExtension(delivery.ExtKafkaPartition, "0")
	e.SetExtension(delivery.ExtKafkaOffset, strconv.Itoa(7))
	if _, err := f.store.Save(ctx, e); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"replay"}, {"dead-letters", "--replay"}} {
		out := failsFast(t, args[0], []string{"has no topic " + gone, e.ID()},
			append(args, "--database-url", f.dsn, "--kafka-brokers", addr)...)
		if !strings.Contains(out, "wrote 0 records for 0 dead-letter entries; 1 entry of 1 selected left pending") {
			t.Errorf("%s: stdout %q", args[0], out)
		}
	}
	if got, err := f.store.Get(ctx, e.Source(), e.ID(), ""); err != nil || got.ReplayedAt != nil {
		t.Errorf("entry of the missing topic: replayed %v, %v; want it pending", got.ReplayedAt, err)
	}
}

// A refused login is said as such, with the user, in seconds: the broker
// just closes the connection, which would otherwise read as EOF.
func TestToolsFailFastOnARefusedLogin(t *testing.T) {
	k := testrig.Kafka(t, testrig.KafkaSASL("nova-admin", "right-"+testrig.ID()))
	addr := k.ListenAddrs()[0]
	dsn := testrig.PostgresURL(t)
	f := &replayFixture{t: t, dsn: dsn}
	f.store = deadLetterStore(t, dsn)
	e, err := newCodec().New(created(id.NewPostID().String(), id.NewUserID().String()))
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension(delivery.ExtKafkaTopic, catalog.ContentEvents)
	e.SetExtension(delivery.ExtKafkaPartition, "0")
	e.SetExtension(delivery.ExtKafkaOffset, "1")
	if _, err := f.store.Save(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KAFKA_SASL_PASSWORD", "wrong")
	login := []string{"--kafka-brokers", addr, "--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-username", "nova-admin"}
	want := []string{"Kafka at " + addr, "authentication failed", `user "nova-admin"`}
	failsFast(t, "send", want, append(append([]string{"send"}, login...), "com.nova.content.post.deleted", deletedJSON())...)
	failsFast(t, "tail", want, append(append([]string{"tail"}, login...), catalog.ContentEvents)...)
	failsFast(t, "lag", want, append([]string{"lag"}, login...)...)
	failsFast(t, "replay", want, append([]string{"replay", "--database-url", dsn}, login...)...)

	// The right password: the same commands work.
	t.Setenv("KAFKA_SASL_PASSWORD", k.Security().Password)
	if code, out, errs := run(t, "", append([]string{"lag"}, login...)...); code != 0 {
		t.Fatalf("lag with the right password: %d %q %q", code, out, errs)
	}
}
