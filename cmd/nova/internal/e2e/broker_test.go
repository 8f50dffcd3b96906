package e2e_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/cli"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/kafka"
)

// The Kafka Broker overlay on the whole system: events travel topic →
// nova-ingest → the Broker's ingress → its topic → each function's
// Trigger → the function. Posts reach followers' feeds, a poison event is
// dead-lettered with its reason and holds nothing up, a function's outage
// is dead-lettered after its Trigger's retries and replayed into the
// Broker, and a console producer's plain record reaches the feed as with
// the base.
func TestBrokerOverlay(t *testing.T) {
	root, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	out := &outage{function: "feed-fanout", eventType: "com.nova.content.post.created"}
	began := time.Now()
	r := startWith(t, system.Config{
		Eventing:   filepath.Join(root, "eventing", "overlays", "broker"),
		Middleware: out.middleware,
	})
	t.Logf("Nova started with the broker overlay in %s; ingress %s", time.Since(began).Round(time.Millisecond), r.sys.IngressURL())
	if r.sys.IngressURL() == "" {
		t.Fatal("no broker ingress is served")
	}
	ctx := context.Background()
	const brokerTopic = "knative-broker-default-nova"
	dls := store.New(r.pool(t))

	// Register, follow, post: through the Broker to feed-fanout.
	author, fan := r.register("author"), r.register("fan")
	r.follow(fan, author)
	hello := r.post(author, "hello through the broker", "PUBLIC")
	r.feedIs(fan, hello)
	r.settle()
	t.Logf("a post reached the follower's feed through ingest, Broker and Trigger after %s", time.Since(began).Round(time.Millisecond))

	// Every Trigger's consumer group is on the Broker's topic, and nova lag
	// shows it.
	rows, err := broker.Lag(ctx, r.sys.Brokers(), r.sys.KafkaSecurity(), "knative-trigger-default-feed-fanout", "nova-ingest-group")
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]bool{}
	for _, row := range rows {
		if row.Err != nil || row.Lag != 0 {
			t.Errorf("nova lag: %+v", row)
		}
		if row.Group == "knative-trigger-default-feed-fanout" && row.Topic != brokerTopic {
			t.Errorf("the feed-fanout Trigger's group reads %s, not %s", row.Topic, brokerTopic)
		}
		groups[row.Group] = true
	}
	if !groups["knative-trigger-default-feed-fanout"] || !groups["nova-ingest-group"] {
		t.Errorf("nova lag shows groups %v", groups)
	}

	// A PostCreated whose data is not a PostCreated: each content Trigger's
	// function answers 400 and it is dead-lettered at once, with the reason;
	// the author's post behind it is applied.
	poison := r.sendPoison(ctx, author.ID)
	after := r.post(author, "after the poison", "PUBLIC")
	r.feedIs(fan, after, hello)
	dl := r.deadLetter(dls, poison.Source(), poison.ID(), "feed-fanout")
	if dl.ErrorCode != http.StatusBadRequest || dl.ErrorData == "" || dl.Topic != brokerTopic || dl.Partition == nil ||
		*dl.Partition != kafka.PartitionFor([]byte(author.ID), 6) || !strings.HasPrefix(dl.ErrorDest, "http://") {
		t.Fatalf("poison dead letter: code %d reason %q from %s %v to %s; want 400 with a reason, from the Broker's topic at the key's partition",
			dl.ErrorCode, dl.ErrorData, dl.Topic, dl.Partition, dl.ErrorDest)
	}
	if got := dl.Event.Extensions()["knativeerrordest"]; got != dl.ErrorDest {
		t.Errorf("knativeerrordest %v", got)
	}
	t.Logf("poison: dead-lettered by %s with %d %q from %s[%d]", dl.ErrorDest, dl.ErrorCode, oneLine(dl.ErrorData), dl.Topic, *dl.Partition)

	// feed-fanout fails one post with 500 until it is fixed: its Trigger
	// retries (retry 5, exponential from PT0.2S), dead-letters it, and the
	// later post of the same author is applied.
	victim := r.register("victim")
	r.follow(fan, victim)
	r.settle()
	out.key = victim.ID
	out.arm(true)
	failed := r.post(victim, "posted during the outage", "PUBLIC")
	later := r.post(victim, "posted after it", "PUBLIC")
	r.feedIs(fan, later, after, hello)
	failedID, attempts := out.state()
	if failedID == "" {
		t.Fatal("the outage never saw the victim's post")
	}
	dl = r.deadLetter(dls, "/nova/content-service", failedID, "feed-fanout")
	if attempts != 6 {
		t.Errorf("feed-fanout was tried %d times for the failing event, want 6 (its Trigger's retry: 5)", attempts)
	}
	if dl.ErrorCode != http.StatusInternalServerError || !strings.Contains(dl.ErrorData, "feed store unavailable") ||
		dl.Topic != brokerTopic || dl.Subject != failed {
		t.Fatalf("outage dead letter: code %d reason %q from %s subject %s", dl.ErrorCode, dl.ErrorData, dl.Topic, dl.Subject)
	}
	t.Logf("outage: %d attempts, dead-lettered with %d from %s", attempts, dl.ErrorCode, dl.Topic)

	// Fixed; nova replay sends it back into the Broker's topic under its
	// key, every Trigger sees it again and the feed has it once.
	out.arm(false)
	var stdout, stderr bytes.Buffer
	code := cli.Main(ctx, append(append([]string{"replay", "--database-url", r.sys.DatabaseURL()}, r.toolArgs(t)...),
		"--source", "/nova/content-service", "--id", failedID),
		cli.Streams{In: strings.NewReader(""), Out: &stdout, Err: &stderr})
	if code != 0 || !strings.Contains(stdout.String(), "wrote 1 record for 1 dead-letter entry") || !strings.Contains(stdout.String(), brokerTopic) {
		t.Fatalf("nova replay: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	r.feedIs(fan, later, failed, after, hello)
	r.settle()
	r.feedIs(fan, later, failed, after, hello)
	r.onlyPoisonAndReplayed(ctx, dls)

	// The design document's console-producer test, as on the base.
	consoleRecordReachesTheFeed(t, r)
}
