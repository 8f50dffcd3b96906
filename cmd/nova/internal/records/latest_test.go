package records_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/kafkacheck"
	"github.com/nova-social/nova/cmd/nova/internal/records"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// Latest reads the newest records of every partition, decodes them and
// gives the n newest, newest first, moving no consumer group.
func TestLatestGivesTheNewestRecordsOfEveryPartition(t *testing.T) {
	k := testrig.Kafka(t)
	brokers := k.ListenAddrs()
	codec := envelope.NewCodec(catalog.Default())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if got, err := records.Latest(ctx, brokers, kafka.Security{}, codec, catalog.FeedUpdates, 5); err != nil || len(got) != 0 {
		t.Fatalf("an empty topic: %v %v", got, err)
	}
	if _, err := records.Latest(ctx, brokers, kafka.Security{}, codec, "no-such-topic", 5); !errors.Is(err, kafkacheck.ErrNoTopic) {
		t.Fatalf("a missing topic: %v, want ErrNoTopic", err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Plain records, a key each, spread over the partitions, a
	// millisecond apart so their times order them.
	const n = 12
	for i := range n {
		r := &kgo.Record{Topic: catalog.ContentEvents, Key: fmt.Appendf(nil, "key-%d", i), Value: fmt.Appendf(nil, `{"n":%d}`, i),
			Timestamp: time.Now()}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	got, err := records.Latest(ctx, brokers, kafka.Security{}, codec, catalog.ContentEvents, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("%d records, want 5: %+v", len(got), got)
	}
	for i, l := range got {
		if want := fmt.Sprintf("key-%d", n-1-i); l.Key != want {
			t.Errorf("record %d has key %s, want %s (newest first)", i, l.Key, want)
		}
	}
	all, err := records.Latest(ctx, brokers, kafka.Security{}, codec, catalog.ContentEvents, 100)
	if err != nil || len(all) != n {
		t.Fatalf("asking for more than there are: %d records, %v; want all %d", len(all), err, n)
	}
}
