package broker_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/testrig"
)

// TestAcknowledgedRecordsSurviveSIGKILL: the embedded broker (nova kafka on
// a data folder, as nova run starts it) killed with SIGKILL while a
// producer writes as fast as it can keeps every record it acknowledged
// (acks=all) and every offset a group committed, once started again on the
// same folder. kfake writes each batch to its segment file before it
// answers, without fsync: a killed process loses nothing the kernel was
// handed, a machine that loses power can (README, "The embedded broker").
func TestAcknowledgedRecordsSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	first := testrig.Kafka(t, testrig.KafkaDataDir(dir))
	topic := catalog.ContentEvents
	ctx := context.Background()

	// A committed offset, acknowledged before the kill.
	const group = "crash-test"
	const committed = 42
	adm := admin(t, first.ListenAddrs())
	offsets := kadm.Offsets{}
	offsets.AddOffset(topic, 0, committed, -1)
	if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatalf("commit an offset: %v", err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(first.ListenAddrs()...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordRetries(2), kgo.RecordDeliveryTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		sent  int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := "record-" + strconv.Itoa(i)
			mu.Lock()
			sent++
			mu.Unlock()
			cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 64)), Value: []byte(v)}, func(_ *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[v] = true
					mu.Unlock()
				}
			})
		}
	}()
	// Kill mid-stream, once a good share is acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 5000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d records acknowledged in 30s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.Kill()
	close(stop)
	<-done
	cl.Close() // fails what is still buffered or in flight
	mu.Lock()
	ackedAtKill, sentAtKill := len(acked), sent
	mu.Unlock()

	second := testrig.Kafka(t, testrig.KafkaDataDir(dir))
	rd := second.Consume(t, topic)
	recs := rd.Until(t, ackedAtKill, 60*time.Second)
	// Whatever else arrives within a moment (records written but not
	// acknowledged before the kill) is counted too.
	time.Sleep(500 * time.Millisecond)
	recs = rd.Until(t, len(recs), time.Second)
	present := map[string]int{}
	for _, r := range recs {
		present[string(r.Value)]++
	}
	lost, doubled := 0, 0
	for v := range acked {
		if present[v] == 0 {
			lost++
		}
	}
	for _, n := range present {
		if n > 1 {
			doubled++
		}
	}
	t.Logf("killed with %d records sent, %d acknowledged; after the restart %d records on %s: %d acknowledged lost, %d written twice, %d written but not acknowledged",
		sentAtKill, ackedAtKill, len(recs), topic, lost, doubled, len(present)-(ackedAtKill-lost))
	if lost > 0 {
		t.Errorf("%d acknowledged records lost", lost)
	}
	if doubled > 0 {
		t.Errorf("%d records written twice by an idempotent producer", doubled)
	}

	fetched, err := admin(t, second.ListenAddrs()).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch the committed offset: %v", err)
	}
	if o, ok := fetched.Lookup(topic, 0); !ok || o.At != committed {
		t.Errorf("committed offset after the restart: %+v (present %v), want %d", o, ok, committed)
	}
}
