package load_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/nova-social/nova/cmd/nova/internal/load"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// TestProducerBench runs both producers against kfake and checks that every
// record reached the topic, that Nova's records are the CloudEvents it
// claims with values of the asked size, and that the reports add up.
func TestProducerBench(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test of the producer: make test runs it, make test-short does not")
	}
	c := testrig.Kafka(t)
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n, size = 2000, 600
	topic := "bench-" + testrig.ID()
	created, err := load.EnsureTopic(ctx, brokers, kafka.Security{}, topic, 6)
	if err != nil || !created {
		t.Fatalf("EnsureTopic = %v, %v; want a new topic", created, err)
	}
	var progress strings.Builder
	cfg := load.ProducerConfig{Brokers: brokers, Topic: topic, NumRecords: n, RecordSize: size,
		InFlight: 64, ReportInterval: time.Millisecond, Progress: &progress}

	nova, err := load.RunNova(ctx, cfg)
	if err != nil {
		t.Fatalf("RunNova: %v", err)
	}
	raw, err := load.RunRaw(ctx, cfg)
	if err != nil {
		t.Fatalf("RunRaw: %v", err)
	}
	for _, r := range []load.ProducerResult{nova, raw} {
		l := r.Latency
		if r.Records != n || r.Failed != 0 || l.Count != n || r.ValueSize != size || r.Bytes != int64(n*size) {
			t.Errorf("%s: %d records, %d failed, %d latencies, value %d bytes, %d bytes in all; want %d, 0, %d, %d, %d",
				r.Name, r.Records, r.Failed, l.Count, r.ValueSize, r.Bytes, n, n, size, n*size)
		}
		if !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max && l.Avg <= l.Max) {
			t.Errorf("%s: latencies out of order: %+v", r.Name, l)
		}
		if r.RecordsPerSec() <= 0 || r.MBPerSec() <= 0 {
			t.Errorf("%s: throughput %f records/s, %f MB/s", r.Name, r.RecordsPerSec(), r.MBPerSec())
		}
		if line := r.String(); !strings.HasPrefix(line, "2000 records sent, ") || !strings.Contains(line, "ms 99.9th.") {
			t.Errorf("%s: report line %q", r.Name, line)
		}
	}
	if !strings.Contains(progress.String(), " records sent, ") {
		t.Errorf("no progress line in %q", progress.String())
	}

	total, err := load.TopicRecords(ctx, brokers, kafka.Security{}, topic)
	if err != nil || total != 2*n {
		t.Fatalf("topic holds %d records (%v), want %d", total, err, 2*n)
	}

	// Read everything back: Nova's records are binary-mode PostCreated
	// events keyed by their author, the baseline's plain values.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var events, plain int
	ids := map[string]bool{}
	for events+plain < 2*n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume: %v after %d records", err, events+plain)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != size {
				t.Errorf("record value of %d bytes, want %d", len(r.Value), size)
			}
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			if len(h) == 0 {
				plain++
				return
			}
			events++
			var p eventsv1.PostCreated
			if err := proto.Unmarshal(r.Value, &p); err != nil {
				t.Fatalf("value is not a PostCreated: %v", err)
			}
			if h["ce_type"] != "com.nova.content.post.created" || h["ce_partitionkey"] != string(r.Key) || p.UserId != string(r.Key) || h["ce_id"] == "" {
				t.Fatalf("record headers %v, key %q, user %q", h, r.Key, p.UserId)
			}
			ids[h["ce_id"]] = true
		})
	}
	if events != n || plain != n || len(ids) != n {
		t.Errorf("read %d events (%d distinct ids) and %d plain records, want %d of each", events, len(ids), plain, n)
	}
}

// TestProducerBenchThrottled checks that a capped run, with Nova's records
// sent in batches that do not divide the count, still sends every record.
func TestProducerBenchThrottled(t *testing.T) {
	c := testrig.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := "bench-" + testrig.ID()
	if _, err := load.EnsureTopic(ctx, c.ListenAddrs(), kafka.Security{}, topic, 3); err != nil {
		t.Fatal(err)
	}
	cfg := load.ProducerConfig{Brokers: c.ListenAddrs(), Topic: topic, NumRecords: 200, RecordSize: 100, Throughput: 2000, Batch: 7}
	for _, run := range []func(context.Context, load.ProducerConfig) (load.ProducerResult, error){load.RunNova, load.RunRaw} {
		r, err := run(ctx, cfg)
		if err != nil || r.Records != 200 || r.Failed != 0 {
			t.Fatalf("%s: %d records, %d failed, err %v", r.Name, r.Records, r.Failed, err)
		}
	}
	if total, err := load.TopicRecords(ctx, c.ListenAddrs(), kafka.Security{}, topic); err != nil || total != 400 {
		t.Fatalf("topic holds %d records (%v), want 400", total, err)
	}
	if err := load.DeleteTopic(ctx, c.ListenAddrs(), kafka.Security{}, topic); err != nil {
		t.Fatal(err)
	}
}
