package outbox_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/outbox"
)

// benchWriters is the number of concurrent producers in every mode.
const benchWriters = 8

// ackClock is a Publisher that notes when the broker acknowledged each
// event, by CloudEvents id.
type ackClock struct {
	pub  outbox.Publisher
	mu   sync.Mutex
	at   map[string]time.Time
	done atomic.Int64
}

func (a *ackClock) Send(ctx context.Context, recs ...kafka.Record) error {
	err := a.pub.Send(ctx, recs...)
	now := time.Now()
	if err == nil {
		a.mu.Lock()
		for _, r := range recs {
			a.at[r.Event.ID()] = now
		}
		a.mu.Unlock()
		a.done.Add(int64(len(recs)))
	}
	return err
}

// wait returns once n events were acknowledged, failing after waitLimit.
func (a *ackClock) wait(b *testing.B, n int) {
	deadline := time.Now().Add(waitLimit)
	for a.done.Load() < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d events acknowledged before giving up", a.done.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type stamps struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *stamps) put(id string, t time.Time) {
	s.mu.Lock()
	s.at[id] = t
	s.mu.Unlock()
}

// report writes events/s and the p50/p99 of ack - start per event.
func report(b *testing.B, n int, elapsed time.Duration, start map[string]time.Time, ack map[string]time.Time) {
	lat := make([]time.Duration, 0, len(start))
	for id, s := range start {
		if a, ok := ack[id]; ok {
			lat = append(lat, max(a.Sub(s), 0))
		}
	}
	if len(lat) != n {
		b.Fatalf("%d latencies for %d events", len(lat), n)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// split hands out n jobs to the writers; each job gets its sequence number.
func split(n int, job func(w, i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range benchWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				job(w, i)
			}
		}()
	}
	wg.Wait()
}

// benchUsers are the 64 users the benchmarks' events are spread over.
var benchUsers = func() []string {
	out := make([]string, 64)
	for i := range out {
		out[i] = user(fmt.Sprintf("user-%03d", i))
	}
	return out
}()

func benchKey(i int) string { return benchUsers[i%len(benchUsers)] }

// BenchmarkOutbox measures events from commit to broker ack:
//
//	relay:  writers commit one event per transaction while a relay runs;
//	        latency is from Commit returning to the broker's ack.
//	drain:  a backlog of b.N committed rows (as after an outage) is published
//	        by a relay that starts afterwards; latency is from relay start.
//	direct: the baseline: the same writers send the same events through the
//	        same Producer directly, no database; latency is the Send call.
func BenchmarkOutbox(b *testing.B) {
	b.Run("relay", func(b *testing.B) {
		f := setup(b)
		clock := &ackClock{pub: f.producer(b), at: map[string]time.Time{}}
		f.relay(b, f.pool, clock, outbox.Config{})
		commits := &stamps{at: map[string]time.Time{}}
		ctx := context.Background()
		b.ResetTimer()
		start := time.Now()
		split(b.N, func(_, i int) {
			var id string
			err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
				ev, err := f.box.Enqueue(ctx, tx, post(benchKey(i), i))
				id = ev.ID()
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
			commits.put(id, time.Now())
		})
		clock.wait(b, b.N)
		elapsed := time.Since(start)
		b.StopTimer()
		report(b, b.N, elapsed, commits.at, clock.at)
	})

	b.Run("drain", func(b *testing.B) {
		f := setup(b)
		ctx := context.Background()
		ids := make([]string, b.N)
		const perTx = 100
		split((b.N+perTx-1)/perTx, func(_, j int) {
			err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
				lo, hi := j*perTx, min((j+1)*perTx, b.N)
				var msgs []proto.Message
				for i := lo; i < hi; i++ {
					msgs = append(msgs, post(benchKey(i), i))
				}
				evs, err := f.box.EnqueueAll(ctx, tx, msgs)
				for k, ev := range evs {
					ids[lo+k] = ev.ID()
				}
				return err
			})
			if err != nil {
				b.Error(err)
			}
		})
		clock := &ackClock{pub: f.producer(b), at: map[string]time.Time{}}
		b.ResetTimer()
		start := time.Now()
		f.relay(b, f.pool, clock, outbox.Config{})
		clock.wait(b, b.N)
		elapsed := time.Since(start)
		b.StopTimer()
		starts := make(map[string]time.Time, b.N)
		for _, id := range ids {
			starts[id] = start
		}
		report(b, b.N, elapsed, starts, clock.at)
	})

	b.Run("direct", func(b *testing.B) {
		f := setup(b)
		p := f.producer(b)
		sent := &stamps{at: map[string]time.Time{}}
		acked := &stamps{at: map[string]time.Time{}}
		ctx := context.Background()
		b.ResetTimer()
		start := time.Now()
		split(b.N, func(_, i int) {
			msg := post(benchKey(i), i)
			ev, err := f.codec.New(msg)
			if err != nil {
				b.Error(err)
				return
			}
			t0 := time.Now()
			if err := p.Send(ctx, kafka.Record{Topic: "content-events", Key: msg.UserId, Event: ev}); err != nil {
				b.Error(err)
				return
			}
			acked.put(ev.ID(), time.Now())
			sent.put(ev.ID(), t0)
		})
		elapsed := time.Since(start)
		b.StopTimer()
		report(b, b.N, elapsed, sent.at, acked.at)
	})
}
