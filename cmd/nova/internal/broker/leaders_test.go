package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
)

// TestLeadersMoveUnderLoad: on a three-node embedded cluster whose
// partition leaders and group coordinators move every few milliseconds,
// Nova's producer (idempotent, one request in flight) writes every record
// it acknowledged exactly once and in order per key, and a consumer group
// (Sarama's, as the dispatcher's) reads them all and commits to the end.
func TestLeadersMoveUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{Nodes: 3, InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n := len(b.Addrs()); n != 3 {
		t.Fatalf("%d listen addresses, want one per node (3)", n)
	}
	topic := catalog.ContentEvents
	tp, _ := catalog.Default().Topic(topic)
	partitions := tp.Partitions

	pcfg := kafka.DefaultProducerConfig(b.Addrs()...)
	pcfg.Logger = slog.New(slog.DiscardHandler)
	prod, err := kafka.NewProducer(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	// Leaders and coordinators move every moveEvery; the writers go on
	// until they have seen wantMoves moves.
	const moveEvery, wantMoves = 300 * time.Millisecond, 8
	moving, stopMoving := context.WithCancel(ctx)
	var moves atomic.Int32
	seen := map[string]bool{}
	movedDone := make(chan struct{})
	go func() {
		defer close(movedDone)
		for moving.Err() == nil {
			time.Sleep(moveEvery)
			b.Faults().MoveLeaders()
			moves.Add(1)
			seen[fmt.Sprint(b.Faults().Leaders(map[string]int32{topic: partitions}))] = true
		}
	}()

	const writers, keysPerWriter = 4, 3
	var (
		mu    sync.Mutex
		acked = map[string]bool{} // "key/seq"
	)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for seq := 0; moves.Load() < wantMoves; seq++ {
				for k := range keysPerWriter {
					key := fmt.Sprintf("key-%d-%d", w, k)
					e := cloudevents.NewEvent()
					e.SetID(key + "/" + strconv.Itoa(seq))
					e.SetSource("/nova/leaders-test")
					e.SetType("com.nova.test.sequenced")
					if err := e.SetData("text/plain", []byte(strconv.Itoa(seq))); err != nil {
						t.Error(err)
						return
					}
					sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
					err := prod.Send(sctx, kafka.Record{Topic: topic, Key: key, Event: e})
					scancel()
					if err != nil {
						// Later records of this key would be written
						// after a gap: the order check below needs none.
						t.Errorf("send %s while leaders move: %v", e.ID(), err)
						return
					}
					mu.Lock()
					acked[e.ID()] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	stopMoving()
	<-movedDone
	if t.Failed() {
		return
	}
	if len(seen) < 2 {
		t.Fatalf("%d moves left the leaders as they were: %v", moves.Load(), seen)
	}
	t.Logf("%d records acknowledged while leaders and coordinators moved %d times (%d distinct layouts)",
		len(acked), moves.Load(), len(seen))

	// The log holds each acknowledged record once, in order per key.
	log := readAll(ctx, t, b.Addrs(), topic, partitions)
	last := map[string]int{}
	for _, id := range log {
		key, seqText, _ := strings.Cut(id, "/")
		seq, _ := strconv.Atoi(seqText)
		if prev, ok := last[key]; ok && seq != prev+1 {
			t.Errorf("key %s: record %d follows %d in the log", key, seq, prev)
		}
		if _, ok := last[key]; !ok && seq != 0 {
			t.Errorf("key %s: the log starts at record %d", key, seq)
		}
		last[key] = seq
	}
	if len(log) != len(acked) {
		t.Errorf("the log holds %d records, %d were acknowledged", len(log), len(acked))
	}

	// A consumer group reads them all while coordinators move again.
	consumed := consumeGroup(ctx, t, b, topic, len(acked))
	if !maps.Equal(consumed, acked) {
		t.Errorf("the group read %d distinct records, %d were acknowledged", len(consumed), len(acked))
	}
}

// readAll is every record of topic, partition by partition, as event ids.
func readAll(ctx context.Context, t *testing.T, addrs []string, topic string, partitions int32) []string {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	client, err := sarama.NewClient(addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ids []string
	for p := range partitions {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for next := int64(0); next < end; {
			select {
			case m := <-pc.Messages():
				ids = append(ids, idOf(m))
				next = m.Offset + 1
			case <-ctx.Done():
				t.Fatalf("partition %d: read up to %d of %d", p, next, end)
			}
		}
		pc.Close()
	}
	return ids
}

// idOf is the CloudEvent id of a binary-mode record.
func idOf(m *sarama.ConsumerMessage) string {
	for _, h := range m.Headers {
		if string(h.Key) == "ce_id" {
			return string(h.Value)
		}
	}
	return ""
}

// consumeGroup reads topic in a consumer group until want distinct
// records came, moving the group's coordinator meanwhile, and checks that
// the group's committed offsets reach the end of every partition.
func consumeGroup(ctx context.Context, t *testing.T, b *broker.Broker, topic string, want int) map[string]bool {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 50 * time.Millisecond
	client, err := sarama.NewClient(b.Addrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	g, err := sarama.NewConsumerGroupFromClient("leaders-test", client)
	if err != nil {
		t.Fatal(err)
	}
	h := &collect{got: map[string]bool{}, want: want, done: make(chan struct{})}
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		for gctx.Err() == nil {
			if err := g.Consume(gctx, []string{topic}, h); err != nil && gctx.Err() == nil {
				t.Logf("consumer group session ended: %v", err)
				time.Sleep(500 * time.Millisecond)
			}
		}
	})
	wg.Go(func() {
		for range g.Errors() {
		}
	})
	moving := time.NewTicker(300 * time.Millisecond)
	defer moving.Stop()
wait:
	for {
		select {
		case <-h.done:
			break wait
		case <-moving.C:
			b.Faults().MoveLeaders()
		case <-ctx.Done():
			t.Fatalf("the group read %d of %d records", h.count(), want)
		}
	}
	// Offsets are committed on the auto-commit tick and on leaving.
	time.Sleep(200 * time.Millisecond)
	stop()
	if err := g.Close(); err != nil {
		t.Errorf("leave the group: %v", err)
	}
	wg.Wait()
	adm, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	offs, err := adm.ListConsumerGroupOffsets("leaders-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, blk := range offs.Blocks[topic] {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if blk.Offset != end {
			t.Errorf("partition %d: the group committed %d, the log ends at %d", p, blk.Offset, end)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.got)
}

// collect is a ConsumerGroupHandler that records event ids.
type collect struct {
	mu   sync.Mutex
	got  map[string]bool
	want int
	done chan struct{}
	once sync.Once
}

func (c *collect) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func (*collect) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (*collect) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (c *collect) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		c.mu.Lock()
		c.got[idOf(m)] = true
		if len(c.got) == c.want {
			c.once.Do(func() { close(c.done) })
		}
		c.mu.Unlock()
		sess.MarkMessage(m, "")
	}
	return nil
}
