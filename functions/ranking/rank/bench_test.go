package rank_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nova-social/nova/functions/ranking/rank"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/testrig"
)

// BenchmarkScoreUpdates is engagement counted through the ranker (one Lua
// script: processed marker, counter, version, pending schedule) on real
// Redis, from parallel callers as the unordered source delivers them, over
// 1,000 posts. Baseline: BenchmarkRawHINCRBY.
func BenchmarkScoreUpdates(b *testing.B) {
	r := newRig(b, nil)
	posts := make([]string, 1000)
	for i := range posts {
		posts[i] = uuid.NewString()
	}
	author := uuid.NewString()
	var n atomic.Int64
	now := time.Now()
	b.ResetTimer()
	start := time.Now()
	// 25 callers per core: the 50 events an unordered source has in flight.
	b.SetParallelism(25)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			if _, err := r.ranker.Record(ctx, "/bench", strconv.FormatInt(i, 10), posts[i%1000], author, like, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
}

// BenchmarkRawHINCRBY is the baseline: one HINCRBY of the same counter per
// engagement, same parallelism, no dedupe, no scheduling.
func BenchmarkRawHINCRBY(b *testing.B) {
	rdb := testrig.Redis(b)
	prefix := "bench:raw:" + testrig.ID() + ":"
	posts := make([]string, 1000)
	for i := range posts {
		posts[i] = prefix + uuid.NewString()
	}
	b.Cleanup(func() { rdb.Del(context.Background(), posts...) })
	var n atomic.Int64
	b.ResetTimer()
	start := time.Now()
	// 25 callers per core: the 50 events an unordered source has in flight.
	b.SetParallelism(25)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			if err := rdb.HIncrBy(ctx, posts[i%1000], "likes", 1).Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
}

// BenchmarkViralBurst sends b.N engagements on one post as fast as the
// callers go while the flusher runs, then Stop's flush; it reports how many
// PostScoreUpdated reached the broker and engagements per event.
func BenchmarkViralBurst(b *testing.B) {
	for _, interval := range []time.Duration{100 * time.Millisecond, 2 * time.Second} {
		b.Run(fmt.Sprintf("interval=%v", interval), func(b *testing.B) {
			r := newRig(b, func(c *rank.Config) {
				c.EmitInterval, c.FlushEvery, c.Lease = interval, 50*time.Millisecond, time.Minute
			})
			post, author := uuid.NewString(), uuid.NewString()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); r.ranker.Run(ctx) }()
			var n atomic.Int64
			now := time.Now()
			b.ResetTimer()
			start := time.Now()
			// 25 callers per core: the 50 events an unordered source has in flight.
			b.SetParallelism(25)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := r.ranker.Record(context.Background(), "/burst", strconv.FormatInt(i, 10), post, author,
						eventsv1.EngagementKind(1+i%5), now); err != nil {
						b.Error(err)
						return
					}
				}
			})
			burst := time.Since(start)
			cancel()
			<-done
			if _, err := r.ranker.Flush(context.Background(), true); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			ev := r.ranker.Emitted()
			b.ReportMetric(float64(ev), "events")
			b.ReportMetric(float64(b.N)/float64(max(ev, 1)), "engagements/event")
			b.ReportMetric(burst.Seconds(), "burst-s")
		})
	}
}
